// Internal interface between the matmul driver (kernels.cpp) and the per-ISA kernels. Each ISA
// family provides, per weight type, a GEMM over a range of output rows for all tokens, and
// converters from f32 activations to the ActFormat the GEMM consumes. A lookup returns nullptr
// where that ISA has no specialized version; the driver then falls back to the next lower ISA,
// down to the scalar reference, which covers every supported type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"
#include "kernels/activations.h"

namespace cria::kernels {

struct GemmArgs {
    gguf::TensorType type = gguf::TensorType::kF32;
    const uint8_t* w = nullptr;  // [n_out][w_row_bytes], or row groups (row_groups.h)
    size_t w_row_bytes = 0;
    size_t w_group_bytes = 0;  // row groups: bytes of one group of 16 rows
    int64_t n_out = 0;         // rows of the matrix that w points to
    int64_t n_in = 0;
    const uint8_t* act = nullptr;  // [n_tokens][act_row_bytes], in act_format_for(type)
    size_t act_row_bytes = 0;
    int64_t n_tokens = 0;
    float* y = nullptr;  // [n_tokens][y_stride]
    int64_t y_stride = 0;
};

// Computes y[t][r] for every token t and the rows r in [row_begin, row_end).
using GemmFn = void (*)(const GemmArgs& args, int64_t row_begin, int64_t row_end);
// Converts one token row of n floats to `format`; dst has act_layout(format, n).row_bytes.
using ConvertActFn = void (*)(ActFormat format, const float* x, uint8_t* dst, int64_t n);

// Scalar reference (kernels/ref): every supported type.
GemmFn gemm_ref(gguf::TensorType type);
void convert_act_ref(ActFormat format, const float* x, uint8_t* dst, int64_t n);

// AVX2 + FMA + F16C (kernels/cpu/avx2).
GemmFn gemm_avx2(gguf::TensorType type);
ConvertActFn convert_act_avx2(ActFormat format);

// True when this CPU has what the AVX-512 kernels need: isa_supported(kAvx512) plus VNNI.
bool avx512_kernels_usable();

// AVX-512 F/BW/VL/DQ + VNNI (kernels/cpu/avx512); call only when avx512_kernels_usable().
GemmFn gemm_avx512(gguf::TensorType type);
ConvertActFn convert_act_avx512(ActFormat format);
// AVX-512 single-token kernels on 512-bit registers (kernels/cpu/avx512/avx512_kernels.cpp) for
// the types that dominate generation; nullptr for the others. Only for n_tokens == 1; call only
// when avx512_kernels_usable().
GemmFn matvec_avx512(gguf::TensorType type);
// AVX-512 kernels for weights in the row-group layout (kernels/cpu/avx512/avx512_row_groups.cpp),
// nullptr for types without one. Rows [row_begin, row_end) must be whole groups of 16.
GemmFn gemm_row_groups_avx512(gguf::TensorType type);
// AVX-512 BF16 (kernels/cpu/avx512): BF16 weights with vdpbf16ps.
GemmFn gemm_avx512_bf16(gguf::TensorType type);

}  // namespace cria::kernels
