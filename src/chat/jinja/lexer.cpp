#include "chat/jinja/lexer.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "chat/jinja/error.h"
#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
    return is_name_start(c) || is_digit(c);
}

// Length of the Python-whitespace code point at text[pos], or 0 when it is not whitespace.
size_t whitespace_length(std::string_view text, size_t pos) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (byte < 0x80) return unicode::is_space(byte) ? 1 : 0;
    size_t next = pos;
    const char32_t cp = unicode::decode(text, next);
    return unicode::is_space(cp) ? next - pos : 0;
}

size_t skip_whitespace(std::string_view text, size_t pos) {
    while (pos < text.size()) {
        const size_t len = whitespace_length(text, pos);
        if (len == 0) break;
        pos += len;
    }
    return pos;
}

// Python's str.rstrip(): the length of `text` without trailing whitespace.
size_t rstrip_length(std::string_view text) {
    size_t end = text.size();
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        if (whitespace_length(text, start) != end - start) break;
        end = start;
    }
    return end;
}

// `(\d+_)*\d+`: digits with single underscores between them; returns the end (== pos if none).
size_t match_digits(std::string_view s, size_t pos) {
    if (pos >= s.size() || !is_digit(s[pos])) return pos;
    size_t end = pos;
    while (end < s.size() && is_digit(s[end])) ++end;
    while (end + 1 < s.size() && s[end] == '_' && is_digit(s[end + 1])) {
        end += 1;
        while (end < s.size() && is_digit(s[end])) ++end;
    }
    return end;
}

bool is_digit_in_base(char c, int base) {
    if (base == 2) return c == '0' || c == '1';
    if (base == 8) return c >= '0' && c <= '7';
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

class Lexer {
  public:
    Lexer(std::string_view source, const LexerOptions& options) : src_(source), options_(options) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) {
            const size_t tag = find_tag_start(pos_);
            if (tag == std::string_view::npos) {
                emit_text(pos_, src_.substr(pos_));
                pos_ = src_.size();
                break;
            }
            const char kind = src_[tag + 1];
            const char sign =
                (tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+'))
                    ? src_[tag + 2]
                    : '\0';
            size_t raw_body = 0;
            const bool raw = kind == '%' && match_raw_begin(tag, raw_body);
            emit_text(pos_, left_controlled_text(src_.substr(pos_, tag - pos_), sign, kind != '{'));
            const size_t after_begin = tag + 2 + (sign != '\0' ? 1 : 0);
            if (kind == '#') {
                lex_comment(tag, after_begin);
            } else if (raw) {
                lex_raw(tag, raw_body);
            } else {
                lex_tag(tag, after_begin, kind == '{');
            }
        }
        Token end;
        end.type = TokenType::kEnd;
        end.offset = static_cast<uint32_t>(src_.size());
        tokens_.push_back(std::move(end));
        return std::move(tokens_);
    }

  private:
    [[noreturn]] void syntax_error(size_t offset, std::string message) {
        throw Error(ErrorKind::kSyntax, std::move(message), static_cast<uint32_t>(offset));
    }

    size_t find_tag_start(size_t from) const {
        for (size_t p = src_.find('{', from); p != std::string_view::npos;
             p = src_.find('{', p + 1)) {
            if (p + 1 < src_.size() &&
                (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) {
                return p;
            }
        }
        return std::string_view::npos;
    }

    // The text before a tag after whitespace control: '-' strips all trailing whitespace;
    // otherwise lstrip_blocks removes the indentation of a block/comment tag that starts a line.
    std::string_view left_controlled_text(std::string_view text, char sign, bool strippable) {
        if (sign == '-') return text.substr(0, rstrip_length(text));
        if (sign == '+' || !options_.lstrip_blocks || !strippable) return text;
        const size_t newline = text.rfind('\n');
        const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
        if (line_start == 0 && !line_starting_) return text;
        if (line_start == text.size()) return text;
        if (skip_whitespace(text, line_start) != text.size()) return text;
        return text.substr(0, line_start);
    }

    void emit_text(size_t offset, std::string_view text) {
        if (text.empty()) return;
        Token token;
        token.type = TokenType::kText;
        token.offset = static_cast<uint32_t>(offset);
        token.text = std::string(text);
        tokens_.push_back(std::move(token));
    }

    void emit(TokenType type, size_t offset, std::string text = {}) {
        Token token;
        token.type = type;
        token.offset = static_cast<uint32_t>(offset);
        token.text = std::move(text);
        tokens_.push_back(std::move(token));
    }

    // After a closing delimiter: '-' eats all following whitespace, '+' nothing, otherwise
    // trim_blocks eats one newline (for block and comment tags only).
    size_t after_close(size_t close_end, char sign, bool trim_newline) {
        size_t end = close_end;
        if (sign == '-') {
            end = skip_whitespace(src_, close_end);
        } else if (sign != '+' && trim_newline && options_.trim_blocks && end < src_.size() &&
                   src_[end] == '\n') {
            ++end;
        }
        line_starting_ = end > 0 && src_[end - 1] == '\n';
        return end;
    }

    // `{%[-+]?\s*raw\s*(-%}\s*|%})`; sets body_start past the opening tag.
    bool match_raw_begin(size_t tag, size_t& body_start) {
        size_t p = tag + 2;
        if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
        p = skip_whitespace(src_, p);
        if (src_.compare(p, 3, "raw") != 0) return false;
        p = skip_whitespace(src_, p + 3);
        if (src_.compare(p, 3, "-%}") == 0) {
            body_start = skip_whitespace(src_, p + 3);
            return true;
        }
        if (src_.compare(p, 2, "%}") == 0) {
            body_start = p + 2;
            return true;
        }
        return false;
    }

    void lex_raw(size_t tag, size_t body_start) {
        for (size_t p = src_.find("{%", body_start); p != std::string_view::npos;
             p = src_.find("{%", p + 1)) {
            size_t q = p + 2;
            char sign = '\0';
            if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
            q = skip_whitespace(src_, q);
            if (src_.compare(q, 6, "endraw") != 0) continue;
            q = skip_whitespace(src_, q + 6);
            char close_sign = '\0';
            if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) close_sign = src_[q++];
            if (src_.compare(q, 2, "%}") != 0) continue;
            // The raw body is text, with the endraw tag's whitespace control applied to it.
            line_starting_ = body_start > 0 && src_[body_start - 1] == '\n';
            emit_text(body_start,
                      left_controlled_text(src_.substr(body_start, p - body_start), sign, true));
            pos_ = after_close(q + 2, close_sign, true);
            return;
        }
        syntax_error(tag, "missing end of raw directive");
    }

    void lex_comment(size_t tag, size_t content_start) {
        const size_t close = src_.find("#}", content_start);
        if (close == std::string_view::npos) syntax_error(tag, "missing end of comment tag");
        char sign = '\0';
        if (close > content_start && (src_[close - 1] == '-' || src_[close - 1] == '+')) {
            sign = src_[close - 1];
        }
        pos_ = after_close(close + 2, sign, true);
    }

    void lex_tag(size_t tag, size_t p, bool variable) {
        emit(variable ? TokenType::kVariableBegin : TokenType::kBlockBegin, tag);
        const char close_char = variable ? '}' : '%';
        std::vector<char> balance;  // closers expected for open ( [ {
        while (p < src_.size()) {
            if (balance.empty()) {
                char sign = '\0';
                size_t q = p;
                if (src_[q] == '-' || (!variable && src_[q] == '+')) sign = src_[q++];
                if (q + 1 < src_.size() && src_[q] == close_char && src_[q + 1] == '}') {
                    emit(variable ? TokenType::kVariableEnd : TokenType::kBlockEnd, p);
                    pos_ = after_close(q + 2, sign, !variable);
                    return;
                }
            }
            const size_t ws = whitespace_length(src_, p);
            if (ws > 0) {
                p += ws;
                continue;
            }
            const char c = src_[p];
            if (is_digit(c)) {
                p = lex_number(p);
            } else if (is_name_start(c)) {
                size_t end = p + 1;
                while (end < src_.size() && is_name_char(src_[end])) ++end;
                emit(TokenType::kName, p, std::string(src_.substr(p, end - p)));
                p = end;
            } else if (c == '\'' || c == '"') {
                p = lex_string(p);
            } else {
                p = lex_operator(p, balance);
            }
        }
        // The source ended inside the tag; the parser reports what it was waiting for.
        pos_ = src_.size();
    }

    size_t lex_number(size_t p) {
        // Float first (as Jinja's rules are ordered): digits then a fraction and/or exponent,
        // not directly after a '.' (so "x.0.1" stays attribute access).
        if (p == 0 || src_[p - 1] != '.') {
            const size_t int_end = match_digits(src_, p);
            size_t end = int_end;
            bool is_float = false;
            if (end < src_.size() && src_[end] == '.' && match_digits(src_, end + 1) > end + 1) {
                end = match_digits(src_, end + 1);
                is_float = true;
            }
            if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
                size_t e = end + 1;
                if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
                const size_t exp_end = match_digits(src_, e);
                if (exp_end > e) {
                    end = exp_end;
                    is_float = true;
                }
            }
            if (is_float) {
                std::string text;
                for (size_t i = p; i < end; ++i) {
                    if (src_[i] != '_') text.push_back(src_[i]);
                }
                Token token;
                token.type = TokenType::kFloat;
                token.offset = static_cast<uint32_t>(p);
                const auto res =
                    std::from_chars(text.data(), text.data() + text.size(), token.float_value);
                if (res.ec == std::errc::result_out_of_range) {
                    // Python gives inf for huge literals and 0.0 for tiny ones.
                    token.float_value =
                        text.find("e-") != std::string::npos || text.find("E-") != std::string::npos
                            ? 0.0
                            : HUGE_VAL;
                }
                token.text = std::move(text);
                tokens_.push_back(std::move(token));
                return end;
            }
        }
        int base = 10;
        size_t digits_start = p;
        size_t end = p;
        if (src_[p] == '0' && p + 1 < src_.size() &&
            (src_[p + 1] == 'b' || src_[p + 1] == 'B' || src_[p + 1] == 'o' || src_[p + 1] == 'O' ||
             src_[p + 1] == 'x' || src_[p + 1] == 'X')) {
            const char prefix = static_cast<char>(src_[p + 1] | 0x20);
            base = prefix == 'b' ? 2 : (prefix == 'o' ? 8 : 16);
            size_t q = p + 2;
            // (_?digit)+
            while (true) {
                size_t r = q;
                if (r < src_.size() && src_[r] == '_') ++r;
                if (r < src_.size() && is_digit_in_base(src_[r], base)) {
                    q = r + 1;
                } else {
                    break;
                }
            }
            if (q > p + 2) {
                digits_start = p + 2;
                end = q;
            } else {
                base = 10;
            }
        }
        if (base == 10) {
            if (src_[p] == '0') {
                // 0(_?0)*
                end = p + 1;
                while (true) {
                    size_t r = end;
                    if (r < src_.size() && src_[r] == '_') ++r;
                    if (r < src_.size() && src_[r] == '0') {
                        end = r + 1;
                    } else {
                        break;
                    }
                }
            } else {
                end = p + 1;
                while (true) {
                    size_t r = end;
                    if (r < src_.size() && src_[r] == '_') ++r;
                    if (r < src_.size() && is_digit(src_[r])) {
                        end = r + 1;
                    } else {
                        break;
                    }
                }
            }
        }
        uint64_t value = 0;
        for (size_t i = digits_start; i < end; ++i) {
            const char c = src_[i];
            if (c == '_') continue;
            const int digit = is_digit(c) ? c - '0' : ((c | 0x20) - 'a' + 10);
            if (value > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(digit)) /
                            static_cast<uint64_t>(base)) {
                syntax_error(p, "integer literal too large");
            }
            value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
        }
        Token token;
        token.type = TokenType::kInteger;
        token.offset = static_cast<uint32_t>(p);
        token.int_value = static_cast<int64_t>(value);
        token.text = std::string(src_.substr(p, end - p));
        tokens_.push_back(std::move(token));
        return end;
    }

    static int hex_value(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    // Python's "unicode-escape" decoding of a string literal body.
    std::string unescape(std::string_view body, size_t offset) {
        std::string out;
        out.reserve(body.size());
        char32_t pending_high_surrogate = 0;
        auto put = [&](char32_t cp) {
            if (pending_high_surrogate != 0) {
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0x10000 + ((pending_high_surrogate - 0xD800) << 10) + (cp - 0xDC00);
                    pending_high_surrogate = 0;
                    unicode::append_utf8(out, cp);
                    return;
                }
                syntax_error(offset, "string literal contains a lone surrogate");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                pending_high_surrogate = cp;
                return;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                syntax_error(offset, "string literal contains a lone surrogate");
            }
            unicode::append_utf8(out, cp);
        };
        size_t i = 0;
        while (i < body.size()) {
            const char c = body[i];
            if (c != '\\') {
                if (pending_high_surrogate != 0) {
                    syntax_error(offset, "string literal contains a lone surrogate");
                }
                out.push_back(c);
                ++i;
                continue;
            }
            if (i + 1 >= body.size()) syntax_error(offset, "\\ at end of string");
            const char e = body[i + 1];
            i += 2;
            switch (e) {
                case '\n':
                    break;  // line continuation
                case '\\':
                    put('\\');
                    break;
                case '\'':
                    put('\'');
                    break;
                case '"':
                    put('"');
                    break;
                case 'a':
                    put(0x07);
                    break;
                case 'b':
                    put(0x08);
                    break;
                case 'f':
                    put(0x0C);
                    break;
                case 'n':
                    put('\n');
                    break;
                case 'r':
                    put('\r');
                    break;
                case 't':
                    put('\t');
                    break;
                case 'v':
                    put(0x0B);
                    break;
                case 'x':
                case 'u':
                case 'U': {
                    const size_t count = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
                    char32_t cp = 0;
                    for (size_t k = 0; k < count; ++k) {
                        const int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
                        if (h < 0) {
                            syntax_error(offset, std::string("truncated \\") + e + " escape");
                        }
                        cp = cp * 16 + static_cast<char32_t>(h);
                    }
                    if (cp > 0x10FFFF) syntax_error(offset, "illegal Unicode character");
                    i += count;
                    put(cp);
                    break;
                }
                case 'N':
                    syntax_error(offset, "\\N{...} escapes are not supported");
                default:
                    if (e >= '0' && e <= '7') {
                        char32_t cp = static_cast<char32_t>(e - '0');
                        for (int k = 0;
                             k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k) {
                            cp = cp * 8 + static_cast<char32_t>(body[i++] - '0');
                        }
                        put(cp);
                    } else {
                        // Unknown escapes keep their backslash, as in Python.
                        if (pending_high_surrogate != 0) {
                            syntax_error(offset, "string literal contains a lone surrogate");
                        }
                        out.push_back('\\');
                        out.push_back(e);
                    }
            }
        }
        if (pending_high_surrogate != 0) {
            syntax_error(offset, "string literal contains a lone surrogate");
        }
        return out;
    }

    size_t lex_string(size_t p) {
        const char quote = src_[p];
        size_t q = p + 1;
        while (q < src_.size() && src_[q] != quote) {
            if (src_[q] == '\\') ++q;
            ++q;
        }
        if (q >= src_.size()) syntax_error(p, "unterminated string literal");
        Token token;
        token.type = TokenType::kString;
        token.offset = static_cast<uint32_t>(p);
        token.text = unescape(src_.substr(p + 1, q - p - 1), p);
        tokens_.push_back(std::move(token));
        return q + 1;
    }

    size_t lex_operator(size_t p, std::vector<char>& balance) {
        static const char* const kTwoChar[] = {"//", "**", "==", "!=", ">=", "<="};
        for (const char* op : kTwoChar) {
            if (src_.compare(p, 2, op) == 0) {
                emit(TokenType::kOperator, p, op);
                return p + 2;
            }
        }
        const char c = src_[p];
        if (std::strchr("+-/*%~[](){}><=.:|,;", c) == nullptr) {
            size_t next = p;
            const char32_t cp = unicode::decode(src_, next);
            std::string shown;
            unicode::append_utf8(shown, cp);
            syntax_error(p, "unexpected char '" + shown + "'");
        }
        if (c == '(' || c == '[' || c == '{') {
            balance.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
        } else if (c == ')' || c == ']' || c == '}') {
            if (balance.empty()) syntax_error(p, std::string("unexpected '") + c + "'");
            const char expected = balance.back();
            balance.pop_back();
            if (expected != c) {
                syntax_error(p, std::string("unexpected '") + c + "', expected '" + expected + "'");
            }
        }
        emit(TokenType::kOperator, p, std::string(1, c));
        return p + 1;
    }

    std::string_view src_;
    LexerOptions options_;
    size_t pos_ = 0;
    bool line_starting_ = true;  // the previous tag's match ended with a newline
    std::vector<Token> tokens_;
};

}  // namespace

std::string normalize_source(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\r') {
            out.push_back('\n');
            if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
        } else {
            out.push_back(raw[i]);
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options) {
    return Lexer(source, options).run();
}

void locate(std::string_view source, uint32_t offset, int& line, int& column) {
    line = 1;
    column = 1;
    const size_t end = std::min<size_t>(offset, source.size());
    for (size_t i = 0; i < end; ++i) {
        const auto byte = static_cast<unsigned char>(source[i]);
        if (source[i] == '\n') {
            ++line;
            column = 1;
        } else if ((byte & 0xC0) != 0x80) {
            ++column;
        }
    }
}

}  // namespace cria::chat::jinja
