// Request-level sampling parameters and their validation.
//
// Defaults follow Ollama / llama.cpp so that a request that sets nothing samples the way users of
// those tools expect. Ranges (checked by validate_sampling_params, inclusive unless noted):
//
//   field               default  range            meaning of the edge values
//   temperature         0.8      [0, 2]           0 = greedy (argmax); 2 is OpenAI's upper bound
//   top_k               40       [0, inf)         0 = disabled; >= n_vocab keeps everything
//   top_p               0.9      [0, 1]           1 = disabled; 0 keeps only the most likely token
//   min_p               0.0      [0, 1]           0 = disabled; 1 keeps only tokens tied with the
//   max
//   typical_p           1.0      [0, 1]           1 = disabled; 0 keeps only the most typical token
//   mirostat            0        0, 1, 2          0 = off; 1 and 2 = Mirostat v1 / v2 (they then
//                                                 replace top_k, top_p, min_p and typical_p)
//   mirostat_tau        5.0      [0, 100]         target surprise in bits
//   mirostat_eta        0.1      [0, 1]           learning rate of the surprise estimate
//   repeat_penalty      1.1      (0, 10]          1 = disabled; < 1 encourages repetition
//   repeat_last_n       64       [-1, inf)        0 = disabled; -1 = the whole history
//   presence_penalty    0        [-2, 2]          OpenAI's range
//   frequency_penalty   0        [-2, 2]          OpenAI's range
//   logit_bias values            [-100, 100]      -100 bans the token; ids must be < n_vocab
//   top_logprobs        0        [0, 20]          needs logprobs = true (as in the OpenAI API)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cria::sampling {

inline constexpr float kMaxTemperature = 2.0f;
inline constexpr float kMaxRepeatPenalty = 10.0f;
inline constexpr float kMaxPresenceFrequencyPenalty = 2.0f;
inline constexpr float kMaxLogitBias = 100.0f;
inline constexpr int kMaxTopLogprobs = 20;
inline constexpr float kMaxMirostatTau = 100.0f;

// The valid values of one sampling parameter: [min, max], or (min, max] when min_excluded.
struct ParamRange {
    std::string_view name;
    double min = 0;
    double max = 0;
    bool integer = false;
    bool min_excluded = false;

    bool contains(double value) const {  // written so that NaN fails
        return (min_excluded ? value > min : value >= min) && value <= max;
    }
};

// The one table of sampling parameter ranges (the comment above explains each): request
// parsing (OpenAI fields, Ollama options), Modelfile PARAMETER lines and
// validate_sampling_params all read it.
inline constexpr ParamRange kParamRanges[] = {
    {"temperature", 0, kMaxTemperature},
    {"top_k", 0, 2147483647.0, true},
    {"top_p", 0, 1},
    {"min_p", 0, 1},
    {"typical_p", 0, 1},
    {"mirostat", 0, 2, true},
    {"mirostat_tau", 0, kMaxMirostatTau},
    {"mirostat_eta", 0, 1},
    {"repeat_penalty", 0, kMaxRepeatPenalty, false, true},
    {"repeat_last_n", -1, 2147483647.0, true},
    {"presence_penalty", -kMaxPresenceFrequencyPenalty, kMaxPresenceFrequencyPenalty},
    {"frequency_penalty", -kMaxPresenceFrequencyPenalty, kMaxPresenceFrequencyPenalty},
    {"top_logprobs", 0, kMaxTopLogprobs, true},
};

// The range of a parameter in kParamRanges, or nullptr for any other name.
const ParamRange* find_param_range(std::string_view name);
// The range of a parameter that must be in the table (a programmer error otherwise).
const ParamRange& param_range(std::string_view name);
// "<name> must be between <min> and <max>, got <value>" (or "greater than <min> and at most").
std::string describe_range_violation(const ParamRange& range, double value);
// A bias at or below -kMaxLogitBias removes the token from consideration entirely instead of only
// making it unlikely, which is what "-100 bans" promises regardless of the model's logit scale.
inline constexpr float kBanBias = -kMaxLogitBias;

// One entry of OpenAI's `logit_bias` object: `bias` is added to the token's logit.
struct TokenBias {
    int32_t token = 0;
    float bias = 0.0f;
};

struct SamplingParams {
    float temperature = 0.8f;
    int32_t top_k = 40;
    float top_p = 0.9f;
    float min_p = 0.0f;
    // Locally typical sampling: keeps the tokens whose surprise -log p is closest to the
    // distribution's entropy until their probability reaches typical_p.
    float typical_p = 1.0f;
    // Mirostat (Basu et al.): truncation that steers the observed surprise towards `tau` bits
    // with learning rate `eta`; v1 estimates the distribution's Zipf exponent, v2 cuts directly
    // at the running surprise bound.
    int32_t mirostat = 0;
    float mirostat_tau = 5.0f;
    float mirostat_eta = 0.1f;

    // llama.cpp repetition penalty over the last `repeat_last_n` tokens of the whole history
    // (prompt and generated): a positive logit is divided by it, a negative one multiplied.
    float repeat_penalty = 1.1f;
    int32_t repeat_last_n = 64;

    // OpenAI penalties over the generated tokens only (the prompt does not count):
    // logit -= count * frequency_penalty + (count > 0 ? presence_penalty : 0).
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;

    std::vector<TokenBias> logit_bias;

    // The same seed, parameters and logits give the same tokens. Without a seed the sampler draws
    // one from std::random_device and reports it through Sampler::seed().
    std::optional<uint64_t> seed;

    // Report the sampled token's log-probability and `top_logprobs` alternatives.
    bool logprobs = false;
    int32_t top_logprobs = 0;
};

// Checks every field against the table above and every logit_bias id against `n_vocab`. The
// message names the offending field (and token id), e.g. "top_p must be between 0 and 1, got 1.5".
Status validate_sampling_params(const SamplingParams& params, int32_t n_vocab);

// The logit_bias part of validate_sampling_params: ids in [0, n_vocab), no id twice, values finite
// and in [-100, 100].
Status validate_logit_bias(const std::vector<TokenBias>& logit_bias, int32_t n_vocab);

// Parses a JSON object key of `logit_bias` ("50256") into a token id: plain decimal digits only,
// no sign, no spaces, at most int32 range. The id is checked against the vocabulary later.
Expected<int32_t> parse_logit_bias_key(std::string_view key);

}  // namespace cria::sampling
