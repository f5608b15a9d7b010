// The formats that activations are converted to, once per matmul, before the dot products with
// the weights. Integer formats (8-bit, like llama.cpp's Q8_0 / Q8_K) let quantized weights be
// multiplied with integer instructions; the float formats serve the float weight types.
//
// One converted row (one token) is laid out as a structure of arrays so that each kernel can load
// what it needs with aligned vector loads:
//   kQ8Block32:  int8 q[n] | float d[n/32] | float dsum[n/32] | int32 qsum[n/32] | int8 lanes[]
//                x[i] ~= d[i/32] * q[i]; qsum[b] = sum of block b's q, dsum[b] = d[b] * qsum[b]
//                (the terms that offsets and biases of the weight codes multiply); lanes: q
//                again, transposed per 8 blocks for kernels that put 8 blocks of one weight row
//                in the 8 lanes of a vector (see fill_block_lanes)
//   kQ8Block256: int8 q[n] | float d[n/256] | int16 bsum[n/16] | int16 bsum32[n/32]
//                x[i] ~= d[i/256] * q[i]; bsum[g] = sum of the 16 q of group g, bsum32[j] of
//                the 32 q of sub-block j (the min and bias terms of the K-quants)
//   kF32:        float x[n]  (the activations as they are)
//   kBf16:       uint16 x[n] (bf16, rounded to nearest even)
// Each section starts at a 64-byte boundary and rows are 64-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

// The helpers below are also called from files compiled with ISA-specific flags. Forced inlining
// keeps those files from emitting an out-of-line (weak) copy that the linker could pick for
// generic code too (see tests/kernels/check_isa_symbols.cmake).
#define CRIA_ACT_INLINE inline __attribute__((always_inline))

namespace cria::kernels {

enum class ActFormat { kF32, kBf16, kQ8Block32, kQ8Block256 };

inline constexpr size_t align64(size_t n) {
    return (n + 63) & ~size_t{63};
}

// The activation format that the dot products with weights of `type` use.
ActFormat act_format_for(gguf::TensorType type);

// Offsets of the sections of one converted row of n elements.
struct ActLayout {
    size_t scale_offset = 0;  // float d[]
    size_t sum_offset = 0;    // float dsum[] (kQ8Block32) or int16 bsum[] (kQ8Block256)
    size_t qsum_offset = 0;   // int32 qsum[] (kQ8Block32)
    size_t lanes_offset = 0;  // int8 lanes[] (kQ8Block32)
    size_t sum32_offset = 0;  // int16 bsum32[] (kQ8Block256)
    size_t row_bytes = 0;     // distance between token rows, a multiple of 64
};

CRIA_ACT_INLINE ActLayout act_layout(ActFormat format, int64_t n) {
    const size_t count = static_cast<size_t>(n);
    ActLayout layout;
    switch (format) {
        case ActFormat::kF32:
            layout.row_bytes = align64(count * sizeof(float));
            break;
        case ActFormat::kBf16:
            layout.row_bytes = align64(count * sizeof(uint16_t));
            break;
        case ActFormat::kQ8Block32:
            layout.scale_offset = align64(count);
            layout.sum_offset = layout.scale_offset + align64(count / 32 * sizeof(float));
            layout.qsum_offset = layout.sum_offset + align64(count / 32 * sizeof(float));
            layout.lanes_offset = layout.qsum_offset + align64(count / 32 * sizeof(int32_t));
            layout.row_bytes = layout.lanes_offset + (count + 255) / 256 * 256;
            break;
        case ActFormat::kQ8Block256:
            layout.scale_offset = align64(count);
            layout.sum_offset = layout.scale_offset + align64(count / 256 * sizeof(float));
            layout.sum32_offset = layout.sum_offset + align64(count / 16 * sizeof(int16_t));
            layout.row_bytes = layout.sum32_offset + align64(count / 32 * sizeof(int16_t));
            break;
    }
    return layout;
}

// Read-only views of one converted kQ8Block32 / kQ8Block256 row.
struct ActQ8Block32 {
    const int8_t* q;
    const float* d;
    const float* dsum;
    const int32_t* qsum;
    const int8_t* lanes;
};
struct ActQ8Block256 {
    const int8_t* q;
    const float* d;
    const int16_t* bsum;
    const int16_t* bsum32;
};

CRIA_ACT_INLINE ActQ8Block32 view_q8_block32(const uint8_t* row, int64_t n) {
    const ActLayout layout = act_layout(ActFormat::kQ8Block32, n);
    return {reinterpret_cast<const int8_t*>(row),
            reinterpret_cast<const float*>(row + layout.scale_offset),
            reinterpret_cast<const float*>(row + layout.sum_offset),
            reinterpret_cast<const int32_t*>(row + layout.qsum_offset),
            reinterpret_cast<const int8_t*>(row + layout.lanes_offset)};
}

// The lanes section of a kQ8Block32 row: for each group g of 8 blocks (256 elements), 8
// columns of 32 bytes; column c holds elements 4c..4c+3 of blocks 8g..8g+7, one block per
// 4-byte lane. Lanes past the last block are zero.
CRIA_ACT_INLINE void fill_block_lanes(const int8_t* q, int8_t* lanes, int64_t n) {
    const int64_t n_blocks = n / 32;
    for (int64_t g = 0; g < (n_blocks + 7) / 8; ++g) {
        int8_t* out = lanes + 256 * g;
        for (int c = 0; c < 8; ++c) {
            for (int j = 0; j < 8; ++j) {
                const int64_t block = 8 * g + j;
                for (int k = 0; k < 4; ++k) {
                    out[32 * c + 4 * j + k] = block < n_blocks ? q[32 * block + 4 * c + k] : 0;
                }
            }
        }
    }
}
CRIA_ACT_INLINE ActQ8Block256 view_q8_block256(const uint8_t* row, int64_t n) {
    const ActLayout layout = act_layout(ActFormat::kQ8Block256, n);
    return {reinterpret_cast<const int8_t*>(row),
            reinterpret_cast<const float*>(row + layout.scale_offset),
            reinterpret_cast<const int16_t*>(row + layout.sum_offset),
            reinterpret_cast<const int16_t*>(row + layout.sum32_offset)};
}

}  // namespace cria::kernels
