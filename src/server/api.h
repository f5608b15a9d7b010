// The OpenAI-compatible wire format as pure functions: request bodies in (parsed and validated
// into structs, or an ApiError that names the offending field), response and stream-chunk JSON
// out. Nothing here touches a socket or a model, so every rule is unit-tested in isolation.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "engine/choice.h"
#include "sampling/sampling_params.h"

namespace cria::grammar {
class Grammar;
}

namespace cria::chat {
class ChatTemplate;
}

namespace cria::server {

// An error as OpenAI clients expect it: {"error": {"message", "type", "param", "code"}}.
struct ApiError {
    int http_status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::optional<std::string> param;  // the request field at fault, JSON null when absent
    std::optional<std::string> code;   // a stable machine-readable reason, JSON null when absent
};

ApiError invalid_request(std::string message, std::optional<std::string> param = std::nullopt,
                         std::optional<std::string> code = std::nullopt);
ApiError model_not_found(const std::string& model);
ApiError context_length_exceeded(int64_t prompt_tokens, int64_t context_length,
                                 const std::string& param);
ApiError body_too_large(uint64_t cap_bytes);
ApiError internal_fault(std::string message);
// 503: the server cannot take the request now (queue full, model unloading); retrying may work.
ApiError server_busy(std::string message);
nlohmann::ordered_json error_json(const ApiError& error);

// A parse result: the value or the ApiError explaining why there is none.
template <typename T>
class [[nodiscard]] ApiResult {
  public:
    ApiResult(T value) : storage_(std::move(value)) {}         // NOLINT: implicit by design
    ApiResult(ApiError error) : storage_(std::move(error)) {}  // NOLINT
    bool ok() const { return std::holds_alternative<T>(storage_); }
    T& value() { return std::get<T>(storage_); }
    const T& value() const { return std::get<T>(storage_); }
    const ApiError& error() const { return std::get<ApiError>(storage_); }

  private:
    std::variant<T, ApiError> storage_;
};

// Caps that keep one request from asking for unbounded work.
inline constexpr int kMaxChoices = 16;         // `n`
inline constexpr int kMaxLegacyLogprobs = 5;   // completions `logprobs`, as OpenAI's
inline constexpr size_t kMaxLogitBias = 1024;  // entries
inline constexpr size_t kMaxPrompts = 64;      // completions prompt arrays

// OpenAI's defaults (plain sampling at temperature 1, every truncation and penalty off), which
// differ from the sampler's Ollama-style defaults: an OpenAI client that sets nothing gets what
// OpenAI would do.
sampling::SamplingParams openai_default_sampling();

// What to generate, shared by chat and legacy completions. Sampling ranges are checked here,
// with the request field named; the sampler checks them again when it is created.
struct GenerationRequest {
    sampling::SamplingParams sampling = openai_default_sampling();  // logprobs included
    // Constrains decoding to this grammar when set (structured outputs, forced tool calls).
    std::shared_ptr<const grammar::Grammar> grammar;
    std::optional<int64_t> max_tokens;  // absent: until end of turn or end of context
    std::vector<std::string> stop;
    int n = 1;
};

struct ChatCompletionRequest {
    std::string model;
    // Normalized for the chat template: every message is an object with a string "role" and a
    // "content" that is a string (content-part arrays joined) or null; other fields pass through.
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    nlohmann::ordered_json tools;        // null or the request's array, passed to the template
    nlohmann::ordered_json tool_choice;  // null or as sent
    nlohmann::ordered_json response_format;
    bool parallel_tool_calls = true;
    // reasoning_effort "none" sets false: templates that read `enable_thinking` skip reasoning.
    std::optional<bool> enable_thinking;
    // chat_template_kwargs: null or an object whose keys join the template's variables
    // (messages, tools and add_generation_prompt excepted), e.g. {"enable_thinking": false}.
    nlohmann::ordered_json chat_template_kwargs;
    // Ollama's /api/generate `template`: rendered instead of the model's own (Jinja or Go).
    std::shared_ptr<const chat::ChatTemplate> template_override;
    // Ollama's /api/generate `suffix`: with it the template renders fill-in-the-middle from
    // `prompt` and `suffix`, which Go templates that name `.Suffix` support.
    std::string fill_prompt;
    std::string fill_suffix;
    GenerationRequest generation;
    bool stream = false;
    bool include_usage = false;
    std::string user;
};

// One prompt of a legacy completion: text, or token ids the client already tokenized.
struct PromptInput {
    std::string text;
    std::vector<int32_t> tokens;
    bool is_tokens = false;
};

struct CompletionRequest {
    std::string model;
    std::vector<PromptInput> prompts;  // at least one
    bool echo = false;
    // chat_template_kwargs: validated (an object) and otherwise unused: prompts are raw text.
    nlohmann::ordered_json chat_template_kwargs;
    GenerationRequest generation;  // max_tokens defaults to 16 here, as OpenAI's does
    bool stream = false;
    bool include_usage = false;
    std::string user;
};

ApiResult<ChatCompletionRequest> parse_chat_completion_request(std::string_view body);
ApiResult<CompletionRequest> parse_completion_request(std::string_view body);

// Checks what needs the model: logit_bias ids against the vocabulary size.
std::optional<ApiError> validate_for_vocabulary(const GenerationRequest& request, int64_t n_vocab);

// ---- Responses -------------------------------------------------------------------------------

// One token's log-probability and alternatives, and a choice's result: the engine's own types.
using engine::ChoiceResult;
using engine::TokenAlternative;
using engine::TokenLogprob;

struct Usage {
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
};

// Fields every object of one response (or every chunk of one stream) shares.
struct ResponseMeta {
    std::string id;
    int64_t created = 0;
    std::string model;
    std::string system_fingerprint;
};

// "chatcmpl-" / "cmpl-" followed by 24 random alphanumerics.
std::string new_response_id(std::string_view prefix);

// A token's text for JSON: valid UTF-8 is kept, each byte that is not is written as "\xNN".
std::string token_display_text(std::string_view bytes);

nlohmann::ordered_json usage_json(const Usage& usage);
nlohmann::ordered_json chat_logprobs_json(const std::vector<TokenLogprob>& tokens);

nlohmann::ordered_json chat_completion_json(const ResponseMeta& meta,
                                            const std::vector<ChoiceResult>& choices,
                                            bool with_logprobs, const Usage& usage);

// Stream chunks. `include_usage` adds "usage": null to every chunk before the usage chunk.
nlohmann::ordered_json chat_chunk_role_json(const ResponseMeta& meta, int index,
                                            bool include_usage);
// `logprobs` is null when not requested, else the entries for the tokens behind this delta.
nlohmann::ordered_json chat_chunk_content_json(const ResponseMeta& meta, int index,
                                               const std::string& content,
                                               const std::vector<TokenLogprob>* logprobs,
                                               bool include_usage);
nlohmann::ordered_json chat_chunk_finish_json(const ResponseMeta& meta, int index,
                                              const std::string& finish_reason, bool include_usage);
nlohmann::ordered_json usage_chunk_json(const ResponseMeta& meta, std::string_view object,
                                        const Usage& usage);

// Legacy completions. `text_offset` counts bytes from the start of the returned text.
nlohmann::ordered_json completion_logprobs_json(const std::vector<TokenLogprob>& tokens,
                                                size_t first_text_offset);
nlohmann::ordered_json completion_json(const ResponseMeta& meta,
                                       const std::vector<ChoiceResult>& choices, bool with_logprobs,
                                       const Usage& usage);
nlohmann::ordered_json completion_chunk_json(const ResponseMeta& meta, int index,
                                             const std::string& text,
                                             const std::vector<TokenLogprob>* logprobs,
                                             size_t first_text_offset,
                                             const std::optional<std::string>& finish_reason,
                                             bool include_usage);

struct ModelCard {
    std::string id;
    int64_t created = 0;
};
nlohmann::ordered_json model_json(const ModelCard& card);
nlohmann::ordered_json model_list_json(const std::vector<ModelCard>& cards);

// "data: <json>\n\n": one server-sent event. JSON dumped compactly has no raw newline.
std::string sse_event(const nlohmann::ordered_json& payload);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace cria::server
