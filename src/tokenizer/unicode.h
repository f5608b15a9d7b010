// Unicode helpers for the tokenizers: lenient UTF-8 decoding, the character classes the
// pre-tokenizers need (from utf8proc's general categories, never from hand-typed tables), the
// GPT-2 byte-level alphabet, and the BERT normalization steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"

namespace cria::tokenizer::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;
// Code point recorded for a byte that does not start a valid UTF-8 sequence. It is outside the
// Unicode range, so it can never be confused with a real character; its class is "other".
inline constexpr uint32_t kInvalidByte = 0x110000;

// Character classes as bits. kLetter..kOther mirror the Unicode general-category groups
// (L, N, P, S, M, Z, C); kWhitespace is the White_Space property, which is what `\s` means in
// the pre-tokenizer patterns.
enum CharClass : uint8_t {
    kLetter = 1u << 0,
    kNumber = 1u << 1,
    kPunctuation = 1u << 2,
    kSymbol = 1u << 3,
    kMark = 1u << 4,
    kSeparator = 1u << 5,
    kOther = 1u << 6,  // control, format, surrogate, private use, unassigned
    kWhitespace = 1u << 7,
};

// The class bits of one code point (kInvalidByte gets kOther).
uint8_t char_class(uint32_t cp);

inline bool is_cr_or_lf(uint32_t cp) {
    return cp == '\r' || cp == '\n';
}

// One decoded character: its code point and how many bytes it took. A byte that does not begin a
// valid, complete, shortest-form sequence decodes alone as kInvalidByte with length 1, so that any
// byte string splits into characters whose bytes concatenate back to the input.
struct Decoded {
    uint32_t cp;
    uint32_t length;
};
Decoded decode_utf8(const char* data, size_t size);

using cria::append_utf8;  // core/utf8.h

// What the bytes at the start of a buffer hold, for streaming output.
enum class Utf8Prefix {
    kComplete,    // one valid character of `length` bytes
    kIncomplete,  // a valid start of a character that needs more bytes than the buffer has
    kInvalid,     // `length` bytes (at least 1) that can never start a valid character
};
Utf8Prefix classify_utf8_prefix(const char* data, size_t size, size_t* length);

// The text as code points with their classes and byte offsets; offsets has size()+1 entries so
// that character i spans bytes [offsets[i], offsets[i+1]).
struct CodepointText {
    std::vector<uint32_t> cps;
    std::vector<uint8_t> classes;
    std::vector<size_t> offsets;

    void assign(std::string_view text);
    size_t size() const { return cps.size(); }
};

// The GPT-2 byte-level alphabet: every byte maps to one printable code point (printable Latin-1
// bytes to themselves, the others to 256 + n in byte order).
uint32_t byte_to_codepoint(uint8_t byte);
// The byte a code point of that alphabet stands for, or -1 for a code point outside it.
int codepoint_to_byte(uint32_t cp);

// Simple (one code point) lowercase mapping.
uint32_t to_lower(uint32_t cp);

// Appends the canonical decomposition of `cp` without its nonspacing marks (Mn): BERT's accent
// stripping. Characters without a decomposition are appended unchanged (unless they are Mn).
void append_without_accents(uint32_t cp, std::vector<uint32_t>& out);

// CJK ideographs that BERT isolates as single-character words.
bool is_cjk_ideograph(uint32_t cp);

}  // namespace cria::tokenizer::unicode
