// Qwen 2 / 2.5: Llama's block with biases on the q/k/v projections and NeoX-style rope.
#include "model/arch_list.h"

namespace cria::model {

const ArchSpec& qwen2_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "qwen2";
        s.rope_style = kernels::RopeStyle::kNeox;
        s.activation = Activation::kSilu;
        s.qkv_bias = true;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
