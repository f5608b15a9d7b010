// Llama 2 / 3.x and its many relatives that share the "llama" GGUF architecture (Mistral,
// TinyLlama, SmolLM, ...): pre-norm, SwiGLU, rope on adjacent pairs, optional q/k/v/o biases,
// and Llama 3.1+ long-context rope scaling as a rope_freqs tensor.
#include "model/arch_list.h"

namespace cria::model {

const ArchSpec& llama_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "llama";
        s.rope_style = kernels::RopeStyle::kNormal;
        s.activation = Activation::kSilu;
        s.optional_biases = true;
        s.rope_freqs = true;
        s.rope_dims_equal_head = true;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
