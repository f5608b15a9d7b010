// The subset of regular expressions cria enforces for JSON Schema `pattern`.
//
// Supported: literal characters (UTF-8 included), `.`, escaped metacharacters, \d \D \w \W \s
// \S \n \t \r, character classes `[...]` with ranges and negation (ASCII members only; a
// negated class also admits every non-ASCII character), groups `(...)` and `(?:...)`,
// alternation `|`, the quantifiers `* + ? {n} {n,} {n,m}` (a trailing lazy `?` is accepted and
// means the same for generation), and `^` / `$` as the first / last character. Without `^` or
// `$` the pattern may match anywhere in the string, as JSON Schema specifies, so any text is
// allowed before / after it. Anything else (backreferences, lookaround, \b, non-ASCII class
// ranges, ...) is an error that names it.
//
// The grammar produces the string's JSON-encoded body: characters the regex matches that JSON
// must escape (quote, backslash, control characters) come out escaped.
#pragma once

#include <string_view>

#include "core/status.h"
#include "grammar/grammar.h"

namespace cria::grammar {

// A rule for the body (between the quotes) of every JSON string whose value matches `pattern`.
// `json_char` is a rule matching one JSON-encoded string character (for the unanchored ends).
Expected<RuleId> compile_pattern(GrammarBuilder& builder, std::string_view pattern,
                                 RuleId json_char);

}  // namespace cria::grammar
