// Which instruction sets this CPU (and OS) supports, and which one the kernels should use.
// CRIA_ISA=scalar|avx2|avx512 lowers the choice so that every path can be tested on one machine.
#pragma once

#include <string>

namespace cria {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512dq = false;
    bool avx512vnni = false;
    bool avx512bf16 = false;
};

const CpuFeatures& cpu_features();

// Highest ISA the CPU supports, ignoring CRIA_ISA.
Isa best_supported_isa();
// The ISA to use: best_supported_isa() lowered by CRIA_ISA if set.
Isa selected_isa();
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);

}  // namespace cria
