// Whole-vocabulary loops of the sampler, written so that the compiler vectorizes them: a sampler
// step touches every one of up to ~256k logits several times, and scalar exp/max/sum over the
// vocabulary would cost more than the rest of the step together.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cria::sampling {

// e^x for x <= 0 (larger x is not supported), branch-free so loops over it vectorize. Relative
// error below 2e-7 down to x = -87; smaller x (and -inf) give exactly 0, which keeps banned tokens
// at probability zero.
inline float exp_nonpositive(float x) {
    constexpr float kLog2e = 1.44269504088896341f;
    // Adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits.
    constexpr float kRoundShift = 12582912.0f;
    constexpr int32_t kRoundShiftBits = 0x4B400000;
    // ln 2 split in a part exact in float and a correction, so x - n ln 2 stays accurate.
    constexpr float kLn2High = 0.693145751953125f;
    constexpr float kLn2Low = 1.428606765330187e-06f;
    constexpr float kLowest = -87.0f;  // e^-87 is near the smallest normal float

    const float clamped = x < kLowest ? kLowest : x;
    const float shifted = clamped * kLog2e + kRoundShift;
    const float n = shifted - kRoundShift;
    const float r = (clamped - n * kLn2High) - n * kLn2Low;  // |r| <= ln2 / 2
    // Taylor series of e^r to degree 7: the remainder is below 3e-9 for |r| <= ln2 / 2.
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t n_int = std::bit_cast<int32_t>(shifted) - kRoundShiftBits;
    const float two_to_n = std::bit_cast<float>((n_int + 127) << 23);
    return x < kLowest ? 0.0f : p * two_to_n;
}

// out = in with NaN replaced by -inf and +inf by the largest float. out.size() == in.size().
void copy_sanitized(std::span<const float> in, std::span<float> out);

// The largest value; -inf for an empty span.
float max_value(std::span<const float> values);

inline constexpr size_t kMaxBlock = 64;

// maxima[b] = the largest of values[b * kMaxBlock, (b + 1) * kMaxBlock); one pass that lets a
// selection skip every block that cannot hold a better value. maxima.size() must be
// ceil(values.size() / kMaxBlock).
void block_maxima(std::span<const float> values, std::span<float> maxima);

// The index of the largest value, the first one on ties; -1 when every value is -inf or the span
// is empty.
int64_t argmax_first(std::span<const float> values);

// weights[i] = e^((logits[i] - max_logit) * inverse_temperature); 0 for -inf logits.
// Requires max_logit >= every logit. weights.size() == logits.size().
void softmax_weights(std::span<const float> logits, float max_logit, float inverse_temperature,
                     std::span<float> weights);

inline constexpr size_t kSumBlock = 1024;

// Sum of non-negative values, accumulated per block of kSumBlock values in float lanes and across
// blocks in double. When `block_sums` is given it receives the sum of each block, which lets a
// draw find its block without walking the whole vocabulary.
double sum_nonnegative(std::span<const float> values, std::vector<double>* block_sums = nullptr);

// Sum of the values that are >= threshold.
double sum_at_least(std::span<const float> values, float threshold);

}  // namespace cria::sampling
