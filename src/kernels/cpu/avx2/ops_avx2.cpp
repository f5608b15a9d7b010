// AVX2 + FMA + F16C versions of the decoder's f32 operations. Compiled with those flags for this
// file only; called only when the CPU has them (ops.cpp checks). The operations themselves are
// written once for AVX2 and AVX-512 in x86_common/ops_x86.inl; this file gives them 256-bit
// vectors and keeps what differs (rope's shuffles, the fp16 store, the word sum).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/kernels.h"
#include "kernels/ops_table.h"

namespace cria::kernels {
namespace {

#include "kernels/cpu/x86_common/hsum_x86.inl"

// The vector traits ops_x86.inl is written against, on 8 floats.
struct Avx2 {
    using F = __m256;
    using Mask = __m256i;  // all ones in the enabled lanes (for maskload / maskstore)
    static constexpr int kLanes = 8;
    static constexpr int kValueVectors = 2;
    // 2^n must stay a normal float for scale_pow2 (results below e^-87 are flushed to about
    // 1.6e-38, harmless here).
    static constexpr float kExpLow = -87.0f;
    static constexpr float kExpHigh = 88.0f;

    static F zero() { return _mm256_setzero_ps(); }
    static F set1(float v) { return _mm256_set1_ps(v); }
    static F load(const float* p) { return _mm256_load_ps(p); }
    static F loadu(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, F v) { _mm256_store_ps(p, v); }
    static void storeu(float* p, F v) { _mm256_storeu_ps(p, v); }
    static Mask tail(int64_t remaining) {
        const int count = remaining >= kLanes ? kLanes : static_cast<int>(remaining);
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(count),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static F load_tail(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
    static void store_tail(float* p, Mask m, F v) { _mm256_maskstore_ps(p, m, v); }
    static F add(F a, F b) { return _mm256_add_ps(a, b); }
    static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F div(F a, F b) { return _mm256_div_ps(a, b); }
    static F max(F a, F b) { return _mm256_max_ps(a, b); }
    static F min(F a, F b) { return _mm256_min_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
    static F fmsub(F a, F b, F c) { return _mm256_fmsub_ps(a, b, c); }
    static F add_tail(F acc, Mask m, F v) {
        return _mm256_add_ps(acc, _mm256_and_ps(v, _mm256_castsi256_ps(m)));
    }
    static F round_nearest(F x) {
        return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    static F scale_pow2(F y, F n) {
        const __m256i exponent =
            _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
    }
    static float reduce_add(F v) { return hsum(v); }
    static float reduce_max(F v) { return hmax(v); }
    static F fp16_to_f32(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static F keep_visible(F key, F pos, F window, F score, F hidden) {
        const F visible = _mm256_and_ps(_mm256_cmp_ps(key, pos, _CMP_LE_OQ),
                                        _mm256_cmp_ps(_mm256_sub_ps(pos, key), window, _CMP_LT_OQ));
        return _mm256_blendv_ps(hidden, score, visible);
    }
    static F keep_greater(F s, F threshold, F e) {
        return _mm256_and_ps(_mm256_cmp_ps(s, threshold, _CMP_GT_OQ), e);
    }
};

#include "kernels/cpu/x86_common/ops_x86.inl"

void rope_apply_avx2(float* x, int64_t n_heads, int64_t head_dim, int n_rot, RopeStyle style,
                     const float* cos_sin) {
    const int half = n_rot / 2;
    if (style == RopeStyle::kNormal) {
        const __m256 sign = _mm256_castsi256_ps(
            _mm256_setr_epi32(INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0));
        for (int64_t h = 0; h < n_heads; ++h) {
            float* head = x + h * head_dim;
            for (int i = 0; i < n_rot; i += Avx2::kLanes) {
                const __m256i m = Avx2::tail(n_rot - i);
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
        for (; i + Avx2::kLanes <= half; i += Avx2::kLanes) {
            // De-interleave 8 (cos, sin) pairs into a cos and a sin vector.
            const __m256 t0 = _mm256_loadu_ps(cos_sin + 2 * i);
            const __m256 t1 = _mm256_loadu_ps(cos_sin + 2 * i + Avx2::kLanes);
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

void fp32_to_fp16_avx2(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + Avx2::kLanes <= n; i += Avx2::kLanes) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
    }
    for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
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
        rms_norm<Avx2>,     layer_norm<Avx2>,
        rope_apply_avx2,    swiglu<Avx2>,
        geglu<Avx2>,        silu<Avx2>,
        gelu<Avx2>,         softcap<Avx2>,
        softmax<Avx2>,      add<Avx2>,
        scale<Avx2>,        fp32_to_fp16_avx2,
        sum_words_avx2,     attend_any_shape<Avx2>,
        attend_block<Avx2>,
    };
    return table;
}

}  // namespace cria::kernels
