// Splits a template into text and tag tokens with Jinja's whitespace rules: `{%-`/`-%}` strip
// all whitespace on that side, `{%+`/`+%}` opt out of lstrip_blocks/trim_blocks, trim_blocks
// drops the newline after a block or comment tag, lstrip_blocks drops the indentation before
// one. `{% raw %}` bodies become text; comments vanish.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cria::chat::jinja {

enum class TokenType : uint8_t {
    kText,
    kVariableBegin,  // {{
    kVariableEnd,    // }}
    kBlockBegin,     // {%
    kBlockEnd,       // %}
    kName,
    kString,    // text holds the decoded value
    kInteger,   // int_value
    kFloat,     // float_value
    kOperator,  // text holds the spelling: "+", "//", "==", "(", ...
    kEnd,
};

struct Token {
    TokenType type = TokenType::kEnd;
    uint32_t offset = 0;  // byte offset in the normalized source
    std::string text;
    int64_t int_value = 0;
    double float_value = 0.0;
};

struct LexerOptions {
    bool trim_blocks = true;  // as Hugging Face's renderer sets them
    bool lstrip_blocks = true;
};

// Jinja's view of the source: "\r\n" and "\r" become "\n" and one trailing newline is dropped
// (keep_trailing_newline=False).
std::string normalize_source(std::string_view raw);

// Tokens of a normalized source, ending with kEnd. Throws Error(kSyntax) with the offset.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options);

// 1-based line and column (in code points) of a byte offset.
void locate(std::string_view source, uint32_t offset, int& line, int& column);

}  // namespace cria::chat::jinja
