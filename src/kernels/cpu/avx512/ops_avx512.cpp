// AVX-512 (F, BW, VL, DQ) versions of the decoder's f32 operations. Compiled with AVX-512 flags
// for this file only; called only when the CPU has those features (ops.cpp checks).
//
// GCC 12 reports the deliberately undefined pass-through operands inside its own AVX-512
// intrinsic headers as maybe-uninitialized once they are inlined (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ops_table.h"

namespace cria::kernels {
namespace {

constexpr int kLanes = 16;

__mmask16 tail_mask(int64_t remaining) {
    return remaining >= kLanes ? static_cast<__mmask16>(0xFFFF)
                               : static_cast<__mmask16>((1u << remaining) - 1u);
}

// e^x with a degree-6 polynomial on [-ln2/2, ln2/2] after range reduction; relative error about
// 2e-7 over the clamped range.
inline __m512 exp_ps(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)),
                      _mm512_set1_ps(-88.3762626647949f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 r2 = _mm512_mul_ps(r, r);
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, r2, r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

// tanh(x) = 1 - 2 / (e^2x + 1): saturates cleanly to +-1 for large |x|.
inline __m512 tanh_ps(__m512 x) {
    const __m512 e = exp_ps(_mm512_add_ps(x, x));
    return _mm512_sub_ps(
        _mm512_set1_ps(1.0f),
        _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
}

inline __m512 silu_ps(__m512 x) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline __m512 gelu_ps(__m512 x) {
    const __m512 x2 = _mm512_mul_ps(x, x);
    const __m512 inner =
        _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.79788456080286535588f)),
                      _mm512_fmadd_ps(x2, _mm512_set1_ps(0.044715f), _mm512_set1_ps(1.0f)));
    const __m512 half_x = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(half_x, tanh_ps(inner), half_x);
}

void rms_norm_avx512(const float* x, const float* weight, float* y, int64_t n, float eps) {
    __m512 sum0 = _mm512_setzero_ps();
    __m512 sum1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        const __m512 a = _mm512_loadu_ps(x + i);
        const __m512 b = _mm512_loadu_ps(x + i + kLanes);
        sum0 = _mm512_fmadd_ps(a, a, sum0);
        sum1 = _mm512_fmadd_ps(b, b, sum1);
    }
    for (; i < n; i += kLanes) {
        const __m512 a = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        sum0 = _mm512_fmadd_ps(a, a, sum0);
    }
    const float mean = _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1)) / static_cast<float>(n);
    const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
    for (i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
        if (weight != nullptr) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, weight + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

void rope_apply_avx512(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                       const float* cos_sin) {
    const int half = n_rot / 2;
    if (style == RopeStyle::kNormal) {
        // Pairs are neighbours, like the interleaved table: out = x * (c,c) + swap(x) * (-s,s).
        const __m512 sign = _mm512_castsi512_ps(_mm512_set4_epi32(0, INT32_MIN, 0, INT32_MIN));
        for (int64_t h = 0; h < n_heads; ++h) {
            float* head = x + h * head_dim;
            for (int i = 0; i < n_rot; i += kLanes) {
                const __mmask16 m = tail_mask(n_rot - i);
                const __m512 table = _mm512_maskz_loadu_ps(m, cos_sin + i);
                const __m512 c = _mm512_moveldup_ps(table);
                const __m512 s = _mm512_xor_ps(_mm512_movehdup_ps(table), sign);
                const __m512 v = _mm512_maskz_loadu_ps(m, head + i);
                const __m512 swapped = _mm512_permute_ps(v, 0xB1);
                _mm512_mask_storeu_ps(head + i, m,
                                      _mm512_fmadd_ps(v, c, _mm512_mul_ps(swapped, s)));
            }
        }
        return;
    }
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int64_t h = 0; h < n_heads; ++h) {
        float* head = x + h * head_dim;
        for (int i = 0; i < half; i += kLanes) {
            const __mmask16 m = tail_mask(half - i);
            const __mmask16 m_lo = tail_mask(2 * (half - i));
            const __mmask16 m_hi =
                tail_mask(2 * (half - i) - kLanes > 0 ? 2 * (half - i) - kLanes : 0);
            const __m512 t0 = _mm512_maskz_loadu_ps(m_lo, cos_sin + 2 * i);
            const __m512 t1 = _mm512_maskz_loadu_ps(m_hi, cos_sin + 2 * i + kLanes);
            const __m512 c = _mm512_permutex2var_ps(t0, even, t1);
            const __m512 s = _mm512_permutex2var_ps(t0, odd, t1);
            const __m512 x0 = _mm512_maskz_loadu_ps(m, head + i);
            const __m512 x1 = _mm512_maskz_loadu_ps(m, head + i + half);
            _mm512_mask_storeu_ps(head + i, m, _mm512_fmsub_ps(x0, c, _mm512_mul_ps(x1, s)));
            _mm512_mask_storeu_ps(head + i + half, m, _mm512_fmadd_ps(x0, s, _mm512_mul_ps(x1, c)));
        }
    }
}

void swiglu_avx512(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu_ps(g), u));
    }
}

void geglu_avx512(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(gelu_ps(g), u));
    }
}

void silu_avx512(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, silu_ps(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void gelu_avx512(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, gelu_ps(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void softcap_avx512(float* x, int64_t n, float cap) {
    const __m512 c = _mm512_set1_ps(cap);
    const __m512 inv = _mm512_set1_ps(1.0f / cap);
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(c, tanh_ps(_mm512_mul_ps(v, inv))));
    }
}

// Max of x, then x = e^(x - max); returns the sum (the caller normalizes).
float exp_shifted_sum(float* x, int64_t n) {
    __m512 max_v = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        max_v = _mm512_mask_max_ps(max_v, m, max_v, _mm512_maskz_loadu_ps(m, x + i));
    }
    const __m512 max_b = _mm512_set1_ps(_mm512_reduce_max_ps(max_v));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), max_b));
        _mm512_mask_storeu_ps(x + i, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

void scale_avx512(float* x, int64_t n, float s) {
    const __m512 f = _mm512_set1_ps(s);
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), f));
    }
}

void softmax_avx512(float* x, int64_t n) {
    if (n <= 0) return;
    scale_avx512(x, n, 1.0f / exp_shifted_sum(x, n));
}

void add_avx512(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

void fp32_to_fp16_avx512(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = tail_mask(n - i);
        const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_mask_storeu_epi16(dst + i, m, h);
    }
}

// The floats of one key or value head: a pointer into the cache for F32, else converted into
// `buffer`.
const float* head_as_f32(gguf::TensorType type, const uint8_t* row, int64_t first, int64_t n,
                         float* buffer) {
    switch (type) {
        case gguf::TensorType::kF32:
            return reinterpret_cast<const float*>(row) + first;
        case gguf::TensorType::kF16: {
            const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + first;
            for (int64_t d = 0; d < n; d += kLanes) {
                const __mmask16 m = tail_mask(n - d);
                _mm512_store_ps(buffer + d, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + d)));
            }
            return buffer;
        }
        default:
            dequantize_row(type, row + gguf::row_bytes(type, first), buffer, n);
            return buffer;
    }
}

inline float dot_f32(const float* a, const float* b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t d = 0; d < n; d += kLanes) {
        const __mmask16 m = tail_mask(n - d);
        acc =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + d), _mm512_maskz_loadu_ps(m, b + d), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

// Sum of each of 16 vectors: element 4k + m of the result is the sum of v[4m + k] (a 4x4
// transpose of the natural order, which callers undo by the order they fill v in).
inline __m512 reduce16(const __m512* v) {
    __m512 a[8], b[4], c[2];
    for (int m = 0; m < 8; ++m) {
        a[m] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * m], v[2 * m + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * m], v[2 * m + 1], 0xEE));
    }
    for (int n = 0; n < 4; ++n) {
        b[n] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * n], a[2 * n + 1], 0x88),
                             _mm512_shuffle_f32x4(a[2 * n], a[2 * n + 1], 0xDD));
    }
    for (int p = 0; p < 2; ++p) {
        c[p] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_ps(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    }
    return _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// The key each slot of reduce16 gets, so that its result comes out in key order.
constexpr int kSlotKey[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

// out[h] = sum_j p[h][j] * v[j] for the kHeads heads [h0, h0 + n_heads) of the group, with the
// accumulators (kHeads x kDv vectors, at most 16) in registers.
template <int kDv, int kHeads>
void decode_values(const AttentionShape& shape, const float* scores, size_t scores_stride,
                   int64_t first, int64_t n_keys, const KvSpan& kv, int kv_head, int h0,
                   int n_heads, float* out, float* row) {
    const int64_t hd_v = shape.head_dim_v;
    __m512 acc[kHeads][kDv];
    for (int h = 0; h < kHeads; ++h) {
        for (int v = 0; v < kDv; ++v) acc[h][v] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* v =
            head_as_f32(kv.type, kv.v + static_cast<size_t>(first + j) * kv.v_row_bytes,
                        kv_head * hd_v, hd_v, row);
        __m512 vv[kDv];
        for (int d = 0; d < kDv; ++d) vv[d] = _mm512_loadu_ps(v + d * kLanes);
        for (int h = 0; h < kHeads; ++h) {
            if (h >= n_heads) break;
            const __m512 p =
                _mm512_set1_ps(scores[static_cast<size_t>(h0 + h) * scores_stride + j]);
            for (int d = 0; d < kDv; ++d) acc[h][d] = _mm512_fmadd_ps(p, vv[d], acc[h][d]);
        }
    }
    for (int h = 0; h < kHeads && h < n_heads; ++h) {
        float* o = out + static_cast<size_t>(h0 + h) * hd_v;
        for (int d = 0; d < kDv; ++d) _mm512_storeu_ps(o + d * kLanes, acc[h][d]);
    }
}

template <int kDv>
void decode_values_all(const AttentionShape& shape, const float* scores, size_t scores_stride,
                       int64_t first, int64_t n_keys, const KvSpan& kv, int kv_head, int group,
                       float* out, float* row) {
    constexpr int kHeads = 16 / kDv;
    for (int h0 = 0; h0 < group; h0 += kHeads) {
        decode_values<kDv, kHeads>(shape, scores, scores_stride, first, n_keys, kv, kv_head, h0,
                                   std::min(kHeads, group - h0), out, row);
    }
}

// One query per head of the group (decoding): scores of 16 keys at a time reduced by a shuffle
// tree instead of one horizontal sum per key, probabilities applied with register accumulators.
// Needs head sizes that are multiples of 16 and a value head size of 16, 32, 64, 128 or 256.
void attend_decode_avx512(const AttentionShape& shape, const float* q, int64_t position,
                          const KvSpan& kv, int kv_head, float* out, float* scratch) {
    const int group = shape.n_head / shape.n_head_kv;
    const int64_t first = attention_first_key(shape, position);
    const int64_t n_keys = position - first + 1;
    const size_t scores_stride = (static_cast<size_t>(n_keys) + 15) & ~size_t{15};
    const int64_t hd_k = shape.head_dim_k;
    const int64_t hd_v = shape.head_dim_v;
    float* scores = scratch;  // [group][scores_stride]
    const size_t head = static_cast<size_t>(hd_k > hd_v ? hd_k : hd_v);
    const size_t head_round = (head + 15) & ~size_t{15};
    float* keys = scratch + static_cast<size_t>(group) * scores_stride;  // [16][head_round]
    const __m512 scale = _mm512_set1_ps(shape.scale);

    for (int64_t j0 = 0; j0 < n_keys; j0 += kLanes) {
        const int64_t count = std::min<int64_t>(kLanes, n_keys - j0);
        const float* key[kLanes];
        for (int64_t kk = 0; kk < kLanes; ++kk) {
            // Slots past the end repeat the first key; their scores are not stored.
            key[kk] = kk < count ? head_as_f32(
                                       kv.type,
                                       kv.k + static_cast<size_t>(first + j0 + kk) * kv.k_row_bytes,
                                       kv_head * hd_k, hd_k, keys + kk * head_round)
                                 : key[0];
        }
        for (int g = 0; g < group; ++g) {
            const float* qg = q + g * hd_k;
            __m512 acc[kLanes];
            for (int i = 0; i < kLanes; ++i) acc[i] = _mm512_setzero_ps();
            for (int64_t d = 0; d < hd_k; d += kLanes) {
                const __m512 qv = _mm512_loadu_ps(qg + d);
                for (int i = 0; i < kLanes; ++i) {
                    acc[i] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(key[kSlotKey[i]] + d), acc[i]);
                }
            }
            _mm512_mask_storeu_ps(scores + static_cast<size_t>(g) * scores_stride + j0,
                                  tail_mask(count), _mm512_mul_ps(reduce16(acc), scale));
        }
    }
    for (int g = 0; g < group; ++g) {
        float* sg = scores + static_cast<size_t>(g) * scores_stride;
        if (shape.softcap > 0.0f) softcap_avx512(sg, n_keys, shape.softcap);
        softmax_avx512(sg, n_keys);
    }
    switch (hd_v / kLanes) {
        case 1:
            decode_values_all<1>(shape, scores, scores_stride, first, n_keys, kv, kv_head, group,
                                 out, keys);
            break;
        case 2:
            decode_values_all<2>(shape, scores, scores_stride, first, n_keys, kv, kv_head, group,
                                 out, keys);
            break;
        case 4:
            decode_values_all<4>(shape, scores, scores_stride, first, n_keys, kv, kv_head, group,
                                 out, keys);
            break;
        case 8:
            decode_values_all<8>(shape, scores, scores_stride, first, n_keys, kv, kv_head, group,
                                 out, keys);
            break;
        default:
            decode_values_all<16>(shape, scores, scores_stride, first, n_keys, kv, kv_head, group,
                                  out, keys);
            break;
    }
}

void attend_avx512(const AttentionShape& shape, const float* q, int64_t position, const KvSpan& kv,
                   int kv_head, float* out, float* scratch) {
    const int64_t dv = shape.head_dim_v / kLanes;
    if (shape.head_dim_k % kLanes == 0 && shape.head_dim_v % kLanes == 0 &&
        (dv == 1 || dv == 2 || dv == 4 || dv == 8 || dv == 16)) {
        attend_decode_avx512(shape, q, position, kv, kv_head, out, scratch);
        return;
    }
    const int group = shape.n_head / shape.n_head_kv;
    const int64_t first = attention_first_key(shape, position);
    const int64_t n_keys = position - first + 1;
    const size_t scores_stride = (static_cast<size_t>(n_keys) + 15) & ~size_t{15};
    const int64_t hd_k = shape.head_dim_k;
    const int64_t hd_v = shape.head_dim_v;
    float* scores = scratch;  // [group][scores_stride]
    float* row = scratch + static_cast<size_t>(group) * scores_stride;
    const size_t head = static_cast<size_t>(hd_k > hd_v ? hd_k : hd_v);
    float* acc = row + 16 * ((head + 15) & ~size_t{15});  // [group][round16(hd_v)]
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
        if (shape.softcap > 0.0f) softcap_avx512(sg, n_keys, shape.softcap);
        // Normalize the probabilities now: n_keys multiplications instead of dividing at the end
        // would be the same count for short heads, and this keeps the accumulation simple.
        softmax_avx512(sg, n_keys);
        float* ag = acc + static_cast<size_t>(g) * acc_stride;
        for (int64_t d = 0; d < hd_v; d += kLanes) _mm512_store_ps(ag + d, _mm512_setzero_ps());
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* v =
            head_as_f32(kv.type, kv.v + static_cast<size_t>(first + j) * kv.v_row_bytes,
                        kv_head * hd_v, hd_v, row);
        for (int g = 0; g < group; ++g) {
            const __m512 p = _mm512_set1_ps(scores[static_cast<size_t>(g) * scores_stride + j]);
            float* ag = acc + static_cast<size_t>(g) * acc_stride;
            for (int64_t d = 0; d < hd_v; d += kLanes) {
                const __m512 vv = _mm512_maskz_loadu_ps(tail_mask(hd_v - d), v + d);
                _mm512_store_ps(ag + d, _mm512_fmadd_ps(p, vv, _mm512_load_ps(ag + d)));
            }
        }
    }
    for (int g = 0; g < group; ++g) {
        const float* ag = acc + static_cast<size_t>(g) * acc_stride;
        float* og = out + g * hd_v;
        for (int64_t d = 0; d < hd_v; d += kLanes) {
            _mm512_mask_storeu_ps(og + d, tail_mask(hd_v - d), _mm512_load_ps(ag + d));
        }
    }
}

// ---- Blocked attention (prompt processing) ---------------------------------------------------
//
// The queries of the block are transposed (qt[d][row]) so that one FMA chain per key yields the
// scores of 16 rows at once, without horizontal sums; scores are kept key-major (st[key][row]),
// which makes the softmax vectorized across rows too. The values are converted to f32 once and
// then applied to a few rows at a time with register-resident accumulators.

// Scores of row vectors [rv0, rv0 + kVecs) for every key, masked and soft-capped.
template <int kVecs>
void block_scores(const AttentionShape& shape, const float* qt, size_t rs, int rv0,
                  const KvSpan& kv, int kv_head, int64_t first_key, int64_t n_keys,
                  const float* row_pos, float* st, float* k0_buf, float* k1_buf) {
    const int64_t hd_k = shape.head_dim_k;
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    const __m512 cap = _mm512_set1_ps(shape.softcap);
    const __m512 inv_cap = _mm512_set1_ps(shape.softcap > 0.0f ? 1.0f / shape.softcap : 0.0f);
    // Positions are below 2^24, so they and their differences are exact in floats.
    const __m512 window =
        _mm512_set1_ps(shape.window > 0 ? static_cast<float>(shape.window) : INFINITY);
    __m512 pos[kVecs];
    for (int v = 0; v < kVecs; ++v) {
        pos[v] = _mm512_load_ps(row_pos + static_cast<size_t>(rv0 + v) * kLanes);
    }
    auto finish = [&](int64_t j, __m512* acc) {
        const __m512 key = _mm512_set1_ps(static_cast<float>(first_key + j));
        for (int v = 0; v < kVecs; ++v) {
            __m512 score = acc[v];
            if (shape.softcap > 0.0f)
                score = _mm512_mul_ps(cap, tanh_ps(_mm512_mul_ps(score, inv_cap)));
            // Visible: key <= position and position - key < window.
            const __mmask16 visible =
                _mm512_cmp_ps_mask(key, pos[v], _CMP_LE_OQ) &
                _mm512_cmp_ps_mask(_mm512_sub_ps(pos[v], key), window, _CMP_LT_OQ);
            _mm512_store_ps(
                st + static_cast<size_t>(j) * rs + static_cast<size_t>(rv0 + v) * kLanes,
                _mm512_mask_blend_ps(visible, neg_inf, score));
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
        __m512 a0[kVecs], a1[kVecs];
        for (int v = 0; v < kVecs; ++v) a0[v] = a1[v] = _mm512_setzero_ps();
        for (int64_t d = 0; d < hd_k; ++d) {
            const __m512 b0 = _mm512_set1_ps(k0[d]);
            const __m512 b1 = _mm512_set1_ps(k1[d]);
            const float* qd = qt + static_cast<size_t>(d) * rs + static_cast<size_t>(rv0) * kLanes;
            for (int v = 0; v < kVecs; ++v) {
                const __m512 qv = _mm512_load_ps(qd + v * kLanes);
                a0[v] = _mm512_fmadd_ps(qv, b0, a0[v]);
                a1[v] = _mm512_fmadd_ps(qv, b1, a1[v]);
            }
        }
        finish(j, a0);
        finish(j + 1, a1);
    }
    if (j < n_keys) {
        const float* k0 = key_row(j, k0_buf);
        __m512 a0[kVecs];
        for (int v = 0; v < kVecs; ++v) a0[v] = _mm512_setzero_ps();
        for (int64_t d = 0; d < hd_k; ++d) {
            const __m512 b0 = _mm512_set1_ps(k0[d]);
            const float* qd = qt + static_cast<size_t>(d) * rs + static_cast<size_t>(rv0) * kLanes;
            for (int v = 0; v < kVecs; ++v) {
                a0[v] = _mm512_fmadd_ps(_mm512_load_ps(qd + v * kLanes), b0, a0[v]);
            }
        }
        finish(j, a0);
    }
}

// acc[kRows][kDv vectors] = sum over keys of p[key][row] * v[key][d0 ..], for rows r0.. .
template <int kRows, int kDv>
void block_values(const float* st, size_t rs, const float* vf, int64_t hd_v, int64_t n_keys,
                  int64_t d0, int r0, const float* inv_sums, const AttentionBlock& block,
                  int64_t row_limit) {
    __m512 acc[kRows][kDv];
    for (int r = 0; r < kRows; ++r) {
        for (int v = 0; v < kDv; ++v) acc[r][v] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* vj = vf + static_cast<size_t>(j) * hd_v + d0;
        __m512 vv[kDv];
        for (int v = 0; v < kDv; ++v) vv[v] = _mm512_load_ps(vj + v * kLanes);
        const float* pj = st + static_cast<size_t>(j) * rs + r0;
        for (int r = 0; r < kRows; ++r) {
            const __m512 p = _mm512_set1_ps(pj[r]);
            for (int v = 0; v < kDv; ++v) acc[r][v] = _mm512_fmadd_ps(p, vv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < kRows && r0 + r < row_limit; ++r) {
        const int row = r0 + r;
        const int64_t t = row / block.n_heads;
        const int h = row % block.n_heads;
        float* out = block.out + static_cast<size_t>(t) * block.out_stride +
                     static_cast<size_t>(h) * hd_v + d0;
        const __m512 inv = _mm512_set1_ps(inv_sums[row]);
        for (int v = 0; v < kDv; ++v)
            _mm512_storeu_ps(out + v * kLanes, _mm512_mul_ps(acc[r][v], inv));
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

void attend_block_avx512(const AttentionShape& shape, const AttentionBlock& block, const KvSpan& kv,
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
    float* row_pos = k1_buf + k_round;    // [rs]
    float* sums = k1_buf + k_round + rs;  // [rs]

    // Transposed, pre-scaled queries; padding rows are zero and see no key.
    const __m512 scale = _mm512_set1_ps(shape.scale);
    for (int64_t d = 0; d < hd_k; ++d) {
        for (size_t r = static_cast<size_t>(rows); r < rs; ++r)
            qt[static_cast<size_t>(d) * rs + r] = 0.0f;
    }
    for (int r = 0; r < rows; ++r) {
        const int64_t t = r / block.n_heads;
        const int h = r % block.n_heads;
        const float* q =
            block.q + static_cast<size_t>(t) * block.q_stride + static_cast<size_t>(h) * hd_k;
        for (int64_t d = 0; d < hd_k; d += kLanes) {
            alignas(64) float tmp[kLanes];
            _mm512_store_ps(tmp, _mm512_mul_ps(_mm512_loadu_ps(q + d), scale));
            for (int i = 0; i < kLanes; ++i) qt[static_cast<size_t>(d + i) * rs + r] = tmp[i];
        }
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

    // Softmax down each column (row of the block), vectorized across rows. Masked scores are
    // -inf and become exact zeros.
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    for (int v = 0; v < n_vecs; ++v) {
        float* column = st + static_cast<size_t>(v) * kLanes;
        __m512 max_v = neg_inf;
        for (int64_t j = 0; j < n_keys; ++j) {
            max_v = _mm512_max_ps(max_v, _mm512_load_ps(column + static_cast<size_t>(j) * rs));
        }
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < n_keys; ++j) {
            float* p = column + static_cast<size_t>(j) * rs;
            const __m512 s = _mm512_load_ps(p);
            const __mmask16 visible = _mm512_cmp_ps_mask(s, neg_inf, _CMP_GT_OQ);
            const __m512 e = _mm512_maskz_mov_ps(visible, exp_ps(_mm512_sub_ps(s, max_v)));
            _mm512_store_ps(p, e);
            sum = _mm512_add_ps(sum, e);
        }
        _mm512_store_ps(sums + static_cast<size_t>(v) * kLanes,
                        _mm512_div_ps(_mm512_set1_ps(1.0f), sum));
    }

    for (int64_t j = 0; j < n_keys; ++j) {
        float* dst = vf + static_cast<size_t>(j) * hd_v;
        const float* v =
            head_as_f32(kv.type, kv.v + static_cast<size_t>(first_key + j) * kv.v_row_bytes,
                        block.kv_head * hd_v, hd_v, dst);
        if (v != dst) std::memcpy(dst, v, static_cast<size_t>(hd_v) * sizeof(float));
    }
    for (int64_t d0 = 0; d0 < hd_v; d0 += 4 * kLanes) {
        switch (std::min<int64_t>(4, (hd_v - d0) / kLanes)) {
            case 4:
                block_values_all_rows<4>(st, rs, vf, hd_v, n_keys, d0, rows, sums, block);
                break;
            case 3:
                block_values_all_rows<3>(st, rs, vf, hd_v, n_keys, d0, rows, sums, block);
                break;
            case 2:
                block_values_all_rows<2>(st, rs, vf, hd_v, n_keys, d0, rows, sums, block);
                break;
            default:
                block_values_all_rows<1>(st, rs, vf, hd_v, n_keys, d0, rows, sums, block);
                break;
        }
    }
}

uint64_t sum_words_avx512(const uint64_t* words, int64_t n) {
    __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                      _mm512_setzero_si512()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; ++k) {
            acc[k] = _mm512_add_epi64(acc[k], _mm512_loadu_si512(words + i + 8 * k));
        }
    }
    uint64_t sum = static_cast<uint64_t>(_mm512_reduce_add_epi64(
        _mm512_add_epi64(_mm512_add_epi64(acc[0], acc[1]), _mm512_add_epi64(acc[2], acc[3]))));
    for (; i < n; ++i) sum += words[i];
    return sum;
}

}  // namespace

const OpsTable& ops_avx512() {
    static const OpsTable table = {
        rms_norm_avx512,     rope_apply_avx512, swiglu_avx512,  geglu_avx512,        silu_avx512,
        gelu_avx512,         softcap_avx512,    softmax_avx512, add_avx512,          scale_avx512,
        fp32_to_fp16_avx512, sum_words_avx512,  attend_avx512,  attend_block_avx512,
    };
    return table;
}

}  // namespace cria::kernels
