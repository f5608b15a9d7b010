// How Ollama drives a Go template from a chat request: messages are collated (consecutive
// turns of one role merged), templates that mention `Messages` render once with the whole
// conversation, and legacy templates render once per System/Prompt/Response turn with the last
// render cut right after its `.Response`. Fill-in-the-middle requests see only Prompt/Suffix.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/gotmpl/exec.h"
#include "chat/gotmpl/parse.h"

namespace cria::chat::gotmpl {

// A parsed template prepared the way Ollama's template.Parse leaves it: `{{ .Response }}` is
// appended when the template mentions neither Messages nor Response.
struct OllamaTemplate {
    std::shared_ptr<const Program> program;
    bool uses_messages = false;  // names `Messages` anywhere: rendered once per request
};

// Throws Error on a syntax error.
OllamaTemplate prepare_ollama_template(std::string_view source);

// Renders for a request given as the chat-template context cria uses for Jinja: `messages`
// (OpenAI shape: role, content as text or parts, tool_calls with arguments as an object or a
// JSON string, tool_call_id, name or tool_name, reasoning_content or thinking), `tools` (OpenAI
// function tools), `enable_thinking` / `think`, and `prompt` + `suffix` for fill-in-the-middle.
// Throws Error.
std::string render_ollama(const OllamaTemplate& tmpl, const nlohmann::ordered_json& context,
                          const Limits& limits);

}  // namespace cria::chat::gotmpl
