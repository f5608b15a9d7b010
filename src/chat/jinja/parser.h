// Parses a template source into a Template tree (recursive descent mirroring Jinja's grammar
// and operator precedence). Syntax errors carry the offset of the offending token.
#pragma once

#include <memory>
#include <string_view>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace cria::chat::jinja {

// Deepest nesting of expressions and blocks the parser accepts: keeps the recursive descent
// (and later the recursive evaluation) far from the stack limit on hostile input.
inline constexpr int kMaxParseDepth = 200;
// Largest template source accepted.
inline constexpr size_t kMaxTemplateBytes = 4u << 20;

// Throws Error(kSyntax) with the offset of the problem in the normalized source.
std::unique_ptr<Template> parse_template(std::string_view raw_source, const LexerOptions& options);

}  // namespace cria::chat::jinja
