// nomic-bert (nomic-embed-text): BERT's post-norm encoder with rotary positions (NeoX style)
// instead of a position table, one fused q|k|v projection, and a SwiGLU FFN, all without biases.
#include "model/arch_list.h"

namespace cria::model {

const ArchSpec& nomic_bert_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "nomic-bert";
        s.rope_style = kernels::RopeStyle::kNeox;
        s.activation = Activation::kSilu;
        s.norm = NormKind::kLayer;
        s.norm_placement = NormPlacement::kPost;
        s.causal = false;
        s.default_pooling = Pooling::kMean;
        s.fused_qkv = true;
        s.output_norm = false;
        s.lm_head = false;
        s.token_types = true;
        s.embedding_norm = true;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
