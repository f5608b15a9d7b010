#include "sampling/sampling_params.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace cria::sampling {
namespace {

std::string format_number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

// `lo <= value <= hi`, written so that NaN fails.
Status check_closed_range(const char* field, double value, double lo, double hi) {
    if (value >= lo && value <= hi) return Status::ok();
    return invalid_argument(std::string(field) + " must be between " + format_number(lo) + " and " +
                            format_number(hi) + ", got " + format_number(value));
}

}  // namespace

Status validate_logit_bias(const std::vector<TokenBias>& logit_bias, int32_t n_vocab) {
    for (const TokenBias& entry : logit_bias) {
        if (entry.token < 0 || entry.token >= n_vocab) {
            return invalid_argument("logit_bias: token id " + std::to_string(entry.token) +
                                    " is outside the vocabulary (valid ids are 0.." +
                                    std::to_string(n_vocab - 1) + ")");
        }
        if (!(entry.bias >= -kMaxLogitBias && entry.bias <= kMaxLogitBias)) {
            return invalid_argument(
                "logit_bias: the bias for token id " + std::to_string(entry.token) +
                " must be between -100 and 100, got " + format_number(entry.bias));
        }
    }
    // Two entries for one id would leave it unclear which bias the caller meant.
    std::vector<int32_t> ids;
    ids.reserve(logit_bias.size());
    for (const TokenBias& entry : logit_bias) ids.push_back(entry.token);
    std::sort(ids.begin(), ids.end());
    const auto duplicate = std::adjacent_find(ids.begin(), ids.end());
    if (duplicate != ids.end()) {
        return invalid_argument("logit_bias: token id " + std::to_string(*duplicate) +
                                " appears more than once");
    }
    return Status::ok();
}

Status validate_sampling_params(const SamplingParams& params, int32_t n_vocab) {
    if (n_vocab <= 0) {
        return invalid_argument("vocabulary size must be positive, got " + std::to_string(n_vocab));
    }
    CRIA_RETURN_IF_ERROR(
        check_closed_range("temperature", params.temperature, 0.0, kMaxTemperature));
    if (params.top_k < 0) {
        return invalid_argument("top_k must be 0 (disabled) or positive, got " +
                                std::to_string(params.top_k));
    }
    CRIA_RETURN_IF_ERROR(check_closed_range("top_p", params.top_p, 0.0, 1.0));
    CRIA_RETURN_IF_ERROR(check_closed_range("min_p", params.min_p, 0.0, 1.0));
    CRIA_RETURN_IF_ERROR(check_closed_range("typical_p", params.typical_p, 0.0, 1.0));
    if (params.mirostat < 0 || params.mirostat > 2) {
        return invalid_argument("mirostat must be 0 (off), 1 or 2, got " +
                                std::to_string(params.mirostat));
    }
    CRIA_RETURN_IF_ERROR(
        check_closed_range("mirostat_tau", params.mirostat_tau, 0.0, kMaxMirostatTau));
    CRIA_RETURN_IF_ERROR(check_closed_range("mirostat_eta", params.mirostat_eta, 0.0, 1.0));
    // Zero would divide positive logits by zero; llama.cpp has no meaning for it either.
    if (!(params.repeat_penalty > 0.0f && params.repeat_penalty <= kMaxRepeatPenalty)) {
        return invalid_argument("repeat_penalty must be greater than 0 and at most " +
                                format_number(kMaxRepeatPenalty) + ", got " +
                                format_number(params.repeat_penalty));
    }
    if (params.repeat_last_n < -1) {
        return invalid_argument(
            "repeat_last_n must be -1 (whole history), 0 (disabled) or positive, got " +
            std::to_string(params.repeat_last_n));
    }
    CRIA_RETURN_IF_ERROR(check_closed_range("presence_penalty", params.presence_penalty,
                                            -kMaxPresenceFrequencyPenalty,
                                            kMaxPresenceFrequencyPenalty));
    CRIA_RETURN_IF_ERROR(check_closed_range("frequency_penalty", params.frequency_penalty,
                                            -kMaxPresenceFrequencyPenalty,
                                            kMaxPresenceFrequencyPenalty));
    if (params.top_logprobs < 0 || params.top_logprobs > kMaxTopLogprobs) {
        return invalid_argument("top_logprobs must be between 0 and " +
                                std::to_string(kMaxTopLogprobs) + ", got " +
                                std::to_string(params.top_logprobs));
    }
    if (params.top_logprobs > 0 && !params.logprobs) {
        return invalid_argument("top_logprobs requires logprobs to be true");
    }
    return validate_logit_bias(params.logit_bias, n_vocab);
}

Expected<int32_t> parse_logit_bias_key(std::string_view key) {
    const bool all_digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return c >= '0' && c <= '9';
    });
    int32_t id = 0;
    if (all_digits) {
        const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), id);
        if (error == std::errc() && end == key.data() + key.size()) return id;
    }
    // Echo at most a short prefix: the key comes from the request and may be huge.
    constexpr size_t kMaxEcho = 32;
    std::string shown(key.substr(0, kMaxEcho));
    if (key.size() > kMaxEcho) shown += "...";
    return invalid_argument("logit_bias: key '" + shown +
                            "' is not a token id (expected a non-negative integer)");
}

}  // namespace cria::sampling
