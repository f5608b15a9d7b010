#include "chat/jinja/unicode.h"

namespace cria::chat::jinja::unicode {

bool is_valid_utf8(std::string_view text) {
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        if (b0 < 0x80) {
            ++i;
            continue;
        }
        size_t len = 0;
        char32_t cp = 0;
        char32_t min_cp = 0;
        if ((b0 & 0xE0) == 0xC0) {
            len = 2;
            cp = b0 & 0x1F;
            min_cp = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            len = 3;
            cp = b0 & 0x0F;
            min_cp = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            len = 4;
            cp = b0 & 0x07;
            min_cp = 0x10000;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3F);
        }
        if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

char32_t decode(std::string_view text, size_t& pos) {
    const auto b0 = static_cast<unsigned char>(text[pos]);
    if (b0 < 0x80) {
        ++pos;
        return b0;
    }
    size_t len = 0;
    char32_t cp = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        cp = b0 & 0x07;
    } else {
        ++pos;
        return 0xFFFD;
    }
    if (pos + len > text.size()) {
        ++pos;
        return 0xFFFD;
    }
    for (size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(text[pos + k]);
        if ((b & 0xC0) != 0x80) {
            ++pos;
            return 0xFFFD;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    pos += len;
    return cp;
}

size_t code_point_count(std::string_view text) {
    size_t count = 0;
    for (char c : text) {
        // Every code point has exactly one byte that is not a continuation byte.
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
    }
    return count;
}

std::vector<char32_t> to_code_points(std::string_view text) {
    std::vector<char32_t> out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) out.push_back(decode(text, pos));
    return out;
}

std::string from_code_points(const char32_t* begin, const char32_t* end) {
    std::string out;
    out.reserve(static_cast<size_t>(end - begin));
    for (const char32_t* p = begin; p != end; ++p) append_utf8(out, *p);
    return out;
}

size_t byte_offset_of(std::string_view text, size_t index) {
    size_t seen = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            if (seen == index) return i;
            ++seen;
        }
    }
    return text.size();
}

bool is_space(char32_t cp) {
    if (cp <= 0x7F) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_printable(char32_t cp) {
    if (cp < 0x20 || cp == 0x7F) return false;
    if (cp < 0x7F) return true;
    if (cp <= 0xA0) return false;  // C1 controls and the no-break space (Zs)
    if (cp == 0xAD) return false;  // soft hyphen (Cf)
    if (cp >= 0x600 && cp <= 0x605) return false;
    if (cp == 0x61C || cp == 0x6DD || cp == 0x70F || cp == 0x8E2 || cp == 0x1680 || cp == 0x180E)
        return false;
    if (cp >= 0x2000 && cp <= 0x200F) return false;
    if (cp >= 0x2028 && cp <= 0x202F) return false;
    if (cp >= 0x205F && cp <= 0x206F) return false;
    if (cp == 0x3000) return false;
    if (cp >= 0xD800 && cp <= 0xF8FF) return false;  // surrogates and private use
    if (cp == 0xFEFF) return false;
    if (cp >= 0xFFF0 && cp <= 0xFFFB) return false;
    if (cp == 0xFFFE || cp == 0xFFFF) return false;
    if (cp >= 0x1BCA0 && cp <= 0x1BCA3) return false;
    if (cp >= 0x1D173 && cp <= 0x1D17A) return false;
    if (cp >= 0xE0000) return false;  // tags, variation selectors supplement, private use
    return true;
}

bool is_digit(char32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    // Decimal digits of the common scripts (Arabic-Indic, Devanagari, full-width, ...).
    static const char32_t kZeros[] = {0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66,
                                      0xBE6, 0xC66, 0xCE6, 0xD66, 0xE50, 0xED0, 0xF20, 0xFF10};
    for (char32_t zero : kZeros) {
        if (cp >= zero && cp <= zero + 9) return true;
    }
    return cp == 0xB2 || cp == 0xB3 || cp == 0xB9;  // superscripts count as digits in Python
}

namespace {

// Blocks where each upper-case letter at an even code point is followed by its lower case.
bool in_paired_block(char32_t cp, char32_t first, char32_t last) {
    return cp >= first && cp <= last;
}

}  // namespace

char32_t to_lower(char32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) return cp + 32;
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x130) return 'i';
        if (cp == 0x178) return 0xFF;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) {
            return (cp % 2 == 1) ? cp + 1 : cp;
        }
        if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) {
            return (cp % 2 == 0) ? cp + 1 : cp;
        }
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;
    if (cp == 0x386) return 0x3AC;
    if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
    if (cp == 0x38C) return 0x3CC;
    if (cp == 0x38E || cp == 0x38F) return cp + 63;
    if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
    if (in_paired_block(cp, 0x460, 0x481) || in_paired_block(cp, 0x48A, 0x4BF) ||
        in_paired_block(cp, 0x4D0, 0x52F) || in_paired_block(cp, 0x1E00, 0x1E95) ||
        in_paired_block(cp, 0x1EA0, 0x1EFF)) {
        return (cp % 2 == 0) ? cp + 1 : cp;
    }
    if (cp >= 0x531 && cp <= 0x556) return cp + 48;
    if (cp >= 0xFF21 && cp <= 0xFF3A) return cp + 32;
    return cp;
}

char32_t to_upper(char32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
    if (cp == 0xB5) return 0x39C;
    if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
    if (cp == 0xFF) return 0x178;
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x131) return 'I';
        if (cp == 0x17F) return 'S';
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) {
            return (cp % 2 == 0) ? cp - 1 : cp;
        }
        if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) {
            return (cp % 2 == 1) ? cp - 1 : cp;
        }
        return cp;
    }
    if (cp >= 0x3B1 && cp <= 0x3CB && cp != 0x3C2) return cp - 32;
    if (cp == 0x3C2) return 0x3A3;
    if (cp == 0x3AC) return 0x386;
    if (cp >= 0x3AD && cp <= 0x3AF) return cp - 37;
    if (cp == 0x3CC) return 0x38C;
    if (cp == 0x3CD || cp == 0x3CE) return cp - 63;
    if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
    if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
    if (in_paired_block(cp, 0x460, 0x481) || in_paired_block(cp, 0x48A, 0x4BF) ||
        in_paired_block(cp, 0x4D0, 0x52F) || in_paired_block(cp, 0x1E00, 0x1E95) ||
        in_paired_block(cp, 0x1EA0, 0x1EFF)) {
        return (cp % 2 == 1) ? cp - 1 : cp;
    }
    if (cp >= 0x561 && cp <= 0x586) return cp - 48;
    if (cp >= 0xFF41 && cp <= 0xFF5A) return cp - 32;
    return cp;
}

bool is_upper(char32_t cp) {
    return to_lower(cp) != cp;
}
bool is_lower(char32_t cp) {
    return to_upper(cp) != cp || cp == 0xDF;
}

bool is_alpha(char32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (is_upper(cp) || is_lower(cp)) return true;
    return cp == 0xAA || cp == 0xBA || (cp >= 0x5D0 && cp <= 0x5EA) ||          // Hebrew
           (cp >= 0x620 && cp <= 0x64A) ||                                      // Arabic
           (cp >= 0x904 && cp <= 0x939) ||                                      // Devanagari
           (cp >= 0xE01 && cp <= 0xE30) ||                                      // Thai
           (cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x30A1 && cp <= 0x30FA) ||  // kana
           (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||  // CJK
           (cp >= 0xAC00 && cp <= 0xD7A3) ||                                    // Hangul
           (cp >= 0x20000 && cp <= 0x3134F);
}

std::string upper(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        const char32_t cp = decode(text, pos);
        if (cp == 0xDF) {
            out += "SS";  // Python applies the full mapping of sharp s
        } else {
            append_utf8(out, to_upper(cp));
        }
    }
    return out;
}

std::string lower(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) append_utf8(out, to_lower(decode(text, pos)));
    return out;
}

}  // namespace cria::chat::jinja::unicode
