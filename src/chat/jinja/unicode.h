// UTF-8 handling and the small part of Python's Unicode semantics that templates observe:
// code-point length and indexing, str.isspace(), case mapping, str.isprintable() for repr().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"

namespace cria::chat::jinja::unicode {

// True when `text` is well-formed UTF-8 with no surrogates or overlong forms.
bool is_valid_utf8(std::string_view text);

// Decodes the code point that starts at text[pos] and advances pos past it. Input is assumed
// valid (checked once at the boundary); a malformed byte decodes as U+FFFD, one byte long.
char32_t decode(std::string_view text, size_t& pos);
using cria::append_utf8;  // core/utf8.h

size_t code_point_count(std::string_view text);
std::vector<char32_t> to_code_points(std::string_view text);
std::string from_code_points(const char32_t* begin, const char32_t* end);

// Python's str.isspace() for one code point.
bool is_space(char32_t cp);
// Python's str.isprintable() for one code point (approximated outside the common scripts).
bool is_printable(char32_t cp);
bool is_digit(char32_t cp);
bool is_alpha(char32_t cp);
bool is_upper(char32_t cp);
bool is_lower(char32_t cp);

// Simple case mappings: ASCII, Latin-1, Latin Extended-A/Additional, Greek, Cyrillic,
// Armenian and full-width Latin. Other code points map to themselves.
char32_t to_upper(char32_t cp);
char32_t to_lower(char32_t cp);

// Whole-string conversions with Python's results for the covered scripts ("ß".upper() is "SS").
std::string upper(std::string_view text);
std::string lower(std::string_view text);

// Byte offset of the code point with index `index` (or text.size() when index >= length).
size_t byte_offset_of(std::string_view text, size_t index);

}  // namespace cria::chat::jinja::unicode
