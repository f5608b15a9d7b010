#include "sampling/sampling_params.h"

#include <algorithm>
#include <cassert>
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

Status check_param(std::string_view name, double value) {
    const ParamRange& range = param_range(name);
    if (range.contains(value)) return Status::ok();
    return invalid_argument(describe_range_violation(range, value));
}

}  // namespace

const ParamRange* find_param_range(std::string_view name) {
    for (const ParamRange& range : kParamRanges) {
        if (range.name == name) return &range;
    }
    return nullptr;
}

const ParamRange& param_range(std::string_view name) {
    const ParamRange* range = find_param_range(name);
    assert(range != nullptr && "a sampling parameter missing from kParamRanges");
    return *range;
}

std::string describe_range_violation(const ParamRange& range, double value) {
    const std::string lower = range.min_excluded ? " must be greater than " : " must be between ";
    const std::string upper = range.min_excluded ? " and at most " : " and ";
    return std::string(range.name) + lower + format_number(range.min) + upper +
           format_number(range.max) + ", got " + format_number(value);
}

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
    CRIA_RETURN_IF_ERROR(check_param("temperature", params.temperature));
    CRIA_RETURN_IF_ERROR(check_param("top_k", params.top_k));
    CRIA_RETURN_IF_ERROR(check_param("top_p", params.top_p));
    CRIA_RETURN_IF_ERROR(check_param("min_p", params.min_p));
    CRIA_RETURN_IF_ERROR(check_param("typical_p", params.typical_p));
    CRIA_RETURN_IF_ERROR(check_param("mirostat", params.mirostat));
    CRIA_RETURN_IF_ERROR(check_param("mirostat_tau", params.mirostat_tau));
    CRIA_RETURN_IF_ERROR(check_param("mirostat_eta", params.mirostat_eta));
    // Zero would divide positive logits by zero; llama.cpp has no meaning for it either.
    CRIA_RETURN_IF_ERROR(check_param("repeat_penalty", params.repeat_penalty));
    CRIA_RETURN_IF_ERROR(check_param("repeat_last_n", params.repeat_last_n));
    CRIA_RETURN_IF_ERROR(check_param("presence_penalty", params.presence_penalty));
    CRIA_RETURN_IF_ERROR(check_param("frequency_penalty", params.frequency_penalty));
    CRIA_RETURN_IF_ERROR(check_param("top_logprobs", params.top_logprobs));
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
