// Qwen 3 (dense): no projection biases, RMS norms on each query and key head before rope, and a
// head size set by attention.key_length that need not be n_embd / n_head.
#include "model/arch_list.h"

namespace cria::model {

const ArchSpec& qwen3_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "qwen3";
        s.rope_style = kernels::RopeStyle::kNeox;
        s.activation = Activation::kSilu;
        s.qk_norm = true;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
