// What generating one choice yields, in the form every layer above the scheduler uses: its
// text as it grows (with the log-probabilities of the tokens behind it) and its result. The
// server's APIs build their responses from these directly.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cria::engine {

// A token's bytes (possibly part of a UTF-8 character) and log-probability.
struct TokenAlternative {
    std::string bytes;
    float logprob = 0.0f;
};
struct TokenLogprob {
    std::string bytes;
    float logprob = 0.0f;
    std::vector<TokenAlternative> top;  // most likely first
};

struct ChoiceResult {
    int index = 0;  // the choice's index in the response
    std::string text;
    std::string finish_reason;           // "stop" or "length"
    std::vector<TokenLogprob> logprobs;  // when the sampling parameters ask for them
    int64_t completion_tokens = 0;
    std::vector<int32_t> tokens;       // generated ids, an end-of-turn token excluded
    int64_t cached_prompt_tokens = 0;  // prompt tokens reused from a slot's cache
};

// What a caller hears, on its own thread. Returning false cancels the whole request.
struct RequestEvents {
    // New text in whole UTF-8 characters, with the logprobs of the tokens behind it.
    std::function<bool(int index, const std::string& text, std::vector<TokenLogprob>&& logprobs)>
        on_piece;
    std::function<bool(const ChoiceResult& result)> on_finish;
};

}  // namespace cria::engine
