// AVX2 + FMA + F16C versions of the decoder's f32 operations. Compiled with those flags for this
// file only; called only when the CPU has them (ops.cpp checks).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/kernels.h"
#include "kernels/ops_table.h"

namespace cria::kernels {
namespace {

constexpr int kLanes = 8;

// Lane i is enabled when i < remaining (for _mm256_maskload_ps / _mm256_maskstore_ps).
inline __m256i tail_mask(int64_t remaining) {
    const int count = remaining >= kLanes ? kLanes : static_cast<int>(remaining);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float reduce_add(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float reduce_max(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// e^x by range reduction and a degree-6 polynomial; the input is clamped so that 2^n stays a
// normal float (results below e^-87 are flushed to about 1.6e-38, harmless here).
inline __m256 exp_ps(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    const __m256 y =
        _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    const __m256i exponent =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
}

inline __m256 tanh_ps(__m256 x) {
    const __m256 e = exp_ps(_mm256_add_ps(x, x));
    return _mm256_sub_ps(
        _mm256_set1_ps(1.0f),
        _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

inline __m256 silu_ps(__m256 x) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline __m256 gelu_ps(__m256 x) {
    const __m256 x2 = _mm256_mul_ps(x, x);
    const __m256 inner =
        _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.79788456080286535588f)),
                      _mm256_fmadd_ps(x2, _mm256_set1_ps(0.044715f), _mm256_set1_ps(1.0f)));
    const __m256 half_x = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(half_x, tanh_ps(inner), half_x);
}

void rms_norm_avx2(const float* x, const float* weight, float* y, int64_t n, float eps) {
    __m256 sum0 = _mm256_setzero_ps();
    __m256 sum1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        const __m256 a = _mm256_loadu_ps(x + i);
        const __m256 b = _mm256_loadu_ps(x + i + kLanes);
        sum0 = _mm256_fmadd_ps(a, a, sum0);
        sum1 = _mm256_fmadd_ps(b, b, sum1);
    }
    for (; i < n; i += kLanes) {
        const __m256 a = _mm256_maskload_ps(x + i, tail_mask(n - i));
        sum0 = _mm256_fmadd_ps(a, a, sum0);
    }
    const float mean = reduce_add(_mm256_add_ps(sum0, sum1)) / static_cast<float>(n);
    const __m256 inv = _mm256_set1_ps(1.0f / std::sqrt(mean + eps));
    for (i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv);
        if (weight != nullptr) v = _mm256_mul_ps(v, _mm256_maskload_ps(weight + i, m));
        _mm256_maskstore_ps(y + i, m, v);
    }
}

void rope_apply_avx2(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                     const float* cos_sin) {
    const int half = n_rot / 2;
    if (style == RopeStyle::kNormal) {
        const __m256 sign = _mm256_castsi256_ps(
            _mm256_setr_epi32(INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0));
        for (int64_t h = 0; h < n_heads; ++h) {
            float* head = x + h * head_dim;
            for (int i = 0; i < n_rot; i += kLanes) {
                const __m256i m = tail_mask(n_rot - i);
                const __m256 table = _mm256_maskload_ps(cos_sin + i, m);
                const __m256 c = _mm256_moveldup_ps(table);
                const __m256 s = _mm256_xor_ps(_mm256_movehdup_ps(table), sign);
                const __m256 v = _mm256_maskload_ps(head + i, m);
                const __m256 swapped = _mm256_permute_ps(v, 0xB1);
                _mm256_maskstore_ps(head + i, m, _mm256_fmadd_ps(v, c, _mm256_mul_ps(swapped, s)));
            }
        }
        return;
    }
    for (int64_t h = 0; h < n_heads; ++h) {
        float* head = x + h * head_dim;
        int i = 0;
        for (; i + kLanes <= half; i += kLanes) {
            // De-interleave 8 (cos, sin) pairs into a cos and a sin vector.
            const __m256 t0 = _mm256_loadu_ps(cos_sin + 2 * i);
            const __m256 t1 = _mm256_loadu_ps(cos_sin + 2 * i + kLanes);
            const __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
            const __m256 s = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
            const __m256 x0 = _mm256_loadu_ps(head + i);
            const __m256 x1 = _mm256_loadu_ps(head + i + half);
            _mm256_storeu_ps(head + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
            _mm256_storeu_ps(head + i + half, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
        }
        for (; i < half; ++i) {
            const float c = cos_sin[2 * i];
            const float s = cos_sin[2 * i + 1];
            const float x0 = head[i];
            const float x1 = head[i + half];
            head[i] = x0 * c - x1 * s;
            head[i + half] = x0 * s + x1 * c;
        }
    }
}

void swiglu_avx2(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        const __m256 g = _mm256_maskload_ps(gate + i, m);
        const __m256 u = _mm256_maskload_ps(up + i, m);
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(silu_ps(g), u));
    }
}

void geglu_avx2(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        const __m256 g = _mm256_maskload_ps(gate + i, m);
        const __m256 u = _mm256_maskload_ps(up + i, m);
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(gelu_ps(g), u));
    }
}

void silu_avx2(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, silu_ps(_mm256_maskload_ps(x + i, m)));
    }
}

void gelu_avx2(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, gelu_ps(_mm256_maskload_ps(x + i, m)));
    }
}

void softcap_avx2(float* x, int64_t n, float cap) {
    const __m256 c = _mm256_set1_ps(cap);
    const __m256 inv = _mm256_set1_ps(1.0f / cap);
    for (int64_t i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        const __m256 v = _mm256_maskload_ps(x + i, m);
        _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(c, tanh_ps(_mm256_mul_ps(v, inv))));
    }
}

void scale_avx2(float* x, int64_t n, float s) {
    const __m256 f = _mm256_set1_ps(s);
    for (int64_t i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), f));
    }
}

void softmax_avx2(float* x, int64_t n) {
    if (n <= 0) return;
    __m256 max_v = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) max_v = _mm256_max_ps(max_v, _mm256_loadu_ps(x + i));
    float max_value = reduce_max(max_v);
    for (; i < n; ++i) max_value = std::fmax(max_value, x[i]);
    const __m256 max_b = _mm256_set1_ps(max_value);
    __m256 sum = _mm256_setzero_ps();
    for (i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), max_b));
        _mm256_maskstore_ps(x + i, m, e);
        sum = _mm256_add_ps(sum, _mm256_and_ps(e, _mm256_castsi256_ps(m)));
    }
    scale_avx2(x, n, 1.0f / reduce_add(sum));
}

void add_avx2(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(
            y + i, m, _mm256_add_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
    }
}

void fp32_to_fp16_avx2(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
    }
    for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

const float* head_as_f32(gguf::TensorType type, const uint8_t* row, int64_t first, int64_t n,
                         float* buffer) {
    switch (type) {
        case gguf::TensorType::kF32:
            return reinterpret_cast<const float*>(row) + first;
        case gguf::TensorType::kF16: {
            const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + first;
            int64_t d = 0;
            for (; d + kLanes <= n; d += kLanes) {
                _mm256_store_ps(
                    buffer + d,
                    _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + d))));
            }
            for (; d < n; ++d) buffer[d] = fp16_to_fp32(h[d]);
            return buffer;
        }
        default:
            dequantize_row(type, row + gguf::row_bytes(type, first), buffer, n);
            return buffer;
    }
}

inline float dot_f32(const float* a, const float* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps();
    __m256 acc1 = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 2 * kLanes <= n; d += 2 * kLanes) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), acc0);
        acc1 =
            _mm256_fmadd_ps(_mm256_loadu_ps(a + d + kLanes), _mm256_loadu_ps(b + d + kLanes), acc1);
    }
    for (; d < n; d += kLanes) {
        const __m256i m = tail_mask(n - d);
        acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + d, m), _mm256_maskload_ps(b + d, m), acc0);
    }
    return reduce_add(_mm256_add_ps(acc0, acc1));
}

void attend_avx2(const AttentionShape& shape, const float* q, int64_t position, const KvSpan& kv,
                 int kv_head, float* out, float* scratch) {
    const int group = shape.n_head / shape.n_head_kv;
    const int64_t first = attention_first_key(shape, position);
    const int64_t n_keys = position - first + 1;
    const size_t scores_stride = (static_cast<size_t>(n_keys) + 15) & ~size_t{15};
    const int64_t hd_k = shape.head_dim_k;
    const int64_t hd_v = shape.head_dim_v;
    float* scores = scratch;  // [group][scores_stride]
    float* row = scratch + static_cast<size_t>(group) * scores_stride;
    const size_t head = static_cast<size_t>(hd_k > hd_v ? hd_k : hd_v);
    float* acc = row + 16 * ((head + 15) & ~size_t{15});  // [group][acc_stride]
    const size_t acc_stride = (static_cast<size_t>(hd_v) + 15) & ~size_t{15};

    for (int64_t j = 0; j < n_keys; ++j) {
        const float* k =
            head_as_f32(kv.type, kv.k + static_cast<size_t>(first + j) * kv.k_row_bytes,
                        kv_head * hd_k, hd_k, row);
        for (int g = 0; g < group; ++g) {
            scores[static_cast<size_t>(g) * scores_stride + j] =
                dot_f32(q + g * hd_k, k, hd_k) * shape.scale;
        }
    }
    for (int g = 0; g < group; ++g) {
        float* sg = scores + static_cast<size_t>(g) * scores_stride;
        if (shape.softcap > 0.0f) softcap_avx2(sg, n_keys, shape.softcap);
        softmax_avx2(sg, n_keys);
        float* ag = acc + static_cast<size_t>(g) * acc_stride;
        for (size_t d = 0; d < acc_stride; d += kLanes)
            _mm256_store_ps(ag + d, _mm256_setzero_ps());
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* v =
            head_as_f32(kv.type, kv.v + static_cast<size_t>(first + j) * kv.v_row_bytes,
                        kv_head * hd_v, hd_v, row);
        for (int g = 0; g < group; ++g) {
            const __m256 p = _mm256_set1_ps(scores[static_cast<size_t>(g) * scores_stride + j]);
            float* ag = acc + static_cast<size_t>(g) * acc_stride;
            for (int64_t d = 0; d < hd_v; d += kLanes) {
                const __m256 vv = _mm256_maskload_ps(v + d, tail_mask(hd_v - d));
                _mm256_store_ps(ag + d, _mm256_fmadd_ps(p, vv, _mm256_load_ps(ag + d)));
            }
        }
    }
    for (int g = 0; g < group; ++g) {
        const float* ag = acc + static_cast<size_t>(g) * acc_stride;
        float* og = out + g * hd_v;
        for (int64_t d = 0; d < hd_v; d += kLanes) {
            _mm256_maskstore_ps(og + d, tail_mask(hd_v - d), _mm256_load_ps(ag + d));
        }
    }
}

// ---- Blocked attention (prompt processing) ---------------------------------------------------
// As in the AVX-512 version: transposed queries give the scores of 8 rows per FMA chain, the
// softmax runs across rows, and converted values are applied with register accumulators.

template <int kVecs>
void block_scores(const AttentionShape& shape, const float* qt, size_t rs, int rv0,
                  const KvSpan& kv, int kv_head, int64_t first_key, int64_t n_keys,
                  const float* row_pos, float* st, float* k0_buf, float* k1_buf) {
    const int64_t hd_k = shape.head_dim_k;
    const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
    const __m256 cap = _mm256_set1_ps(shape.softcap);
    const __m256 inv_cap = _mm256_set1_ps(shape.softcap > 0.0f ? 1.0f / shape.softcap : 0.0f);
    // Positions are below 2^24, so they and their differences are exact in floats.
    const __m256 window =
        _mm256_set1_ps(shape.window > 0 ? static_cast<float>(shape.window) : INFINITY);
    __m256 pos[kVecs];
    for (int v = 0; v < kVecs; ++v) {
        pos[v] = _mm256_load_ps(row_pos + static_cast<size_t>(rv0 + v) * kLanes);
    }
    auto finish = [&](int64_t j, __m256* acc) {
        const __m256 key = _mm256_set1_ps(static_cast<float>(first_key + j));
        for (int v = 0; v < kVecs; ++v) {
            __m256 score = acc[v];
            if (shape.softcap > 0.0f)
                score = _mm256_mul_ps(cap, tanh_ps(_mm256_mul_ps(score, inv_cap)));
            const __m256 visible =
                _mm256_and_ps(_mm256_cmp_ps(key, pos[v], _CMP_LE_OQ),
                              _mm256_cmp_ps(_mm256_sub_ps(pos[v], key), window, _CMP_LT_OQ));
            _mm256_store_ps(
                st + static_cast<size_t>(j) * rs + static_cast<size_t>(rv0 + v) * kLanes,
                _mm256_blendv_ps(neg_inf, score, visible));
        }
    };
    auto key_row = [&](int64_t j, float* buffer) {
        return head_as_f32(kv.type, kv.k + static_cast<size_t>(first_key + j) * kv.k_row_bytes,
                           kv_head * hd_k, hd_k, buffer);
    };
    int64_t j = 0;
    for (; j + 2 <= n_keys; j += 2) {
        const float* k0 = key_row(j, k0_buf);
        const float* k1 = key_row(j + 1, k1_buf);
        __m256 a0[kVecs], a1[kVecs];
        for (int v = 0; v < kVecs; ++v) a0[v] = a1[v] = _mm256_setzero_ps();
        for (int64_t d = 0; d < hd_k; ++d) {
            const __m256 b0 = _mm256_broadcast_ss(k0 + d);
            const __m256 b1 = _mm256_broadcast_ss(k1 + d);
            const float* qd = qt + static_cast<size_t>(d) * rs + static_cast<size_t>(rv0) * kLanes;
            for (int v = 0; v < kVecs; ++v) {
                const __m256 qv = _mm256_load_ps(qd + v * kLanes);
                a0[v] = _mm256_fmadd_ps(qv, b0, a0[v]);
                a1[v] = _mm256_fmadd_ps(qv, b1, a1[v]);
            }
        }
        finish(j, a0);
        finish(j + 1, a1);
    }
    if (j < n_keys) {
        const float* k0 = key_row(j, k0_buf);
        __m256 a0[kVecs];
        for (int v = 0; v < kVecs; ++v) a0[v] = _mm256_setzero_ps();
        for (int64_t d = 0; d < hd_k; ++d) {
            const __m256 b0 = _mm256_broadcast_ss(k0 + d);
            const float* qd = qt + static_cast<size_t>(d) * rs + static_cast<size_t>(rv0) * kLanes;
            for (int v = 0; v < kVecs; ++v) {
                a0[v] = _mm256_fmadd_ps(_mm256_load_ps(qd + v * kLanes), b0, a0[v]);
            }
        }
        finish(j, a0);
    }
}

template <int kRows, int kDv>
void block_values(const float* st, size_t rs, const float* vf, int64_t hd_v, int64_t n_keys,
                  int64_t d0, int r0, const float* inv_sums, const AttentionBlock& block,
                  int row_limit) {
    __m256 acc[kRows][kDv];
    for (int r = 0; r < kRows; ++r) {
        for (int v = 0; v < kDv; ++v) acc[r][v] = _mm256_setzero_ps();
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* vj = vf + static_cast<size_t>(j) * hd_v + d0;
        __m256 vv[kDv];
        for (int v = 0; v < kDv; ++v) vv[v] = _mm256_load_ps(vj + v * kLanes);
        const float* pj = st + static_cast<size_t>(j) * rs + r0;
        for (int r = 0; r < kRows; ++r) {
            const __m256 p = _mm256_broadcast_ss(pj + r);
            for (int v = 0; v < kDv; ++v) acc[r][v] = _mm256_fmadd_ps(p, vv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < kRows && r0 + r < row_limit; ++r) {
        const int row = r0 + r;
        const int64_t t = row / block.n_heads;
        const int h = row % block.n_heads;
        float* out = block.out + static_cast<size_t>(t) * block.out_stride +
                     static_cast<size_t>(h) * hd_v + d0;
        const __m256 inv = _mm256_set1_ps(inv_sums[row]);
        for (int v = 0; v < kDv; ++v)
            _mm256_storeu_ps(out + v * kLanes, _mm256_mul_ps(acc[r][v], inv));
    }
}

template <int kDv>
void block_values_all_rows(const float* st, size_t rs, const float* vf, int64_t hd_v,
                           int64_t n_keys, int64_t d0, int rows, const float* inv_sums,
                           const AttentionBlock& block) {
    int r0 = 0;
    for (; r0 + 4 <= rows; r0 += 4) {
        block_values<4, kDv>(st, rs, vf, hd_v, n_keys, d0, r0, inv_sums, block, rows);
    }
    for (; r0 < rows; ++r0) {
        block_values<1, kDv>(st, rs, vf, hd_v, n_keys, d0, r0, inv_sums, block, rows);
    }
}

void attend_block_avx2(const AttentionShape& shape, const AttentionBlock& block, const KvSpan& kv,
                       float* scratch) {
    const int64_t hd_k = shape.head_dim_k;
    const int64_t hd_v = shape.head_dim_v;
    const int rows = static_cast<int>(block.n_tokens) * block.n_heads;
    const int n_vecs = (rows + kLanes - 1) / kLanes;
    const size_t rs = static_cast<size_t>(n_vecs) * kLanes;
    const int64_t last_key = block.pos0 + block.n_tokens - 1;
    const int64_t first_key = attention_first_key(shape, block.pos0);
    const int64_t n_keys = last_key - first_key + 1;

    float* qt = scratch;                                // [hd_k][rs]
    float* st = qt + static_cast<size_t>(hd_k) * rs;    // [n_keys][rs]
    float* vf = st + static_cast<size_t>(n_keys) * rs;  // [n_keys][hd_v]
    float* k0_buf = vf + static_cast<size_t>(n_keys) * hd_v;
    const size_t k_round = (static_cast<size_t>(hd_k) + 15) & ~size_t{15};
    float* k1_buf = k0_buf + k_round;
    float* row_pos = k1_buf + k_round;  // [rs]
    float* sums = row_pos + rs;         // [rs]

    for (int64_t d = 0; d < hd_k; ++d) {
        for (size_t r = static_cast<size_t>(rows); r < rs; ++r)
            qt[static_cast<size_t>(d) * rs + r] = 0.0f;
    }
    for (int r = 0; r < rows; ++r) {
        const int64_t t = r / block.n_heads;
        const int h = r % block.n_heads;
        const float* q =
            block.q + static_cast<size_t>(t) * block.q_stride + static_cast<size_t>(h) * hd_k;
        for (int64_t d = 0; d < hd_k; ++d) qt[static_cast<size_t>(d) * rs + r] = q[d] * shape.scale;
        row_pos[r] = static_cast<float>(block.pos0 + t);
    }
    for (size_t r = static_cast<size_t>(rows); r < rs; ++r) row_pos[r] = -1.0f;

    for (int rv = 0; rv < n_vecs; rv += 4) {
        switch (std::min(4, n_vecs - rv)) {
            case 4:
                block_scores<4>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                st, k0_buf, k1_buf);
                break;
            case 3:
                block_scores<3>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                st, k0_buf, k1_buf);
                break;
            case 2:
                block_scores<2>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                st, k0_buf, k1_buf);
                break;
            default:
                block_scores<1>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                st, k0_buf, k1_buf);
                break;
        }
    }

    const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
    for (int v = 0; v < n_vecs; ++v) {
        float* column = st + static_cast<size_t>(v) * kLanes;
        __m256 max_v = neg_inf;
        for (int64_t j = 0; j < n_keys; ++j) {
            max_v = _mm256_max_ps(max_v, _mm256_load_ps(column + static_cast<size_t>(j) * rs));
        }
        __m256 sum = _mm256_setzero_ps();
        for (int64_t j = 0; j < n_keys; ++j) {
            float* p = column + static_cast<size_t>(j) * rs;
            const __m256 s = _mm256_load_ps(p);
            const __m256 visible = _mm256_cmp_ps(s, neg_inf, _CMP_GT_OQ);
            const __m256 e = _mm256_and_ps(visible, exp_ps(_mm256_sub_ps(s, max_v)));
            _mm256_store_ps(p, e);
            sum = _mm256_add_ps(sum, e);
        }
        _mm256_store_ps(sums + static_cast<size_t>(v) * kLanes,
                        _mm256_div_ps(_mm256_set1_ps(1.0f), sum));
    }

    for (int64_t j = 0; j < n_keys; ++j) {
        float* dst = vf + static_cast<size_t>(j) * hd_v;
        const float* v =
            head_as_f32(kv.type, kv.v + static_cast<size_t>(first_key + j) * kv.v_row_bytes,
                        block.kv_head * hd_v, hd_v, dst);
        if (v != dst) std::memcpy(dst, v, static_cast<size_t>(hd_v) * sizeof(float));
    }
    for (int64_t d0 = 0; d0 < hd_v; d0 += 2 * kLanes) {
        if (hd_v - d0 >= 2 * kLanes) {
            block_values_all_rows<2>(st, rs, vf, hd_v, n_keys, d0, rows, sums, block);
        } else {
            block_values_all_rows<1>(st, rs, vf, hd_v, n_keys, d0, rows, sums, block);
        }
    }
}

uint64_t sum_words_avx2(const uint64_t* words, int64_t n) {
    // Four independent accumulators of two lines each keep the loads in flight.
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                      _mm256_setzero_si256()};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int k = 0; k < 4; ++k) {
            acc[k] = _mm256_add_epi64(
                acc[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i + 4 * k)));
        }
    }
    const __m256i total =
        _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]), _mm256_add_epi64(acc[2], acc[3]));
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), total);
    uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; ++i) sum += words[i];
    return sum;
}

}  // namespace

const OpsTable& ops_avx2() {
    static const OpsTable table = {
        rms_norm_avx2,     rope_apply_avx2, swiglu_avx2,  geglu_avx2,        silu_avx2,
        gelu_avx2,         softcap_avx2,    softmax_avx2, add_avx2,          scale_avx2,
        fp32_to_fp16_avx2, sum_words_avx2,  attend_avx2,  attend_block_avx2,
    };
    return table;
}

}  // namespace cria::kernels
