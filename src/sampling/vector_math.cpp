// Built with -fno-trapping-math (see CMakeLists.txt): without it GCC may not evaluate both sides
// of a floating-point select, and none of these loops would vectorize. No code here reads the
// floating-point exception flags, so the results are the same.
#include "sampling/vector_math.h"

#include <algorithm>
#include <limits>

namespace cria::sampling {
namespace {

// Independent accumulators, one per vector lane, so reductions vectorize without -ffast-math.
constexpr size_t kLanes = 8;

}  // namespace

void copy_sanitized(std::span<const float> in, std::span<float> out) {
    constexpr float kLargest = std::numeric_limits<float>::max();
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const size_t n = std::min(in.size(), out.size());
    const float* source = in.data();
    float* destination = out.data();
    for (size_t i = 0; i < n; ++i) {
        const float value = source[i];
        const float capped = value < kLargest ? value : kLargest;  // NaN also becomes kLargest..
        destination[i] = value == value ? capped : kNegInf;        // ..and is then sent to -inf
    }
}

float max_value(std::span<const float> values) {
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    float lanes[kLanes];
    std::fill(std::begin(lanes), std::end(lanes), kNegInf);
    const float* data = values.data();
    size_t i = 0;
    for (; i + kLanes <= values.size(); i += kLanes) {
        for (size_t lane = 0; lane < kLanes; ++lane) {
            lanes[lane] = data[i + lane] > lanes[lane] ? data[i + lane] : lanes[lane];
        }
    }
    float result = kNegInf;
    for (const float lane : lanes) result = lane > result ? lane : result;
    for (; i < values.size(); ++i) result = data[i] > result ? data[i] : result;
    return result;
}

void block_maxima(std::span<const float> values, std::span<float> maxima) {
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const float* data = values.data();
    const size_t full_blocks = values.size() / kMaxBlock;
    for (size_t block = 0; block < full_blocks; ++block) {
        const float* start = data + block * kMaxBlock;
        float lanes[kLanes];
        std::fill(std::begin(lanes), std::end(lanes), kNegInf);
        for (size_t i = 0; i < kMaxBlock; i += kLanes) {
            for (size_t lane = 0; lane < kLanes; ++lane) {
                lanes[lane] = start[i + lane] > lanes[lane] ? start[i + lane] : lanes[lane];
            }
        }
        float result = kNegInf;
        for (const float lane : lanes) result = lane > result ? lane : result;
        maxima[block] = result;
    }
    if (full_blocks * kMaxBlock < values.size()) {
        maxima[full_blocks] = max_value(values.subspan(full_blocks * kMaxBlock));
    }
}

int64_t argmax_first(std::span<const float> values) {
    // The maximum of each block by the vectorized max, then one short scan of the first block
    // that holds the overall maximum.
    constexpr size_t kBlock = 256;
    float best = -std::numeric_limits<float>::infinity();
    size_t best_block = 0;
    for (size_t start = 0; start < values.size(); start += kBlock) {
        const float block_max =
            max_value(values.subspan(start, std::min(kBlock, values.size() - start)));
        if (block_max > best) {
            best = block_max;
            best_block = start;
        }
    }
    if (best == -std::numeric_limits<float>::infinity()) return -1;
    const size_t end = std::min(values.size(), best_block + kBlock);
    for (size_t i = best_block; i < end; ++i) {
        if (values[i] == best) return static_cast<int64_t>(i);
    }
    return -1;  // unreachable: the block holds `best`
}

void softmax_weights(std::span<const float> logits, float max_logit, float inverse_temperature,
                     std::span<float> weights) {
    const size_t n = std::min(logits.size(), weights.size());
    const float* source = logits.data();
    float* destination = weights.data();
    for (size_t i = 0; i < n; ++i) {
        destination[i] = exp_nonpositive((source[i] - max_logit) * inverse_temperature);
    }
}

double sum_nonnegative(std::span<const float> values, std::vector<double>* block_sums) {
    if (block_sums != nullptr) block_sums->clear();
    double total = 0.0;
    const float* data = values.data();
    for (size_t start = 0; start < values.size(); start += kSumBlock) {
        const size_t end = std::min(values.size(), start + kSumBlock);
        float lanes[kLanes] = {};
        size_t i = start;
        for (; i + kLanes <= end; i += kLanes) {
            for (size_t lane = 0; lane < kLanes; ++lane) lanes[lane] += data[i + lane];
        }
        float block = 0.0f;
        for (; i < end; ++i) block += data[i];
        for (const float lane : lanes) block += lane;
        if (block_sums != nullptr) block_sums->push_back(block);
        total += block;
    }
    return total;
}

double sum_at_least(std::span<const float> values, float threshold) {
    double total = 0.0;
    const float* data = values.data();
    for (size_t start = 0; start < values.size(); start += kSumBlock) {
        const size_t end = std::min(values.size(), start + kSumBlock);
        float lanes[kLanes] = {};
        size_t i = start;
        for (; i + kLanes <= end; i += kLanes) {
            for (size_t lane = 0; lane < kLanes; ++lane) {
                const float value = data[i + lane];
                lanes[lane] += value >= threshold ? value : 0.0f;
            }
        }
        float block = 0.0f;
        for (; i < end; ++i) block += data[i] >= threshold ? data[i] : 0.0f;
        for (const float lane : lanes) block += lane;
        total += block;
    }
    return total;
}

}  // namespace cria::sampling
