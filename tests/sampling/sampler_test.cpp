#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace cria::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Plain sampling from softmax(logits / temperature): no truncation, no penalties.
SamplingParams plain_params(float temperature = 1.0f, uint64_t seed = 1234) {
    SamplingParams params;
    params.temperature = temperature;
    params.top_k = 0;
    params.top_p = 1.0f;
    params.min_p = 0.0f;
    params.repeat_penalty = 1.0f;
    params.seed = seed;
    return params;
}

Sampler make_sampler(const SamplingParams& params, int32_t n_vocab) {
    Expected<Sampler> sampler = Sampler::create(params, n_vocab);
    EXPECT_TRUE(sampler.has_value()) << sampler.status().message();
    return std::move(sampler).value();
}

int32_t sample_token(Sampler& sampler, const std::vector<float>& logits,
                     const TokenBitmask* mask = nullptr) {
    Expected<SampledToken> sampled = sampler.sample(logits, mask);
    EXPECT_TRUE(sampled.has_value()) << sampled.status().message();
    return sampled.has_value() ? sampled->token : -1;
}

std::vector<float> random_logits(std::mt19937& rng, int32_t n_vocab, float scale = 5.0f) {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    for (float& logit : logits) logit = normal(rng);
    return logits;
}

int32_t argmax_of(const std::vector<float>& logits) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::vector<float> logits_from_probs(const std::vector<double>& probs) {
    std::vector<float> logits;
    for (const double p : probs) logits.push_back(static_cast<float>(std::log(p)));
    return logits;
}

std::map<int32_t, int> histogram(Sampler& sampler, const std::vector<float>& logits, int draws) {
    std::map<int32_t, int> counts;
    for (int i = 0; i < draws; ++i) ++counts[sample_token(sampler, logits)];
    return counts;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature = 1.0) {
    double max_logit = -std::numeric_limits<double>::infinity();
    for (const float l : logits) max_logit = std::max(max_logit, static_cast<double>(l));
    std::vector<double> probs;
    double sum = 0.0;
    for (const float l : logits) {
        probs.push_back(std::exp((l - max_logit) / temperature));
        sum += probs.back();
    }
    for (double& p : probs) p /= sum;
    return probs;
}

double chi_square(const std::map<int32_t, int>& counts, const std::vector<double>& expected_probs,
                  int draws) {
    double chi2 = 0.0;
    for (size_t token = 0; token < expected_probs.size(); ++token) {
        const double expected = expected_probs[token] * draws;
        const auto it = counts.find(static_cast<int32_t>(token));
        const double observed = it == counts.end() ? 0.0 : it->second;
        chi2 += (observed - expected) * (observed - expected) / expected;
    }
    return chi2;
}

TEST(Sampler, GreedyIsArgmax) {
    std::mt19937 rng(7);
    SamplingParams params = plain_params(0.0f);
    Sampler sampler = make_sampler(params, 5000);
    for (int step = 0; step < 50; ++step) {
        const std::vector<float> logits = random_logits(rng, 5000);
        EXPECT_EQ(sample_token(sampler, logits), argmax_of(logits));
    }
}

TEST(Sampler, GreedyBreaksTiesTowardTheLowestId) {
    Sampler sampler = make_sampler(plain_params(0.0f), 6);
    EXPECT_EQ(sample_token(sampler, {1.0f, 3.0f, 0.5f, 3.0f, 3.0f, 2.0f}), 1);
}

TEST(Sampler, GreedyDoesNotDependOnTheSeed) {
    std::mt19937 rng(8);
    const std::vector<float> logits = random_logits(rng, 300);
    Sampler a = make_sampler(plain_params(0.0f, 1), 300);
    Sampler b = make_sampler(plain_params(0.0f, 99), 300);
    EXPECT_EQ(sample_token(a, logits), sample_token(b, logits));
}

TEST(Sampler, TopKOneEqualsGreedy) {
    std::mt19937 rng(9);
    SamplingParams params = plain_params(1.5f);
    params.top_k = 1;
    Sampler sampler = make_sampler(params, 2000);
    for (int step = 0; step < 100; ++step) {
        // Coarse logits so that ties occur and are broken like argmax breaks them.
        std::vector<float> logits = random_logits(rng, 2000);
        for (float& logit : logits) logit = std::round(logit);
        EXPECT_EQ(sample_token(sampler, logits), argmax_of(logits));
    }
}

std::vector<int32_t> generate(Sampler& sampler, uint32_t logits_seed, int steps, int32_t n_vocab) {
    std::mt19937 rng(logits_seed);
    std::vector<int32_t> tokens;
    for (int step = 0; step < steps; ++step) {
        tokens.push_back(sample_token(sampler, random_logits(rng, n_vocab, 1.0f)));
    }
    return tokens;
}

TEST(Sampler, SameSeedGivesTheSameSequence) {
    SamplingParams params;  // the defaults: top_k, top_p, repeat penalty all active
    params.seed = 42;
    Sampler a = make_sampler(params, 4000);
    Sampler b = make_sampler(params, 4000);
    EXPECT_EQ(a.seed(), 42u);
    const std::vector<int32_t> first = generate(a, 5, 200, 4000);
    const std::vector<int32_t> second = generate(b, 5, 200, 4000);
    EXPECT_EQ(first, second);
    // Not a constant sequence: the test would be empty otherwise.
    EXPECT_GT(std::set<int32_t>(first.begin(), first.end()).size(), 50u);
}

TEST(Sampler, DifferentSeedsGiveDifferentSequences) {
    SamplingParams params;
    params.seed = 42;
    Sampler a = make_sampler(params, 4000);
    params.seed = 43;
    Sampler b = make_sampler(params, 4000);
    EXPECT_NE(generate(a, 5, 100, 4000), generate(b, 5, 100, 4000));
}

TEST(Sampler, SequencesDoNotShareRandomState) {
    // Interleaving another sampler's draws must not change this sequence.
    SamplingParams params = plain_params(1.0f, 77);
    Sampler alone = make_sampler(params, 500);
    const std::vector<int32_t> expected = generate(alone, 11, 60, 500);

    Sampler mine = make_sampler(params, 500);
    Sampler other = make_sampler(plain_params(1.0f, 77), 500);
    std::mt19937 rng(11);
    std::mt19937 other_rng(12);
    std::vector<int32_t> interleaved;
    for (int step = 0; step < 60; ++step) {
        sample_token(other, random_logits(other_rng, 500, 1.0f));
        interleaved.push_back(sample_token(mine, random_logits(rng, 500, 1.0f)));
        sample_token(other, random_logits(other_rng, 500, 1.0f));
    }
    EXPECT_EQ(interleaved, expected);
}

TEST(Sampler, UnseededSamplerReportsAReproducibleSeed) {
    SamplingParams params = plain_params();
    params.seed.reset();
    Sampler unseeded = make_sampler(params, 700);
    const std::vector<int32_t> tokens = generate(unseeded, 3, 40, 700);
    params.seed = unseeded.seed();
    Sampler replay = make_sampler(params, 700);
    EXPECT_EQ(generate(replay, 3, 40, 700), tokens);
}

TEST(Sampler, TemperatureOneMatchesSoftmaxFrequencies) {
    const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 0.3f, 1.2f};
    constexpr int kDraws = 40000;
    Sampler sampler = make_sampler(plain_params(1.0f, 2024), 8);
    const auto counts = histogram(sampler, logits, kDraws);
    // 7 degrees of freedom: P(chi2 > 24.32) = 0.001 for a correct sampler.
    EXPECT_LT(chi_square(counts, softmax(logits), kDraws), 24.32);
    // The wrong distribution must be rejected by the same test, or it would prove nothing.
    EXPECT_GT(chi_square(counts, softmax(logits, 0.8), kDraws), 24.32);
}

TEST(Sampler, TemperatureScalesLogits) {
    const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 0.3f, 1.2f};
    constexpr int kDraws = 40000;
    Sampler sampler = make_sampler(plain_params(0.6f, 99), 8);
    const auto counts = histogram(sampler, logits, kDraws);
    EXPECT_LT(chi_square(counts, softmax(logits, 0.6), kDraws), 24.32);
    EXPECT_GT(chi_square(counts, softmax(logits, 1.0), kDraws), 24.32);
}

TEST(Sampler, UntruncatedDrawsSpanTheWholeVocabulary) {
    // Several summation blocks: the draw first picks a block by its mass, then a token inside.
    std::mt19937 rng(55);
    constexpr int32_t kVocab = 4096 + 300;
    std::vector<float> logits = random_logits(rng, kVocab, 1.0f);
    for (int32_t i = 0; i < 1024; ++i) logits[static_cast<size_t>(i)] = kNegInf;  // block 0 empty
    const std::vector<double> probs = softmax(logits);
    std::vector<double> group_probs(5, 0.0);
    for (int32_t i = 0; i < kVocab; ++i) {
        group_probs[static_cast<size_t>(i / 1024)] += probs[static_cast<size_t>(i)];
    }
    constexpr int kDraws = 20000;
    Sampler sampler = make_sampler(plain_params(1.0f, 77), kVocab);
    std::map<int32_t, int> group_counts;
    for (const auto& [token, count] : histogram(sampler, logits, kDraws)) {
        ASSERT_GE(token, 1024);
        group_counts[token / 1024] += count;
    }
    group_probs.erase(group_probs.begin());  // the empty block: chi-square needs p > 0
    std::map<int32_t, int> shifted;
    for (const auto& [group, count] : group_counts) shifted[group - 1] = count;
    // 3 degrees of freedom: P(chi2 > 16.27) = 0.001.
    EXPECT_LT(chi_square(shifted, group_probs, kDraws), 16.27);
}

TEST(Sampler, TopKRenormalizesOverTheKBest) {
    const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 0.3f, 1.2f};
    SamplingParams params = plain_params(1.0f, 5);
    params.top_k = 3;  // tokens 4, 7, 0
    Sampler sampler = make_sampler(params, 8);
    constexpr int kDraws = 20000;
    const auto counts = histogram(sampler, logits, kDraws);
    const std::vector<float> kept = {logits[4], logits[7], logits[0]};
    const std::vector<double> expected = softmax(kept);
    std::map<int32_t, int> remapped;
    for (const auto& [token, count] : counts) {
        ASSERT_TRUE(token == 4 || token == 7 || token == 0) << token;
        remapped[token == 4 ? 0 : token == 7 ? 1 : 2] = count;
    }
    // 2 degrees of freedom: P(chi2 > 13.82) = 0.001.
    EXPECT_LT(chi_square(remapped, expected, kDraws), 13.82);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
    const std::vector<float> logits = logits_from_probs({0.5, 0.3, 0.15, 0.05});
    struct Case {
        float top_p;
        std::set<int32_t> kept;
    };
    for (const Case& c : {Case{0.0f, {0}}, Case{0.45f, {0}}, Case{0.7f, {0, 1}},
                          Case{0.85f, {0, 1, 2}}, Case{0.97f, {0, 1, 2, 3}}}) {
        SamplingParams params = plain_params(1.0f, 31);
        params.top_p = c.top_p;
        Sampler sampler = make_sampler(params, 4);
        std::set<int32_t> seen;
        for (const auto& [token, count] : histogram(sampler, logits, 4000)) seen.insert(token);
        EXPECT_EQ(seen, c.kept) << "top_p " << c.top_p;
    }
}

TEST(Sampler, TopPRenormalizesInsideTheNucleus) {
    const std::vector<float> logits = logits_from_probs({0.5, 0.3, 0.15, 0.05});
    SamplingParams params = plain_params(1.0f, 8);
    params.top_p = 0.7f;
    Sampler sampler = make_sampler(params, 4);
    constexpr int kDraws = 20000;
    const auto counts = histogram(sampler, logits, kDraws);
    // 1 degree of freedom: P(chi2 > 10.83) = 0.001.
    EXPECT_LT(chi_square(counts, {0.625, 0.375}, kDraws), 10.83);
}

TEST(Sampler, TopPOverAWideNucleus) {
    // 1000 equal tokens and top_p 0.5: the nucleus is the 500 lowest ids (ties break by id), far
    // more than one sorting chunk.
    const std::vector<float> logits(1000, 0.0f);
    SamplingParams params = plain_params(1.0f, 3);
    params.top_p = 0.5f;
    Sampler sampler = make_sampler(params, 1000);
    const auto counts = histogram(sampler, logits, 20000);
    EXPECT_LT(counts.rbegin()->first, 500);
    EXPECT_GT(counts.size(), 490u);
}

// The nucleus by brute force: sort, then the shortest prefix whose probability reaches top_p.
std::set<int32_t> reference_nucleus(const std::vector<float>& logits, float temperature,
                                    size_t top_k, float top_p) {
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
               (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
    });
    if (top_k > 0 && top_k < order.size()) order.resize(top_k);
    std::vector<float> kept;
    for (const int32_t token : order) kept.push_back(logits[static_cast<size_t>(token)]);
    const std::vector<double> probs = softmax(kept, temperature);
    std::set<int32_t> nucleus;
    double cumulative = 0.0;
    for (size_t i = 0; i < order.size(); ++i) {
        nucleus.insert(order[i]);
        cumulative += probs[i];
        if (cumulative >= top_p) break;
    }
    return nucleus;
}

TEST(Sampler, TopPMatchesBruteForceOnLargeVocabularies) {
    std::mt19937 rng(41);
    struct Case {
        int32_t top_k;
        float top_p;
        float temperature;
    };
    for (const Case& c : {Case{0, 0.5f, 1.0f}, Case{0, 0.05f, 0.7f}, Case{700, 0.8f, 1.3f},
                          Case{0, 0.995f, 1.0f}}) {
        const std::vector<float> logits = random_logits(rng, 2000, 1.0f);
        const std::set<int32_t> nucleus =
            reference_nucleus(logits, c.temperature, static_cast<size_t>(c.top_k), c.top_p);
        SamplingParams params = plain_params(c.temperature, 19);
        params.top_k = c.top_k;
        params.top_p = c.top_p;
        Sampler sampler = make_sampler(params, 2000);
        const auto counts = histogram(sampler, logits, 8000);
        for (const auto& [token, count] : counts) {
            ASSERT_TRUE(nucleus.count(token)) << "token " << token << " outside the nucleus";
        }
        if (nucleus.size() <= 100) {
            EXPECT_EQ(counts.size(), nucleus.size());  // every member is likely enough to show
        } else {
            EXPECT_GT(counts.size(), nucleus.size() * 3 / 4);
        }
    }
}

TEST(Sampler, TopPIsMeasuredAfterTopK) {
    // top_k 2 leaves {0.5, 0.3} -> renormalized {0.625, 0.375}; top_p 0.6 then keeps only token 0
    // (without top_k, 0.5 < 0.6 would have kept token 1 too).
    const std::vector<float> logits = logits_from_probs({0.5, 0.3, 0.15, 0.05});
    SamplingParams params = plain_params(1.0f, 4);
    params.top_k = 2;
    params.top_p = 0.6f;
    Sampler sampler = make_sampler(params, 4);
    const auto counts = histogram(sampler, logits, 2000);
    EXPECT_EQ(counts.size(), 1u);
    EXPECT_EQ(counts.begin()->first, 0);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
    const std::vector<float> logits = logits_from_probs({0.5, 0.3, 0.15, 0.05});
    struct Case {
        float temperature;
        float min_p;
        std::set<int32_t> kept;
    };
    // At temperature 0.5 the probabilities are proportional to p^2: ratios 1, 0.36, 0.09, 0.01.
    for (const Case& c :
         {Case{1.0f, 0.25f, {0, 1, 2}}, Case{1.0f, 0.5f, {0, 1}}, Case{1.0f, 0.05f, {0, 1, 2, 3}},
          Case{1.0f, 1.0f, {0}}, Case{0.5f, 0.25f, {0, 1}}, Case{0.5f, 0.05f, {0, 1, 2}}}) {
        SamplingParams params = plain_params(c.temperature, 17);
        params.min_p = c.min_p;
        Sampler sampler = make_sampler(params, 4);
        std::set<int32_t> seen;
        for (const auto& [token, count] : histogram(sampler, logits, 4000)) seen.insert(token);
        EXPECT_EQ(seen, c.kept) << "temperature " << c.temperature << " min_p " << c.min_p;
    }
}

TEST(Sampler, MinPAndTopPTogetherKeepTheShorterPrefix) {
    const std::vector<float> logits = logits_from_probs({0.4, 0.3, 0.2, 0.1});
    SamplingParams params = plain_params(1.0f, 6);
    params.top_p = 0.95f;  // alone: all four tokens
    params.min_p = 0.6f;   // alone: 0.4 and 0.3 (0.3 / 0.4 = 0.75)
    Sampler sampler = make_sampler(params, 4);
    std::set<int32_t> seen;
    for (const auto& [token, count] : histogram(sampler, logits, 3000)) seen.insert(token);
    EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
    params.top_p = 0.3f;  // now top_p is the tighter one
    Sampler tighter = make_sampler(params, 4);
    seen.clear();
    for (const auto& [token, count] : histogram(tighter, logits, 3000)) seen.insert(token);
    EXPECT_EQ(seen, (std::set<int32_t>{0}));
}

std::vector<float> adjusted(const Sampler& sampler, std::vector<float> logits) {
    EXPECT_TRUE(sampler.adjust_logits(logits).is_ok());
    return logits;
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
    SamplingParams params = plain_params();
    params.repeat_penalty = 2.0f;
    params.repeat_last_n = 64;
    Sampler sampler = make_sampler(params, 5);
    const std::vector<int32_t> prompt = {0, 1, 1};
    ASSERT_TRUE(sampler.accept_prompt(prompt).is_ok());
    // Repeats inside the window do not compound: the penalty applies once per token.
    EXPECT_EQ(adjusted(sampler, {2.0f, -2.0f, 1.0f, 3.0f, 0.0f}),
              (std::vector<float>{1.0f, -4.0f, 1.0f, 3.0f, 0.0f}));
}

TEST(Sampler, RepeatPenaltyOnlySeesTheLastNTokens) {
    SamplingParams params = plain_params();
    params.repeat_penalty = 2.0f;
    params.repeat_last_n = 2;
    Sampler sampler = make_sampler(params, 5);
    const std::vector<int32_t> prompt = {0, 1, 2};
    ASSERT_TRUE(sampler.accept_prompt(prompt).is_ok());
    EXPECT_EQ(adjusted(sampler, {4.0f, 4.0f, 4.0f, 4.0f, 4.0f}),
              (std::vector<float>{4.0f, 2.0f, 2.0f, 4.0f, 4.0f}));
    ASSERT_TRUE(sampler.accept(3).is_ok());  // window is now {2, 3}
    EXPECT_EQ(adjusted(sampler, {4.0f, 4.0f, 4.0f, 4.0f, 4.0f}),
              (std::vector<float>{4.0f, 4.0f, 2.0f, 2.0f, 4.0f}));

    params.repeat_last_n = -1;  // the whole history
    Sampler whole = make_sampler(params, 5);
    ASSERT_TRUE(whole.accept_prompt(prompt).is_ok());
    ASSERT_TRUE(whole.accept(3).is_ok());
    EXPECT_EQ(adjusted(whole, {4.0f, 4.0f, 4.0f, 4.0f, 4.0f}),
              (std::vector<float>{2.0f, 2.0f, 2.0f, 2.0f, 4.0f}));

    params.repeat_last_n = 0;  // disabled
    Sampler disabled = make_sampler(params, 5);
    ASSERT_TRUE(disabled.accept_prompt(prompt).is_ok());
    EXPECT_EQ(adjusted(disabled, {4.0f, 4.0f, 4.0f, 4.0f, 4.0f}),
              (std::vector<float>{4.0f, 4.0f, 4.0f, 4.0f, 4.0f}));
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountGeneratedTokensOnly) {
    SamplingParams params = plain_params();
    params.presence_penalty = 0.5f;
    params.frequency_penalty = 0.25f;
    Sampler sampler = make_sampler(params, 5);
    const std::vector<int32_t> prompt = {0, 0, 0};
    ASSERT_TRUE(sampler.accept_prompt(prompt).is_ok());
    ASSERT_TRUE(sampler.accept(2).is_ok());
    ASSERT_TRUE(sampler.accept(2).is_ok());
    ASSERT_TRUE(sampler.accept(3).is_ok());
    EXPECT_EQ(sampler.n_generated(), 3u);
    // token 2: 1 - (2 * 0.25 + 0.5) = 0; token 3: 1 - (0.25 + 0.5) = 0.25
    EXPECT_EQ(adjusted(sampler, {1.0f, 1.0f, 1.0f, 1.0f, 1.0f}),
              (std::vector<float>{1.0f, 1.0f, 0.0f, 0.25f, 1.0f}));
}

TEST(Sampler, SampledTokensEnterTheHistory) {
    SamplingParams params = plain_params(0.0f);
    params.repeat_penalty = 4.0f;
    Sampler sampler = make_sampler(params, 3);
    const std::vector<float> logits = {3.0f, 2.0f, 1.0f};
    EXPECT_EQ(sample_token(sampler, logits), 0);
    EXPECT_EQ(sample_token(sampler, logits), 1);  // 3 / 4 < 2
    EXPECT_EQ(sample_token(sampler, logits), 2);  // 2 / 4 < 1
    EXPECT_EQ(sampler.n_generated(), 3u);
}

TEST(Sampler, HistoryRejectsTokensOutsideTheVocabulary) {
    Sampler sampler = make_sampler(plain_params(), 10);
    const std::vector<int32_t> prompt = {1, 2, 10};
    const Status status = sampler.accept_prompt(prompt);
    ASSERT_FALSE(status.is_ok());
    EXPECT_NE(status.message().find("10"), std::string::npos) << status.message();
    EXPECT_FALSE(sampler.accept(-1).is_ok());
}

TEST(Sampler, LogitBiasMinus100Bans) {
    std::vector<float> logits(50, 0.0f);
    logits[7] = 40.0f;  // overwhelmingly likely without the bias
    SamplingParams params = plain_params(1.0f, 12);
    params.logit_bias = {{7, -100.0f}};
    Sampler sampler = make_sampler(params, 50);
    const auto counts = histogram(sampler, logits, 3000);
    EXPECT_EQ(counts.count(7), 0u);
    EXPECT_GT(counts.size(), 40u);

    params.temperature = 0.0f;
    Sampler greedy = make_sampler(params, 50);
    EXPECT_NE(sample_token(greedy, logits), 7);
}

TEST(Sampler, LogitBiasPlus100Forces) {
    std::mt19937 rng(21);
    SamplingParams params;  // defaults: temperature 0.8, top_k 40, top_p 0.9
    params.seed = 5;
    params.repeat_penalty = 1.0f;  // a penalty would only divide the forced logit by 1.1
    params.logit_bias = {{123, 100.0f}};
    Sampler sampler = make_sampler(params, 1000);
    for (int step = 0; step < 200; ++step) {
        std::uniform_real_distribution<float> uniform(-10.0f, 10.0f);
        std::vector<float> logits(1000);
        for (float& logit : logits) logit = uniform(rng);
        EXPECT_EQ(sample_token(sampler, logits), 123);
    }
}

TEST(Sampler, LogitBiasAddsToTheLogit) {
    SamplingParams params = plain_params();
    params.logit_bias = {{1, 2.5f}, {3, -1.0f}};
    Sampler sampler = make_sampler(params, 4);
    EXPECT_EQ(adjusted(sampler, {1.0f, 1.0f, 1.0f, 1.0f}),
              (std::vector<float>{1.0f, 3.5f, 1.0f, 0.0f}));
}

TEST(Sampler, BadLogitBiasIdFailsCreation) {
    SamplingParams params = plain_params();
    params.logit_bias = {{32000, 1.0f}};
    const Expected<Sampler> sampler = Sampler::create(params, 32000);
    ASSERT_FALSE(sampler.has_value());
    EXPECT_NE(sampler.status().message().find("32000"), std::string::npos);
}

TEST(Sampler, EverythingBannedIsAnError) {
    SamplingParams params = plain_params();
    params.logit_bias = {{0, -100.0f}, {1, -100.0f}};
    Sampler sampler = make_sampler(params, 2);
    const std::vector<float> logits = {1.0f, 2.0f};
    EXPECT_FALSE(sampler.sample(logits).has_value());
    params.temperature = 0.0f;
    Sampler greedy = make_sampler(params, 2);
    EXPECT_FALSE(greedy.sample(logits).has_value());
}

TEST(Sampler, TinyTemperaturesBehaveLikeGreedy) {
    std::mt19937 rng(14);
    const std::vector<float> logits = random_logits(rng, 500);
    for (const float temperature : {1e-3f, 1e-20f, 1e-40f /* denormal */}) {
        Sampler sampler = make_sampler(plain_params(temperature), 500);
        for (int i = 0; i < 20; ++i) EXPECT_EQ(sample_token(sampler, logits), argmax_of(logits));
    }
}

TEST(Sampler, NaNLogitsAreNeverSampled) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> logits = {nan, 0.0f, nan, 1.0f, nan};
    Sampler greedy = make_sampler(plain_params(0.0f), 5);
    EXPECT_EQ(sample_token(greedy, logits), 3);
    Sampler sampler = make_sampler(plain_params(1.0f), 5);
    for (const auto& [token, count] : histogram(sampler, logits, 500)) {
        EXPECT_TRUE(token == 1 || token == 3) << token;
    }
    const std::vector<float> all_nan(4, nan);
    EXPECT_FALSE(sampler.sample(all_nan).has_value());
}

TEST(Sampler, WrongLogitsSizeIsAnError) {
    Sampler sampler = make_sampler(plain_params(), 10);
    const std::vector<float> logits(9, 0.0f);
    const Expected<SampledToken> sampled = sampler.sample(logits);
    ASSERT_FALSE(sampled.has_value());
    EXPECT_EQ(sampled.status().code(), ErrorCode::kInvalidArgument);
}

TEST(Sampler, MaskRestrictsTheChoice) {
    std::mt19937 rng(4);
    const std::vector<float> logits = random_logits(rng, 100);
    TokenBitmask mask(100, /*allowed=*/false);
    mask.allow(3);
    mask.allow(17);
    mask.allow(99);
    Sampler greedy = make_sampler(plain_params(0.0f), 100);
    const int32_t expected =
        std::max({std::pair{logits[3], -3}, std::pair{logits[17], -17}, std::pair{logits[99], -99}})
            .second;
    EXPECT_EQ(sample_token(greedy, logits, &mask), -expected);

    Sampler sampler = make_sampler(plain_params(2.0f), 100);
    std::set<int32_t> seen;
    for (int i = 0; i < 2000; ++i) seen.insert(sample_token(sampler, logits, &mask));
    EXPECT_TRUE(std::includes(std::set<int32_t>{3, 17, 99}.begin(),
                              std::set<int32_t>{3, 17, 99}.end(), seen.begin(), seen.end()));
    EXPECT_GE(seen.size(), 2u);
}

TEST(Sampler, MaskErrors) {
    Sampler sampler = make_sampler(plain_params(), 40);
    const std::vector<float> logits(40, 0.0f);
    const TokenBitmask wrong_size(41);
    EXPECT_FALSE(sampler.sample(logits, &wrong_size).has_value());
    const TokenBitmask nothing_allowed(40, false);
    EXPECT_FALSE(sampler.sample(logits, &nothing_allowed).has_value());
}

TEST(TokenBitmask, SetAndQuery) {
    TokenBitmask mask(70);
    EXPECT_EQ(mask.words().size(), 3u);
    EXPECT_TRUE(mask.allowed(69));
    EXPECT_EQ(mask.words()[2], (1u << 6) - 1u);  // bits past token 69 stay clear
    mask.ban(33);
    EXPECT_FALSE(mask.allowed(33));
    EXPECT_TRUE(mask.allowed(32));
    mask.fill(false);
    EXPECT_FALSE(mask.allowed(0));
    mask.allow(64);
    EXPECT_TRUE(mask.allowed(64));
    EXPECT_EQ(mask.words()[2], 1u);
}

// log-softmax in double, the reference for the reported logprobs.
std::vector<double> log_softmax(const std::vector<float>& logits) {
    double max_logit = -std::numeric_limits<double>::infinity();
    for (const float l : logits) max_logit = std::max(max_logit, static_cast<double>(l));
    double sum = 0.0;
    for (const float l : logits) sum += std::exp(l - max_logit);
    std::vector<double> result;
    for (const float l : logits) result.push_back(l - max_logit - std::log(sum));
    return result;
}

TEST(Sampler, LogprobsAreTheLogSoftmaxOfTheAdjustedLogits) {
    std::mt19937 rng(33);
    constexpr int32_t kVocab = 3000;
    for (const float temperature : {0.0f, 0.3f, 1.0f, 1.7f}) {
        SamplingParams params;
        params.temperature = temperature;
        params.seed = 8;
        params.logprobs = true;
        params.top_logprobs = 5;
        params.presence_penalty = 0.7f;
        params.logit_bias = {{10, 3.0f}, {11, -100.0f}};
        Sampler sampler = make_sampler(params, kVocab);
        for (int step = 0; step < 20; ++step) {
            const std::vector<float> logits = random_logits(rng, kVocab, 3.0f);
            // The distribution before this step's token enters the history.
            const std::vector<double> reference = log_softmax(adjusted(sampler, logits));
            Expected<SampledToken> sampled = sampler.sample(logits);
            ASSERT_TRUE(sampled.has_value());
            EXPECT_NEAR(sampled->logprob, reference[static_cast<size_t>(sampled->token)], 1e-4);

            std::vector<int32_t> order(kVocab);
            for (int32_t i = 0; i < kVocab; ++i) order[static_cast<size_t>(i)] = i;
            std::partial_sort(
                order.begin(), order.begin() + 5, order.end(), [&](int32_t a, int32_t b) {
                    return reference[static_cast<size_t>(a)] > reference[static_cast<size_t>(b)];
                });
            ASSERT_EQ(sampled->top_logprobs.size(), 5u);
            for (size_t i = 0; i < 5; ++i) {
                EXPECT_EQ(sampled->top_logprobs[i].token, order[i]);
                EXPECT_NEAR(sampled->top_logprobs[i].logprob,
                            reference[static_cast<size_t>(order[i])], 1e-4);
            }
        }
    }
}

TEST(Sampler, LogprobsIgnoreTemperatureTruncationAndMask) {
    const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
    const std::vector<double> reference = log_softmax(logits);
    SamplingParams params = plain_params(0.2f);
    params.top_k = 2;
    params.logprobs = true;
    params.top_logprobs = 4;
    TokenBitmask mask(4);
    mask.ban(0);
    Sampler sampler = make_sampler(params, 4);
    Expected<SampledToken> sampled = sampler.sample(logits, &mask);
    ASSERT_TRUE(sampled.has_value());
    EXPECT_NE(sampled->token, 0);
    EXPECT_NEAR(sampled->logprob, reference[static_cast<size_t>(sampled->token)], 1e-5);
    ASSERT_EQ(sampled->top_logprobs.size(), 4u);
    for (int32_t i = 0; i < 4; ++i) {
        EXPECT_EQ(sampled->top_logprobs[static_cast<size_t>(i)].token, i);
        EXPECT_NEAR(sampled->top_logprobs[static_cast<size_t>(i)].logprob,
                    reference[static_cast<size_t>(i)], 1e-5);
    }
}

TEST(Sampler, BannedTokensReportTheLogprobFloor) {
    SamplingParams params = plain_params(0.0f);
    params.logprobs = true;
    params.top_logprobs = 3;
    params.logit_bias = {{2, -100.0f}};
    Sampler sampler = make_sampler(params, 3);
    Expected<SampledToken> sampled = sampler.sample(std::vector<float>{0.0f, 0.0f, 5.0f});
    ASSERT_TRUE(sampled.has_value());
    EXPECT_EQ(sampled->token, 0);
    EXPECT_NEAR(sampled->logprob, std::log(0.5), 1e-6);
    ASSERT_EQ(sampled->top_logprobs.size(), 3u);
    EXPECT_EQ(sampled->top_logprobs[2].token, 2);
    EXPECT_EQ(sampled->top_logprobs[2].logprob, kMinLogprob);
}

TEST(Sampler, NoLogprobsUnlessAsked) {
    Sampler sampler = make_sampler(plain_params(), 3);
    Expected<SampledToken> sampled = sampler.sample(std::vector<float>{0.0f, 1.0f, 2.0f});
    ASSERT_TRUE(sampled.has_value());
    EXPECT_TRUE(sampled->top_logprobs.empty());
}

}  // namespace
}  // namespace cria::sampling
