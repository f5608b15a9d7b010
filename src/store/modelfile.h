// Modelfiles: Ollama's recipe for a model.
//
//   FROM ./model.gguf            (a GGUF path, relative to the Modelfile, or an existing model)
//   PARAMETER num_ctx 8192       (repeatable; `stop` accumulates)
//   TEMPLATE """{{ ... }}"""     (Jinja chat template; replaces the GGUF's)
//   SYSTEM You are terse.
//   MESSAGE user Hello           (role: system, user or assistant)
//   LICENSE """..."""            (repeatable)
//   # comment
//
// Instructions are case-insensitive. A value is the rest of the line, a "double-quoted" string
// (with \" and \\ escapes) or a """triple-quoted""" string that may span lines. ADAPTER is refused
// because cria cannot apply LoRA adapters. Errors name the line.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cria::store {

struct ModelMessage {
    std::string role;
    std::string content;
};

// What a model is built from, whether it came from a Modelfile or from /api/create's fields.
struct ModelRecipe {
    std::string from;  // a GGUF path or a model name; see ModelStore::create
    nlohmann::json parameters = nlohmann::json::object();  // normalized options
    std::optional<std::string> chat_template;
    std::optional<std::string> system;
    std::vector<ModelMessage> messages;
    std::vector<std::string> licenses;
};

inline constexpr size_t kMaxModelfileBytes = 16u << 20;

Expected<ModelRecipe> parse_modelfile(std::string_view text);

// Renders a Modelfile that rebuilds a model (as `ollama show --modelfile` prints it).
std::string format_modelfile(const ModelRecipe& recipe, std::string_view header_comment);

// True for the roles MESSAGE accepts.
bool valid_message_role(std::string_view role);

}  // namespace cria::store
