// Token sampler for one generated sequence.
//
// Each step turns the model's logits for the next position into one token:
//
//   1. sanitize   NaN logits become -inf (never sampled), +inf becomes the largest float
//   2. penalties  repeat_penalty over the last repeat_last_n tokens of prompt + generated text
//                 (llama.cpp: positive logits divided, negative multiplied), then
//                 presence/frequency penalties over the generated tokens (OpenAI formula)
//   3. logit_bias added; a bias of -100 bans the token outright
//      -> the "adjusted logits"; logprobs are the log-softmax of these (see below)
//   4. mask       tokens the external constraint (TokenBitmask) disallows are removed
//   5. temperature == 0: argmax (ties go to the lowest id); no randomness is used
//      otherwise: top_k (heap selection, no sort of the vocabulary) -> temperature ->
//      typical_p -> top_p -> min_p -> draw from the remaining tokens in proportion to
//      exp(logit / temperature)
//      with mirostat 1 or 2: temperature -> Mirostat's truncation -> draw, and the observed
//      surprise of the drawn token updates the sampler's running bound mu (starting at 2 tau)
//
// Temperature is applied before top_p/min_p, as Ollama, vLLM and Hugging Face do, so a lower
// temperature also narrows the nucleus. top_k does not depend on the order. A step costs a few
// vectorized passes over the vocabulary; only the surviving candidates are ever sorted.
//
// Logprobs: OpenAI describes them as the log probability of each output token, without tying
// them to temperature or truncation; llama-server by default (post_sampling_probs = false)
// reports the softmax of the raw model logits, before logit bias, grammar and samplers. cria
// reports the log-softmax of the adjusted logits of step 3: temperature, truncation and the
// mask (decisions of the sampling procedure) do not change them, while the request's own
// logit_bias and penalties do, since together with the model they define the distribution the
// request asked for. A token of probability zero (banned) reports kMinLogprob, the floor OpenAI
// uses, so every value stays a finite JSON number.
//
// Determinism: the sampler owns a std::mt19937_64 seeded from the request seed (the engine's
// output is fully specified by the standard) and turns it into uniforms with its own bit
// arithmetic instead of std::uniform_real_distribution, whose algorithm differs between standard
// libraries. The same seed, parameters and logits therefore give the same tokens, independent of
// other sequences, threads or the order in which sequences are stepped.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "sampling/sampling_params.h"
#include "sampling/token_bitmask.h"

namespace cria::sampling {

inline constexpr float kMinLogprob = -9999.0f;

struct TokenLogprob {
    int32_t token = 0;
    float logprob = 0.0f;
};

struct SampledToken {
    int32_t token = 0;
    // Filled only when SamplingParams::logprobs is set.
    float logprob = 0.0f;
    // The `top_logprobs` most likely tokens, most likely first (ties: lower id first).
    std::vector<TokenLogprob> top_logprobs;
};

class Sampler {
  public:
    // Validates `params` (validate_sampling_params) against the model's vocabulary size.
    static Expected<Sampler> create(const SamplingParams& params, int32_t n_vocab);

    // Adds prompt (context) tokens to the history. They count for repeat_penalty but not for the
    // presence/frequency penalties, which OpenAI defines over the generated text.
    Status accept_prompt(std::span<const int32_t> tokens);
    // Adds a generated token that did not come from sample() (for example one a grammar forced).
    // sample() records the tokens it returns itself.
    Status accept(int32_t token);

    // Samples the next token from `logits` [n_vocab]. `allowed`, when given, must have n_vocab
    // bits; only allowed tokens can be returned. Fails when logits has the wrong size or when no
    // token can be sampled (all banned, masked or NaN).
    Expected<SampledToken> sample(std::span<const float> logits,
                                  const TokenBitmask* allowed = nullptr);

    // Steps 1-3 above on `logits` [n_vocab] in place: what sample() computes the logprobs from.
    Status adjust_logits(std::span<float> logits) const;

    // The seed in use: the request's, or the one drawn when the request had none.
    uint64_t seed() const { return seed_; }
    const SamplingParams& params() const { return params_; }
    int32_t n_vocab() const { return n_vocab_; }
    // Generated tokens recorded so far (sampled or accepted).
    size_t n_generated() const { return n_generated_; }
    // Mirostat's running surprise bound, in bits (2 tau until the first draw).
    double mirostat_mu() const { return mirostat_mu_; }

    // One candidate token during truncation; public only so the implementation's helpers can
    // name it.
    struct Candidate {
        float logit;
        int32_t token;
        float weight;  // exp((logit - max_logit) / temperature), filled after top_k
    };

  private:
    Sampler(const SamplingParams& params, int32_t n_vocab, uint64_t seed);

    void record_history_token(int32_t token, bool generated);
    void apply_penalties_and_bias(std::span<float> logits) const;
    // log(sum(exp(adjusted))), computed before the mask touches the adjusted logits.
    double log_normalizer(std::span<const float> adjusted);
    void fill_top_logprobs(std::span<const float> adjusted, double log_z,
                           std::vector<TokenLogprob>& out);
    // A uniform double in [0, 1) from 53 random bits.
    double next_uniform();
    static int32_t argmax(std::span<const float> masked_logits);
    // Steps after the mask for temperature > 0; -1 when no token is left.
    int32_t sample_with_temperature(std::span<const float> masked_logits);
    // candidates_ = the top_k most likely finite tokens, unordered.
    void select_top_k(std::span<const float> masked_logits, size_t top_k);
    // min_p and top_p over candidates_ (whose weights are set), then one draw among the rest.
    // `total_weight` is the weight of the whole distribution top_p is measured against.
    int32_t truncate_and_draw(double total_weight);
    // Moves the shortest most-likely prefix of candidates_[0, count) whose weights reach `target`
    // to the front (in no particular order) and returns its length, at least 1; `count` when even
    // all of them stay below the target.
    size_t select_nucleus(size_t count, double target);
    // One draw over weights_ (no truncation), using the per-block sums to find the block.
    int32_t draw_from_weights(double total_weight);
    // Locally typical sampling over candidates_ (weights set, summing to `total_weight`): keeps,
    // in order of |surprise - entropy|, the tokens whose probability first exceeds typical_p
    // (at least one). Returns the kept tokens' weight.
    double apply_typical(double total_weight);
    // Mirostat v1 or v2 after the mask: truncation from the running bound, one draw, the bound
    // updated from the drawn token's surprise; -1 when no token is left.
    int32_t sample_mirostat(std::span<const float> masked_logits, float inverse_temperature);

    SamplingParams params_;
    int32_t n_vocab_ = 0;
    uint64_t seed_ = 0;
    std::mt19937_64 rng_;

    bool repeat_penalty_active_ = false;
    bool presence_frequency_active_ = false;
    // The last repeat_last_n history tokens (all of them for -1) and how often each occurs there.
    std::deque<int32_t> repeat_window_;
    std::unordered_map<int32_t, int32_t> repeat_window_counts_;
    // How often each token was generated, for presence/frequency penalties.
    std::unordered_map<int32_t, int32_t> generated_counts_;
    size_t n_generated_ = 0;
    double mirostat_mu_ = 0.0;

    // Scratch reused across steps so a step does not allocate.
    std::vector<float> adjusted_;        // [n_vocab]; the mask is applied to it in place
    std::vector<float> weights_;         // [n_vocab] exp((logit - max) / temperature)
    std::vector<double> block_sums_;     // [ceil(n_vocab / kSumBlock)] sums of weights_ blocks
    std::vector<float> block_maxima_;    // [ceil(n_vocab / kMaxBlock)] maxima of logit blocks
    std::vector<Candidate> candidates_;  // [<= n_vocab]
    std::vector<std::pair<double, size_t>> typical_order_;  // [candidates] (score, index)
    std::vector<Candidate> typical_set_;                    // [<= n_vocab] kept by typical_p
};

}  // namespace cria::sampling
