// Chat templates: the Jinja template a model carries in `tokenizer.chat_template`, rendered the
// way Hugging Face's apply_chat_template does (Jinja's ImmutableSandboxedEnvironment with
// trim_blocks and lstrip_blocks, tojson keeping non-ASCII, raise_exception, strftime_now).
//
// A template is untrusted input: parsing bounds its size and nesting, and rendering is capped
// in output size, loop iterations, recursion depth and time; exceeding a cap is an error.
//
//   auto tmpl = chat::ChatTemplate::parse(source);          // Expected<ChatTemplate>
//   nlohmann::ordered_json ctx = {{"messages", ...}, {"add_generation_prompt", true},
//                                 {"bos_token", "<s>"}, {"eos_token", "</s>"}};
//   auto prompt = tmpl->render(ctx);                        // Expected<std::string>
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "chat/jinja/strftime.h"
#include "core/status.h"

namespace cria::chat {

namespace jinja {
struct Template;
}

// A calendar time as strftime_now() sees it (naive local time).
using DateTime = jinja::DateTime;

// "2026-07-26", "2026-07-26T12:00:00", "2026-07-26 12:00:00.5"
Expected<DateTime> parse_datetime(std::string_view text);

struct RenderOptions {
    // Largest rendering (and largest string any template operation may build).
    size_t max_output_bytes = 8u << 20;
    // Loop iterations over the whole rendering; also the largest list a template may build.
    uint64_t max_loop_iterations = 1000000;
    // Nested macro calls and recursive loop calls.
    int max_recursion_depth = 64;
    std::chrono::milliseconds time_limit{2000};
    // What strftime_now() formats; the current local time when absent.
    std::optional<DateTime> now;
};

class ChatTemplate {
  public:
    // Parses a template. Syntax errors read "TemplateSyntaxError: <what> (line L, column C)".
    static Expected<ChatTemplate> parse(std::string_view source);

    // Renders with the context's keys as variables: typically `messages`, `tools`,
    // `add_generation_prompt`, `bos_token`, `eos_token` and any extra ones. Object key order is
    // kept (tojson and items() depend on it). Errors read "<Python exception class>: <message>",
    // e.g. "TemplateError: System role not supported" from raise_exception(); errors the engine
    // detects add "(line L, column C)". Exceeded caps give ErrorCode::kResourceExhausted.
    // Safe to call from several threads at once.
    Expected<std::string> render(const nlohmann::ordered_json& context,
                                 const RenderOptions& options = {}) const;

    // The template source as parsed (newlines normalized).
    const std::string& source() const;

  private:
    explicit ChatTemplate(std::shared_ptr<const jinja::Template> program)
        : program_(std::move(program)) {}
    std::shared_ptr<const jinja::Template> program_;
};

}  // namespace cria::chat
