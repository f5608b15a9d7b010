// AVX-512 (F, BW, VL, DQ) + VNNI kernels (compiled with exactly those flags; see
// CMakeLists.txt). Only called when avx512_kernels_usable().
//
// The shared x86 kernels run here on 256-bit registers with the VNNI dot products
// (vpdpbusd / vpdpwssd) and the 32 registers of AVX-512VL, which allow larger tiles than AVX2.
// The types in blocks of 32 have their own kernel on 512-bit registers (two blocks at a time),
// because per-block scale handling, not the arithmetic, limits them on 256-bit registers, and
// Q6_K has its own single-token kernel on 512-bit registers (matvec_avx512).
// GCC 12's AVX-512 intrinsics fill "don't care" operands with _mm512_undefined_*(), which its
// own uninitialized-use analysis then reports after inlining; the warnings point into the
// compiler's headers and are false positives.
#if defined(__GNUC__) && !defined(__clang__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/half.h"
#include "kernels/block_layouts.h"
#include "kernels/kernel_table.h"

#define CRIA_X86_VNNI 1

namespace cria::kernels {
namespace {

constexpr int kMatvecRows = 1;
constexpr int kTileRows = 2;
constexpr int kRows8Tokens = 8;
constexpr int kTileTokens = 8;

#include "kernels/cpu/x86_common/simd_x86.inl"
// clang-format off
#include "kernels/cpu/x86_common/gemm_x86.inl"
// clang-format on

// ---- Blocks of 32, two per 512-bit register ------------------------------------------------
//
// A pair of blocks is decoded into 64 unsigned codes u (weights = d * (u - bias) + m), either in
// natural element order or in "split" order [block0 0..15, block1 0..15, block0 16..31, block1
// 16..31] (which is what unpacking two blocks of nibbles gives at the cost of one shift), and
// the activation pair is permuted to match. vpdpbusd sums 4 products per 32-bit lane; each lane
// belongs to one block, so the float scaling multiplies by a per-lane pattern of the two blocks'
// d_w * d_a, and the bias / offset term is added as offset * dsum_a spread over the lanes.

// Lane -> block (0 or 1) for the two orders, as vpermps indices into [x_block0, x_block1].
inline __m512i lane_pattern(bool split) {
    return split ? _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1)
                 : _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
}

// [fp16 at p0, fp16 at p1] as floats in the two low lanes.
inline __m128 load_fp16_pair(const uint8_t* p0, const uint8_t* p1) {
    uint16_t h0, h1;
    std::memcpy(&h0, p0, 2);
    std::memcpy(&h1, p1, 2);
    return _mm_cvtph_ps(
        _mm_cvtsi32_si128(static_cast<int>(h0 | (static_cast<uint32_t>(h1) << 16))));
}

// Two blocks of nibbles (16 bytes each) in split order, values 0..15.
inline __m512i nibbles_split(const uint8_t* qs0, const uint8_t* qs1) {
    const __m256i both = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(qs1),
                                             reinterpret_cast<const __m128i*>(qs0));
    const __m512i lo_hi =
        _mm512_inserti64x4(_mm512_zextsi256_si512(both), _mm256_srli_epi16(both, 4), 1);
    return _mm512_and_si512(lo_hi, _mm512_set1_epi8(0x0F));
}

// The fifth bits of two Q5 blocks as a byte mask in split order.
inline __mmask64 q5_high_mask(const uint8_t* qh0, const uint8_t* qh1) {
    const uint64_t h0 = load_u32(qh0), h1 = load_u32(qh1);
    return (h0 & 0xFFFF) | ((h1 & 0xFFFF) << 16) | ((h0 >> 16) << 32) | ((h1 >> 16) << 48);
}

inline __m512i iq4_table_biased() {
    // Codebook + 128, so that codes are unsigned for vpdpbusd.
    const __m128i table = _mm_add_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Codebook)), _mm_set1_epi8(-128));
    return _mm512_broadcast_i32x4(table);
}

struct Q4_0Pair {
    static constexpr int kBytes = 18;
    static constexpr bool kSplit = true;
    static constexpr float kBias = 8.0f;
    static constexpr bool kMin = false;
    static __m512i codes(const uint8_t* b0) { return nibbles_split(b0 + 2, b0 + kBytes + 2); }
};
struct Q4_1Pair {
    static constexpr int kBytes = 20;
    static constexpr bool kSplit = true;
    static constexpr float kBias = 0.0f;
    static constexpr bool kMin = true;  // fp16 m after d
    static __m512i codes(const uint8_t* b0) { return nibbles_split(b0 + 4, b0 + kBytes + 4); }
};
struct Q5_0Pair {
    static constexpr int kBytes = 22;
    static constexpr bool kSplit = true;
    static constexpr float kBias = 16.0f;
    static constexpr bool kMin = false;
    static __m512i codes(const uint8_t* b0) {
        const __m512i low = nibbles_split(b0 + 6, b0 + kBytes + 6);
        return _mm512_or_si512(low, _mm512_maskz_mov_epi8(q5_high_mask(b0 + 2, b0 + kBytes + 2),
                                                          _mm512_set1_epi8(0x10)));
    }
};
struct Q5_1Pair {
    static constexpr int kBytes = 24;
    static constexpr bool kSplit = true;
    static constexpr float kBias = 0.0f;
    static constexpr bool kMin = true;
    static __m512i codes(const uint8_t* b0) {
        const __m512i low = nibbles_split(b0 + 8, b0 + kBytes + 8);
        return _mm512_or_si512(low, _mm512_maskz_mov_epi8(q5_high_mask(b0 + 4, b0 + kBytes + 4),
                                                          _mm512_set1_epi8(0x10)));
    }
};
struct Q8_0Pair {
    static constexpr int kBytes = 34;
    static constexpr bool kSplit = false;
    static constexpr float kBias = 128.0f;
    static constexpr bool kMin = false;
    static __m512i codes(const uint8_t* b0) {
        const __m512i both = _mm512_inserti64x4(_mm512_zextsi256_si512(load256(b0 + 2)),
                                                load256(b0 + kBytes + 2), 1);
        return _mm512_xor_si512(both, _mm512_set1_epi8(-128));  // + 128: unsigned
    }
};
struct Iq4NlPair {
    static constexpr int kBytes = 18;
    static constexpr bool kSplit = true;
    static constexpr float kBias = 128.0f;
    static constexpr bool kMin = false;
    static __m512i codes(const uint8_t* b0) {
        return _mm512_shuffle_epi8(iq4_table_biased(), nibbles_split(b0 + 2, b0 + kBytes + 2));
    }
};

// One block with the 256-bit traits (the odd last block of a row).
template <class K>
float single_block_dot(const uint8_t* row, const ActQ8Block32& act, int64_t b) {
    const uint8_t* block = row + b * K::kBytes;
    const __m256i codes = K::codes(block);
    const __m256i a = load256(act.q + 32 * b);
    __m256i dot;
    if constexpr (K::kSigned) {
        dot = dot_u8s8_i32(_mm256_setzero_si256(), _mm256_abs_epi8(codes),
                           _mm256_sign_epi8(a, codes));
    } else {
        dot = dot_u8s8_i32(_mm256_setzero_si256(), codes, a);
    }
    float sum = K::scale(block) * act.d[b] * hsum(_mm256_cvtepi32_ps(dot));
    if constexpr (K::kOffset) sum += K::offset(block) * act.dsum[b];
    return sum;
}

template <class P, class Single>
struct Block32PairKernel {
    template <int R, int T>
    static void tile(const GemmArgs& g, int64_t row0, int64_t tok0) {
        const int64_t n_blocks = g.n_in / 32;
        const uint8_t* w[R];
        for (int r = 0; r < R; ++r) w[r] = g.w + static_cast<size_t>(row0 + r) * g.w_row_bytes;
        ActQ8Block32 act[T];
        for (int t = 0; t < T; ++t) {
            act[t] =
                view_q8_block32(g.act + static_cast<size_t>(tok0 + t) * g.act_row_bytes, g.n_in);
        }
        const __m512i pattern = lane_pattern(P::kSplit);
        const __m512i act_order = _mm512_setr_epi64(0, 1, 4, 5, 2, 3, 6, 7);
        // Each block's offset * dsum is spread over its 8 lanes.
        const __m512 eighth = _mm512_set1_ps(0.125f);
        __m512 acc[R][T];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
        }
        int64_t b = 0;
        const NextTilePrefetch prefetch(g, row0, R, n_blocks / 2);
        for (; b + 2 <= n_blocks; b += 2) {
            prefetch.step(b / 2);
            __m512i codes[R];
            __m512 scale[R], offset[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const uint8_t* block = w[r] + b * P::kBytes;
                codes[r] = P::codes(block);
                const __m128 d = load_fp16_pair(block, block + P::kBytes);
                scale[r] = _mm512_permutexvar_ps(pattern, _mm512_zextps128_ps512(d));
                if constexpr (P::kMin) {
                    const __m128 m = load_fp16_pair(block + 2, block + P::kBytes + 2);
                    offset[r] = _mm512_permutexvar_ps(pattern, _mm512_zextps128_ps512(m));
                } else {
                    offset[r] = _mm512_mul_ps(scale[r], _mm512_set1_ps(-P::kBias));
                }
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                __m512i a = _mm512_loadu_si512(act[t].q + 32 * b);
                if constexpr (P::kSplit) a = _mm512_permutexvar_epi64(act_order, a);
                const __m128 da2 =
                    _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(act[t].d + b)));
                const __m128 ds2 =
                    _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(act[t].dsum + b)));
                const __m512 da = _mm512_permutexvar_ps(pattern, _mm512_zextps128_ps512(da2));
                const __m512 ds = _mm512_mul_ps(
                    _mm512_permutexvar_ps(pattern, _mm512_zextps128_ps512(ds2)), eighth);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes[r], a);
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                                                _mm512_mul_ps(scale[r], da), acc[r][t]);
                    acc[r][t] = _mm512_fmadd_ps(offset[r], ds, acc[r][t]);
                }
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                float sum = _mm512_reduce_add_ps(acc[r][t]);
                if (b < n_blocks) sum += single_block_dot<Single>(w[r], act[t], b);
                g.y[(tok0 + t) * g.y_stride + row0 + r] = sum;
            }
        }
    }
};

// ---- Q6_K, one token: one super-block of 256 per step ----------------------------------------
//
// Generation reads every weight once per token, so the kernel must decode weights as fast as
// memory delivers them; on few cores the 256-bit super-block kernel of gemm_x86.inl does not for
// Q6_K, the type of the output matrix (often a quarter to a third of a quantized model's bytes)
// and of some FFN matrices. Here one instruction decodes 64 codes, multiplied with the activation
// codes in 16-bit pairs (vpmaddubsw; codes stay below 64, so the pair sums cannot saturate) and
// the pairs with their group's 16-bit scale (vpdpwssd), which one word permutation per 64 codes
// spreads from the unpacked scales; the super-block's sums are scaled once by d x d_a. Rows go
// one after another, one sequential stream (as kMatvecRows = 1).
//
// The same structure measured no faster than the 256-bit kernels for Q4_0 and Q4_K on Zen 4,
// where 512-bit operations occupy the 256-bit pipes twice; those types keep them.

// vpermw indices: word j of the result takes word word_of_lane(j).
template <class Fn>
__m512i word_indices(Fn word_of_lane) {
    alignas(64) int16_t index[32];
    for (int j = 0; j < 32; ++j) index[j] = word_of_lane(j);
    return _mm512_load_si512(index);
}

// The 16 words w of chunk c's scale vector: word j of a chunk's pair sums covers its elements
// 2j, 2j+1, which lie in group (64c + 2j) / group_size.
__m512i chunk_scale_index(int chunk, int group_size) {
    return word_indices(
        [=](int j) { return static_cast<int16_t>((64 * chunk + 2 * j) / group_size); });
}

void q6_k_rows(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    constexpr int kBytes = 210;  // 128 bytes of low nibbles, 64 of high bit pairs, 16 scales, d
    const ActQ8Block256 act = view_q8_block256(g.act, g.n_in);
    const int64_t n_super = g.n_in / 256;
    // Chunk c = 2h + k holds elements 128h + 64k .. 128h + 64k + 63: the low (k = 0) or high
    // (k = 1) nibbles of bytes 64h..64h+63 plus two high bits each; groups of 16 elements.
    const __m512i scale_index[4] = {chunk_scale_index(0, 16), chunk_scale_index(1, 16),
                                    chunk_scale_index(2, 16), chunk_scale_index(3, 16)};
    // The high bits of element 128h + 32m + l are bits 2m, 2m+1 of high byte 32h + l: they are
    // moved to bits 4, 5 by a left shift of 4 (m = 0) or 2 (m = 1), or a right shift of 0
    // (m = 2) or 2 (m = 3), per half of the vector.
    const __m512i shift_first = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shift_second =
        _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
    const __m512i high_bits = _mm512_set1_epi8(0x30);
    constexpr int kLowOrHigh = 0xEA;  // vpternlog: (a & b) | c
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* row = g.w + static_cast<size_t>(r) * g.w_row_bytes;
        const NextTilePrefetch prefetch(g, r, 1, n_super);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t s = 0; s < n_super; ++s) {
            const uint8_t* block = row + kBytes * s;
            prefetch.step(s);
            const __m256i group_scales = _mm256_cvtepi8_epi16(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 192)));  // [16]
            const __m512i scales = _mm512_castsi256_si512(group_scales);
            const int8_t* a = act.q + 256 * s;
            __m512i sum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
                const __m512i nibbles = _mm512_loadu_si512(block + 64 * h);
                const __m512i high = _mm512_broadcast_i64x4(load256(block + 128 + 32 * h));
                const __m512i codes_first = _mm512_ternarylogic_epi32(
                    nibbles, low_nibbles,
                    _mm512_and_si512(_mm512_sllv_epi16(high, shift_first), high_bits), kLowOrHigh);
                const __m512i codes_second = _mm512_ternarylogic_epi32(
                    _mm512_srli_epi16(nibbles, 4), low_nibbles,
                    _mm512_and_si512(_mm512_srlv_epi16(high, shift_second), high_bits), kLowOrHigh);
                const __m512i pairs_first =
                    _mm512_maddubs_epi16(codes_first, _mm512_loadu_si512(a + 128 * h));
                const __m512i pairs_second =
                    _mm512_maddubs_epi16(codes_second, _mm512_loadu_si512(a + 128 * h + 64));
                sum[0] = _mm512_dpwssd_epi32(sum[0], pairs_first,
                                             _mm512_permutexvar_epi16(scale_index[2 * h], scales));
                sum[1] = _mm512_dpwssd_epi32(
                    sum[1], pairs_second, _mm512_permutexvar_epi16(scale_index[2 * h + 1], scales));
            }
            // Codes are stored + 32: subtract 32 x each group's scale x activation sum.
            const __m256i bias =
                _mm256_slli_epi32(_mm256_madd_epi16(group_scales, load256(act.bsum + 16 * s)), 5);
            const __m512i total =
                _mm512_sub_epi32(_mm512_add_epi32(sum[0], sum[1]), _mm512_zextsi256_si512(bias));
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total),
                                  _mm512_set1_ps(load_fp16(block + 208) * act.d[s]), acc);
        }
        g.y[r] = _mm512_reduce_add_ps(acc);
    }
}

template <class Kernel>
void gemm_entry_512(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    gemm_rows<Kernel, kMatvecRows, 2, 8>(g, row_begin, row_end);
}

// ---- Float weights (F32, F16) on 512-bit registers ------------------------------------------
//
// With many tokens (prompt chunks, embedding batches: F16 is the usual format of embedding
// models) float products are compute-bound, and 512-bit FMAs do twice the work of the 256-bit
// float kernel of gemm_x86.inl per instruction on cores with full-width AVX-512 units. A tile of
// 4 rows x 6 tokens keeps 24 accumulators, 4 converted weight vectors and one activation vector
// in the 32 registers; each weight is converted once per 6 tokens.
struct F32Weights512 {
    static constexpr int kElemBytes = 4;
    static __m512 load16(const uint8_t* p) {
        return _mm512_loadu_ps(reinterpret_cast<const float*>(p));
    }
    static float load1(const uint8_t* p) {
        float v;
        std::memcpy(&v, p, 4);
        return v;
    }
};
struct F16Weights512 {
    static constexpr int kElemBytes = 2;
    static __m512 load16(const uint8_t* p) { return _mm512_cvtph_ps(load256(p)); }
    static float load1(const uint8_t* p) { return load_fp16(p); }
};

// Activations are f32 rows (ActFormat::kF32).
template <class K>
struct FloatKernel512 {
    template <int R, int T>
    static void tile(const GemmArgs& g, int64_t row0, int64_t tok0) {
        const uint8_t* w[R];
        for (int r = 0; r < R; ++r) w[r] = g.w + static_cast<size_t>(row0 + r) * g.w_row_bytes;
        const float* x[T];
        for (int t = 0; t < T; ++t) {
            x[t] = reinterpret_cast<const float*>(g.act +
                                                  static_cast<size_t>(tok0 + t) * g.act_row_bytes);
        }
        __m512 acc[R][T];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
        }
        int64_t i = 0;
        const NextTilePrefetch prefetch(g, row0, R, g.n_in / 16);
        for (; i + 16 <= g.n_in; i += 16) {
            prefetch.step(i / 16);
            __m512 wv[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) wv[r] = K::load16(w[r] + i * K::kElemBytes);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                const __m512 xv = _mm512_loadu_ps(x[t] + i);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
        for (int t = 0; t < T; ++t) {
            for (int r = 0; r < R; ++r) {
                float sum = _mm512_reduce_add_ps(acc[r][t]);
                for (int64_t j = i; j < g.n_in; ++j)
                    sum += K::load1(w[r] + K::kElemBytes * j) * x[t][j];
                g.y[(tok0 + t) * g.y_stride + row0 + r] = sum;
            }
        }
    }
};

template <class Kernel>
void gemm_entry_float_512(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    gemm_rows<Kernel, kMatvecRows, 4, 6>(g, row_begin, row_end);
}

}  // namespace

GemmFn gemm_avx512(gguf::TensorType type) {
    using gguf::TensorType;
    switch (type) {
        case TensorType::kF32:
            return &gemm_entry_float_512<FloatKernel512<F32Weights512>>;
        case TensorType::kF16:
            return &gemm_entry_float_512<FloatKernel512<F16Weights512>>;
        case TensorType::kQ5_0:
            return &gemm_entry_512<Block32PairKernel<Q5_0Pair, Q5_0Traits>>;
        case TensorType::kQ5_1:
            return &gemm_entry_512<Block32PairKernel<Q5_1Pair, Q5_1Traits>>;
        default:
            return gemm_x86(type);
    }
}

GemmFn matvec_avx512(gguf::TensorType type) {
    switch (type) {
        case gguf::TensorType::kQ6_K:
            return &q6_k_rows;
        default:
            return nullptr;
    }
}

ConvertActFn convert_act_avx512(ActFormat format) {
    return &convert_act_x86;
}

}  // namespace cria::kernels
