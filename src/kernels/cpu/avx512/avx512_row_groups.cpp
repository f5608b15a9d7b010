// AVX-512 (F, BW, VL, DQ) + VNNI kernels for weights in the row-group layout (row_groups.h):
// lane r of every 512-bit vector belongs to row r of a group of 16 rows, so one vpdpbusd with
// a broadcast 4-byte activation quad adds 4 products to each of 16 rows, per-block scales are
// one vector for the 16 rows, and each group's 16 results are one vector store.
//
// The codes are decoded once per group and block and serve every token of a tile; generation
// (one token) is the case these kernels exist for: one sequential weight stream per thread at
// a few instructions per 64 bytes, far below what memory delivers.
#if defined(__GNUC__) && !defined(__clang__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/activations.h"
#include "kernels/kernel_table.h"

namespace cria::kernels {
namespace {

// Converted activation rows of one token block stay in L2 while the groups stream past them.
constexpr size_t kTokenBlockBytes = 384 * 1024;
constexpr int kGroupRows = 16;

// Weights are requested this far ahead of their use, into L2. Without software prefetches the
// K-quant kernels' streams stall on memory latency (measured against a plain vector read of the
// same memory: 55-65 % of its speed instead of 85-95 %); requests into L1 slowed Q4_0 and Q8_0
// by about 10 % (they hold L1's miss buffers); 2-16 KiB ahead measured alike.
constexpr size_t kPrefetchDistance = 4096;

// Requests the line at address p + ahead. The address may lie past the end of the weights (a
// prefetch never faults), so it is formed as an integer, not by pointer arithmetic.
inline void prefetch_line(const uint8_t* p, size_t ahead) {
    _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + ahead),
                 _MM_HINT_T1);
}

// Requests the n bytes (a multiple of 64) that lie kPrefetchDistance past p.
inline void prefetch_ahead(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i += 64) prefetch_line(p, kPrefetchDistance + i);
}

// A weight vector, requesting the line kPrefetchDistance ahead of it: one request per line
// read keeps the stream's requests evenly spaced. (Groups lie back to back and a forward pass
// reads the matrices in storage order, so the line ahead is the one needed next.)
inline __m512i load512(const uint8_t* p) {
    prefetch_line(p, kPrefetchDistance);
    return _mm512_loadu_si512(p);
}

// The 4 activation codes at p as one int32 broadcast to all lanes (one broadcast load).
inline __m512i quad(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof(v));
    return _mm512_set1_epi32(v);
}

// 16 fp16 values (one per row) as floats.
inline __m512 load_fp16x16(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// ---- Q4_0: pairs of blocks of 32 -------------------------------------------------------------
//
// Low nibbles are used as they are, high nibbles masked in place (16 x their value): their
// products are summed separately and divided by 16 once per block (exactly: every product is a
// multiple of 16). The code bias of 8 starts the low sum at -8 x the activation block's sum.
struct Q4_0Groups {
    static constexpr int kTileTokens = 8;
    static constexpr size_t kPairBytes = 576;
    using Act = ActQ8Block32;
    static Act view(const uint8_t* row, int64_t n) { return view_q8_block32(row, n); }

    // Block j (0 or 1) of a pair, block b of the row, into acc.
    template <int T>
    [[gnu::always_inline]] static inline void block(const uint8_t* pair, size_t j, int64_t b,
                                                    const Act* act, __m512* acc) {
        const __m512i low_mask = _mm512_set1_epi8(0x0F);
        const __m512i high_mask = _mm512_set1_epi8(static_cast<char>(0xF0));
        const __m512 d = load_fp16x16(pair + 32 * j);
        const uint8_t* codes = pair + 64 + 256 * j;
        __m512i low[4], high[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
            const __m512i v = load512(codes + 64 * k);
            low[k] = _mm512_and_si512(v, low_mask);
            high[k] = _mm512_and_si512(v, high_mask);
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const int8_t* a = act[t].q + 32 * b;
            __m512i sum_low = _mm512_set1_epi32(-8 * act[t].qsum[b]);
            __m512i sum_high = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                sum_low = _mm512_dpbusd_epi32(sum_low, low[k], quad(a + 4 * k));
                sum_high = _mm512_dpbusd_epi32(sum_high, high[k], quad(a + 16 + 4 * k));
            }
            const __m512i sum = _mm512_add_epi32(sum_low, _mm512_srai_epi32(sum_high, 4));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum),
                                     _mm512_mul_ps(d, _mm512_set1_ps(act[t].d[b])), acc[t]);
        }
    }

    template <int T>
    static void tile(const GemmArgs& g, const uint8_t* group, const Act* act, float* const* y) {
        const int64_t n_blocks = g.n_in / 32;
        __m512 acc[T];
        for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
        const uint8_t* pair = group;
        int64_t b = 0;
        for (; b + 2 <= n_blocks; b += 2, pair += kPairBytes) {
            prefetch_ahead(pair, 64);
            block<T>(pair, 0, b, act, acc);
            block<T>(pair, 1, b + 1, act, acc);
        }
        if (b < n_blocks) block<T>(pair, 0, b, act, acc);
        for (int t = 0; t < T; ++t) _mm512_storeu_ps(y[t], acc[t]);
    }
};

// ---- Q8_0: pairs of blocks of 32, codes stored + 128 ------------------------------------------
struct Q8_0Groups {
    static constexpr int kTileTokens = 8;
    static constexpr size_t kPairBytes = 1088;
    using Act = ActQ8Block32;
    static Act view(const uint8_t* row, int64_t n) { return view_q8_block32(row, n); }

    template <int T>
    static void tile(const GemmArgs& g, const uint8_t* group, const Act* act, float* const* y) {
        const int64_t n_blocks = g.n_in / 32;
        __m512 acc[T];
        for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
        for (int64_t b = 0; b < n_blocks; ++b) {
            const uint8_t* pair = group + static_cast<size_t>(b / 2) * kPairBytes;
            const size_t j = static_cast<size_t>(b % 2);
            if (j == 0) prefetch_ahead(pair, 64);
            const __m512 d = load_fp16x16(pair + 32 * j);
            const uint8_t* codes = pair + 64 + 512 * j;
            __m512i code[8];
#pragma GCC unroll 8
            for (int k = 0; k < 8; ++k) code[k] = load512(codes + 64 * k);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                const int8_t* a = act[t].q + 32 * b;
                // Two chains of 4 dependent dot products instead of one of 8.
                __m512i sum0 = _mm512_set1_epi32(-128 * act[t].qsum[b]);
                __m512i sum1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int k = 0; k < 4; ++k) {
                    sum0 = _mm512_dpbusd_epi32(sum0, code[2 * k], quad(a + 8 * k));
                    sum1 = _mm512_dpbusd_epi32(sum1, code[2 * k + 1], quad(a + 8 * k + 4));
                }
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(sum0, sum1)),
                                         _mm512_mul_ps(d, _mm512_set1_ps(act[t].d[b])), acc[t]);
            }
        }
        for (int t = 0; t < T; ++t) _mm512_storeu_ps(y[t], acc[t]);
    }
};

// ---- Q4_K: super-blocks of 256 (8 sub-blocks of 32 with 6-bit scales and mins) ---------------
//
// Per chunk of 64 elements the low nibbles are sub-block 2c and the high nibbles (masked in
// place, 16 x their value) sub-block 2c+1; each sub-block's int32 sums are multiplied by its
// scale in integers. The mins multiply the activation sums of the sub-blocks, two at a time
// with vpdpwssd (the mins of a pair of sub-blocks are the two words of a row's lane).
struct Q4_KGroups {
    static constexpr int kTileTokens = 4;
    static constexpr size_t kSuperBytes = 2368;
    using Act = ActQ8Block256;
    static Act view(const uint8_t* row, int64_t n) { return view_q8_block256(row, n); }

    template <int T>
    static void tile(const GemmArgs& g, const uint8_t* group, const Act* act, float* const* y) {
        const int64_t n_super = g.n_in / 256;
        const __m512i low_mask = _mm512_set1_epi8(0x0F);
        const __m512i high_mask = _mm512_set1_epi8(static_cast<char>(0xF0));
        __m512 acc[T];
        for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
        for (int64_t s = 0; s < n_super; ++s) {
            const uint8_t* block = group + static_cast<size_t>(s) * kSuperBytes;
            prefetch_ahead(block, 320);
            __m512i isum[T];
            for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) {
                const uint8_t* codes = block + 320 + 512 * c;
                __m512i sum_low[T], sum_high[T];
                for (int t = 0; t < T; ++t) {
                    sum_low[t] = _mm512_setzero_si512();
                    sum_high[t] = _mm512_setzero_si512();
                }
#pragma GCC unroll 8
                for (int k = 0; k < 8; ++k) {
                    const __m512i v = load512(codes + 64 * k);
                    const __m512i low = _mm512_and_si512(v, low_mask);
                    const __m512i high = _mm512_and_si512(v, high_mask);
#pragma GCC unroll 4
                    for (int t = 0; t < T; ++t) {
                        const int8_t* a = act[t].q + 256 * s + 64 * c + 4 * k;
                        sum_low[t] = _mm512_dpbusd_epi32(sum_low[t], low, quad(a));
                        sum_high[t] = _mm512_dpbusd_epi32(sum_high[t], high, quad(a + 32));
                    }
                }
                const __m512i scale_low = _mm512_cvtepu8_epi32(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 64 + 32 * c)));
                const __m512i scale_high = _mm512_cvtepu8_epi32(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 80 + 32 * c)));
#pragma GCC unroll 4
                for (int t = 0; t < T; ++t) {
                    const __m512i scaled = _mm512_add_epi32(
                        _mm512_mullo_epi32(sum_low[t], scale_low),
                        _mm512_mullo_epi32(_mm512_srai_epi32(sum_high[t], 4), scale_high));
                    isum[t] = _mm512_add_epi32(isum[t], scaled);
                }
            }
            __m512i mins[4];
#pragma GCC unroll 4
            for (int p = 0; p < 4; ++p) {
                mins[p] = _mm512_cvtepu8_epi16(
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 192 + 32 * p)));
            }
            const __m512 d = load_fp16x16(block);
            const __m512 dmin = load_fp16x16(block + 32);
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                // Pairs of int16 sub-block sums of the activations, one pair per dword.
                const int16_t* sums = act[t].bsum32 + 8 * s;
                __m512i msum = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int p = 0; p < 4; ++p) {
                    msum = _mm512_dpwssd_epi32(msum, mins[p],
                                               quad(reinterpret_cast<const int8_t*>(sums + 2 * p)));
                }
                const __m512 da = _mm512_set1_ps(act[t].d[s]);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, da), acc[t]);
                acc[t] =
                    _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(dmin, da), acc[t]);
            }
        }
        for (int t = 0; t < T; ++t) _mm512_storeu_ps(y[t], acc[t]);
    }
};

// ---- Q6_K: super-blocks of 256 (16 sub-blocks of 16 with int8 scales) -----------------------
//
// Three vectors (two of low nibbles, one of high bit pairs) give four code vectors: elements
// 32s + 4k.. (s = 0..3) of one half of the super-block. Codes are stored + 32: each sub-block's
// sum starts at -32 x its activation sum before its scale multiplies it.
struct Q6_KGroups {
    static constexpr int kTileTokens = 4;
    static constexpr size_t kSuperBytes = 3392;
    using Act = ActQ8Block256;
    static Act view(const uint8_t* row, int64_t n) { return view_q8_block256(row, n); }

    template <int T>
    static void tile(const GemmArgs& g, const uint8_t* group, const Act* act, float* const* y) {
        const int64_t n_super = g.n_in / 256;
        const __m512i low_mask = _mm512_set1_epi8(0x0F);
        const __m512i high_bits = _mm512_set1_epi8(0x30);
        constexpr int kLowOrHigh = 0xEA;  // vpternlog: (a & b) | c
        __m512 acc[T];
        for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
        for (int64_t s = 0; s < n_super; ++s) {
            const uint8_t* block = group + static_cast<size_t>(s) * kSuperBytes;
            prefetch_ahead(block, 320);
            __m512i isum[T];
            for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
                for (int half_k = 0; half_k < 2; ++half_k) {
                    // Sub-block 8h + 2 sp + half_k collects the products of code vector sp.
                    __m512i sum[4][T];
#pragma GCC unroll 4
                    for (int sp = 0; sp < 4; ++sp) {
                        for (int t = 0; t < T; ++t) {
                            const int j = 8 * h + 2 * sp + half_k;
                            sum[sp][t] = _mm512_set1_epi32(-32 * act[t].bsum[16 * s + j]);
                        }
                    }
#pragma GCC unroll 4
                    for (int kk = 0; kk < 4; ++kk) {
                        const int k = 4 * half_k + kk;
                        const uint8_t* vectors = block + 320 + 192 * (8 * h + k);
                        const __m512i ql0 = load512(vectors);
                        const __m512i ql1 = load512(vectors + 64);
                        const __m512i qh = load512(vectors + 128);
                        __m512i code[4];
                        code[0] = _mm512_ternarylogic_epi32(
                            ql0, low_mask, _mm512_and_si512(_mm512_slli_epi16(qh, 4), high_bits),
                            kLowOrHigh);
                        code[1] = _mm512_ternarylogic_epi32(
                            ql1, low_mask, _mm512_and_si512(_mm512_slli_epi16(qh, 2), high_bits),
                            kLowOrHigh);
                        code[2] =
                            _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql0, 4), low_mask,
                                                      _mm512_and_si512(qh, high_bits), kLowOrHigh);
                        code[3] = _mm512_ternarylogic_epi32(
                            _mm512_srli_epi16(ql1, 4), low_mask,
                            _mm512_and_si512(_mm512_srli_epi16(qh, 2), high_bits), kLowOrHigh);
#pragma GCC unroll 4
                        for (int t = 0; t < T; ++t) {
                            const int8_t* a = act[t].q + 256 * s + 128 * h + 4 * k;
#pragma GCC unroll 4
                            for (int sp = 0; sp < 4; ++sp) {
                                sum[sp][t] =
                                    _mm512_dpbusd_epi32(sum[sp][t], code[sp], quad(a + 32 * sp));
                            }
                        }
                    }
#pragma GCC unroll 4
                    for (int sp = 0; sp < 4; ++sp) {
                        const int j = 8 * h + 2 * sp + half_k;
                        const __m512i scale = _mm512_cvtepi8_epi32(
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 64 + 16 * j)));
                        for (int t = 0; t < T; ++t) {
                            isum[t] =
                                _mm512_add_epi32(isum[t], _mm512_mullo_epi32(sum[sp][t], scale));
                        }
                    }
                }
            }
            const __m512 d = load_fp16x16(block);
            for (int t = 0; t < T; ++t) {
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]),
                                         _mm512_mul_ps(d, _mm512_set1_ps(act[t].d[s])), acc[t]);
            }
        }
        for (int t = 0; t < T; ++t) _mm512_storeu_ps(y[t], acc[t]);
    }
};

// ---- Driver over a range of whole groups -----------------------------------------------------

template <class K, int T>
void run_tile(const GemmArgs& g, const uint8_t* group, int64_t row0, int64_t tok0) {
    typename K::Act act[T];
    float* y[T];
    for (int t = 0; t < T; ++t) {
        act[t] = K::view(g.act + static_cast<size_t>(tok0 + t) * g.act_row_bytes, g.n_in);
        y[t] = g.y + (tok0 + t) * g.y_stride + row0;
    }
    K::template tile<T>(g, group, act, y);
}

// Tokens [t0, t1) of one group in tiles of K::kTileTokens, the rest in halving tiles.
template <class K>
void group_tokens(const GemmArgs& g, const uint8_t* group, int64_t row0, int64_t t0, int64_t t1) {
    constexpr int kT = K::kTileTokens;
    int64_t t = t0;
    for (; t + kT <= t1; t += kT) run_tile<K, kT>(g, group, row0, t);
    if constexpr (kT > 4) {
        if (t + 4 <= t1) {
            run_tile<K, 4>(g, group, row0, t);
            t += 4;
        }
    }
    if (t + 2 <= t1) {
        run_tile<K, 2>(g, group, row0, t);
        t += 2;
    }
    if (t < t1) run_tile<K, 1>(g, group, row0, t);
}

template <class K>
void gemm_groups(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    const int64_t first = row_begin / kGroupRows, last = row_end / kGroupRows;
    // Tokens in blocks whose activations stay in L2 while every group of the range streams by;
    // one group's weights stay in L1 while the tiles of a block use them.
    const int64_t block_tokens =
        std::max<int64_t>(K::kTileTokens, static_cast<int64_t>(kTokenBlockBytes / g.act_row_bytes));
    for (int64_t t0 = 0; t0 < g.n_tokens; t0 += block_tokens) {
        const int64_t t1 = std::min(g.n_tokens, t0 + block_tokens);
        for (int64_t i = first; i < last; ++i) {
            const uint8_t* group = g.w + static_cast<size_t>(i) * g.w_group_bytes;
            group_tokens<K>(g, group, i * kGroupRows, t0, t1);
        }
    }
}

}  // namespace

GemmFn gemm_row_groups_avx512(gguf::TensorType type) {
    switch (type) {
        case gguf::TensorType::kQ4_0:
            return &gemm_groups<Q4_0Groups>;
        case gguf::TensorType::kQ8_0:
            return &gemm_groups<Q8_0Groups>;
        case gguf::TensorType::kQ4_K:
            return &gemm_groups<Q4_KGroups>;
        case gguf::TensorType::kQ6_K:
            return &gemm_groups<Q6_KGroups>;
        default:
            return nullptr;
    }
}

}  // namespace cria::kernels
