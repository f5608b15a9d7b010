// BF16 weights with AVX-512 BF16 (vdpbf16ps): 32 bf16 products per instruction, accumulated in
// f32, against activations rounded to bf16 (ActFormat::kBf16). Compiled with the AVX-512 flags
// plus -mavx512bf16; only called when the CPU reports AVX512_BF16.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 intrinsics use _mm512_undefined_*() operands that its own uninitialized-use
// analysis reports after inlining (false positives inside the compiler's headers).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#endif
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernel_table.h"

namespace cria::kernels {
namespace {

inline __m512bh load_bf16x32(const uint8_t* p, __mmask32 mask) {
    return reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, p));
}

// R rows x T tokens of y over the whole row; the last partial group of 32 is loaded masked
// (zeros contribute nothing).
template <int R, int T>
void tile(const GemmArgs& g, int64_t row0, int64_t tok0) {
    const uint8_t* w[R];
    for (int r = 0; r < R; ++r) w[r] = g.w + static_cast<size_t>(row0 + r) * g.w_row_bytes;
    const uint8_t* x[T];
    for (int t = 0; t < T; ++t) x[t] = g.act + static_cast<size_t>(tok0 + t) * g.act_row_bytes;
    __m512 acc[R][T];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < g.n_in; i += 32) {
        const int64_t left = g.n_in - i;
        const __mmask32 mask = left >= 32 ? ~__mmask32{0} : (__mmask32{1} << left) - 1;
        __m512bh wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            wv[r] = load_bf16x32(w[r] + 2 * i, mask);
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m512bh xv = load_bf16x32(x[t] + 2 * i, mask);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            g.y[(tok0 + t) * g.y_stride + row0 + r] = _mm512_reduce_add_ps(acc[r][t]);
        }
    }
}

constexpr int kMatvecRows = 1;
constexpr int kTileRows = 4;
constexpr int kTileTokens = 4;

void gemm_bf16(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    if (g.n_tokens == 1) {
        int64_t r = row_begin;
        for (; r + kMatvecRows <= row_end; r += kMatvecRows) tile<kMatvecRows, 1>(g, r, 0);
        for (; r < row_end; ++r) tile<1, 1>(g, r, 0);
        return;
    }
    int64_t r = row_begin;
    for (; r + kTileRows <= row_end; r += kTileRows) {
        int64_t t = 0;
        for (; t + kTileTokens <= g.n_tokens; t += kTileTokens)
            tile<kTileRows, kTileTokens>(g, r, t);
        for (; t < g.n_tokens; ++t) tile<kTileRows, 1>(g, r, t);
    }
    for (; r < row_end; ++r) {
        int64_t t = 0;
        for (; t + kTileTokens <= g.n_tokens; t += kTileTokens) tile<1, kTileTokens>(g, r, t);
        for (; t < g.n_tokens; ++t) tile<1, 1>(g, r, t);
    }
}

}  // namespace

GemmFn gemm_avx512_bf16(gguf::TensorType type) {
    return type == gguf::TensorType::kBF16 ? &gemm_bf16 : nullptr;
}

}  // namespace cria::kernels
