// AVX-512 (F, BW, VL, DQ) versions of the decoder's f32 operations. Compiled with AVX-512 flags
// for this file only; called only when the CPU has those features (ops.cpp checks). The
// operations themselves are written once for AVX2 and AVX-512 in x86_common/ops_x86.inl; this
// file gives them 512-bit vectors and keeps what differs (rope's permutes, the fp16 store, the
// word sum) and what only 16 lanes make worth it (decoding attention with a shuffle-tree
// reduction of 16 keys at a time).
//
// GCC 12 reports the deliberately undefined pass-through operands inside its own AVX-512
// intrinsic headers as maybe-uninitialized once they are inlined (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/kernels.h"
#include "kernels/ops_table.h"

namespace cria::kernels {
namespace {

// The vector traits ops_x86.inl is written against, on 16 floats.
struct Avx512 {
    using F = __m512;
    using Mask = __mmask16;
    static constexpr int kLanes = 16;
    static constexpr int kValueVectors = 4;
    // scale_pow2 (vscalefps) handles any exponent, so only overflow bounds the input.
    static constexpr float kExpLow = -88.3762626647949f;
    static constexpr float kExpHigh = 88.3762626647949f;

    static F zero() { return _mm512_setzero_ps(); }
    static F set1(float v) { return _mm512_set1_ps(v); }
    static F load(const float* p) { return _mm512_load_ps(p); }
    static F loadu(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, F v) { _mm512_store_ps(p, v); }
    static void storeu(float* p, F v) { _mm512_storeu_ps(p, v); }
    static Mask tail(int64_t remaining) {
        return remaining >= kLanes ? static_cast<Mask>(0xFFFF)
                                   : static_cast<Mask>((1u << remaining) - 1u);
    }
    static F load_tail(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static void store_tail(float* p, Mask m, F v) { _mm512_mask_storeu_ps(p, m, v); }
    static F add(F a, F b) { return _mm512_add_ps(a, b); }
    static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F div(F a, F b) { return _mm512_div_ps(a, b); }
    static F max(F a, F b) { return _mm512_max_ps(a, b); }
    static F min(F a, F b) { return _mm512_min_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
    static F fmsub(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }
    static F add_tail(F acc, Mask m, F v) { return _mm512_mask_add_ps(acc, m, acc, v); }
    static F round_nearest(F x) {
        return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    static F scale_pow2(F y, F n) { return _mm512_scalef_ps(y, n); }
    static float reduce_add(F v) { return _mm512_reduce_add_ps(v); }
    static float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
    static F fp16_to_f32(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static F keep_visible(F key, F pos, F window, F score, F hidden) {
        const Mask visible = _mm512_cmp_ps_mask(key, pos, _CMP_LE_OQ) &
                             _mm512_cmp_ps_mask(_mm512_sub_ps(pos, key), window, _CMP_LT_OQ);
        return _mm512_mask_blend_ps(visible, hidden, score);
    }
    static F keep_greater(F s, F threshold, F e) {
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(s, threshold, _CMP_GT_OQ), e);
    }
};

constexpr int kLanes = Avx512::kLanes;

#include "kernels/cpu/x86_common/ops_x86.inl"

void rope_apply_avx512(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                       const float* cos_sin) {
    const int half = n_rot / 2;
    if (style == RopeStyle::kNormal) {
        // Pairs are neighbours, like the interleaved table: out = x * (c,c) + swap(x) * (-s,s).
        const __m512 sign = _mm512_castsi512_ps(_mm512_set4_epi32(0, INT32_MIN, 0, INT32_MIN));
        for (int64_t h = 0; h < n_heads; ++h) {
            float* head = x + h * head_dim;
            for (int i = 0; i < n_rot; i += kLanes) {
                const __mmask16 m = Avx512::tail(n_rot - i);
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
            const __mmask16 m = Avx512::tail(half - i);
            const __mmask16 m_lo = Avx512::tail(2 * (half - i));
            const __mmask16 m_hi =
                Avx512::tail(2 * (half - i) - kLanes > 0 ? 2 * (half - i) - kLanes : 0);
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

void fp32_to_fp16_avx512(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; i += kLanes) {
        const __mmask16 m = Avx512::tail(n - i);
        const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_mask_storeu_epi16(dst + i, m, h);
    }
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
            head_as_f32<Avx512>(kv.type, kv.v + static_cast<size_t>(first + j) * kv.v_row_bytes,
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
    const KeyRange keys_seen = attention_keys(shape, position, kv.n_kv);
    const int64_t first = keys_seen.first;
    const int64_t n_keys = keys_seen.count;
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
            key[kk] = kk < count ? head_as_f32<Avx512>(
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
                                  Avx512::tail(count), _mm512_mul_ps(reduce16(acc), scale));
        }
    }
    for (int g = 0; g < group; ++g) {
        float* sg = scores + static_cast<size_t>(g) * scores_stride;
        if (shape.softcap > 0.0f) softcap<Avx512>(sg, n_keys, shape.softcap);
        softmax<Avx512>(sg, n_keys);
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
    attend_any_shape<Avx512>(shape, q, position, kv, kv_head, out, scratch);
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
        rms_norm<Avx512>, layer_norm<Avx512>, rope_apply_avx512,    swiglu<Avx512>,
        geglu<Avx512>,    silu<Avx512>,       gelu<Avx512>,         softcap<Avx512>,
        softmax<Avx512>,  add<Avx512>,        scale<Avx512>,        fp32_to_fp16_avx512,
        sum_words_avx512, attend_avx512,      attend_block<Avx512>,
    };
    return table;
}

}  // namespace cria::kernels
