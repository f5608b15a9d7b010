#include "sampling/sampler.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>

#include "sampling/vector_math.h"

namespace cria::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Candidate order: higher logit first; among equal logits the lower id, so ties break the same
// way everywhere (argmax, top_k, top_logprobs).
bool more_likely(const Sampler::Candidate& a, const Sampler::Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

uint64_t draw_seed() {
    // std::random_device reports an unavailable entropy source by throwing; the clock is a weaker
    // but sufficient source for a request that did not ask for reproducibility.
    try {
        std::random_device device;
        return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
    } catch (...) {
        return static_cast<uint64_t>(
            std::chrono::high_resolution_clock::now().time_since_epoch().count());
    }
}

Status token_out_of_range(const char* what, int32_t token, int32_t n_vocab) {
    return invalid_argument(std::string(what) + ": token id " + std::to_string(token) +
                            " is outside the vocabulary (valid ids are 0.." +
                            std::to_string(n_vocab - 1) + ")");
}

}  // namespace

Expected<Sampler> Sampler::create(const SamplingParams& params, int32_t n_vocab) {
    CRIA_RETURN_IF_ERROR(validate_sampling_params(params, n_vocab));
    const uint64_t seed = params.seed.has_value() ? *params.seed : draw_seed();
    return Sampler(params, n_vocab, seed);
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab, uint64_t seed)
    : params_(params), n_vocab_(n_vocab), seed_(seed), rng_(seed) {
    mirostat_mu_ = 2.0 * static_cast<double>(params_.mirostat_tau);
    repeat_penalty_active_ = params_.repeat_penalty != 1.0f && params_.repeat_last_n != 0;
    presence_frequency_active_ =
        params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f;
    adjusted_.resize(static_cast<size_t>(n_vocab));
    weights_.resize(static_cast<size_t>(n_vocab));
    block_sums_.reserve(static_cast<size_t>(n_vocab) / kSumBlock + 1);
    block_maxima_.resize((static_cast<size_t>(n_vocab) + kMaxBlock - 1) / kMaxBlock);
}

void Sampler::record_history_token(int32_t token, bool generated) {
    if (repeat_penalty_active_) {
        repeat_window_.push_back(token);
        ++repeat_window_counts_[token];
        if (params_.repeat_last_n > 0 &&
            repeat_window_.size() > static_cast<size_t>(params_.repeat_last_n)) {
            const int32_t oldest = repeat_window_.front();
            repeat_window_.pop_front();
            const auto it = repeat_window_counts_.find(oldest);
            if (--it->second == 0) repeat_window_counts_.erase(it);
        }
    }
    if (generated) {
        ++n_generated_;
        if (presence_frequency_active_) ++generated_counts_[token];
    }
}

Status Sampler::accept_prompt(std::span<const int32_t> tokens) {
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab_) {
            return token_out_of_range(("prompt token " + std::to_string(i)).c_str(), tokens[i],
                                      n_vocab_);
        }
    }
    if (!repeat_penalty_active_) return Status::ok();
    // Only the tail can still be inside the repeat window.
    size_t first = 0;
    if (params_.repeat_last_n > 0 && tokens.size() > static_cast<size_t>(params_.repeat_last_n)) {
        first = tokens.size() - static_cast<size_t>(params_.repeat_last_n);
    }
    for (size_t i = first; i < tokens.size(); ++i) record_history_token(tokens[i], false);
    return Status::ok();
}

Status Sampler::accept(int32_t token) {
    if (token < 0 || token >= n_vocab_) return token_out_of_range("accept", token, n_vocab_);
    record_history_token(token, true);
    return Status::ok();
}

void Sampler::apply_penalties_and_bias(std::span<float> logits) const {
    if (repeat_penalty_active_) {
        const float penalty = params_.repeat_penalty;
        for (const auto& [token, count] : repeat_window_counts_) {
            float& logit = logits[static_cast<size_t>(token)];
            logit = logit > 0.0f ? logit / penalty : logit * penalty;
        }
    }
    if (presence_frequency_active_) {
        for (const auto& [token, count] : generated_counts_) {
            logits[static_cast<size_t>(token)] -=
                static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
        }
    }
    for (const TokenBias& entry : params_.logit_bias) {
        float& logit = logits[static_cast<size_t>(entry.token)];
        logit = entry.bias <= kBanBias ? kNegInf : logit + entry.bias;
    }
}

Status Sampler::adjust_logits(std::span<float> logits) const {
    if (logits.size() != static_cast<size_t>(n_vocab_)) {
        return invalid_argument("logits have " + std::to_string(logits.size()) +
                                " entries but the vocabulary has " + std::to_string(n_vocab_));
    }
    // NaN (a broken model output) must never win an argmax or poison a softmax sum; +inf would
    // turn every other token into NaN once the maximum is subtracted.
    copy_sanitized(logits, logits);
    apply_penalties_and_bias(logits);
    return Status::ok();
}

double Sampler::log_normalizer(std::span<const float> adjusted) {
    const float max_logit = max_value(adjusted);
    if (max_logit == kNegInf) return -std::numeric_limits<double>::infinity();
    softmax_weights(adjusted, max_logit, 1.0f, weights_);
    return static_cast<double>(max_logit) + std::log(sum_nonnegative(weights_));
}

void Sampler::fill_top_logprobs(std::span<const float> adjusted, double log_z,
                                std::vector<TokenLogprob>& out) {
    const size_t wanted =
        std::min(static_cast<size_t>(params_.top_logprobs), static_cast<size_t>(n_vocab_));
    // A sorted list of at most `wanted` (<= 20) entries. Ids increase, so only a strictly larger
    // logit can enter a full list, and blocks whose maximum is not larger are skipped.
    std::vector<Candidate> best;
    best.reserve(wanted + 1);
    block_maxima(adjusted, block_maxima_);
    for (size_t block = 0; block < block_maxima_.size(); ++block) {
        if (best.size() == wanted && block_maxima_[block] <= best.back().logit) continue;
        const size_t start = block * kMaxBlock;
        const size_t end = std::min(adjusted.size(), start + kMaxBlock);
        for (size_t i = start; i < end; ++i) {
            const Candidate candidate{adjusted[i], static_cast<int32_t>(i), 0.0f};
            if (best.size() == wanted && !more_likely(candidate, best.back())) continue;
            best.insert(std::upper_bound(best.begin(), best.end(), candidate, more_likely),
                        candidate);
            if (best.size() > wanted) best.pop_back();
        }
    }
    out.clear();
    for (const Candidate& candidate : best) {
        const double logprob = static_cast<double>(candidate.logit) - log_z;
        out.push_back(
            {candidate.token, static_cast<float>(std::max<double>(logprob, kMinLogprob))});
    }
}

double Sampler::next_uniform() {
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

int32_t Sampler::argmax(std::span<const float> masked_logits) {
    return static_cast<int32_t>(argmax_first(masked_logits));
}

void Sampler::select_top_k(std::span<const float> masked_logits, size_t top_k) {
    // A heap of the k best so far with the least likely of them on top. Ids arrive in increasing
    // order, so a new token beats the top only with a strictly larger logit, and a block whose
    // maximum is not larger is skipped without looking at its logits.
    candidates_.clear();
    block_maxima(masked_logits, block_maxima_);
    for (size_t block = 0; block < block_maxima_.size(); ++block) {
        if (block_maxima_[block] == kNegInf) continue;
        if (candidates_.size() == top_k && block_maxima_[block] <= candidates_.front().logit) {
            continue;
        }
        const size_t start = block * kMaxBlock;
        const size_t end = std::min(masked_logits.size(), start + kMaxBlock);
        for (size_t i = start; i < end; ++i) {
            const float logit = masked_logits[i];
            if (logit == kNegInf) continue;
            const Candidate candidate{logit, static_cast<int32_t>(i), 0.0f};
            if (candidates_.size() < top_k) {
                candidates_.push_back(candidate);
                std::push_heap(candidates_.begin(), candidates_.end(), more_likely);
            } else if (logit > candidates_.front().logit) {
                std::pop_heap(candidates_.begin(), candidates_.end(), more_likely);
                candidates_.back() = candidate;
                std::push_heap(candidates_.begin(), candidates_.end(), more_likely);
            }
        }
    }
}

size_t Sampler::select_nucleus(size_t count, double target) {
    // Quickselect on cumulative weight: partition around a pivot, keep the side where the
    // nucleus ends. Everything before `low` is more likely than everything in [low, high) and
    // belongs to the nucleus; the nucleus ends inside [low, high).
    const auto begin = candidates_.begin();
    size_t low = 0;
    size_t high = count;
    double weight_before = 0.0;  // of candidates_[0, low)
    // Bad pivots (crafted logits) fall back to sorting the rest: never worse than n log n.
    int rounds_left = 2 * static_cast<int>(std::bit_width(count)) + 8;
    constexpr size_t kSortBelow = 16;
    while (high - low > kSortBelow && rounds_left-- > 0) {
        const Candidate& first = candidates_[low];
        const Candidate& middle = candidates_[low + (high - low) / 2];
        const Candidate& last = candidates_[high - 1];
        // Median of three under more_likely (a copy: partitioning moves the elements).
        Candidate pivot = middle;
        if (more_likely(first, middle) == more_likely(middle, last)) {
            // middle lies between the other two
        } else if (more_likely(middle, first) == more_likely(first, last)) {
            pivot = first;
        } else {
            pivot = last;
        }
        const auto split = std::partition(
            begin + static_cast<ptrdiff_t>(low), begin + static_cast<ptrdiff_t>(high),
            [&](const Candidate& c) { return more_likely(c, pivot); });
        const size_t split_index = static_cast<size_t>(split - begin);
        double left_weight = 0.0;
        for (size_t i = low; i < split_index; ++i) left_weight += candidates_[i].weight;
        if (split_index > low && weight_before + left_weight >= target) {
            high = split_index;
            continue;
        }
        weight_before += left_weight;
        low = split_index;
        // The pivot is the most likely of [low, high): it comes next.
        const auto pivot_position =
            std::find_if(begin + static_cast<ptrdiff_t>(low), begin + static_cast<ptrdiff_t>(high),
                         [&](const Candidate& c) { return c.token == pivot.token; });
        std::iter_swap(begin + static_cast<ptrdiff_t>(low), pivot_position);
        weight_before += candidates_[low].weight;
        ++low;
        if (weight_before >= target) return low;
    }
    std::sort(begin + static_cast<ptrdiff_t>(low), begin + static_cast<ptrdiff_t>(high),
              more_likely);
    for (size_t i = low; i < high; ++i) {
        weight_before += candidates_[i].weight;
        if (weight_before >= target) return i + 1;
    }
    // Not reached: min_p cut the candidates before the nucleus mass (all of them stay), or the
    // sums above and this walk added the same weights in another order and differ in the last
    // bits (the nucleus ends at `high` either way).
    return high;
}

int32_t Sampler::truncate_and_draw(double total_weight) {
    // Both min_p and top_p keep a most-likely prefix of the candidates in sorted order, so the
    // result is the shorter prefix. min_p's prefix is a threshold on the weight (p / p_max >=
    // min_p, the most likely token having weight 1). top_p's is found by selection (expected
    // linear time) rather than by sorting.
    size_t kept = candidates_.size();
    if (params_.min_p > 0.0f) {
        const float min_weight = params_.min_p;
        const auto end = std::partition(candidates_.begin(), candidates_.end(),
                                        [&](const Candidate& c) { return c.weight >= min_weight; });
        kept = static_cast<size_t>(end - candidates_.begin());
    }
    if (params_.top_p < 1.0f && kept > 0) {
        // The nucleus is measured against the whole top_k distribution, before min_p.
        kept = select_nucleus(kept, static_cast<double>(params_.top_p) * total_weight);
    }
    if (kept == 0) return -1;

    double kept_weight = 0.0;
    for (size_t i = 0; i < kept; ++i) kept_weight += candidates_[i].weight;
    const double threshold = next_uniform() * kept_weight;
    double cumulative = 0.0;
    for (size_t i = 0; i < kept; ++i) {
        cumulative += candidates_[i].weight;
        if (threshold < cumulative) return candidates_[i].token;
    }
    // Rounding can leave the threshold a hair above the last partial sum.
    return candidates_[kept - 1].token;
}

double Sampler::apply_typical(double total_weight) {
    // p = weight / total; entropy H = -sum p ln p; a token's score is |-ln p - H|.
    const double log_total = std::log(total_weight);
    double entropy = 0.0;
    for (const Candidate& c : candidates_) {
        if (c.weight <= 0.0f) continue;  // p ln p -> 0
        const double p = c.weight / total_weight;
        entropy -= p * (std::log(static_cast<double>(c.weight)) - log_total);
    }
    typical_order_.clear();
    for (size_t i = 0; i < candidates_.size(); ++i) {
        const float weight = candidates_[i].weight;
        const double score =
            weight > 0.0f ? std::fabs(log_total - std::log(static_cast<double>(weight)) - entropy)
                          : std::numeric_limits<double>::infinity();
        typical_order_.push_back({score, i});
    }
    // Most typical first; equal scores keep the more likely (then lower id) token first.
    std::sort(typical_order_.begin(), typical_order_.end(), [&](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first < b.first;
        return more_likely(candidates_[a.second], candidates_[b.second]);
    });
    const double target = static_cast<double>(params_.typical_p);
    double cumulative = 0.0;
    size_t kept = 0;
    while (kept < typical_order_.size()) {
        cumulative += candidates_[typical_order_[kept].second].weight / total_weight;
        ++kept;
        if (cumulative > target) break;
    }
    typical_set_.clear();
    double kept_weight = 0.0;
    for (size_t i = 0; i < kept; ++i) {
        typical_set_.push_back(candidates_[typical_order_[i].second]);
        kept_weight += typical_set_.back().weight;
    }
    candidates_.swap(typical_set_);  // both keep their capacity for the next steps
    return kept_weight;
}

int32_t Sampler::sample_mirostat(std::span<const float> masked_logits, float inverse_temperature) {
    const float max_logit = max_value(masked_logits);
    if (max_logit == kNegInf) return -1;
    candidates_.clear();
    double total_weight = 0.0;
    for (size_t i = 0; i < masked_logits.size(); ++i) {
        if (masked_logits[i] == kNegInf) continue;
        const float weight = exp_nonpositive((masked_logits[i] - max_logit) * inverse_temperature);
        if (weight <= 0.0f) continue;
        candidates_.push_back({masked_logits[i], static_cast<int32_t>(i), weight});
        total_weight += weight;
    }
    if (candidates_.empty()) return -1;
    size_t kept = candidates_.size();
    if (params_.mirostat == 2) {
        // v2: drop the tokens whose surprise -log2 p exceeds mu (the most likely one stays).
        const double min_weight = std::exp2(-mirostat_mu_) * total_weight;
        const auto most = std::min_element(candidates_.begin(), candidates_.end(), more_likely);
        std::iter_swap(candidates_.begin(), most);
        const auto end = std::partition(candidates_.begin() + 1, candidates_.end(),
                                        [&](const Candidate& c) { return c.weight >= min_weight; });
        kept = static_cast<size_t>(end - candidates_.begin());
    } else {
        // v1: estimate the Zipf exponent s from the m = 100 most likely tokens, then keep the
        // k most likely, k chosen so that the expected surprise is mu.
        constexpr size_t kM = 100;
        const size_t m = std::min(kM, candidates_.size());
        std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(m),
                          candidates_.end(), more_likely);
        double sum_tb = 0.0;
        double sum_tt = 0.0;
        for (size_t i = 0; i + 1 < m; ++i) {
            const double t = std::log(static_cast<double>(i + 2) / static_cast<double>(i + 1));
            const double b = std::log(static_cast<double>(candidates_[i].weight) /
                                      static_cast<double>(candidates_[i + 1].weight));
            sum_tb += t * b;
            sum_tt += t * t;
        }
        const double s_hat = sum_tt > 0.0 ? sum_tb / sum_tt : 0.0;
        const double epsilon = s_hat - 1.0;
        const double k = std::pow(epsilon * std::exp2(mirostat_mu_) /
                                      (1.0 - std::pow(static_cast<double>(n_vocab_), -epsilon)),
                                  1.0 / s_hat);
        // A flat or degenerate head gives no finite k: nothing is cut then.
        if (std::isfinite(k) && k >= 1.0 && k < static_cast<double>(candidates_.size())) {
            kept = static_cast<size_t>(k);
        } else if (std::isfinite(k) && k < 1.0) {
            kept = 1;
        }
        if (kept > m) {
            std::nth_element(candidates_.begin(),
                             candidates_.begin() + static_cast<std::ptrdiff_t>(kept),
                             candidates_.end(), more_likely);
        }
    }
    double kept_weight = 0.0;
    for (size_t i = 0; i < kept; ++i) kept_weight += candidates_[i].weight;
    const double threshold = next_uniform() * kept_weight;
    double cumulative = 0.0;
    size_t chosen = kept - 1;
    for (size_t i = 0; i < kept; ++i) {
        cumulative += candidates_[i].weight;
        if (threshold < cumulative) {
            chosen = i;
            break;
        }
    }
    const double surprise =
        -std::log2(static_cast<double>(candidates_[chosen].weight) / kept_weight);
    mirostat_mu_ -= static_cast<double>(params_.mirostat_eta) *
                    (surprise - static_cast<double>(params_.mirostat_tau));
    return candidates_[chosen].token;
}

int32_t Sampler::draw_from_weights(double total_weight) {
    const double threshold = next_uniform() * total_weight;
    size_t block = 0;
    double before_block = 0.0;
    while (block + 1 < block_sums_.size() && before_block + block_sums_[block] <= threshold) {
        before_block += block_sums_[block];
        ++block;
    }
    const size_t start = block * kSumBlock;
    const size_t end = std::min(weights_.size(), start + kSumBlock);
    double cumulative = before_block;
    int32_t last_possible = -1;
    for (size_t i = start; i < end; ++i) {
        if (weights_[i] == 0.0f) continue;
        cumulative += weights_[i];
        last_possible = static_cast<int32_t>(i);
        if (threshold < cumulative) return last_possible;
    }
    // The block's float sum and this double walk can differ in the last bits.
    if (last_possible >= 0) return last_possible;
    for (size_t i = start; i-- > 0;) {
        if (weights_[i] > 0.0f) return static_cast<int32_t>(i);
    }
    return -1;
}

int32_t Sampler::sample_with_temperature(std::span<const float> masked_logits) {
    // Temperature: weights relative to the most likely token, which therefore has weight 1.
    // Capped so that a denormal temperature cannot make it infinite (0 * inf would be NaN).
    const float inverse_temperature =
        std::min(1.0f / params_.temperature, std::numeric_limits<float>::max());

    if (params_.mirostat != 0) return sample_mirostat(masked_logits, inverse_temperature);
    const bool typical = params_.typical_p < 1.0f;

    const size_t top_k = static_cast<size_t>(params_.top_k);
    if (top_k > 0 && top_k < masked_logits.size()) {
        select_top_k(masked_logits, top_k);
        if (candidates_.empty()) return -1;
        float max_logit = kNegInf;
        for (const Candidate& candidate : candidates_) {
            max_logit = std::max(max_logit, candidate.logit);
        }
        double total_weight = 0.0;
        for (Candidate& candidate : candidates_) {
            candidate.weight = exp_nonpositive((candidate.logit - max_logit) * inverse_temperature);
            total_weight += candidate.weight;
        }
        if (typical) total_weight = apply_typical(total_weight);
        return truncate_and_draw(total_weight);
    }

    const float max_logit = max_value(masked_logits);
    if (max_logit == kNegInf) return -1;
    // No top_k: the whole vocabulary is the distribution.
    softmax_weights(masked_logits, max_logit, inverse_temperature, weights_);
    double total_weight = sum_nonnegative(weights_, &block_sums_);
    if (params_.top_p >= 1.0f && params_.min_p <= 0.0f && !typical) {
        return draw_from_weights(total_weight);
    }
    if (typical) {
        // The typical set is measured against the whole distribution: every token is a
        // candidate, then top_p and min_p apply to what it keeps.
        candidates_.clear();
        for (size_t i = 0; i < weights_.size(); ++i) {
            if (weights_[i] > 0.0f) {
                candidates_.push_back({masked_logits[i], static_cast<int32_t>(i), weights_[i]});
            }
        }
        total_weight = apply_typical(total_weight);
        return truncate_and_draw(total_weight);
    }

    // Only tokens above some weight can be in the result: min_p's threshold, and for top_p the
    // largest power of 1/256 whose tokens together already reach the nucleus mass (the nucleus
    // is the shortest most-likely prefix reaching it, so it lies inside). Gathering just those
    // keeps the sort small even for a 256k vocabulary.
    float threshold = params_.min_p;
    if (params_.top_p < 1.0f) {
        const double target = static_cast<double>(params_.top_p) * total_weight;
        constexpr float kStep = 1.0f / 256.0f;
        constexpr float kSmallest = 1e-30f;  // below this only underflowed weights remain
        float bound = kStep;
        while (bound > kSmallest && sum_at_least(weights_, bound) < target) bound *= kStep;
        if (bound <= kSmallest) bound = 0.0f;
        threshold = std::max(threshold, bound);
    }
    candidates_.clear();
    for (size_t i = 0; i < weights_.size(); ++i) {
        const float weight = weights_[i];
        if (weight > 0.0f && weight >= threshold) {
            candidates_.push_back({masked_logits[i], static_cast<int32_t>(i), weight});
        }
    }
    return truncate_and_draw(total_weight);
}

Expected<SampledToken> Sampler::sample(std::span<const float> logits, const TokenBitmask* allowed) {
    if (logits.size() != static_cast<size_t>(n_vocab_)) {
        return invalid_argument("logits have " + std::to_string(logits.size()) +
                                " entries but the vocabulary has " + std::to_string(n_vocab_));
    }
    if (allowed != nullptr && allowed->n_vocab() != n_vocab_) {
        return invalid_argument("token mask covers " + std::to_string(allowed->n_vocab()) +
                                " tokens but the vocabulary has " + std::to_string(n_vocab_));
    }
    copy_sanitized(logits, adjusted_);
    apply_penalties_and_bias(adjusted_);

    SampledToken result;
    double log_z = 0.0;
    if (params_.logprobs) {
        log_z = log_normalizer(adjusted_);
        if (params_.top_logprobs > 0) fill_top_logprobs(adjusted_, log_z, result.top_logprobs);
    }

    if (allowed != nullptr) {
        const std::span<const uint32_t> words = allowed->words();
        for (size_t word_index = 0; word_index < words.size(); ++word_index) {
            const uint32_t word = words[word_index];
            if (word == ~0u) continue;
            const size_t base = word_index * 32;
            const size_t end = std::min(base + 32, adjusted_.size());
            for (size_t token = base; token < end; ++token) {
                if (((word >> (token - base)) & 1u) == 0) adjusted_[token] = kNegInf;
            }
        }
    }

    const int32_t token =
        params_.temperature == 0.0f ? argmax(adjusted_) : sample_with_temperature(adjusted_);
    if (token < 0) {
        return invalid_argument(
            "no token can be sampled: every token is banned by logit_bias, disallowed by the "
            "token mask, or has a NaN logit");
    }
    record_history_token(token, true);
    result.token = token;
    if (params_.logprobs) {
        // The mask leaves allowed tokens untouched, so this is still the adjusted logit.
        const double logprob = static_cast<double>(adjusted_[static_cast<size_t>(token)]) - log_z;
        result.logprob = static_cast<float>(std::max<double>(logprob, kMinLogprob));
    }
    return result;
}

}  // namespace cria::sampling
