// Scalar reference kernels: the specification that the vectorized kernels are tested against.
// Plain loops, no intrinsics; integer dot products are exact, so an optimized kernel may only
// differ from these in the order of float additions.
#pragma once

#include <cstdint>

#include "gguf/tensor_type.h"
#include "kernels/activations.h"

namespace cria::kernels::ref {

// dst[0..n) = the elements of one row; n is a multiple of the type's block size.
void dequantize_row(gguf::TensorType type, const void* src, float* dst, int64_t n);

// Quantizes one row of n floats (n a multiple of the block size) with a simple round-to-nearest
// choice of scales (no error-minimizing search). False for a type it cannot write.
bool quantize_row(gguf::TensorType type, const float* src, void* dst, int64_t n);
bool can_quantize(gguf::TensorType type);

// Dot product of one weight row of `type` with one activation row already converted to
// act_format_for(type) (see activations.h).
float dot(gguf::TensorType type, const uint8_t* w_row, const uint8_t* act_row, int64_t n);

}  // namespace cria::kernels::ref
