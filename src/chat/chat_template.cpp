#include "chat/chat_template.h"

#include <new>

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

}  // namespace

Expected<DateTime> parse_datetime(std::string_view text) {
    DateTime time;
    if (!jinja::parse_iso_datetime(text, time)) {
        return invalid_argument("not a date and time in ISO 8601 form (YYYY-MM-DDTHH:MM:SS): '" +
                                std::string(text) + "'");
    }
    return time;
}

Expected<ChatTemplate> ChatTemplate::parse(std::string_view source) {
    try {
        std::shared_ptr<const jinja::Template> program =
            jinja::parse_template(source, jinja::LexerOptions{});
        return ChatTemplate(std::move(program));
    } catch (const jinja::Error& error) {
        // Offsets refer to the normalized source; newline normalization keeps line numbers.
        return to_status(error, jinja::normalize_source(source));
    } catch (const std::bad_alloc&) {
        return resource_exhausted("out of memory while parsing the chat template");
    }
}

Expected<std::string> ChatTemplate::render(const nlohmann::ordered_json& context,
                                           const RenderOptions& options) const {
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
    return program_->source;
}

}  // namespace cria::chat
