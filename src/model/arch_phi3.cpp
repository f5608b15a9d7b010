// Phi-3 / Phi-3.5 / Phi-4-mini: fused qkv and gate|up projections, NeoX rope, and for the
// long-context variants LongRoPE factor tensors (short below the original context, long above).
#include "model/arch_list.h"

namespace cria::model {

const ArchSpec& phi3_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s;
        s.name = "phi3";
        s.rope_style = kernels::RopeStyle::kNeox;
        s.activation = Activation::kSilu;
        s.fused_qkv = true;
        s.fused_gate_up = true;
        s.longrope_factors = true;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
