// Locally typical sampling and Mirostat (v1 and v2) against reference computations written
// here from their definitions, in double precision: the typical set for fixed distributions,
// and for Mirostat the truncation and the running surprise bound after every draw.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "sampling/sampler.h"

namespace cria::sampling {
namespace {

SamplingParams base_params(uint64_t seed) {
    SamplingParams params;
    params.temperature = 1.0f;
    params.top_k = 0;
    params.top_p = 1.0f;
    params.min_p = 0.0f;
    params.repeat_penalty = 1.0f;
    params.seed = seed;
    return params;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature = 1.0) {
    const double max_logit = *std::max_element(logits.begin(), logits.end());
    std::vector<double> probs;
    double sum = 0.0;
    for (float l : logits) {
        probs.push_back(std::exp((l - max_logit) / temperature));
        sum += probs.back();
    }
    for (double& p : probs) p /= sum;
    return probs;
}

// The typical set by definition: order tokens by |-ln p - H| and take them until their
// probability exceeds typical_p.
std::set<int32_t> reference_typical_set(const std::vector<double>& probs, double typical_p) {
    double entropy = 0.0;
    for (double p : probs) entropy -= p > 0 ? p * std::log(p) : 0.0;
    std::vector<int32_t> order(probs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return std::fabs(-std::log(probs[a]) - entropy) < std::fabs(-std::log(probs[b]) - entropy);
    });
    std::set<int32_t> kept;
    double cumulative = 0.0;
    for (int32_t token : order) {
        kept.insert(token);
        cumulative += probs[token];
        if (cumulative > typical_p) break;
    }
    return kept;
}

std::set<int32_t> sampled_set(const SamplingParams& params, const std::vector<float>& logits,
                              int draws) {
    std::set<int32_t> seen;
    for (int i = 0; i < draws; ++i) {
        SamplingParams p = params;
        p.seed = 1000 + static_cast<uint64_t>(i);
        Expected<Sampler> sampler = Sampler::create(p, static_cast<int32_t>(logits.size()));
        EXPECT_TRUE(sampler.has_value());
        Expected<SampledToken> token = sampler->sample(logits);
        EXPECT_TRUE(token.has_value());
        seen.insert(token->token);
    }
    return seen;
}

TEST(TypicalSampling, KeepsTheReferenceTypicalSet) {
    // A peaked head and a long tail: the most likely token is atypical here.
    const std::vector<double> probs = {0.50, 0.12, 0.10, 0.09, 0.08, 0.06, 0.03, 0.02};
    std::vector<float> logits;
    for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
    for (float typical_p : {0.2f, 0.5f, 0.9f}) {
        SCOPED_TRACE(typical_p);
        const std::set<int32_t> want = reference_typical_set(softmax(logits), typical_p);
        SamplingParams params = base_params(1);
        params.typical_p = typical_p;
        EXPECT_EQ(sampled_set(params, logits, 600), want);
        // The same through the top_k path (top_k larger than the set, smaller than the
        // vocabulary): the set is measured over the k candidates.
        params.top_k = 7;
        std::vector<float> first7(logits.begin(), logits.begin() + 7);
        std::vector<float> padded = first7;
        padded.push_back(-1e9f);  // the 8th token is outside the top 7
        EXPECT_EQ(sampled_set(params, padded, 600),
                  reference_typical_set(softmax(first7), typical_p));
    }
}

TEST(TypicalSampling, ZeroKeepsOnlyTheMostTypicalToken) {
    const std::vector<float> logits = {3.0f, 1.0f, 0.9f, 0.5f, -2.0f};
    SamplingParams params = base_params(1);
    params.typical_p = 0.0f;
    const std::set<int32_t> want = reference_typical_set(softmax(logits), 0.0);
    ASSERT_EQ(want.size(), 1u);
    EXPECT_EQ(sampled_set(params, logits, 50), want);
}

TEST(TypicalSampling, AppliesAfterTemperature) {
    const std::vector<float> logits = {2.0f, 1.5f, 1.0f, 0.2f, -0.5f, -1.0f};
    SamplingParams params = base_params(1);
    params.temperature = 0.5f;
    params.typical_p = 0.5f;
    EXPECT_EQ(sampled_set(params, logits, 600), reference_typical_set(softmax(logits, 0.5), 0.5));
}

// Mirostat reference: the same truncation and update from the definition, checked step by step
// against the sampler's draws (the sampler's token must lie in the reference's kept set; then
// both bounds update from that token's renormalized probability).
struct MirostatReference {
    int version = 2;
    double tau = 5.0;
    double eta = 0.1;
    double mu = 10.0;
    int32_t n_vocab = 0;

    // Tokens kept at the current mu, most likely first.
    std::vector<int32_t> kept(const std::vector<double>& probs) const {
        std::vector<int32_t> order(probs.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
        size_t keep = order.size();
        if (version == 2) {
            keep = 0;
            while (keep < order.size() && -std::log2(probs[order[keep]]) <= mu) ++keep;
            keep = std::max<size_t>(keep, 1);
        } else {
            const size_t m = std::min<size_t>(100, order.size());
            double sum_tb = 0.0, sum_tt = 0.0;
            for (size_t i = 0; i + 1 < m; ++i) {
                const double t = std::log((i + 2.0) / (i + 1.0));
                const double b = std::log(probs[order[i]] / probs[order[i + 1]]);
                sum_tb += t * b;
                sum_tt += t * t;
            }
            const double s = sum_tb / sum_tt;
            const double k =
                std::pow((s - 1.0) * std::exp2(mu) / (1.0 - std::pow(n_vocab, 1.0 - s)), 1.0 / s);
            if (std::isfinite(k))
                keep = std::clamp<size_t>(static_cast<size_t>(std::max(k, 1.0)), 1, order.size());
        }
        order.resize(keep);
        return order;
    }
    void update(const std::vector<double>& probs, const std::vector<int32_t>& kept_tokens,
                int32_t token) {
        double kept_mass = 0.0;
        for (int32_t t : kept_tokens) kept_mass += probs[t];
        mu -= eta * (-std::log2(probs[token] / kept_mass) - tau);
    }
};

void check_mirostat(int version, float temperature) {
    SCOPED_TRACE("mirostat v" + std::to_string(version));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    const int32_t n_vocab = 500;
    SamplingParams params = base_params(42);
    params.temperature = temperature;
    params.mirostat = version;
    params.mirostat_tau = 3.0f;
    params.mirostat_eta = 0.2f;
    params.top_k = 40;  // ignored under Mirostat
    Expected<Sampler> sampler = Sampler::create(params, n_vocab);
    ASSERT_TRUE(sampler.has_value());
    MirostatReference ref{version, 3.0, 0.2, 6.0, n_vocab};
    EXPECT_DOUBLE_EQ(sampler->mirostat_mu(), 6.0);
    std::set<int32_t> distinct;
    for (int step = 0; step < 60; ++step) {
        std::vector<float> logits(static_cast<size_t>(n_vocab));
        for (float& l : logits) l = normal(rng);
        const std::vector<double> probs = softmax(logits, temperature);
        const std::vector<int32_t> kept = ref.kept(probs);
        Expected<SampledToken> token = sampler->sample(logits);
        ASSERT_TRUE(token.has_value());
        ASSERT_NE(std::find(kept.begin(), kept.end(), token->token), kept.end())
            << "step " << step << ": token outside the kept set of " << kept.size();
        distinct.insert(token->token);
        ref.update(probs, kept, token->token);
        ASSERT_NEAR(sampler->mirostat_mu(), ref.mu, 1e-4) << "step " << step;
    }
    EXPECT_GT(distinct.size(), 5u);  // it samples, it does not collapse to greedy
}

TEST(Mirostat, V2MatchesReferenceTruncationAndUpdate) {
    check_mirostat(2, 1.0f);
    check_mirostat(2, 0.7f);
}

TEST(Mirostat, V1MatchesReferenceTruncationAndUpdate) {
    check_mirostat(1, 1.0f);
}

TEST(Mirostat, SameSeedSameTokens) {
    std::vector<float> logits(200);
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i)) * 4.0f;
    for (int version : {1, 2}) {
        SamplingParams params = base_params(9);
        params.mirostat = version;
        Expected<Sampler> a = Sampler::create(params, 200);
        Expected<Sampler> b = Sampler::create(params, 200);
        for (int i = 0; i < 30; ++i) EXPECT_EQ(a->sample(logits)->token, b->sample(logits)->token);
    }
}

TEST(SamplingParams, TypicalAndMirostatRanges) {
    struct Case {
        void (*set)(SamplingParams&);
        const char* field;
    };
    const Case cases[] = {
        {[](SamplingParams& p) { p.typical_p = 1.5f; }, "typical_p"},
        {[](SamplingParams& p) { p.typical_p = -0.1f; }, "typical_p"},
        {[](SamplingParams& p) { p.mirostat = 3; }, "mirostat"},
        {[](SamplingParams& p) { p.mirostat = -1; }, "mirostat"},
        {[](SamplingParams& p) { p.mirostat_tau = -1.0f; }, "mirostat_tau"},
        {[](SamplingParams& p) { p.mirostat_tau = NAN; }, "mirostat_tau"},
        {[](SamplingParams& p) { p.mirostat_eta = 2.0f; }, "mirostat_eta"},
    };
    for (const Case& c : cases) {
        SamplingParams params = base_params(1);
        c.set(params);
        const Status status = validate_sampling_params(params, 10);
        ASSERT_FALSE(status.is_ok()) << c.field;
        EXPECT_NE(status.message().find(c.field), std::string::npos) << status.message();
    }
}

}  // namespace
}  // namespace cria::sampling
