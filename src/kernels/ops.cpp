// Entry points of the decoder's f32 operations: pick the ISA's table, split attention over the
// pool's threads, and compute rotary angles (once per position, so not worth vectorizing).
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>

#include "kernels/ops_table.h"

namespace cria::kernels {
namespace {

const OpsTable& table_for(Isa isa) {
    switch (isa) {
        case Isa::kAvx512:
            if (isa_supported(Isa::kAvx512)) return ops_avx512();
            [[fallthrough]];
        case Isa::kAvx2:
            if (isa_supported(Isa::kAvx2)) return ops_avx2();
            [[fallthrough]];
        case Isa::kScalar:
            break;
    }
    return ops_ref();
}

// YaRN's correction dimension: the rotated dimension whose wavelength fits n_rotations times in
// the training context.
float yarn_correction_dim(int n_rot, int64_t n_ctx_orig, float n_rotations, float base) {
    return static_cast<float>(n_rot) *
           std::log(static_cast<float>(n_ctx_orig) /
                    (n_rotations * 2.0f * std::numbers::pi_v<float>)) /
           (2.0f * std::log(base));
}

}  // namespace

void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps,
              Isa isa) {
    const OpsTable& ops = table_for(isa);
    for (int64_t r = 0; r < n_rows; ++r) ops.rms_norm(x + r * n, weight, y + r * n, n, eps);
}
void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) {
    rms_norm(x, weight, y, n_rows, n, eps, selected_isa());
}

void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n_rows,
                int64_t n, float eps, Isa isa) {
    const OpsTable& ops = table_for(isa);
    for (int64_t r = 0; r < n_rows; ++r) ops.layer_norm(x + r * n, weight, bias, y + r * n, n, eps);
}

void rope_angles(const RopeConfig& config, int64_t position, float* cos_sin) {
    const int half = config.n_rot / 2;
    const bool yarn = config.ext_factor != 0.0f;
    float mscale = config.attn_factor;
    float ramp_low = 0.0f;
    float ramp_high = 0.0f;
    if (yarn) {
        mscale *= 1.0f + 0.1f * std::log(1.0f / config.freq_scale);
        const float low = std::floor(yarn_correction_dim(config.n_rot, config.n_ctx_orig,
                                                         config.beta_fast, config.freq_base));
        const float high = std::ceil(yarn_correction_dim(config.n_rot, config.n_ctx_orig,
                                                         config.beta_slow, config.freq_base));
        ramp_low = std::max(0.0f, low);
        ramp_high = std::min(static_cast<float>(config.n_rot - 1), high);
    }
    const double log_base = std::log(static_cast<double>(config.freq_base));
    for (int i = 0; i < half; ++i) {
        const double inv_freq = std::exp(-2.0 * i / config.n_rot * log_base);
        float extrapolated = static_cast<float>(static_cast<double>(position) * inv_freq);
        if (config.freq_factors != nullptr) extrapolated /= config.freq_factors[i];
        const float interpolated = config.freq_scale * extrapolated;
        float angle = interpolated;
        if (yarn) {
            const float y =
                (static_cast<float>(i) - ramp_low) / std::max(0.001f, ramp_high - ramp_low);
            const float mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * config.ext_factor;
            angle = interpolated * (1.0f - mix) + extrapolated * mix;
        }
        cos_sin[2 * i] = std::cos(angle) * mscale;
        cos_sin[2 * i + 1] = std::sin(angle) * mscale;
    }
}

void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                const float* cos_sin, Isa isa) {
    table_for(isa).rope_apply(x, n_heads, head_dim, n_rot, style, cos_sin);
}
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                const float* cos_sin) {
    rope_apply(x, n_heads, head_dim, n_rot, style, cos_sin, selected_isa());
}

void swiglu(const float* gate, const float* up, float* out, int64_t n, Isa isa) {
    table_for(isa).swiglu(gate, up, out, n);
}
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    swiglu(gate, up, out, n, selected_isa());
}
void geglu(const float* gate, const float* up, float* out, int64_t n, Isa isa) {
    table_for(isa).geglu(gate, up, out, n);
}
void geglu(const float* gate, const float* up, float* out, int64_t n) {
    geglu(gate, up, out, n, selected_isa());
}
void silu(const float* x, float* y, int64_t n, Isa isa) {
    table_for(isa).silu(x, y, n);
}
void gelu(const float* x, float* y, int64_t n, Isa isa) {
    table_for(isa).gelu(x, y, n);
}

void softcap(float* x, int64_t n, float cap, Isa isa) {
    table_for(isa).softcap(x, n, cap);
}
void softcap(float* x, int64_t n, float cap) {
    softcap(x, n, cap, selected_isa());
}

void softmax(float* x, int64_t n, Isa isa) {
    table_for(isa).softmax(x, n);
}

void add(const float* a, const float* b, float* y, int64_t n, Isa isa) {
    table_for(isa).add(a, b, y, n);
}
void add(const float* a, const float* b, float* y, int64_t n) {
    add(a, b, y, n, selected_isa());
}
void scale(float* x, int64_t n, float s, Isa isa) {
    table_for(isa).scale(x, n, s);
}
void scale(float* x, int64_t n, float s) {
    scale(x, n, s, selected_isa());
}

uint64_t sum_words(const uint64_t* words, int64_t n, Isa isa) {
    return table_for(isa).sum_words(words, n);
}
uint64_t sum_words(const uint64_t* words, int64_t n) {
    return sum_words(words, n, selected_isa());
}

void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n, Isa isa) {
    table_for(isa).fp32_to_fp16(src, dst, n);
}

bool attention_supports(gguf::TensorType type, int head_dim_k, int head_dim_v) {
    if (head_dim_k <= 0 || head_dim_v <= 0) return false;
    switch (type) {
        case gguf::TensorType::kF32:
        case gguf::TensorType::kF16:
            return true;
        case gguf::TensorType::kQ8_0:
            return head_dim_k % 32 == 0 && head_dim_v % 32 == 0;
        default:
            return false;
    }
}

float* AttentionScratch::get(int index, size_t n) {
    if (buffers_.size() <= static_cast<size_t>(index))
        buffers_.resize(static_cast<size_t>(index) + 1);
    Buffer& buffer = buffers_[static_cast<size_t>(index)];
    if (buffer.capacity < n) {
        // Grow geometrically so that a context growing one token at a time reallocates rarely.
        const size_t capacity = std::max(n, buffer.capacity * 2);
        buffer.storage.assign(capacity + 16, 0.0f);
        const uintptr_t address = reinterpret_cast<uintptr_t>(buffer.storage.data());
        buffer.aligned = buffer.storage.data() + ((64 - address % 64) % 64) / sizeof(float);
        buffer.capacity = capacity;
    }
    return buffer.aligned;
}

namespace {

// Prompt processing: blocks of consecutive queries per key/value head, each key and value
// converted once per block.
void attention_blocked(const OpsTable& ops, const AttentionShape& shape, const float* q,
                       int64_t n_tokens, int64_t pos0, const KvSpan& kv, float* out,
                       ThreadPool& pool, AttentionScratch& scratch) {
    const int group = shape.n_head / shape.n_head_kv;
    const int64_t tokens_per_block = std::max(1, 64 / group);
    const int64_t n_blocks = (n_tokens + tokens_per_block - 1) / tokens_per_block;
    int split = 1;
    while (n_blocks * shape.n_head_kv * split < 2 * pool.size() && group % (split * 2) == 0) {
        split *= 2;
    }
    const int sub_group = group / split;
    // Without a window the last block sees the most keys; with one, any block may.
    int64_t max_keys = 0;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const int64_t start = pos0 + b * tokens_per_block;
        const int64_t last = std::min(start + tokens_per_block, pos0 + n_tokens) - 1;
        max_keys = std::max(max_keys, last - attention_first_key(shape, start) + 1);
    }
    const size_t scratch_floats =
        attention_block_scratch_floats(shape, tokens_per_block * sub_group, max_keys);
    for (int t = 0; t < pool.size(); ++t) scratch.get(t, scratch_floats);

    const size_t q_stride = static_cast<size_t>(shape.n_head) * shape.head_dim_k;
    const size_t out_stride = static_cast<size_t>(shape.n_head) * shape.head_dim_v;
    const int64_t per_block = int64_t{shape.n_head_kv} * split;
    const int64_t n_items = n_blocks * per_block;
    auto work = [&](int thread, int n_threads) {
        float* buffer = scratch.get(thread, scratch_floats);
        for (int64_t item = thread; item < n_items; item += n_threads) {
            const int64_t b = item / per_block;
            const int rest = static_cast<int>(item % per_block);
            const int kv_head = rest / split;
            const int first_head = kv_head * group + (rest % split) * sub_group;
            AttentionBlock block;
            block.pos0 = pos0 + b * tokens_per_block;
            block.n_tokens = std::min(tokens_per_block, n_tokens - b * tokens_per_block);
            block.q = q + static_cast<size_t>(b * tokens_per_block) * q_stride +
                      static_cast<size_t>(first_head) * shape.head_dim_k;
            block.q_stride = q_stride;
            block.out = out + static_cast<size_t>(b * tokens_per_block) * out_stride +
                        static_cast<size_t>(first_head) * shape.head_dim_v;
            block.out_stride = out_stride;
            block.n_heads = sub_group;
            block.kv_head = kv_head;
            ops.attend_block(shape, block, kv, buffer);
        }
    };
    // By reference: a std::function holding the lambda itself would allocate on every call.
    pool.run_on_all(std::ref(work));
}

}  // namespace

void attention(const AttentionShape& shape, const float* q, int64_t n_tokens, int64_t pos0,
               const KvSpan& kv, float* out, ThreadPool& pool, AttentionScratch& scratch, Isa isa) {
    if (n_tokens <= 0) return;
    const OpsTable& ops = table_for(isa);
    // The blocked kernel masks keys causally; encoders' queries take one key range each.
    if (ops.attend_block != nullptr && shape.causal && n_tokens >= 2 &&
        shape.head_dim_k % 16 == 0 && shape.head_dim_v % 16 == 0) {
        attention_blocked(ops, shape, q, n_tokens, pos0, kv, out, pool, scratch);
        return;
    }
    const int group = shape.n_head / shape.n_head_kv;
    // With few (token, kv head) pairs (decoding one token, MQA), split each group of query heads
    // too so that every thread has work.
    int split = 1;
    while (n_tokens * shape.n_head_kv * split < 2 * pool.size() && group % (split * 2) == 0) {
        split *= 2;
    }
    const int sub_group = group / split;
    AttentionShape sub_shape = shape;
    sub_shape.n_head = shape.n_head_kv * sub_group;

    int64_t max_keys = 0;
    if (shape.causal) {
        const int64_t last_position = pos0 + n_tokens - 1;
        max_keys = last_position - attention_first_key(shape, last_position) + 1;
    } else {
        max_keys = shape.window > 0 ? std::min(kv.n_kv, shape.window / 2 * 2 + 1) : kv.n_kv;
    }
    const size_t scratch_floats = attention_scratch_floats(sub_shape, max_keys);
    // Sized before the threads start: AttentionScratch is not thread-safe.
    for (int t = 0; t < pool.size(); ++t) scratch.get(t, scratch_floats);

    const size_t q_stride = static_cast<size_t>(shape.n_head) * shape.head_dim_k;
    const size_t out_stride = static_cast<size_t>(shape.n_head) * shape.head_dim_v;
    const int64_t n_items = n_tokens * shape.n_head_kv * split;
    // Items are dealt round-robin: later tokens see more keys, so contiguous ranges would leave
    // the first threads idle.
    auto work = [&](int thread, int n_threads) {
        float* buffer = scratch.get(thread, scratch_floats);
        for (int64_t item = thread; item < n_items; item += n_threads) {
            const int64_t t = item / (shape.n_head_kv * split);
            const int rest = static_cast<int>(item % (shape.n_head_kv * split));
            const int kv_head = rest / split;
            const int first_head = kv_head * group + (rest % split) * sub_group;
            ops.attend(sub_shape,
                       q + static_cast<size_t>(t) * q_stride +
                           static_cast<size_t>(first_head) * shape.head_dim_k,
                       pos0 + t, kv, kv_head,
                       out + static_cast<size_t>(t) * out_stride +
                           static_cast<size_t>(first_head) * shape.head_dim_v,
                       buffer);
        }
    };
    pool.run_on_all(std::ref(work));
}

}  // namespace cria::kernels
