// AVX2 + FMA + F16C kernels (compiled with exactly those flags; see CMakeLists.txt). Only called
// when cria::isa_supported(Isa::kAvx2).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/half.h"
#include "kernels/block_layouts.h"
#include "kernels/kernel_table.h"

#define CRIA_X86_VNNI 0

namespace cria::kernels {
namespace {

// 16 vector registers: tiles small enough that accumulators, codes and scales stay in them.
constexpr int kMatvecRows = 1;
constexpr int kTileRows = 1;
constexpr int kRows8Tokens = 4;
constexpr int kTileTokens = 6;

#include "kernels/cpu/x86_common/simd_x86.inl"
// clang-format off
#include "kernels/cpu/x86_common/gemm_x86.inl"
// clang-format on

}  // namespace

GemmFn gemm_avx2(gguf::TensorType type) {
    return gemm_x86(type);
}

ConvertActFn convert_act_avx2(ActFormat format) {
    return &convert_act_x86;
}

}  // namespace cria::kernels
