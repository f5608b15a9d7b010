// Chat templates in either syntax a model may carry:
// - Jinja, as in a GGUF's `tokenizer.chat_template`, rendered the way Hugging Face's
//   apply_chat_template does (Jinja's ImmutableSandboxedEnvironment with trim_blocks and
//   lstrip_blocks, tojson keeping non-ASCII, raise_exception, strftime_now);
// - Go text/template, as in an Ollama Modelfile's TEMPLATE, rendered the way Ollama drives it
//   (collated messages, `.System`, `.Messages`, `.Tools`, the legacy `.Prompt`/`.Response`
//   form, fill-in-the-middle with `.Suffix`).
// Both take the same context, so callers need not know which one a model has.
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
namespace gotmpl {
struct OllamaTemplate;
}

enum class TemplateSyntax { kJinja, kGo };

// "jinja" or "go".
const char* template_syntax_name(TemplateSyntax syntax);

// Which syntax a template is written in: Go when it has no Jinja statements or comments and
// parses as a Go template (or looks like one: `{{ .Field }}`, `{{ $var }}`, `{{ end }}`...).
TemplateSyntax detect_template_syntax(std::string_view source);

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
    // Parses a template of either syntax. Jinja syntax errors read "TemplateSyntaxError: <what>
    // (line L, column C)"; Go ones "template: <what> (line L, column C)".
    static Expected<ChatTemplate> parse(std::string_view source);

    // Renders with the context's keys as variables: typically `messages`, `tools`,
    // `add_generation_prompt`, `bos_token`, `eos_token` and any extra ones. Object key order is
    // kept (tojson and items() depend on it). Errors read "<Python exception class>: <message>",
    // e.g. "TemplateError: System role not supported" from raise_exception(); errors the engine
    // detects add "(line L, column C)". Exceeded caps give ErrorCode::kResourceExhausted.
    // A Go template reads the same context as an Ollama request: `messages`, `tools`,
    // `enable_thinking`, and `prompt` + `suffix` for fill-in-the-middle (add_generation_prompt
    // is implied, as in Ollama). Safe to call from several threads at once.
    Expected<std::string> render(const nlohmann::ordered_json& context,
                                 const RenderOptions& options = {}) const;

    // The template source as parsed (newlines normalized for Jinja).
    const std::string& source() const;

    TemplateSyntax syntax() const {
        return go_program_ ? TemplateSyntax::kGo : TemplateSyntax::kJinja;
    }

  private:
    ChatTemplate() = default;
    std::shared_ptr<const jinja::Template> program_;            // set for Jinja
    std::shared_ptr<const gotmpl::OllamaTemplate> go_program_;  // set for Go
};

}  // namespace cria::chat
