// libFuzzer target for the template engines (Jinja and Ollama's Go templates, whichever the
// source reads as): any source must parse or be refused, and any template must render or fail
// with a Status within its caps, never crash, hang or read out of bounds.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "chat/chat_template.h"

namespace {

const nlohmann::ordered_json& context() {
    static const nlohmann::ordered_json value = nlohmann::ordered_json::parse(R"({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi <b>there</b> \u00e9"},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
             "function": {"name": "add", "arguments": {"a": 1, "b": [2, 3]}}}]},
            {"role": "tool", "content": "3"},
            {"role": "user", "content": [{"type": "text", "text": "again"}]}],
        "tools": [{"type": "function", "function": {"name": "add", "description": "adds",
                   "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
        "enable_thinking": false})");
    return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view source(reinterpret_cast<const char*>(data), size);
    auto parsed = cria::chat::ChatTemplate::parse(source);
    if (!parsed.has_value()) return 0;
    cria::chat::RenderOptions options;
    options.max_output_bytes = 1 << 16;
    options.max_loop_iterations = 10000;
    options.max_recursion_depth = 16;
    options.time_limit = std::chrono::milliseconds(200);
    options.now = cria::chat::DateTime{};
    auto rendered = parsed->render(context(), options);
    // The output cap holds whatever the template does.
    if (rendered.has_value() && rendered->size() > options.max_output_bytes) __builtin_trap();
    return 0;
}
