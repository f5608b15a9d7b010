// Gemma 3 (text): Gemma 2's block with RMS norms on query and key heads instead of soft-capping,
// and five sliding-window layers for every global one. The windowed layers use their own rope
// base (10000 unless rope.freq_base_swa says otherwise) without the global layers' scaling.
#include <cmath>

#include "model/arch_list.h"
#include "model/hparams.h"

namespace cria::model {
namespace {

// As for Gemma 2: 1/sqrt(head size), except 1/sqrt(n_embd / n_head) for the 27B (62 layers).
void finish_gemma3(HParams& hp) {
    const bool is_27b = hp.n_layer == 62;
    const double scalar =
        is_27b ? static_cast<double>(hp.n_embd / hp.n_head) : static_cast<double>(hp.head_dim_k);
    hp.attention_scale = static_cast<float>(1.0 / std::sqrt(scalar));
}

}  // namespace

const ArchSpec& gemma3_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "gemma3";
        s.rope_style = kernels::RopeStyle::kNeox;
        s.activation = Activation::kGeluTanh;
        s.qk_norm = true;
        s.post_norms = true;
        s.output_always_tied = true;
        s.scale_embeddings = true;
        s.swa_pattern = 6;
        s.swa_rope_base = 10000.0f;
        s.finish_hparams = finish_gemma3;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
