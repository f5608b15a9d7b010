// GEMM kernels on 256-bit registers shared by the AVX2 and AVX-512 kernel files (see
// simd_x86.inl for how it is included). Requires: CRIA_X86_VNNI, and the tile sizes
//   kMatvecRows             rows per tile when there is one token (decode, memory-bound); 1
//                           measures best: one row at a time is one sequential memory stream
//   kTileRows, kTileTokens  rows x tokens per tile otherwise (prompt, compute-bound)
//   kRows8Tokens            tokens per tile of the eight-row kernels (Q4_0, Q4_1, Q8_0, IQ4_NL)
//
// Every kernel computes a tile of R rows x T tokens over the whole reduction: each weight block
// is loaded and decoded once per tile and used for all T tokens, each activation block once and
// used for all R rows. Tiles walk token blocks that fit in L2 (kTokenBlockBytes), so the
// activations are reused from cache while the weights stream.
//
// Weight types are described by "traits" (see the structs below); the loops are generic.

constexpr size_t kTokenBlockBytes = 384 * 1024;

// Streaming weights from memory. A tile reads its R rows side by side, i.e. R interleaved
// streams, which DRAM serves much worse than one sequential stream (measured: about half the
// bandwidth with 4 rows; hence kMatvecRows = 1). While a tile computes, it also prefetches as
// many bytes as it holds, kPrefetchDistance bytes (at least one tile) ahead, spread evenly over
// its iterations: one sequential stream that runs ahead of the reads.
constexpr size_t kPrefetchDistance = 8192;
constexpr int64_t kPrefetchL1MaxBytes = 8 * 1024;
class NextTilePrefetch {
  public:
    NextTilePrefetch(const GemmArgs& g, int64_t row0, int rows, int64_t n_iterations) {
        if (n_iterations <= 0) return;
        // The tile's rows are contiguous: prefetch as many bytes as the tile holds, starting
        // kPrefetchDistance bytes (at least one tile) past its start, up to the matrix end.
        const size_t tile_bytes = static_cast<size_t>(rows) * g.w_row_bytes;
        const size_t start = static_cast<size_t>(row0) * g.w_row_bytes +
                             std::max<size_t>(tile_bytes, kPrefetchDistance);
        const size_t end = static_cast<size_t>(g.y_stride) * g.w_row_bytes;
        if (start >= end) return;
        next_ = g.w + start;
        n_lines_ = static_cast<int64_t>((std::min(tile_bytes, end - start) + 63) / 64);
        lines_per_iteration_ = (n_lines_ + n_iterations - 1) / n_iterations;
        to_l1_ = static_cast<int64_t>(tile_bytes) <= kPrefetchL1MaxBytes;
    }
    void step(int64_t iteration) const {
        const int64_t first = iteration * lines_per_iteration_;
        const int64_t last = std::min(n_lines_, first + lines_per_iteration_);
        // Small tiles go to L1; larger ones to L2, where the current and the next tile fit
        // without evicting each other (measured on both kinds).
        if (to_l1_) {
            for (int64_t line = first; line < last; ++line) {
                _mm_prefetch(reinterpret_cast<const char*>(next_ + 64 * line), _MM_HINT_T0);
            }
        } else {
            for (int64_t line = first; line < last; ++line) {
                _mm_prefetch(reinterpret_cast<const char*>(next_ + 64 * line), _MM_HINT_T1);
            }
        }
    }

  private:
    const uint8_t* next_ = nullptr;
    int64_t n_lines_ = 0;
    int64_t lines_per_iteration_ = 0;
    bool to_l1_ = true;
};

// ---- Types in blocks of 32 with one float scale per block ----------------------------------
//
// Traits provide, per block: codes (32 bytes, unsigned or signed), its scale d, and `offset`:
// the weights are d * (codes - bias) + m, and offset = m - bias * d multiplies the block's
// activation sum (dsum = d_a * sum(q_a)). kSigned types are multiplied with the abs/sign trick.

struct Q4_0Traits {
    static constexpr int kBytes = 18;
    static constexpr bool kSigned = false;
    static constexpr bool kOffset = true;
    static __m256i codes(const uint8_t* b) { return unpack_nibbles_halves(b + 2); }
    static float scale(const uint8_t* b) { return load_fp16(b); }
    static float offset(const uint8_t* b) { return -8.0f * load_fp16(b); }
};
struct Q4_1Traits {
    static constexpr int kBytes = 20;
    static constexpr bool kSigned = false;
    static constexpr bool kOffset = true;
    static __m256i codes(const uint8_t* b) { return unpack_nibbles_halves(b + 4); }
    static float scale(const uint8_t* b) { return load_fp16(b); }
    static float offset(const uint8_t* b) { return load_fp16(b + 2); }
};
inline __m256i q5_codes(const uint8_t* qh, const uint8_t* qs) {
    const __m256i high = _mm256_and_si256(bits_to_byte_mask(load_u32(qh)), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(unpack_nibbles_halves(qs), high);
}
struct Q5_0Traits {
    static constexpr int kBytes = 22;
    static constexpr bool kSigned = false;
    static constexpr bool kOffset = true;
    static __m256i codes(const uint8_t* b) { return q5_codes(b + 2, b + 6); }
    static float scale(const uint8_t* b) { return load_fp16(b); }
    static float offset(const uint8_t* b) { return -16.0f * load_fp16(b); }
};
struct Q5_1Traits {
    static constexpr int kBytes = 24;
    static constexpr bool kSigned = false;
    static constexpr bool kOffset = true;
    static __m256i codes(const uint8_t* b) { return q5_codes(b + 4, b + 8); }
    static float scale(const uint8_t* b) { return load_fp16(b); }
    static float offset(const uint8_t* b) { return load_fp16(b + 2); }
};
struct Q8_0Traits {
    static constexpr int kBytes = 34;
    static constexpr bool kSigned = true;
    static constexpr bool kOffset = false;
    static __m256i codes(const uint8_t* b) { return load256(b + 2); }
    static float scale(const uint8_t* b) { return load_fp16(b); }
    static float offset(const uint8_t*) { return 0.0f; }
};
inline __m256i iq4_table() {
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Codebook));
    return _mm256_set_m128i(table, table);
}
struct Iq4NlTraits {
    static constexpr int kBytes = 18;
    static constexpr bool kSigned = true;
    static constexpr bool kOffset = false;
    static __m256i codes(const uint8_t* b) {
        return _mm256_shuffle_epi8(iq4_table(), unpack_nibbles_halves(b + 2));
    }
    static float scale(const uint8_t* b) { return load_fp16(b); }
    static float offset(const uint8_t*) { return 0.0f; }
};

template <class K>
struct Block32Kernel {
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
        __m256 acc[R][T];
        float offset_acc[R][T];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                acc[r][t] = _mm256_setzero_ps();
                offset_acc[r][t] = 0.0f;
            }
        }
        const NextTilePrefetch prefetch(g, row0, R, n_blocks);
        for (int64_t b = 0; b < n_blocks; ++b) {
            prefetch.step(b);
            __m256i codes[R];
            __m256 scale[R];
            float offset[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const uint8_t* block = w[r] + b * K::kBytes;
                codes[r] = K::codes(block);
                scale[r] = _mm256_set1_ps(K::scale(block));
                if constexpr (K::kOffset) offset[r] = K::offset(block);
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                const __m256i a = load256(act[t].q + 32 * b);
                const __m256 da = _mm256_set1_ps(act[t].d[b]);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    __m256i dot;
                    if constexpr (K::kSigned) {
                        dot = dot_u8s8_i32(_mm256_setzero_si256(), _mm256_abs_epi8(codes[r]),
                                           _mm256_sign_epi8(a, codes[r]));
                    } else {
                        dot = dot_u8s8_i32(_mm256_setzero_si256(), codes[r], a);
                    }
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                                _mm256_mul_ps(scale[r], da), acc[r][t]);
                    if constexpr (K::kOffset) offset_acc[r][t] += offset[r] * act[t].dsum[b];
                }
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                g.y[(tok0 + t) * g.y_stride + row0 + r] = hsum(acc[r][t]) + offset_acc[r][t];
            }
        }
    }
};

// ---- Blocks of 32, eight rows at a time ------------------------------------------------------
//
// Per block the scale handling, not the arithmetic, dominates when one row is processed at a
// time. Here the blocks of 8 rows are transposed in registers so that lane r of a vector holds 4
// codes of row r: a 4-byte activation broadcast times that vector gives 8 rows' partial dots in
// one instruction, the block's scaling is one vector operation for all 8 rows, and the results
// need no horizontal sums. The code bias is added by starting each block's sum at -bias * qsum.

// Loads 16 bytes at p[r] + offset for r < 8 and transposes them: col[k] lane r = dword k of row r.
inline void transpose_rows8(const uint8_t* const* p, int offset, __m256i col[4]) {
    __m256i rows[4];
    for (int i = 0; i < 4; ++i) {
        rows[i] = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p[i + 4] + offset),
                                      reinterpret_cast<const __m128i*>(p[i] + offset));
    }
    const __m256i t0 = _mm256_unpacklo_epi32(rows[0], rows[1]);
    const __m256i t1 = _mm256_unpackhi_epi32(rows[0], rows[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(rows[2], rows[3]);
    const __m256i t3 = _mm256_unpackhi_epi32(rows[2], rows[3]);
    col[0] = _mm256_unpacklo_epi64(t0, t2);
    col[1] = _mm256_unpackhi_epi64(t0, t2);
    col[2] = _mm256_unpacklo_epi64(t1, t3);
    col[3] = _mm256_unpackhi_epi64(t1, t3);
}

inline uint64_t load_u16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof(h));
    return h;
}

// The fp16 at p[r] + offset of 8 rows, as floats in lanes 0..7.
inline __m256 gather_fp16_rows8(const uint8_t* const* p, int offset) {
    const uint64_t lo = load_u16(p[0] + offset) | (load_u16(p[1] + offset) << 16) |
                        (load_u16(p[2] + offset) << 32) | (load_u16(p[3] + offset) << 48);
    const uint64_t hi = load_u16(p[4] + offset) | (load_u16(p[5] + offset) << 16) |
                        (load_u16(p[6] + offset) << 32) | (load_u16(p[7] + offset) << 48);
    return _mm256_cvtph_ps(_mm_set_epi64x(static_cast<int64_t>(hi), static_cast<int64_t>(lo)));
}

// Nibble columns of 8 rows of 16-byte nibble arrays: out[2k] holds elements 4k..4k+3 (low
// nibbles), out[2k+1] elements 16+4k.. (high nibbles).
inline void nibble_columns(const uint8_t* const* blk, int offset, __m256i out[8]) {
    __m256i col[4];
    transpose_rows8(blk, offset, col);
    const __m256i mask = _mm256_set1_epi8(0x0F);
    for (int k = 0; k < 4; ++k) {
        out[2 * k] = _mm256_and_si256(col[k], mask);
        out[2 * k + 1] = _mm256_and_si256(_mm256_srli_epi16(col[k], 4), mask);
    }
}

inline constexpr int kNibbleColumnOffsets[8] = {0, 16, 4, 20, 8, 24, 12, 28};
inline constexpr int kByteColumnOffsets[8] = {0, 4, 8, 12, 16, 20, 24, 28};

// Traits: kBytes, kBias (weights = d * (code - bias) [+ m]), kMin (fp16 m at byte 2), kSigned
// (codes are signed and multiplied with the abs/sign trick instead of a bias), kOffsets (the
// activation element where the codes of each column start), codes().
struct Q4_0Rows {
    static constexpr int kBytes = 18;
    static constexpr int kBias = 8;
    static constexpr bool kMin = false;
    static constexpr bool kSigned = false;
    static constexpr const int* kOffsets = kNibbleColumnOffsets;
    static void codes(const uint8_t* const* blk, __m256i out[8]) { nibble_columns(blk, 2, out); }
};
struct Q4_1Rows {
    static constexpr int kBytes = 20;
    static constexpr int kBias = 0;
    static constexpr bool kMin = true;
    static constexpr bool kSigned = false;
    static constexpr const int* kOffsets = kNibbleColumnOffsets;
    static void codes(const uint8_t* const* blk, __m256i out[8]) { nibble_columns(blk, 4, out); }
};
// With VNNI the signed types are offset by 128 into unsigned codes (vpdpbusd does not saturate);
// without, they stay signed for the abs/sign trick (vpmaddubsw would saturate).
struct Q8_0Rows {
    static constexpr int kBytes = 34;
    static constexpr int kBias = CRIA_X86_VNNI ? 128 : 0;
    static constexpr bool kMin = false;
    static constexpr bool kSigned = !CRIA_X86_VNNI;
    static constexpr const int* kOffsets = kByteColumnOffsets;
    static void codes(const uint8_t* const* blk, __m256i out[8]) {
        transpose_rows8(blk, 2, out);
        transpose_rows8(blk, 18, out + 4);
        if constexpr (CRIA_X86_VNNI) {
            for (int i = 0; i < 8; ++i) out[i] = _mm256_xor_si256(out[i], _mm256_set1_epi8(-128));
        }
    }
};
struct Iq4NlRows {
    static constexpr int kBytes = 18;
    static constexpr int kBias = CRIA_X86_VNNI ? 128 : 0;
    static constexpr bool kMin = false;
    static constexpr bool kSigned = !CRIA_X86_VNNI;
    static constexpr const int* kOffsets = kNibbleColumnOffsets;
    static void codes(const uint8_t* const* blk, __m256i out[8]) {
        nibble_columns(blk, 2, out);
        __m256i table = iq4_table();
        if constexpr (CRIA_X86_VNNI) table = _mm256_xor_si256(table, _mm256_set1_epi8(-128));
        for (int i = 0; i < 8; ++i) out[i] = _mm256_shuffle_epi8(table, out[i]);
    }
};

template <class K>
struct Rows8Kernel {
    template <int T>
    static void tile(const GemmArgs& g, int64_t row0, int64_t tok0) {
        const int64_t n_blocks = g.n_in / 32;
        const uint8_t* blk[8];
        for (int r = 0; r < 8; ++r) blk[r] = g.w + static_cast<size_t>(row0 + r) * g.w_row_bytes;
        ActQ8Block32 act[T];
        for (int t = 0; t < T; ++t) {
            act[t] =
                view_q8_block32(g.act + static_cast<size_t>(tok0 + t) * g.act_row_bytes, g.n_in);
        }
        __m256 acc[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
        const NextTilePrefetch prefetch(g, row0, 8, n_blocks);
        for (int64_t b = 0; b < n_blocks; ++b) {
            prefetch.step(b);
            __m256i codes[8];
            K::codes(blk, codes);
            __m256i magnitudes[8];
            if constexpr (K::kSigned) {
                for (int i = 0; i < 8; ++i) magnitudes[i] = _mm256_abs_epi8(codes[i]);
            }
            const __m256 d = gather_fp16_rows8(blk, 0);
            __m256 m;
            if constexpr (K::kMin) m = gather_fp16_rows8(blk, 2);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                const int8_t* a = act[t].q + 32 * b;
                // Independent partial sums: a single chain of 8 dependent dot instructions would
                // make each block wait on the instruction latency when there are few tokens.
                constexpr int kChains = T == 1 ? 4 : (T == 2 ? 2 : 1);
                __m256i partial[kChains];
                partial[0] = K::kBias != 0 ? _mm256_set1_epi32(-K::kBias * act[t].qsum[b])
                                           : _mm256_setzero_si256();
                for (int c = 1; c < kChains; ++c) partial[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int i = 0; i < 8; ++i) {
                    const __m256i av = _mm256_set1_epi32(static_cast<int>(
                        load_u32(reinterpret_cast<const uint8_t*>(a + K::kOffsets[i]))));
                    __m256i& dot = partial[i % kChains];
                    if constexpr (K::kSigned) {
                        dot = dot_u8s8_i32(dot, magnitudes[i], _mm256_sign_epi8(av, codes[i]));
                    } else {
                        dot = dot_u8s8_i32(dot, codes[i], av);
                    }
                }
                __m256i dot = partial[0];
                for (int c = 1; c < kChains; ++c) dot = _mm256_add_epi32(dot, partial[c]);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                         _mm256_mul_ps(d, _mm256_set1_ps(act[t].d[b])), acc[t]);
                if constexpr (K::kMin) {
                    acc[t] = _mm256_fmadd_ps(m, _mm256_set1_ps(act[t].dsum[b]), acc[t]);
                }
            }
            for (int r = 0; r < 8; ++r) blk[r] += K::kBytes;
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) _mm256_storeu_ps(g.y + (tok0 + t) * g.y_stride + row0, acc[t]);
    }
};

// ---- Blocks of 32, one row, eight blocks at a time (decode) ---------------------------------
//
// With one token the weights must stream one row at a time (see kMatvecRows), so the eight lanes
// hold 8 consecutive blocks of the row instead of 8 rows: the same transposed codes (the block
// traits above take any 8 block addresses), against the activations' `lanes` section, which
// holds the codes of 8 blocks transposed the same way. The block scales of the 8 blocks are one
// vector, and the activation scales and sums of consecutive blocks are contiguous.

// One block with the single-block traits: the tail of a row after its groups of 8.
template <class K>
float block32_dot(const uint8_t* row, const ActQ8Block32& act, int64_t b) {
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

template <class K, class Single>
struct Lanes8Kernel {
    static void rows(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
        const ActQ8Block32 act = view_q8_block32(g.act, g.n_in);
        const int64_t n_blocks = g.n_in / 32;
        const int64_t n_groups = n_blocks / 8;
        for (int64_t r = row_begin; r < row_end; ++r) {
            const uint8_t* row = g.w + static_cast<size_t>(r) * g.w_row_bytes;
            const NextTilePrefetch prefetch(g, r, 1, n_groups);
            __m256 acc = _mm256_setzero_ps();
            for (int64_t group = 0; group < n_groups; ++group) {
                prefetch.step(group);
                const uint8_t* blk[8];
                for (int j = 0; j < 8; ++j) blk[j] = row + (8 * group + j) * K::kBytes;
                __m256i codes[8];
                K::codes(blk, codes);
                const __m256 d = gather_fp16_rows8(blk, 0);
                const int8_t* lanes = act.lanes + 256 * group;
                // Four independent partial sums keep the dot instructions from waiting on each
                // other's latency.
                __m256i partial[4];
                partial[0] = _mm256_setzero_si256();
                if constexpr (K::kBias != 0) {
                    partial[0] = _mm256_mullo_epi32(load256(act.qsum + 8 * group),
                                                    _mm256_set1_epi32(-K::kBias));
                }
                partial[1] = partial[2] = partial[3] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int i = 0; i < 8; ++i) {
                    const __m256i av = load256(lanes + 8 * K::kOffsets[i]);
                    __m256i& dot = partial[i % 4];
                    if constexpr (K::kSigned) {
                        dot = dot_u8s8_i32(dot, _mm256_abs_epi8(codes[i]),
                                           _mm256_sign_epi8(av, codes[i]));
                    } else {
                        dot = dot_u8s8_i32(dot, codes[i], av);
                    }
                }
                const __m256i dot = _mm256_add_epi32(_mm256_add_epi32(partial[0], partial[1]),
                                                     _mm256_add_epi32(partial[2], partial[3]));
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                      _mm256_mul_ps(d, _mm256_loadu_ps(act.d + 8 * group)), acc);
                if constexpr (K::kMin) {
                    acc = _mm256_fmadd_ps(gather_fp16_rows8(blk, 2),
                                          _mm256_loadu_ps(act.dsum + 8 * group), acc);
                }
            }
            float sum = hsum(acc);
            for (int64_t b = 8 * n_groups; b < n_blocks; ++b)
                sum += block32_dot<Single>(row, act, b);
            g.y[r] = sum;
        }
    }
};

// ---- Super-blocks of 256 (K-quants, IQ4_XS) --------------------------------------------------
//
// Traits decode a super-block into: d (float), per 16-element group g an int16 scale s_g and an
// int16 correction coefficient c_g with a float factor e, and 8 chunks of 32 codes, such that
//   weight_i = d * s_g * code_i - e * c_g.
// (Types with mins: c_g = min_g, e = dmin. Types with biased codes, weight = d * s_g * (code -
// bias): c_g = bias * s_g, e = d.) Unsigned codes stay <= 127 so the 16-bit pair sums of the
// products with activation codes cannot saturate; kSigned types (IQ4_XS) use the abs/sign trick.

struct SuperBlockInfo {
    __m256i scales;  // int16 s_g for g = 0..15
    __m256i coefs;   // int16 c_g
    float d;
    float e;
};

// Q4_K / Q5_K: 8 six-bit scales and mins packed in 12 bytes, expanded to one entry per group
// of 16 (each sub-block of 32 covers two groups).
inline void unpack_q4k_scales(const uint8_t* packed, __m256i* scales, __m256i* mins) {
    const uint32_t a0 = load_u32(packed), a1 = load_u32(packed + 4), a2 = load_u32(packed + 8);
    const uint32_t sc_low = a0 & 0x3F3F3F3Fu;
    const uint32_t min_low = a1 & 0x3F3F3F3Fu;
    const uint32_t sc_high = (a2 & 0x0F0F0F0Fu) | (((a0 >> 6) & 0x03030303u) << 4);
    const uint32_t min_high = ((a2 >> 4) & 0x0F0F0F0Fu) | (((a1 >> 6) & 0x03030303u) << 4);
    const __m128i bytes = _mm_setr_epi32(static_cast<int>(sc_low), static_cast<int>(sc_high),
                                         static_cast<int>(min_low), static_cast<int>(min_high));
    const __m128i dup_scales =
        _mm_shuffle_epi8(bytes, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
    const __m128i dup_mins = _mm_shuffle_epi8(
        bytes, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    *scales = _mm256_cvtepu8_epi16(dup_scales);
    *mins = _mm256_cvtepu8_epi16(dup_mins);
}

// Shift count as a vector, for the variable-count shifts below (constant after unrolling).
inline __m128i shift_count(int n) {
    return _mm_cvtsi32_si128(n);
}

struct Q2_KTraits {
    static constexpr int kBytes = 84;
    static constexpr bool kSigned = false;
    static constexpr bool kCoefs = true;
    static void info(const uint8_t* b, SuperBlockInfo* out) {
        const __m128i packed = load128(b);
        const __m128i mask = _mm_set1_epi8(0x0F);
        out->scales = _mm256_cvtepu8_epi16(_mm_and_si128(packed, mask));
        out->coefs = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), mask));
        out->d = load_fp16(b + 80);
        out->e = load_fp16(b + 82);
    }
    static __m256i codes(const uint8_t* b, int chunk) {
        const __m256i q = load256(b + 16 + 32 * (chunk / 4));
        return _mm256_and_si256(_mm256_srl_epi16(q, shift_count(2 * (chunk % 4))),
                                _mm256_set1_epi8(3));
    }
};

struct Q3_KTraits {
    static constexpr int kBytes = 110;
    static constexpr bool kSigned = false;
    static constexpr bool kCoefs = true;
    static void info(const uint8_t* b, SuperBlockInfo* out) {
        // 16 six-bit scales: low nibbles from bytes 0..7 (two per byte), high pairs of bits from
        // bytes 8..11 (four per byte); see unpack_q3k_scale.
        const uint8_t* packed = b + 96;
        const uint64_t low_bytes = static_cast<uint64_t>(load_u32(packed)) |
                                   (static_cast<uint64_t>(load_u32(packed + 4)) << 32);
        const uint32_t high_bytes = load_u32(packed + 8);
        const __m128i lows =
            _mm_set_epi64x(static_cast<int64_t>((low_bytes >> 4) & 0x0F0F0F0F0F0F0F0FULL),
                           static_cast<int64_t>(low_bytes & 0x0F0F0F0F0F0F0F0FULL));
        // Group j takes bits 2 (j / 4) of byte 8 + j % 4: dword k of `shifted` serves j = 4k..4k+3.
        const __m128i shifted =
            _mm_setr_epi32(static_cast<int>(high_bytes), static_cast<int>(high_bytes >> 2),
                           static_cast<int>(high_bytes >> 4), static_cast<int>(high_bytes >> 6));
        const __m128i highs = _mm_slli_epi16(_mm_and_si128(shifted, _mm_set1_epi8(3)), 4);
        const __m128i stored = _mm_or_si128(lows, highs);
        const __m256i scales =
            _mm256_sub_epi16(_mm256_cvtepu8_epi16(stored), _mm256_set1_epi16(32));
        out->scales = scales;
        out->coefs = _mm256_slli_epi16(scales, 2);  // bias 4
        out->d = load_fp16(b + 108);
        out->e = out->d;
    }
    static __m256i codes(const uint8_t* b, int chunk) {
        const int half = chunk / 4, shift = chunk % 4;
        const __m256i q = load256(b + 32 + 32 * half);
        const __m256i low =
            _mm256_and_si256(_mm256_srl_epi16(q, shift_count(2 * shift)), _mm256_set1_epi8(3));
        const __m256i hmask = load256(b);
        const __m256i high = _mm256_and_si256(
            _mm256_srl_epi16(hmask, shift_count(4 * half + shift)), _mm256_set1_epi8(1));
        return _mm256_or_si256(low, _mm256_slli_epi16(high, 2));
    }
};

struct Q4_KTraits {
    static constexpr int kBytes = 144;
    static constexpr bool kSigned = false;
    static constexpr bool kCoefs = true;
    static void info(const uint8_t* b, SuperBlockInfo* out) {
        unpack_q4k_scales(b + 4, &out->scales, &out->coefs);
        out->d = load_fp16(b);
        out->e = load_fp16(b + 2);
    }
    static __m256i codes(const uint8_t* b, int chunk) {
        const __m256i q = load256(b + 16 + 32 * (chunk / 2));
        return _mm256_and_si256(_mm256_srl_epi16(q, shift_count(4 * (chunk % 2))),
                                _mm256_set1_epi8(0x0F));
    }
};

struct Q5_KTraits {
    static constexpr int kBytes = 176;
    static constexpr bool kSigned = false;
    static constexpr bool kCoefs = true;
    static void info(const uint8_t* b, SuperBlockInfo* out) {
        unpack_q4k_scales(b + 4, &out->scales, &out->coefs);
        out->d = load_fp16(b);
        out->e = load_fp16(b + 2);
    }
    static __m256i codes(const uint8_t* b, int chunk) {
        const __m256i q = load256(b + 48 + 32 * (chunk / 2));
        const __m256i low = _mm256_and_si256(_mm256_srl_epi16(q, shift_count(4 * (chunk % 2))),
                                             _mm256_set1_epi8(0x0F));
        const __m256i qh = load256(b + 16);
        const __m256i high =
            _mm256_and_si256(_mm256_srl_epi16(qh, shift_count(chunk)), _mm256_set1_epi8(1));
        return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
    }
};

struct Q6_KTraits {
    static constexpr int kBytes = 210;
    static constexpr bool kSigned = false;
    static constexpr bool kCoefs = true;
    static void info(const uint8_t* b, SuperBlockInfo* out) {
        const __m256i scales = _mm256_cvtepi8_epi16(load128(b + 192));
        out->scales = scales;
        out->coefs = _mm256_slli_epi16(scales, 5);  // bias 32
        out->d = load_fp16(b + 208);
        out->e = out->d;
    }
    static __m256i codes(const uint8_t* b, int chunk) {
        const int half = chunk / 4, s = chunk % 4;
        const __m256i ql = load256(b + 64 * half + 32 * (s & 1));
        const __m256i low = _mm256_and_si256(_mm256_srl_epi16(ql, shift_count(s < 2 ? 0 : 4)),
                                             _mm256_set1_epi8(0x0F));
        const __m256i qh = load256(b + 128 + 32 * half);
        const __m256i high =
            _mm256_and_si256(_mm256_srl_epi16(qh, shift_count(2 * s)), _mm256_set1_epi8(3));
        return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
    }
};

struct Iq4XsTraits {
    static constexpr int kBytes = 136;
    static constexpr bool kSigned = true;
    static constexpr bool kCoefs = false;
    static void info(const uint8_t* b, SuperBlockInfo* out) {
        // Sub-block j: low 4 bits = nibble j of scales_l, high 2 bits = bits 2j.. of scales_h.
        const __m128i packed_low = _mm_cvtsi32_si128(static_cast<int>(load_u32(b + 4)));
        const __m128i nibble = _mm_set1_epi8(0x0F);
        const __m128i lows =
            _mm_unpacklo_epi8(_mm_and_si128(packed_low, nibble),
                              _mm_and_si128(_mm_srli_epi16(packed_low, 4), nibble));
        uint16_t scales_h;
        std::memcpy(&scales_h, b + 2, sizeof(scales_h));
        // Lane j: (scales_h << (14 - 2j)) >> 14 keeps bits 2j, 2j+1.
        const __m128i highs = _mm_srli_epi16(
            _mm_mullo_epi16(
                _mm_set1_epi16(static_cast<int16_t>(scales_h)),
                _mm_setr_epi16(1 << 14, 1 << 12, 1 << 10, 1 << 8, 1 << 6, 1 << 4, 1 << 2, 1)),
            14);
        const __m128i scales8 = _mm_sub_epi16(
            _mm_or_si128(_mm_cvtepu8_epi16(lows), _mm_slli_epi16(highs, 4)), _mm_set1_epi16(32));
        // One entry per group of 16: each sub-block's scale twice.
        out->scales = _mm256_set_m128i(_mm_unpackhi_epi16(scales8, scales8),
                                       _mm_unpacklo_epi16(scales8, scales8));
        out->coefs = _mm256_setzero_si256();
        out->d = load_fp16(b);
        out->e = 0.0f;
    }
    static __m256i codes(const uint8_t* b, int chunk) {
        return _mm256_shuffle_epi8(iq4_table(), unpack_nibbles_halves(b + 8 + 16 * chunk));
    }
};

// The int16 scale of each pair of products of chunk c (groups 2c and 2c+1) from the 16 group
// scales, broadcast from the half that holds them.
inline __m256i chunk_scales(__m256i half_scales, int chunk) {
    const int k = chunk % 4;
    const __m256i pick = _mm256_setr_epi8(
        4 * k, 4 * k + 1, 4 * k, 4 * k + 1, 4 * k, 4 * k + 1, 4 * k, 4 * k + 1, 4 * k, 4 * k + 1,
        4 * k, 4 * k + 1, 4 * k, 4 * k + 1, 4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3, 4 * k + 2,
        4 * k + 3, 4 * k + 2, 4 * k + 3, 4 * k + 2, 4 * k + 3, 4 * k + 2, 4 * k + 3, 4 * k + 2,
        4 * k + 3, 4 * k + 2, 4 * k + 3, 4 * k + 2, 4 * k + 3);
    return _mm256_shuffle_epi8(half_scales, pick);
}

template <int N>
inline __m256i chain_total(const __m256i* partial) {
    __m256i total = partial[0];
    for (int c = 1; c < N; ++c) total = _mm256_add_epi32(total, partial[c]);
    return total;
}

template <class K>
struct SuperBlockKernel {
    template <int R, int T>
    static void tile(const GemmArgs& g, int64_t row0, int64_t tok0) {
        const int64_t n_blocks = g.n_in / 256;
        const uint8_t* w[R];
        for (int r = 0; r < R; ++r) w[r] = g.w + static_cast<size_t>(row0 + r) * g.w_row_bytes;
        ActQ8Block256 act[T];
        for (int t = 0; t < T; ++t) {
            act[t] =
                view_q8_block256(g.act + static_cast<size_t>(tok0 + t) * g.act_row_bytes, g.n_in);
        }
        __m256 acc[R][T];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
        }
        const NextTilePrefetch prefetch(g, row0, R, n_blocks);
        for (int64_t b = 0; b < n_blocks; ++b) {
            prefetch.step(b);
            SuperBlockInfo info[R];
            __m256i scales_low[R], scales_high[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                K::info(w[r] + b * K::kBytes, &info[r]);
                scales_low[r] = _mm256_permute2x128_si256(info[r].scales, info[r].scales, 0x00);
                scales_high[r] = _mm256_permute2x128_si256(info[r].scales, info[r].scales, 0x11);
            }
            // With one token, two partial sums per row (even / odd chunks) halve the chain of
            // dependent dot instructions; with several tokens the tile has enough chains.
            constexpr int kChains = T == 1 ? 2 : 1;
            __m256i isum[R][T * kChains];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
                for (int t = 0; t < T * kChains; ++t) isum[r][t] = _mm256_setzero_si256();
            }
#pragma GCC unroll 8
            for (int c = 0; c < 8; ++c) {
                __m256i codes[R], pair_scales[R];
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    const uint8_t* block = w[r] + b * K::kBytes;
                    codes[r] = K::codes(block, c);
                    pair_scales[r] = chunk_scales(c < 4 ? scales_low[r] : scales_high[r], c);
                }
#pragma GCC unroll 8
                for (int t = 0; t < T; ++t) {
                    const __m256i a = load256(act[t].q + 256 * b + 32 * c);
#pragma GCC unroll 8
                    for (int r = 0; r < R; ++r) {
                        __m256i pairs;
                        if constexpr (K::kSigned) {
                            pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(codes[r]),
                                                         _mm256_sign_epi8(a, codes[r]));
                        } else {
                            pairs = _mm256_maddubs_epi16(codes[r], a);
                        }
                        __m256i& sum = isum[r][t * kChains + c % kChains];
                        sum = dot_s16_i32(sum, pairs, pair_scales[r]);
                    }
                }
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                const __m256 da = _mm256_set1_ps(act[t].d[b]);
                __m256i bsum;
                if constexpr (K::kCoefs) bsum = load256(act[t].bsum + 16 * b);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    __m256 v = _mm256_mul_ps(
                        _mm256_cvtepi32_ps(chain_total<kChains>(&isum[r][t * kChains])),
                        _mm256_set1_ps(info[r].d));
                    if constexpr (K::kCoefs) {
                        const __m256i corr = _mm256_madd_epi16(info[r].coefs, bsum);
                        v = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr), _mm256_set1_ps(info[r].e),
                                             v);
                    }
                    acc[r][t] = _mm256_fmadd_ps(v, da, acc[r][t]);
                }
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) g.y[(tok0 + t) * g.y_stride + row0 + r] = hsum(acc[r][t]);
        }
    }
};

// ---- Float weights ---------------------------------------------------------------------------

// 8 weights as floats; traits give the bytes per element and the conversion.
struct F32Traits {
    static constexpr int kElemBytes = 4;
    static __m256 load8(const uint8_t* p) {
        return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    }
};
struct F16Traits {
    static constexpr int kElemBytes = 2;
    static __m256 load8(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
};
inline __m256 bf16x8_to_f32(const uint8_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
}
struct Bf16Traits {
    static constexpr int kElemBytes = 2;
    static __m256 load8(const uint8_t* p) { return bf16x8_to_f32(p); }
};

// Activations: f32 for F32 / F16 weights, bf16 for BF16 weights.
template <class K, bool kBf16Act>
struct FloatKernel {
    static __m256 load_act(const uint8_t* row, int64_t i) {
        if constexpr (kBf16Act) {
            return bf16x8_to_f32(row + 2 * i);
        } else {
            return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
        }
    }
    template <int R, int T>
    static void tile(const GemmArgs& g, int64_t row0, int64_t tok0) {
        const uint8_t* w[R];
        for (int r = 0; r < R; ++r) w[r] = g.w + static_cast<size_t>(row0 + r) * g.w_row_bytes;
        const uint8_t* x[T];
        for (int t = 0; t < T; ++t) x[t] = g.act + static_cast<size_t>(tok0 + t) * g.act_row_bytes;
        __m256 acc[R][T];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
        }
        // n_in is a multiple of 32 for every model tensor the engine multiplies; the tail loop
        // below keeps other lengths correct.
        int64_t i = 0;
        const NextTilePrefetch prefetch(g, row0, R, g.n_in / 8);
        for (; i + 8 <= g.n_in; i += 8) {
            prefetch.step(i / 8);
            __m256 wv[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) wv[r] = K::load8(w[r] + i * K::kElemBytes);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                const __m256 xv = load_act(x[t], i);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
        for (int t = 0; t < T; ++t) {
            for (int r = 0; r < R; ++r) {
                float sum = hsum(acc[r][t]);
                for (int64_t j = i; j < g.n_in; ++j) {
                    float wj, xj;
                    if constexpr (K::kElemBytes == 4) {
                        std::memcpy(&wj, w[r] + 4 * j, 4);
                    } else {
                        uint16_t h;
                        std::memcpy(&h, w[r] + 2 * j, 2);
                        wj = kBf16Act ? bf16_to_fp32(h) : _cvtsh_ss(h);
                    }
                    if constexpr (kBf16Act) {
                        uint16_t h;
                        std::memcpy(&h, x[t] + 2 * j, 2);
                        xj = bf16_to_fp32(h);
                    } else {
                        std::memcpy(&xj, x[t] + 4 * j, 4);
                    }
                    sum += wj * xj;
                }
                g.y[(tok0 + t) * g.y_stride + row0 + r] = sum;
            }
        }
    }
};

// ---- Driver over a row range -----------------------------------------------------------------

template <class Kernel, int MvR, int R, int T>
void gemm_rows(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    if (g.n_tokens == 1) {
        int64_t r = row_begin;
        for (; r + MvR <= row_end; r += MvR) {
            Kernel::template tile<MvR, 1>(g, r, 0);
        }
        for (; r < row_end; ++r) Kernel::template tile<1, 1>(g, r, 0);
        return;
    }
    if (g.n_tokens <= 2 * T) {
        // A few tokens (several sequences decoding together): still memory-bound, so rows go
        // one at a time as one sequential stream, each row serving every token.
        for (int64_t r = row_begin; r < row_end; ++r) {
            int64_t t = 0;
            for (; t + T <= g.n_tokens; t += T) Kernel::template tile<1, T>(g, r, t);
            if constexpr (T >= 4) {
                for (; t + T / 2 <= g.n_tokens; t += T / 2)
                    Kernel::template tile<1, T / 2>(g, r, t);
            }
            for (; t < g.n_tokens; ++t) Kernel::template tile<1, 1>(g, r, t);
        }
        return;
    }
    // Token blocks sized so that their converted activations stay in L2 while every row of
    // this range streams past them.
    const int64_t block_tokens = std::max<int64_t>(
        T, static_cast<int64_t>(kTokenBlockBytes / std::max<size_t>(1, g.act_row_bytes)) / T * T);
    for (int64_t t0 = 0; t0 < g.n_tokens; t0 += block_tokens) {
        const int64_t t1 = std::min(g.n_tokens, t0 + block_tokens);
        int64_t r = row_begin;
        for (; r + R <= row_end; r += R) {
            int64_t t = t0;
            for (; t + T <= t1; t += T) Kernel::template tile<R, T>(g, r, t);
            if constexpr (T >= 4) {
                for (; t + T / 2 <= t1; t += T / 2) Kernel::template tile<R, T / 2>(g, r, t);
            }
            for (; t < t1; ++t) Kernel::template tile<R, 1>(g, r, t);
        }
        for (; r < row_end; ++r) {
            int64_t t = t0;
            for (; t + T <= t1; t += T) Kernel::template tile<1, T>(g, r, t);
            for (; t < t1; ++t) Kernel::template tile<1, 1>(g, r, t);
        }
    }
}

// Rows in groups of 8 through Group (tiles of 8 rows x T tokens), the rest through Single.
template <class Group, class Single, class Lanes, int T>
void gemm_rows8(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    // Group kernels address 8 rows with 32-bit offsets; absurdly long rows go one at a time.
    const bool groupable = g.w_row_bytes <= (size_t{1} << 27);
    const int64_t grouped_end = groupable ? row_begin + (row_end - row_begin) / 8 * 8 : row_begin;
    if (g.n_tokens == 1) {
        // One token: rows one at a time, so that memory sees a single sequential stream (the
        // eight-row tiles read 8 streams at once, which DRAM served at half the bandwidth).
        Lanes::rows(g, row_begin, row_end);
        return;
    }
    if (g.n_tokens <= kTileTokens) {
        // A few tokens (several sequences decoding together): still memory-bound, so rows go
        // one at a time as one sequential stream, each row serving every token.
        for (int64_t r = row_begin; r < row_end; ++r) {
            int64_t t = 0;
            for (; t + kTileTokens <= g.n_tokens; t += kTileTokens) {
                Single::template tile<1, kTileTokens>(g, r, t);
            }
            if constexpr (kTileTokens >= 4) {
                for (; t + kTileTokens / 2 <= g.n_tokens; t += kTileTokens / 2) {
                    Single::template tile<1, kTileTokens / 2>(g, r, t);
                }
            }
            for (; t < g.n_tokens; ++t) Single::template tile<1, 1>(g, r, t);
        }
        return;
    }
    const int64_t block_tokens = std::max<int64_t>(
        T, static_cast<int64_t>(kTokenBlockBytes / std::max<size_t>(1, g.act_row_bytes)) / T * T);
    for (int64_t t0 = 0; t0 < g.n_tokens; t0 += block_tokens) {
        const int64_t t1 = std::min(g.n_tokens, t0 + block_tokens);
        for (int64_t r = row_begin; r < grouped_end; r += 8) {
            int64_t t = t0;
            for (; t + T <= t1; t += T) Group::template tile<T>(g, r, t);
            if constexpr (T >= 4) {
                for (; t + T / 2 <= t1; t += T / 2) Group::template tile<T / 2>(g, r, t);
            }
            for (; t < t1; ++t) Group::template tile<1>(g, r, t);
        }
        for (int64_t r = grouped_end; r < row_end; ++r) {
            int64_t t = t0;
            for (; t + kTileTokens <= t1; t += kTileTokens) {
                Single::template tile<1, kTileTokens>(g, r, t);
            }
            for (; t < t1; ++t) Single::template tile<1, 1>(g, r, t);
        }
    }
}

// Rows8 traits R and single-block traits S of one type.
template <class R, class S>
void gemm_entry8(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    gemm_rows8<Rows8Kernel<R>, Block32Kernel<S>, Lanes8Kernel<R, S>, kRows8Tokens>(g, row_begin,
                                                                                   row_end);
}

template <class Kernel>
void gemm_entry(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    gemm_rows<Kernel, kMatvecRows, kTileRows, kTileTokens>(g, row_begin, row_end);
}

GemmFn gemm_x86(gguf::TensorType type) {
    using gguf::TensorType;
    switch (type) {
        case TensorType::kF32:
            return &gemm_entry<FloatKernel<F32Traits, false>>;
        case TensorType::kF16:
            return &gemm_entry<FloatKernel<F16Traits, false>>;
        case TensorType::kBF16:
            return &gemm_entry<FloatKernel<Bf16Traits, true>>;
        case TensorType::kQ4_0:
            return &gemm_entry8<Q4_0Rows, Q4_0Traits>;
        case TensorType::kQ4_1:
            return &gemm_entry8<Q4_1Rows, Q4_1Traits>;
        case TensorType::kQ5_0:
            return &gemm_entry<Block32Kernel<Q5_0Traits>>;
        case TensorType::kQ5_1:
            return &gemm_entry<Block32Kernel<Q5_1Traits>>;
        case TensorType::kQ8_0:
            return &gemm_entry8<Q8_0Rows, Q8_0Traits>;
        case TensorType::kIQ4_NL:
            return &gemm_entry8<Iq4NlRows, Iq4NlTraits>;
        case TensorType::kQ2_K:
            return &gemm_entry<SuperBlockKernel<Q2_KTraits>>;
        case TensorType::kQ3_K:
            return &gemm_entry<SuperBlockKernel<Q3_KTraits>>;
        case TensorType::kQ4_K:
            return &gemm_entry<SuperBlockKernel<Q4_KTraits>>;
        case TensorType::kQ5_K:
            return &gemm_entry<SuperBlockKernel<Q5_KTraits>>;
        case TensorType::kQ6_K:
            return &gemm_entry<SuperBlockKernel<Q6_KTraits>>;
        case TensorType::kIQ4_XS:
            return &gemm_entry<SuperBlockKernel<Iq4XsTraits>>;
        default:
            return nullptr;
    }
}
