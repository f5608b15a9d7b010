// BERT (BGE, MiniLM, mxbai-embed, snowflake-arctic-embed): an encoder. Learned absolute
// positions and token types are added to the token embeddings and LayerNorm-ed; each block is
// post-norm (LayerNorm after the attention residual and after the FFN residual), every
// projection has a bias, the FFN is a plain GELU one, attention sees the whole input, and there
// is no language-model head: the model computes embeddings only.
#include "model/arch_list.h"

namespace cria::model {

const ArchSpec& bert_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "bert";
        s.activation = Activation::kGeluTanh;
        s.norm = NormKind::kLayer;
        s.norm_placement = NormPlacement::kPost;
        s.ffn = FfnKind::kPlain;
        s.rope = false;
        s.causal = false;
        s.default_pooling = Pooling::kCls;
        s.qkv_bias = true;
        s.sublayer_biases = true;
        s.output_norm = false;
        s.lm_head = false;
        s.position_table = true;
        s.token_types = true;
        s.embedding_norm = true;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
