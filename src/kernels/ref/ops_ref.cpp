// Scalar reference of the decoder's f32 operations: the specification that the vectorized
// versions are tested against. Plain loops; sums in double where that costs nothing.
#include <cmath>

#include "core/half.h"
#include "kernels/ops_table.h"
#include "kernels/ref/ref.h"

namespace cria::kernels {
namespace {

void rms_norm_ref(const float* x, const float* weight, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * (weight != nullptr ? weight[i] : 1.0f);
}

void layer_norm_ref(const float* x, const float* weight, const float* bias, float* y, int64_t n,
                    float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += x[i];
    const auto mean = static_cast<float>(sum / static_cast<double>(n));
    double squares = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - mean;
        squares += d * d;
    }
    const float inv = 1.0f / std::sqrt(static_cast<float>(squares / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) {
        float v = (x[i] - mean) * inv;
        if (weight != nullptr) v *= weight[i];
        if (bias != nullptr) v += bias[i];
        y[i] = v;
    }
}

void rope_apply_ref(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                    const float* cos_sin) {
    const int half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float* head = x + h * head_dim;
        for (int i = 0; i < half; ++i) {
            const float c = cos_sin[2 * i];
            const float s = cos_sin[2 * i + 1];
            // kNormal pairs neighbours; kNeox pairs the two halves of the rotated dimensions.
            const int a = style == RopeStyle::kNormal ? 2 * i : i;
            const int b = style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
            const float x0 = head[a];
            const float x1 = head[b];
            head[a] = x0 * c - x1 * s;
            head[b] = x0 * s + x1 * c;
        }
    }
}

float silu_scalar(float x) {
    return x / (1.0f + std::exp(-x));
}

float gelu_scalar(float x) {
    constexpr float kSqrt2OverPi = 0.79788456080286535588f;
    constexpr float kCubic = 0.044715f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCubic * x * x)));
}

void swiglu_ref(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = silu_scalar(gate[i]) * up[i];
}

void geglu_ref(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = gelu_scalar(gate[i]) * up[i];
}

void silu_ref(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = silu_scalar(x[i]);
}

void gelu_ref(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = gelu_scalar(x[i]);
}

void softcap_ref(float* x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void softmax_ref(float* x, int64_t n) {
    if (n <= 0) return;
    float max_value = x[0];
    for (int64_t i = 1; i < n; ++i) max_value = std::fmax(max_value, x[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max_value);
        sum += x[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void add_ref(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void scale_ref(float* x, int64_t n, float s) {
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void fp32_to_fp16_ref(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

// Elements [first, first + n) of cache row `row` as floats.
void load_head(gguf::TensorType type, const uint8_t* row, int64_t first, int64_t n, float* dst) {
    switch (type) {
        case gguf::TensorType::kF32: {
            const float* values = reinterpret_cast<const float*>(row) + first;
            for (int64_t i = 0; i < n; ++i) dst[i] = values[i];
            return;
        }
        case gguf::TensorType::kF16: {
            const uint16_t* values = reinterpret_cast<const uint16_t*>(row) + first;
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(values[i]);
            return;
        }
        default:
            ref::dequantize_row(type, row + gguf::row_bytes(type, first), dst, n);
            return;
    }
}

void attend_ref(const AttentionShape& shape, const float* q, int64_t position, const KvSpan& kv,
                int kv_head, float* out, float* scratch) {
    const int group = shape.n_head / shape.n_head_kv;
    const KeyRange keys_seen = attention_keys(shape, position, kv.n_kv);
    const int64_t first = keys_seen.first;
    const int64_t n_keys = keys_seen.count;
    const size_t scores_stride = (static_cast<size_t>(n_keys) + 15) & ~size_t{15};
    float* scores = scratch;                                            // [group][scores_stride]
    float* row = scratch + static_cast<size_t>(group) * scores_stride;  // one key or value head

    for (int64_t j = 0; j < n_keys; ++j) {
        load_head(kv.type, kv.k + static_cast<size_t>(first + j) * kv.k_row_bytes,
                  static_cast<int64_t>(kv_head) * shape.head_dim_k, shape.head_dim_k, row);
        for (int g = 0; g < group; ++g) {
            const float* qg = q + static_cast<size_t>(g) * shape.head_dim_k;
            double dot = 0.0;
            for (int d = 0; d < shape.head_dim_k; ++d) dot += static_cast<double>(qg[d]) * row[d];
            float score = static_cast<float>(dot) * shape.scale;
            if (shape.softcap > 0.0f) score = shape.softcap * std::tanh(score / shape.softcap);
            scores[static_cast<size_t>(g) * scores_stride + j] = score;
        }
    }
    for (int g = 0; g < group; ++g)
        softmax_ref(scores + static_cast<size_t>(g) * scores_stride, n_keys);

    for (int g = 0; g < group; ++g) {
        float* og = out + static_cast<size_t>(g) * shape.head_dim_v;
        for (int d = 0; d < shape.head_dim_v; ++d) og[d] = 0.0f;
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        load_head(kv.type, kv.v + static_cast<size_t>(first + j) * kv.v_row_bytes,
                  static_cast<int64_t>(kv_head) * shape.head_dim_v, shape.head_dim_v, row);
        for (int g = 0; g < group; ++g) {
            const float p = scores[static_cast<size_t>(g) * scores_stride + j];
            float* og = out + static_cast<size_t>(g) * shape.head_dim_v;
            for (int d = 0; d < shape.head_dim_v; ++d) og[d] += p * row[d];
        }
    }
}

uint64_t sum_words_ref(const uint64_t* words, int64_t n) {
    uint64_t sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += words[i];
    return sum;
}

}  // namespace

const OpsTable& ops_ref() {
    static const OpsTable table = {
        rms_norm_ref, layer_norm_ref,   rope_apply_ref, swiglu_ref,  geglu_ref,
        silu_ref,     gelu_ref,         softcap_ref,    softmax_ref, add_ref,
        scale_ref,    fp32_to_fp16_ref, sum_words_ref,  attend_ref,  nullptr,
    };
    return table;
}

}  // namespace cria::kernels
