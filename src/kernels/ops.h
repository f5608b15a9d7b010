// The small f32 operations of a transformer decoder besides the matrix products: normalization,
// rotary position embedding, gated activations, soft-capping, element-wise arithmetic, and
// attention over a key/value cache. Each has a scalar reference (kernels/ref/ops_ref.cpp) and
// AVX2 / AVX-512 versions (kernels/cpu/*/ops_*.cpp) chosen by the `isa` argument; the overloads
// without it use cria::selected_isa(). Callers on a hot path should look the ISA up once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "gguf/tensor_type.h"

namespace cria::kernels {

// ---- Normalization --------------------------------------------------------------------------

// y[r][i] = x[r][i] / sqrt(mean_i(x[r][i]^2) + eps) * weight[i] for each of n_rows rows of n.
// weight may be null (no scaling). y may alias x.
void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps,
              Isa isa);
void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps);

// LayerNorm: y[r][i] = (x[r][i] - mean) / sqrt(variance + eps) * weight[i] + bias[i] for each
// of n_rows rows of n (mean and variance over the row). weight and bias may be null. y may
// alias x.
void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n_rows,
                int64_t n, float eps, Isa isa);

// ---- Rotary position embedding --------------------------------------------------------------

// Which dimensions form the rotated pairs: kNormal rotates (2i, 2i+1) (Llama), kNeox rotates
// (i, i + n_rot/2) (GPT-NeoX, Qwen, Gemma, Phi-3).
enum class RopeStyle { kNormal, kNeox };

// How the rotation angle of pair i at position p is computed. The base angle is
// p * freq_base^(-2i/n_rot) / freq_factors[i]; linear scaling multiplies it by freq_scale, and
// YaRN (ext_factor > 0) blends the scaled and unscaled angles per dimension between the
// correction dimensions set by beta_fast / beta_slow. Cos and sin are multiplied by attn_factor
// (and by YaRN's magnitude correction).
struct RopeConfig {
    int n_rot = 0;  // rotated dimensions per head (even, <= head_dim)
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;
    const float* freq_factors = nullptr;  // [n_rot/2] or null (Llama 3.1 rope_freqs, LongRoPE)
    float ext_factor = 0.0f;
    float attn_factor = 1.0f;
    float beta_fast = 32.0f;
    float beta_slow = 1.0f;
    int64_t n_ctx_orig = 0;  // training context, for YaRN's correction dimensions
};

// cos_sin[2i] = cos(angle_i) * m, cos_sin[2i+1] = sin(angle_i) * m for i < n_rot/2: the table
// for one position, shared by every head of every layer that uses the same configuration.
void rope_angles(const RopeConfig& config, int64_t position, float* cos_sin);

// Rotates the first n_rot dimensions of each of n_heads vectors of head_dim floats in x
// ([n_heads][head_dim]) by the angles of one position (cos_sin from rope_angles).
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                const float* cos_sin, Isa isa);
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                const float* cos_sin);

// ---- Activations ----------------------------------------------------------------------------

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + e^-x). out may alias gate or up.
void swiglu(const float* gate, const float* up, float* out, int64_t n, Isa isa);
void swiglu(const float* gate, const float* up, float* out, int64_t n);
// out[i] = gelu(gate[i]) * up[i] with the tanh approximation of GELU
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). out may alias gate or up.
void geglu(const float* gate, const float* up, float* out, int64_t n, Isa isa);
void geglu(const float* gate, const float* up, float* out, int64_t n);
void silu(const float* x, float* y, int64_t n, Isa isa);
void gelu(const float* x, float* y, int64_t n, Isa isa);

// x[i] = cap * tanh(x[i] / cap) (Gemma 2's soft-capping of attention scores and logits).
void softcap(float* x, int64_t n, float cap, Isa isa);
void softcap(float* x, int64_t n, float cap);

// In-place softmax over n values (max-subtracted, so large inputs do not overflow).
void softmax(float* x, int64_t n, Isa isa);

// y[i] = a[i] + b[i]; y may alias a or b.
void add(const float* a, const float* b, float* y, int64_t n, Isa isa);
void add(const float* a, const float* b, float* y, int64_t n);
// x[i] *= s.
void scale(float* x, int64_t n, float s, Isa isa);
void scale(float* x, int64_t n, float s);

// dst[i] = fp16(src[i]) rounded to nearest even (the F16 key/value cache).
void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n, Isa isa);

// The sum (mod 2^64) of n 64-bit words, read with the widest loads the ISA has: the memory
// read bandwidth probe of `cria bench` (a read that the kernels' own loads can match).
uint64_t sum_words(const uint64_t* words, int64_t n, Isa isa);
uint64_t sum_words(const uint64_t* words, int64_t n);

// ---- Attention ------------------------------------------------------------------------------

struct AttentionShape {
    int n_head = 0;     // query heads
    int n_head_kv = 0;  // key/value heads; n_head is a multiple of it (GQA / MQA)
    int head_dim_k = 0;
    int head_dim_v = 0;
    float scale = 1.0f;    // multiplies q.k before soft-capping and softmax
    float softcap = 0.0f;  // > 0: scores = softcap * tanh(scores / softcap)
    // Causal: a query at position p sees keys j <= p, and with window > 0 only p - window < j.
    // Not causal (encoders): it sees every key of the span, and with window > 0 only those with
    // |p - j| <= window / 2 (a symmetric window).
    int64_t window = 0;
    bool causal = true;
};

// The keys and values of one layer for positions [0, n_kv) of one sequence. Row j holds every
// key/value head of position j, head h at element h * head_dim.
struct KvSpan {
    gguf::TensorType type = gguf::TensorType::kF16;  // kF32, kF16 or kQ8_0
    const uint8_t* k = nullptr;                      // [n_kv][k_row_bytes]
    const uint8_t* v = nullptr;                      // [n_kv][v_row_bytes]
    size_t k_row_bytes = 0;
    size_t v_row_bytes = 0;
    int64_t n_kv = 0;
};

// True when attention can read a cache of `type` with these head sizes (Q8_0 needs head sizes
// that are multiples of its 32-element block).
bool attention_supports(gguf::TensorType type, int head_dim_k, int head_dim_v);

// Per-thread working memory of attention, kept between calls so that decoding allocates nothing
// once it has reached its longest context.
class AttentionScratch {
  public:
    // Returns thread `index`'s buffer of at least n floats, 64-byte aligned.
    float* get(int index, size_t n);

  private:
    struct Buffer {
        std::vector<float> storage;
        float* aligned = nullptr;
        size_t capacity = 0;
    };
    std::vector<Buffer> buffers_;
};

// Attention of n_tokens queries at positions pos0 .. pos0 + n_tokens - 1 over the cache, which
// must already hold their own keys and values (n_kv >= pos0 + n_tokens); causal or not as the
// shape says.
// q: [n_tokens][n_head * head_dim_k], out: [n_tokens][n_head * head_dim_v].
// Work is split over (token, key/value head) pairs on the pool.
void attention(const AttentionShape& shape, const float* q, int64_t n_tokens, int64_t pos0,
               const KvSpan& kv, float* out, ThreadPool& pool, AttentionScratch& scratch, Isa isa);

}  // namespace cria::kernels
