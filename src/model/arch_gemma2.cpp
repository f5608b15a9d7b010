// Gemma 2: GeGLU, embeddings scaled by sqrt(n_embd), norms after attention and after the
// feed-forward as well as before, soft-capped attention scores and logits, and a sliding window
// on every other layer (starting with the first). GGUF norm weights already include Gemma's +1.
#include <cmath>

#include "model/arch_list.h"
#include "model/hparams.h"

namespace cria::model {
namespace {

// Gemma scales queries by 1/sqrt(query_pre_attn_scalar): the head size, except for the 27B
// model (46 layers) whose scalar is n_embd / n_head.
void finish_gemma2(HParams& hp) {
    const bool is_27b = hp.n_layer == 46;
    const double scalar =
        is_27b ? static_cast<double>(hp.n_embd / hp.n_head) : static_cast<double>(hp.head_dim_k);
    hp.attention_scale = static_cast<float>(1.0 / std::sqrt(scalar));
}

}  // namespace

const ArchSpec& gemma2_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "gemma2";
        s.rope_style = kernels::RopeStyle::kNeox;
        s.activation = Activation::kGeluTanh;
        s.post_norms = true;
        s.output_always_tied = true;
        s.scale_embeddings = true;
        s.swa_pattern = 2;
        s.default_sliding_window = 4096;
        s.default_attn_softcap = 50.0f;
        s.default_final_softcap = 30.0f;
        s.finish_hparams = finish_gemma2;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
