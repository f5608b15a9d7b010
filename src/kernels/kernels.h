// Public entry points of the compute kernels. Each operation has a scalar reference in
// kernels/ref (the specification) and optimized versions in kernels/cpu, one file per ISA,
// chosen at run time from the CPU's features (core/cpu_features.h, CRIA_ISA to lower it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "gguf/tensor_type.h"

namespace cria::kernels {

using gguf::TensorType;

// True when the type can be dequantized and multiplied (every type the reference kernels
// implement).
bool is_supported(TensorType type);

// dst[0..n) = the n elements of one row stored in `type`; n is a multiple of the block size.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// How a matrix's rows are laid out in memory.
enum class WeightLayout : uint8_t {
    kGguf,       // as GGUF stores them: n_out rows of row_bytes each
    kRowGroups,  // repacked in interleaved groups of 16 rows (row_groups.h)
};

// A weight matrix: n_out rows of n_in elements, each row `row_bytes` long in GGUF's encoding.
struct Matrix {
    TensorType type = TensorType::kF32;
    const void* data = nullptr;  // kGguf: [n_out][row_bytes]; kRowGroups: see row_groups.h
    int64_t n_in = 0;            // elements per row (the reduction dimension)
    int64_t n_out = 0;           // rows
    size_t row_bytes = 0;
    WeightLayout layout = WeightLayout::kGguf;
};

// dst[0..n_in) = row r of w, in either layout.
void dequantize_matrix_row(const Matrix& w, int64_t r, float* dst);

// y[t][o] = sum_i W[o][i] * x[t][i] for t < n_tokens.
// x: [n_tokens][n_in] f32, y: [n_tokens][n_out] f32 (rows of y are n_out apart).
// Work is split over the pool's threads. The ISA overload exists so tests can run every path.
// A matrix in the row-group layout runs on the AVX-512 kernels made for it when `isa` allows,
// else on the scalar reference (the layout is only chosen where AVX-512 is used).
// As in llama.cpp, x is converted once per call: to 8-bit blocks (with per-block scales) for
// the quantized types, whose dot products then run in integers; to bf16 for BF16 weights; F32
// and F16 weights use x as it is. One token is the memory-bound decode case (each weight row
// streamed once); several tokens share every decoded weight block (prompt processing).
void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);
void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool, Isa isa);

// One matrix of matmul_shared_input: y = w x, y: [n_tokens][w->n_out].
struct MatmulOutput {
    const Matrix* w = nullptr;
    float* y = nullptr;
};

// matmul for several matrices of the same n_in applied to the same x (a layer's q, k and v
// projections; its gate and up projections), as one pass over the thread pool: x is converted
// once per activation format, and the matrices' rows form one list of work units, so that each
// thread streams through its share of them in the order given (a loaded model stores them in
// that order) and the threads meet once at the end instead of once per matrix.
void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, int64_t n_tokens,
                         ThreadPool& pool);
void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, int64_t n_tokens,
                         ThreadPool& pool, Isa isa);

// True when quantize_row can write the type (every type is_supported accepts).
bool can_quantize(TensorType type);

// Writes n floats (a multiple of the block size) as one row of `type` into dst (row_bytes(type,
// n) bytes). Scales are chosen by plain round-to-nearest from each block's range: meant for
// synthetic models, benchmarks and tests, not as a model converter. False if the type cannot be
// written.
bool quantize_row(TensorType type, const float* src, void* dst, int64_t n);

// The ISA that matmul(w, ...) without an explicit ISA uses: selected_isa(), lowered to what the
// kernels can use on this CPU (the AVX-512 kernels also need VNNI).
Isa matmul_isa();

// True when matmul on `isa` is faster from the row-group layout (row_groups.h) for `type`: the
// model repacks such weights at load time.
bool prefers_row_groups(TensorType type, Isa isa);

}  // namespace cria::kernels
