// Small 256-bit helpers shared by the AVX2 and AVX-512 kernel files. This file is included by
// exactly one .cpp per ISA family, inside an anonymous namespace, so that each inclusion is
// compiled with that file's instruction-set flags and never shared between them by the linker.
//
// CRIA_X86_VNNI (0 or 1) must be defined by the including file: with 1, the AVX-512 VNNI forms
// of the integer dot products are used on 256-bit registers (needs AVX512VL + AVX512VNNI).

inline __m256i dot_u8s8_i32(__m256i acc, __m256i u8, __m256i s8) {
    // acc[i] += sum of the 4 products u8[4i+k] * s8[4i+k]. Without VNNI the pairwise 16-bit sums
    // saturate above 32767, so callers keep u8 * |s8| pairs below that (codes <= 128).
#if CRIA_X86_VNNI
    return _mm256_dpbusd_epi32(acc, u8, s8);
#else
    const __m256i pairs = _mm256_maddubs_epi16(u8, s8);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
#endif
}

inline __m256i dot_s16_i32(__m256i acc, __m256i a16, __m256i b16) {
    // acc[i] += a16[2i] * b16[2i] + a16[2i+1] * b16[2i+1].
#if CRIA_X86_VNNI
    return _mm256_dpwssd_epi32(acc, a16, b16);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a16, b16));
#endif
}

#include "kernels/cpu/x86_common/hsum_x86.inl"

inline float load_fp16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof(h));
    return _cvtsh_ss(h);
}

inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

inline __m256i load256(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
inline __m128i load128(const void* p) {
    return _mm_loadu_si128(static_cast<const __m128i*>(p));
}

// 16 bytes of nibbles -> 32 bytes: the low nibbles in the low half, the high nibbles in the high
// half (the element order of Q4_0 / Q4_1 / Q5_x / IQ4_NL blocks).
inline __m256i unpack_nibbles_halves(const uint8_t* p) {
    const __m128i packed = load128(p);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Byte j of the result is 0xFF when bit j of `bits` is set, else 0.
inline __m256i bits_to_byte_mask(uint32_t bits) {
    const __m256i spread =
        _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                            _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                             2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// ---- Activation conversion (must produce exactly the bytes of convert_act_ref).

// 8 floats -> 8 int32 codes round-half-even(x * inv).
inline __m256i quantize8(const float* x, __m256 inv) {
    return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), inv));
}

// Codes of n (a multiple of 32) floats with one scale; returns the scale, writes the codes.
inline float quantize_run_q8(const float* x, int n, int8_t* q) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, _mm256_loadu_ps(x + i)));
    }
    const float d = hmax(amax) / 127.0f;
    const __m256 inv = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    for (int i = 0; i < n; i += 32) {
        const __m256i a = quantize8(x + i, inv), b = quantize8(x + i + 8, inv);
        const __m256i c = quantize8(x + i + 16, inv), e = quantize8(x + i + 24, inv);
        // packs work per 128-bit lane; the final permute restores element order.
        const __m256i ab = _mm256_packs_epi32(a, b), ce = _mm256_packs_epi32(c, e);
        const __m256i packed = _mm256_packs_epi16(ab, ce);
        const __m256i ordered =
            _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), ordered);
    }
    return d;
}

inline int sum_codes(const int8_t* q, int n) {
    int sum = 0;
    for (int i = 0; i < n; ++i) sum += q[i];
    return sum;
}

// Round-to-nearest-even bf16 of 8 floats (NaN stays a quiet NaN), as in core/half.h.
inline __m128i to_bf16_8(const float* x) {
    const __m256i bits = _mm256_castps_si256(_mm256_loadu_ps(x));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
    const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFFFFFF));
    const __m256i is_nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F800000));
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
    const __m256i result = _mm256_blendv_epi8(rounded, quiet, is_nan);
    return _mm_packus_epi32(_mm256_castsi256_si128(result), _mm256_extracti128_si256(result, 1));
}

void convert_act_x86(ActFormat format, const float* x, uint8_t* dst, int64_t n) {
    const ActLayout layout = act_layout(format, n);
    switch (format) {
        case ActFormat::kF32:
            std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
            break;
        case ActFormat::kBf16: {
            auto* out = reinterpret_cast<__m128i*>(dst);
            for (int64_t i = 0; i < n / 8; ++i) _mm_storeu_si128(out + i, to_bf16_8(x + 8 * i));
            auto* tail = reinterpret_cast<uint16_t*>(dst);
            for (int64_t i = n / 8 * 8; i < n; ++i) tail[i] = fp32_to_bf16(x[i]);
            break;
        }
        case ActFormat::kQ8Block32: {
            auto* q = reinterpret_cast<int8_t*>(dst);
            auto* d = reinterpret_cast<float*>(dst + layout.scale_offset);
            auto* dsum = reinterpret_cast<float*>(dst + layout.sum_offset);
            auto* qsum = reinterpret_cast<int32_t*>(dst + layout.qsum_offset);
            for (int64_t b = 0; b < n / 32; ++b) {
                d[b] = quantize_run_q8(x + 32 * b, 32, q + 32 * b);
                qsum[b] = sum_codes(q + 32 * b, 32);
                dsum[b] = d[b] * static_cast<float>(qsum[b]);
            }
            fill_block_lanes(q, reinterpret_cast<int8_t*>(dst + layout.lanes_offset), n);
            break;
        }
        case ActFormat::kQ8Block256: {
            auto* q = reinterpret_cast<int8_t*>(dst);
            auto* d = reinterpret_cast<float*>(dst + layout.scale_offset);
            auto* bsum = reinterpret_cast<int16_t*>(dst + layout.sum_offset);
            for (int64_t b = 0; b < n / 256; ++b)
                d[b] = quantize_run_q8(x + 256 * b, 256, q + 256 * b);
            for (int64_t g = 0; g < n / 16; ++g) {
                bsum[g] = static_cast<int16_t>(sum_codes(q + 16 * g, 16));
            }
            auto* bsum32 = reinterpret_cast<int16_t*>(dst + layout.sum32_offset);
            for (int64_t j = 0; j < n / 32; ++j) {
                bsum32[j] = static_cast<int16_t>(bsum[2 * j] + bsum[2 * j + 1]);
            }
            break;
        }
    }
}
