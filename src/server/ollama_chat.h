// Ollama's generation endpoints:
//
//   POST /api/chat      {model, messages, tools, format, options, stream, keep_alive, think}
//   POST /api/generate  {model, prompt, suffix, system, template, context, raw, format, options,
//                        stream, keep_alive, think}
//
// Answers are NDJSON by default (one JSON object per line: "done": false chunks, then a final
// "done": true object with done_reason and the timings in nanoseconds), or one object with
// "stream": false. An empty prompt (or no messages) only loads the model, and with keep_alive 0
// unloads it, as Ollama does. `format` ("json" or a JSON Schema) constrains decoding with the
// same grammars as /v1's response_format; `tools` yield message.tool_calls with the arguments
// as an object; `think` splits <think> blocks into message.thinking (or "thinking").
//
// `template` renders this request with a template of its own (Jinja or Go); `suffix` asks for
// fill-in-the-middle, which a Go template that places `.Suffix` supports (others: 400 "does not
// support insert"). Differences from Ollama, answered with a 400: `images` (no vision models).
//
// The parsing and the JSON builders are pure functions, unit-tested without a socket.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/api.h"
#include "server/model_manager.h"
#include "server/router.h"

namespace cria::server {

struct OllamaGenerationRequest {
    bool is_chat = false;
    std::string model;
    // /api/chat: the conversation, tools, format and think as an OpenAI-shaped chat request
    // (messages normalized, tool-call arguments as objects). /api/generate fills it from the
    // prompt and system unless raw.
    ChatCompletionRequest chat;
    // /api/generate
    std::string prompt;
    std::optional<std::string> system;
    bool raw = false;
    std::vector<int32_t> context;
    // Both
    nlohmann::json options = nlohmann::json::object();  // normalized
    std::optional<KeepAlive> keep_alive;
    std::optional<bool> think;
    bool stream = true;
    // Nothing to generate: the request only loads (or with keep_alive 0 unloads) the model.
    bool load_only = false;
};

// Errors are 400s whose message names the field.
// Bodies are order-keeping JSON so that a `format` schema keeps its properties' order.
ApiResult<OllamaGenerationRequest> parse_ollama_chat_request(const nlohmann::ordered_json& body);
ApiResult<OllamaGenerationRequest> parse_ollama_generate_request(
    const nlohmann::ordered_json& body);

// The timings and counts of the final object.
struct OllamaStats {
    std::chrono::nanoseconds total{0};
    std::chrono::nanoseconds load{0};
    int64_t prompt_eval_count = 0;
    std::chrono::nanoseconds prompt_eval{0};
    int64_t eval_count = 0;
    std::chrono::nanoseconds eval{0};
};

// "2026-11-25T03:04:39.123456789Z"
std::string ollama_timestamp(std::chrono::system_clock::time_point when);

// OpenAI-shaped tool calls (arguments as a JSON string) as Ollama writes them:
// [{"function": {"name", "arguments": {...}}}]; arguments that do not parse stay a string.
nlohmann::ordered_json ollama_tool_calls(const nlohmann::ordered_json& openai_calls);

// A message for /api/chat from the shaped fields: content, thinking when any, tool_calls
// when any.
nlohmann::ordered_json ollama_message(const std::string& content, const std::string& thinking,
                                      const nlohmann::ordered_json& tool_calls);

// A "done": false object of /api/chat.
nlohmann::ordered_json ollama_chat_chunk(const std::string& model, const std::string& created_at,
                                         const nlohmann::ordered_json& message);
// A "done": false object of /api/generate.
nlohmann::ordered_json ollama_generate_chunk(const std::string& model,
                                             const std::string& created_at,
                                             const std::string& response,
                                             const std::string& thinking);
// The final object: `body` is a chunk from the builders above, completed with "done": true,
// done_reason and the stats (and for /api/generate the context when given).
nlohmann::ordered_json ollama_final(nlohmann::ordered_json body, const std::string& done_reason,
                                    const OllamaStats& stats, const std::vector<int32_t>* context);

// Registers /api/chat and /api/generate. `models` must outlive the server.
void register_ollama_generation_routes(Router& router, ModelManager& models);

}  // namespace cria::server
