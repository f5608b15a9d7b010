#include "sampling/vector_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace cria::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(VectorMath, ExpNonPositiveIsAccurate) {
    double worst = 0.0;
    for (float x = -87.0f; x <= 0.0f; x += 0.00173f) {
        const double exact = std::exp(static_cast<double>(x));
        worst = std::max(worst, std::abs(exp_nonpositive(x) - exact) / exact);
    }
    EXPECT_LT(worst, 2e-7);
    EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
    EXPECT_EQ(exp_nonpositive(-kInf), 0.0f);
    EXPECT_EQ(exp_nonpositive(-1000.0f), 0.0f);
    EXPECT_GT(exp_nonpositive(-86.9f), 0.0f);
}

TEST(VectorMath, CopySanitized) {
    const std::vector<float> in = {1.0f, std::numeric_limits<float>::quiet_NaN(), kInf, -kInf,
                                   -3.0f};
    std::vector<float> out(in.size());
    copy_sanitized(in, out);
    EXPECT_EQ(out,
              (std::vector<float>{1.0f, -kInf, std::numeric_limits<float>::max(), -kInf, -3.0f}));
}

TEST(VectorMath, MaxAndArgmax) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    for (const size_t n : {1u, 7u, 8u, 255u, 256u, 257u, 5000u}) {
        std::vector<float> values(n);
        for (float& v : values) v = normal(rng);
        const auto best = std::max_element(values.begin(), values.end());
        EXPECT_EQ(max_value(values), *best);
        EXPECT_EQ(argmax_first(values), best - values.begin());
    }
    // Ties resolve to the first index, also across blocks.
    std::vector<float> ties(1000, 0.0f);
    ties[700] = 2.0f;
    ties[300] = 2.0f;
    ties[301] = 2.0f;
    EXPECT_EQ(argmax_first(ties), 300);
    EXPECT_EQ(argmax_first(std::vector<float>(10, -kInf)), -1);
    EXPECT_EQ(argmax_first(std::vector<float>{}), -1);
    EXPECT_EQ(max_value(std::vector<float>{}), -kInf);
}

TEST(VectorMath, BlockMaxima) {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal;
    std::vector<float> values(5 * kMaxBlock + 3);
    for (float& v : values) v = normal(rng);
    std::vector<float> maxima(6);
    block_maxima(values, maxima);
    for (size_t block = 0; block < maxima.size(); ++block) {
        const auto begin = values.begin() + static_cast<ptrdiff_t>(block * kMaxBlock);
        const auto end = values.begin() +
                         static_cast<ptrdiff_t>(std::min(values.size(), (block + 1) * kMaxBlock));
        EXPECT_EQ(maxima[block], *std::max_element(begin, end)) << block;
    }
}

TEST(VectorMath, SoftmaxWeights) {
    const std::vector<float> logits = {2.0f, 0.0f, -kInf, 1.0f};
    std::vector<float> weights(4);
    softmax_weights(logits, 2.0f, 0.5f, weights);
    EXPECT_FLOAT_EQ(weights[0], 1.0f);
    EXPECT_NEAR(weights[1], std::exp(-1.0), 1e-7);
    EXPECT_EQ(weights[2], 0.0f);
    EXPECT_NEAR(weights[3], std::exp(-0.5), 1e-7);
}

TEST(VectorMath, Sums) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> values(3 * kSumBlock + 17);
    for (float& v : values) v = uniform(rng);
    double exact = 0.0;
    double exact_at_least = 0.0;
    for (const float v : values) {
        exact += v;
        if (v >= 0.25f) exact_at_least += v;
    }
    std::vector<double> blocks;
    EXPECT_NEAR(sum_nonnegative(values, &blocks), exact, exact * 1e-6);
    ASSERT_EQ(blocks.size(), 4u);
    double from_blocks = 0.0;
    for (const double b : blocks) from_blocks += b;
    EXPECT_NEAR(from_blocks, exact, exact * 1e-6);
    EXPECT_NEAR(sum_at_least(values, 0.25f), exact_at_least, exact * 1e-6);
    EXPECT_EQ(sum_nonnegative(std::vector<float>{}), 0.0);
}

}  // namespace
}  // namespace cria::sampling
