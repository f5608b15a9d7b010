// AVX-512 (F, BW, VL, DQ) + VNNI kernels (compiled with exactly those flags; see
// CMakeLists.txt). Only called when avx512_kernels_usable().
//
// The shared x86 kernels run here on 256-bit registers with the VNNI dot products
// (vpdpbusd / vpdpwssd) and the 32 registers of AVX-512VL, which allow larger tiles than AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/half.h"
#include "kernels/block_layouts.h"
#include "kernels/kernel_table.h"

#define CRIA_X86_VNNI 1

namespace cria::kernels {
namespace {

constexpr int kMatvecRows = 4;
constexpr int kTileRows = 2;
constexpr int kTileTokens = 4;

#include "kernels/cpu/x86_common/simd_x86.inl"
// clang-format off
#include "kernels/cpu/x86_common/gemm_x86.inl"
// clang-format on

}  // namespace

GemmFn gemm_avx512(gguf::TensorType type) {
    return gemm_x86(type);
}

ConvertActFn convert_act_avx512(ActFormat format) {
    return &convert_act_x86;
}

}  // namespace cria::kernels
