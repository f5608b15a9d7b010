#include "chat/chat_template.h"

#include <algorithm>
#include <new>

#include "chat/gotmpl/ollama.h"
#include "chat/jinja/error.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/lexer.h"
#include "chat/jinja/parser.h"
#include "chat/jinja/pyformat.h"

namespace cria::chat {
namespace {

std::string located(const jinja::Error& error, std::string_view source) {
    std::string message =
        std::string(jinja::error_kind_name(error.kind())) + ": " + error.message();
    // raise_exception() messages are the template author's own words: keep them verbatim.
    if (error.kind() != jinja::ErrorKind::kTemplate && error.offset() != jinja::kNoOffset) {
        int line = 0;
        int column = 0;
        jinja::locate(source, error.offset(), line, column);
        message += " (line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
    }
    return message;
}

Status to_status(const jinja::Error& error, std::string_view source) {
    std::string message = located(error, source);
    switch (error.kind()) {
        case jinja::ErrorKind::kSyntax:
            return invalid_argument(std::move(message));
        case jinja::ErrorKind::kLimit:
            return resource_exhausted(std::move(message));
        default:
            return Status(ErrorCode::kInvalidArgument, std::move(message));
    }
}

Status go_status(const gotmpl::Error& error, std::string_view source) {
    std::string message = "template: " + error.message();
    if (error.offset() != gotmpl::kNoOffset) {
        message += " (" + gotmpl::describe_position(source, error.offset()) + ")";
    }
    return error.is_limit() ? resource_exhausted(std::move(message))
                            : invalid_argument(std::move(message));
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Whether the action body (the text between the delimiters) is written the way only Go
// templates write one: it starts with a field, a variable or a comment, is `end` or `else`,
// defines or calls a named template, or passes a field or variable (` .Name`, ` $x`) as an
// argument, which Jinja has no syntax for. Quoted strings are skipped.
bool action_looks_like_go(std::string_view body) {
    size_t i = 0;
    while (i < body.size() && is_space(body[i])) ++i;
    if (i >= body.size()) return false;
    if (body[i] == '.' || body[i] == '$' || body.compare(i, 2, "/*") == 0) return true;
    auto word_then = [&](std::string_view word, std::string_view next_chars) {
        if (body.compare(i, word.size(), word) != 0) return false;
        size_t k = i + word.size();
        if (k < body.size() && !is_space(body[k])) return false;
        while (k < body.size() && is_space(body[k])) ++k;
        return k >= body.size()
                   ? next_chars.empty() || next_chars.find('$') != std::string_view::npos
                   : next_chars.find(body[k]) != std::string_view::npos;
    };
    if (word_then("end", "-$") || word_then("else", "-$")) return true;
    for (std::string_view word : {"define", "template", "block"}) {
        if (word_then(word, "\"`")) return true;
    }
    char quote = 0;
    for (size_t k = i; k + 2 < body.size(); ++k) {
        const char c = body[k];
        if (quote) {
            if (c == '\\') {
                ++k;
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '"' || c == '\'' || c == '`') {
            quote = c;
            continue;
        }
        if ((is_space(c) || c == '(') &&
            ((body[k + 1] == '.' && is_letter(body[k + 2])) ||
             (body[k + 1] == '$' && (is_letter(body[k + 2]) || body[k + 2] == '.')))) {
            return true;
        }
    }
    return false;
}

bool looks_like_go(std::string_view source) {
    for (size_t at = source.find("{{"); at != std::string_view::npos;
         at = source.find("{{", at + 2)) {
        size_t begin = at + 2;
        if (begin + 1 < source.size() && source[begin] == '-' && is_space(source[begin + 1]))
            ++begin;
        size_t end = source.find("}}", begin);
        if (end == std::string_view::npos) end = source.size();
        // A right trim marker " -" is not part of the body.
        std::string_view body = source.substr(begin, end - begin);
        if (body.size() >= 2 && body.back() == '-' && is_space(body[body.size() - 2])) {
            body.remove_suffix(1);
        }
        if (action_looks_like_go(body)) return true;
    }
    return false;
}

}  // namespace

const char* template_syntax_name(TemplateSyntax syntax) {
    return syntax == TemplateSyntax::kGo ? "go" : "jinja";
}

TemplateSyntax detect_template_syntax(std::string_view source) {
    if (source.find("{%") != std::string_view::npos ||
        source.find("{#") != std::string_view::npos) {
        return TemplateSyntax::kJinja;
    }
    return looks_like_go(source) ? TemplateSyntax::kGo : TemplateSyntax::kJinja;
}

Expected<DateTime> parse_datetime(std::string_view text) {
    DateTime time;
    if (!jinja::parse_iso_datetime(text, time)) {
        return invalid_argument("not a date and time in ISO 8601 form (YYYY-MM-DDTHH:MM:SS): '" +
                                std::string(text) + "'");
    }
    return time;
}

Expected<ChatTemplate> ChatTemplate::parse(std::string_view source) {
    if (detect_template_syntax(source) == TemplateSyntax::kGo) {
        try {
            ChatTemplate parsed;
            parsed.go_program_ = std::make_shared<const gotmpl::OllamaTemplate>(
                gotmpl::prepare_ollama_template(source));
            return parsed;
        } catch (const gotmpl::Error& error) {
            return go_status(error, source);
        } catch (const std::bad_alloc&) {
            return resource_exhausted("out of memory while parsing the chat template");
        }
    }
    try {
        ChatTemplate parsed;
        parsed.program_ = jinja::parse_template(source, jinja::LexerOptions{});
        return parsed;
    } catch (const jinja::Error& error) {
        // Offsets refer to the normalized source; newline normalization keeps line numbers.
        return to_status(error, jinja::normalize_source(source));
    } catch (const std::bad_alloc&) {
        return resource_exhausted("out of memory while parsing the chat template");
    }
}

Expected<std::string> ChatTemplate::render(const nlohmann::ordered_json& context,
                                           const RenderOptions& options) const {
    if (go_program_) {
        gotmpl::Limits limits;
        limits.max_output_bytes = options.max_output_bytes;
        limits.max_loop_iterations = options.max_loop_iterations;
        limits.max_recursion_depth = options.max_recursion_depth;
        limits.time_limit = options.time_limit;
        limits.now = options.now ? *options.now : jinja::local_now();
        if (!context.is_object())
            return invalid_argument("the template context must be a JSON object");
        try {
            return gotmpl::render_ollama(*go_program_, context, limits);
        } catch (const gotmpl::Error& error) {
            return go_status(error, go_program_->program->source);
        } catch (const std::bad_alloc&) {
            return resource_exhausted("out of memory while rendering the chat template");
        }
    }
    jinja::Limits limits;
    limits.max_output_bytes = options.max_output_bytes;
    limits.max_loop_iterations = options.max_loop_iterations;
    limits.max_recursion_depth = options.max_recursion_depth;
    limits.time_limit = options.time_limit;
    limits.now = options.now ? *options.now : jinja::local_now();
    try {
        if (!context.is_object())
            return invalid_argument("the template context must be a JSON object");
        const jinja::Value variables = jinja::from_json(context);
        jinja::Interpreter interpreter(*program_, limits);
        return interpreter.render(variables);
    } catch (const jinja::Error& error) {
        return to_status(error, program_->source);
    } catch (const std::bad_alloc&) {
        return resource_exhausted("out of memory while rendering the chat template");
    }
}

const std::string& ChatTemplate::source() const {
    return go_program_ ? go_program_->program->source : program_->source;
}

}  // namespace cria::chat
