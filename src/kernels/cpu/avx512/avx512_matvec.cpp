// Single-token (matrix-vector) kernels on 512-bit registers. Generation reads every weight once
// per token, so the kernel must decode weights as fast as memory delivers them, and on few cores
// the 256-bit super-block kernel of gemm_x86.inl does not for Q6_K, the type of the output matrix
// (often a quarter to a third of a quantized model's bytes) and of some FFN matrices. Here one
// instruction decodes 64 codes, the scales are spread by one permutation per 64 codes, and each
// row is one sequential stream (rows one after another, as kMatvecRows = 1 in gemm_x86.inl).
//
// The same structure measured no faster than the existing kernels for Q4_0 and Q4_K on Zen 4,
// where 512-bit operations occupy the 256-bit pipes twice; they keep the 256-bit kernels.
//
// Compiled with the AVX-512 F/BW/VL/DQ + VNNI flags; called only when avx512_kernels_usable().
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "kernels/activations.h"
#include "kernels/kernel_table.h"

namespace cria::kernels {
namespace {

float load_fp16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof(h));
    return _cvtsh_ss(h);
}

__m512i load512(const void* p) {
    return _mm512_loadu_si512(p);
}
__m256i load256(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
// 32 bytes at p in both halves of a 512-bit vector.
__m512i load256_twice(const void* p) {
    return _mm512_broadcast_i64x4(load256(p));
}

// The row stream runs ahead of the reads: each step prefetches the bytes that the step
// kDistance bytes later will read (to L1; rows are read once). Prefetches never fault, but the
// address stays inside the matrix so that no pointer leaves its object.
class StreamPrefetch {
  public:
    static constexpr size_t kDistance = 8192;
    explicit StreamPrefetch(const GemmArgs& g)
        : end_(g.w + static_cast<size_t>(g.y_stride) * g.w_row_bytes) {}
    template <int kStepBytes>
    void step(const uint8_t* p) const {
        if (end_ - p <= static_cast<ptrdiff_t>(kDistance + kStepBytes)) return;
        for (int offset = 0; offset < kStepBytes; offset += 64) {
            _mm_prefetch(reinterpret_cast<const char*>(p + kDistance + offset), _MM_HINT_T0);
        }
    }

  private:
    const uint8_t* end_;
};

// ---- Q6_K: one super-block of 256 per step ----------------------------------------------
//
// 64 codes per vector, multiplied with the activation codes in 16-bit pairs (vpmaddubsw; codes
// stay below 64, so the pair sums cannot saturate) and the pairs with their group's 16-bit scale
// (vpdpwssd), which a word permutation spreads from the unpacked scales. The super-block's sums
// are then scaled once by d x d_a.

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
    const StreamPrefetch prefetch(g);
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* row = g.w + static_cast<size_t>(r) * g.w_row_bytes;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t s = 0; s < n_super; ++s) {
            const uint8_t* block = row + kBytes * s;
            prefetch.step<kBytes>(block);
            const __m256i group_scales = _mm256_cvtepi8_epi16(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 192)));  // [16]
            const __m512i scales = _mm512_castsi256_si512(group_scales);
            const int8_t* a = act.q + 256 * s;
            __m512i sum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
                const __m512i nibbles = load512(block + 64 * h);
                const __m512i high = load256_twice(block + 128 + 32 * h);
                const __m512i codes_first = _mm512_ternarylogic_epi32(
                    nibbles, low_nibbles,
                    _mm512_and_si512(_mm512_sllv_epi16(high, shift_first), high_bits), kLowOrHigh);
                const __m512i codes_second = _mm512_ternarylogic_epi32(
                    _mm512_srli_epi16(nibbles, 4), low_nibbles,
                    _mm512_and_si512(_mm512_srlv_epi16(high, shift_second), high_bits), kLowOrHigh);
                const __m512i pairs_first = _mm512_maddubs_epi16(codes_first, load512(a + 128 * h));
                const __m512i pairs_second =
                    _mm512_maddubs_epi16(codes_second, load512(a + 128 * h + 64));
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

}  // namespace

GemmFn matvec_avx512(gguf::TensorType type) {
    using gguf::TensorType;
    switch (type) {
        case TensorType::kQ6_K:
            return &q6_k_rows;
        default:
            return nullptr;
    }
}

}  // namespace cria::kernels
