#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>

namespace cria::tokenizer::unicode {
namespace {

uint8_t class_from_utf8proc(uint32_t cp) {
    if (cp > 0x10FFFF) return kOther;
    uint8_t bits = 0;
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
            bits = kLetter;
            break;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
            bits = kMark;
            break;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            bits = kNumber;
            break;
        case UTF8PROC_CATEGORY_PC:
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
            bits = kPunctuation;
            break;
        case UTF8PROC_CATEGORY_SM:
        case UTF8PROC_CATEGORY_SC:
        case UTF8PROC_CATEGORY_SK:
        case UTF8PROC_CATEGORY_SO:
            bits = kSymbol;
            break;
        case UTF8PROC_CATEGORY_ZS:
        case UTF8PROC_CATEGORY_ZL:
        case UTF8PROC_CATEGORY_ZP:
            // Every Z character has the White_Space property.
            bits = kSeparator | kWhitespace;
            break;
        default:
            bits = kOther;
            break;
    }
    // The only White_Space characters outside Z are the C0 controls TAB..CR and NEXT LINE.
    if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) bits |= kWhitespace;
    return bits;
}

// Second-byte bounds and total length of a UTF-8 sequence by its first byte; length 0 marks a
// byte that cannot start a sequence. The tight second-byte bounds reject overlong forms,
// surrogates and code points above U+10FFFF.
struct LeadInfo {
    uint8_t length;
    uint8_t second_lo;
    uint8_t second_hi;
};

LeadInfo lead_info(uint8_t b) {
    if (b < 0x80) return {1, 0, 0};
    if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b >= 0xE1 && b <= 0xEC) return {3, 0x80, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b >= 0xEE && b <= 0xEF) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

}  // namespace

uint8_t char_class(uint32_t cp) {
    static const std::array<uint8_t, 128> kAscii = [] {
        std::array<uint8_t, 128> table{};
        for (uint32_t c = 0; c < 128; ++c) table[c] = class_from_utf8proc(c);
        return table;
    }();
    if (cp < 128) return kAscii[cp];
    return class_from_utf8proc(cp);
}

Utf8Prefix classify_utf8_prefix(const char* data, size_t size, size_t* length) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(data);
    *length = 1;
    if (size == 0) return Utf8Prefix::kIncomplete;
    const LeadInfo info = lead_info(bytes[0]);
    if (info.length == 0) return Utf8Prefix::kInvalid;
    if (info.length == 1) return Utf8Prefix::kComplete;
    for (size_t i = 1; i < info.length; ++i) {
        if (i >= size) return Utf8Prefix::kIncomplete;
        const uint8_t lo = i == 1 ? info.second_lo : 0x80;
        const uint8_t hi = i == 1 ? info.second_hi : 0xBF;
        if (bytes[i] < lo || bytes[i] > hi) {
            // The bytes seen so far form the maximal invalid subpart: one replacement for them.
            *length = i;
            return Utf8Prefix::kInvalid;
        }
    }
    *length = info.length;
    return Utf8Prefix::kComplete;
}

Decoded decode_utf8(const char* data, size_t size) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(data);
    if (bytes[0] < 0x80) return {bytes[0], 1};
    size_t length = 0;
    if (classify_utf8_prefix(data, size, &length) != Utf8Prefix::kComplete) {
        return {kInvalidByte, 1};
    }
    uint32_t cp = 0;
    switch (length) {
        case 2:
            cp = (bytes[0] & 0x1Fu) << 6 | (bytes[1] & 0x3Fu);
            break;
        case 3:
            cp = (bytes[0] & 0x0Fu) << 12 | (bytes[1] & 0x3Fu) << 6 | (bytes[2] & 0x3Fu);
            break;
        default:
            cp = (bytes[0] & 0x07u) << 18 | (bytes[1] & 0x3Fu) << 12 | (bytes[2] & 0x3Fu) << 6 |
                 (bytes[3] & 0x3Fu);
            break;
    }
    return {cp, static_cast<uint32_t>(length)};
}

void CodepointText::assign(std::string_view text) {
    cps.clear();
    classes.clear();
    offsets.clear();
    cps.reserve(text.size());
    classes.reserve(text.size());
    offsets.reserve(text.size() + 1);
    size_t pos = 0;
    while (pos < text.size()) {
        const Decoded d = decode_utf8(text.data() + pos, text.size() - pos);
        cps.push_back(d.cp);
        classes.push_back(char_class(d.cp));
        offsets.push_back(pos);
        pos += d.length;
    }
    offsets.push_back(text.size());
}

uint32_t byte_to_codepoint(uint8_t byte) {
    static const std::array<uint32_t, 256> kTable = [] {
        std::array<uint32_t, 256> table{};
        uint32_t next_extra = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable =
                (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? b : next_extra++;
        }
        return table;
    }();
    return kTable[byte];
}

int codepoint_to_byte(uint32_t cp) {
    // The alphabet is byte values themselves (printable ones) and 256..323 for the others.
    static const std::array<int16_t, 324> kInverse = [] {
        std::array<int16_t, 324> table{};
        table.fill(-1);
        for (uint32_t b = 0; b < 256; ++b) table[byte_to_codepoint(static_cast<uint8_t>(b))] = b;
        return table;
    }();
    if (cp >= kInverse.size()) return -1;
    return kInverse[cp];
}

uint32_t to_lower(uint32_t cp) {
    if (cp < 128) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp > 0x10FFFF) return cp;
    return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

void append_without_accents(uint32_t cp, std::vector<uint32_t>& out) {
    if (cp < 128 || cp > 0x10FFFF) {
        out.push_back(cp);
        return;
    }
    // Canonical decompositions are at most 4 code points long in Unicode 15; 8 leaves headroom.
    utf8proc_int32_t parts[8];
    int last_boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(
        static_cast<utf8proc_int32_t>(cp), parts, 8,
        static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &last_boundclass);
    if (n <= 0 || n > 8) {
        if (utf8proc_category(static_cast<utf8proc_int32_t>(cp)) != UTF8PROC_CATEGORY_MN) {
            out.push_back(cp);
        }
        return;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i) {
        if (utf8proc_category(parts[i]) == UTF8PROC_CATEGORY_MN) continue;
        out.push_back(static_cast<uint32_t>(parts[i]));
    }
}

bool is_cjk_ideograph(uint32_t cp) {
    // The CJK Unified Ideographs blocks, their extensions and the compatibility ideographs, as
    // the reference BERT tokenizer implementation lists them (its fifth range starts at U+2B920).
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace cria::tokenizer::unicode
