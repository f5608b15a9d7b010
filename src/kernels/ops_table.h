// Internal interface between the op entry points (ops.cpp) and their per-ISA implementations:
// one table of function pointers per ISA. Every entry is filled; an ISA file may point an entry
// at the reference when vectorizing it would not pay.
#pragma once

#include <cstdint>

#include "kernels/ops.h"

namespace cria::kernels {

struct OpsTable {
    void (*rms_norm)(const float* x, const float* weight, float* y, int64_t n, float eps);
    void (*layer_norm)(const float* x, const float* weight, const float* bias, float* y, int64_t n,
                       float eps);
    void (*rope_apply)(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                       const float* cos_sin);
    void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
    void (*geglu)(const float* gate, const float* up, float* out, int64_t n);
    void (*silu)(const float* x, float* y, int64_t n);
    void (*gelu)(const float* x, float* y, int64_t n);
    void (*softcap)(float* x, int64_t n, float cap);
    void (*softmax)(float* x, int64_t n);
    void (*add)(const float* a, const float* b, float* y, int64_t n);
    void (*scale)(float* x, int64_t n, float s);
    void (*fp32_to_fp16)(const float* src, uint16_t* dst, int64_t n);
    uint64_t (*sum_words)(const uint64_t* words, int64_t n);
    // Attention of the `group` = n_head / n_head_kv query heads that share key/value head
    // kv_head, for one query at `position`. q: [group][head_dim_k], out: [group][head_dim_v].
    // scratch holds attention_scratch_floats(shape, position + 1) floats, 64-byte aligned.
    void (*attend)(const AttentionShape& shape, const float* q, int64_t position, const KvSpan& kv,
                   int kv_head, float* out, float* scratch);
    // Attention of a block of queries at consecutive positions that share one key/value head,
    // computed together so that each key and value is converted once for all of them (prompt
    // processing). May be null: attend() then serves every query. Needs head sizes that are
    // multiples of 16; scratch holds attention_block_scratch_floats() floats, 64-byte aligned.
    void (*attend_block)(const AttentionShape& shape, const struct AttentionBlock& block,
                         const KvSpan& kv, float* scratch);
};

// Queries (token t < n_tokens at position pos0 + t, head h < n_heads) at
// q + t * q_stride + h * head_dim_k; their outputs at out + t * out_stride + h * head_dim_v.
// Row r = t * n_heads + h of the block is that query.
struct AttentionBlock {
    const float* q = nullptr;
    size_t q_stride = 0;
    int64_t n_tokens = 0;
    int64_t pos0 = 0;
    int n_heads = 0;
    int kv_head = 0;
    float* out = nullptr;
    size_t out_stride = 0;
};

const OpsTable& ops_ref();
const OpsTable& ops_avx2();
const OpsTable& ops_avx512();  // call only when isa_supported(Isa::kAvx512)

// The helpers below are static: the AVX2 and AVX-512 files call them, and an inline function
// that an unoptimized build leaves out of line would be a weak symbol there, of which the
// linker could keep the AVX-512 copy for the generic callers too.

// The first key position a causal query at `position` sees.
static inline int64_t attention_first_key(const AttentionShape& shape, int64_t position) {
    if (shape.window <= 0) return 0;
    const int64_t first = position - shape.window + 1;
    return first > 0 ? first : 0;
}

// The keys a query at `position` sees in a span of n_kv keys: [first, first + count).
struct KeyRange {
    int64_t first = 0;
    int64_t count = 0;
};
static inline KeyRange attention_keys(const AttentionShape& shape, int64_t position, int64_t n_kv) {
    if (shape.causal) {
        const int64_t first = attention_first_key(shape, position);
        return {first, position - first + 1};
    }
    if (shape.window <= 0) return {0, n_kv};
    const int64_t half = shape.window / 2;
    const int64_t first = position - half > 0 ? position - half : 0;
    const int64_t last = position + half < n_kv - 1 ? position + half : n_kv - 1;
    return {first, last - first + 1};
}

// Floats of scratch one attend() call needs for a query that sees up to n_keys keys: the scores
// of each head of the group, 16 converted key/value heads, and the group's accumulators, each
// section rounded up to 16 floats (64 bytes).
static inline size_t attention_scratch_floats(const AttentionShape& shape, int64_t n_keys) {
    auto round16 = [](size_t n) { return (n + 15) & ~size_t{15}; };
    const size_t group = static_cast<size_t>(shape.n_head / shape.n_head_kv);
    const size_t head = static_cast<size_t>(shape.head_dim_k > shape.head_dim_v ? shape.head_dim_k
                                                                                : shape.head_dim_v);
    return group * round16(static_cast<size_t>(n_keys)) + 16 * round16(head) +
           group * round16(static_cast<size_t>(shape.head_dim_v));
}

// Floats of scratch one attend_block() call needs: the queries transposed and the scores of
// every row for every key ([rows rounded to 16] each), the values converted to f32, two
// converted keys, and the rows' positions and softmax sums.
static inline size_t attention_block_scratch_floats(const AttentionShape& shape, int64_t rows,
                                                    int64_t n_keys) {
    auto round16 = [](size_t n) { return (n + 15) & ~size_t{15}; };
    const size_t row_stride = round16(static_cast<size_t>(rows));
    const auto keys = static_cast<size_t>(n_keys);
    return static_cast<size_t>(shape.head_dim_k) * row_stride + keys * row_stride +
           keys * static_cast<size_t>(shape.head_dim_v) +
           2 * round16(static_cast<size_t>(shape.head_dim_k)) + 2 * row_stride;
}

}  // namespace cria::kernels
