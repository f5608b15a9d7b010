#include "chat/gotmpl/format.h"

#include <cstdio>
#include <cstdlib>

namespace cria::chat::gotmpl {
namespace {

struct Spec {
    bool minus = false;
    bool plus = false;
    bool space = false;
    bool zero = false;
    bool sharp = false;
    int width = -1;
    int precision = -1;
};

std::string pad(std::string body, const Spec& spec, bool numeric) {
    if (spec.width < 0 || static_cast<int>(body.size()) >= spec.width) return body;
    const size_t fill = static_cast<size_t>(spec.width) - body.size();
    if (spec.minus) return body + std::string(fill, ' ');
    if (spec.zero && numeric) {
        const size_t sign =
            !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
        return body.substr(0, sign) + std::string(fill, '0') + body.substr(sign);
    }
    return std::string(fill, ' ') + body;
}

std::string with_sign(std::string digits, bool negative, const Spec& spec) {
    if (negative) return "-" + digits;
    if (spec.plus) return "+" + digits;
    if (spec.space) return " " + digits;
    return digits;
}

std::string bad_verb(char verb, const Value& value) {
    if (value.kind == Kind::kNil) return std::string("%!") + verb + "(<nil>)";
    return std::string("%!") + verb + "(" + type_name(value) + "=" + print_value(value) + ")";
}

std::string integer_in_base(int64_t value, int base, bool upper, const Spec& spec) {
    const bool negative = value < 0;
    uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    do {
        out.insert(out.begin(), digits[magnitude % static_cast<uint64_t>(base)]);
        magnitude /= static_cast<uint64_t>(base);
    } while (magnitude != 0);
    if (spec.precision >= 0 && static_cast<int>(out.size()) < spec.precision) {
        out.insert(0, static_cast<size_t>(spec.precision) - out.size(), '0');
    }
    if (spec.sharp) {
        if (base == 16) out = (upper ? "0X" : "0x") + out;
        if (base == 8 && out[0] != '0') out = "0" + out;
        if (base == 2) out = "0b" + out;
    }
    return with_sign(out, negative, spec);
}

void append_utf8(std::string& out, uint32_t code) {
    if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) code = 0xFFFD;
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

std::string format_one(char verb, const Spec& spec, const Value& value) {
    switch (verb) {
        case 'v':
            if (value.kind == Kind::kFloat && spec.precision >= 0) break;
            return pad(value.kind == Kind::kNil ? "<nil>" : print_value(value), spec,
                       value.kind == Kind::kInt || value.kind == Kind::kFloat);
        case 's':
            if (value.kind == Kind::kString) {
                std::string text = value.str();
                if (spec.precision >= 0 && static_cast<size_t>(spec.precision) < text.size()) {
                    text.resize(static_cast<size_t>(spec.precision));
                }
                return pad(text, spec, false);
            }
            if (value.kind == Kind::kList || value.kind == Kind::kMap ||
                value.kind == Kind::kStruct) {
                return pad(print_value(value), spec, false);
            }
            return bad_verb(verb, value);
        case 'q':
            if (value.kind == Kind::kString) return pad(quote_go(value.str()), spec, false);
            if (value.kind == Kind::kInt) {
                std::string ch;
                append_utf8(ch, static_cast<uint32_t>(value.integer));
                return pad("'" + ch + "'", spec, false);
            }
            return bad_verb(verb, value);
        case 't':
            if (value.kind == Kind::kBool)
                return pad(value.boolean ? "true" : "false", spec, false);
            return bad_verb(verb, value);
        case 'd':
            if (value.kind == Kind::kInt)
                return pad(integer_in_base(value.integer, 10, false, spec), spec, true);
            return bad_verb(verb, value);
        case 'o':
            if (value.kind == Kind::kInt)
                return pad(integer_in_base(value.integer, 8, false, spec), spec, true);
            return bad_verb(verb, value);
        case 'b':
            if (value.kind == Kind::kInt)
                return pad(integer_in_base(value.integer, 2, false, spec), spec, true);
            return bad_verb(verb, value);
        case 'c':
            if (value.kind == Kind::kInt) {
                std::string ch;
                append_utf8(ch, static_cast<uint32_t>(value.integer));
                return pad(ch, spec, false);
            }
            return bad_verb(verb, value);
        case 'x':
        case 'X': {
            const bool upper = verb == 'X';
            if (value.kind == Kind::kInt) {
                return pad(integer_in_base(value.integer, 16, upper, spec), spec, true);
            }
            if (value.kind == Kind::kString) {
                const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
                std::string out;
                for (unsigned char c : value.str()) {
                    out += digits[c >> 4];
                    out += digits[c & 0xF];
                }
                return pad(out, spec, false);
            }
            return bad_verb(verb, value);
        }
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
            break;
        default:
            return bad_verb(verb, value);
    }
    // Floating-point verbs (and %v with a precision).
    if (value.kind != Kind::kFloat) return bad_verb(verb, value);
    const double number = value.number;
    std::string body;
    if ((verb == 'g' || verb == 'v') && spec.precision < 0) {
        body = format_float_v(number);
        if (body[0] != '-' && (spec.plus || spec.space)) body.insert(0, spec.plus ? "+" : " ");
    } else {
        std::string format = "%";
        if (spec.plus) format += '+';
        if (spec.space) format += ' ';
        if (spec.sharp) format += '#';
        format += ".*";
        format += verb == 'v' ? 'g' : verb == 'F' ? 'f' : verb;
        const int precision = spec.precision >= 0 ? spec.precision : 6;
        char buf[512];
        std::snprintf(buf, sizeof(buf), format.c_str(), precision, number);
        body = buf;
    }
    return pad(body, spec, true);
}

}  // namespace

std::string sprint(const std::vector<Value>& args, bool line) {
    std::string out;
    for (size_t i = 0; i < args.size(); ++i) {
        const bool is_string = args[i].kind == Kind::kString;
        if (i > 0 && (line || (!is_string && args[i - 1].kind != Kind::kString))) out += ' ';
        out += args[i].kind == Kind::kNil ? "<nil>" : print_value(args[i]);
    }
    if (line) out += '\n';
    return out;
}

std::string sprintf_go(const std::string& format, const std::vector<Value>& args) {
    std::string out;
    size_t next_arg = 0;
    for (size_t i = 0; i < format.size();) {
        if (format[i] != '%') {
            out += format[i++];
            continue;
        }
        ++i;
        Spec spec;
        for (; i < format.size(); ++i) {
            const char f = format[i];
            if (f == '-') {
                spec.minus = true;
            } else if (f == '+') {
                spec.plus = true;
            } else if (f == ' ') {
                spec.space = true;
            } else if (f == '0') {
                spec.zero = true;
            } else if (f == '#') {
                spec.sharp = true;
            } else {
                break;
            }
        }
        auto read_number = [&](int& target) {
            int value = 0;
            bool any = false;
            while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
                value = std::min(value * 10 + (format[i] - '0'), 1000000);
                ++i;
                any = true;
            }
            if (any) target = value;
            return any;
        };
        read_number(spec.width);
        if (i < format.size() && format[i] == '.') {
            ++i;
            spec.precision = 0;
            read_number(spec.precision);
        }
        if (i >= format.size()) {
            out += "%!(NOVERB)";
            break;
        }
        const char verb = format[i++];
        if (verb == '%') {
            out += '%';
            continue;
        }
        if (next_arg >= args.size()) {
            out += std::string("%!") + verb + "(MISSING)";
            continue;
        }
        out += format_one(verb, spec, args[next_arg++]);
    }
    if (next_arg < args.size()) {
        out += "%!(EXTRA ";
        for (size_t k = next_arg; k < args.size(); ++k) {
            if (k > next_arg) out += ", ";
            out += args[k].kind == Kind::kNil ? "<nil>"
                                              : type_name(args[k]) + "=" + print_value(args[k]);
        }
        out += ")";
    }
    return out;
}

std::string escape_html(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '\0':
                out += "\xEF\xBF\xBD";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string escape_js(const std::string& text) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\'':
                out += "\\'";
                break;
            case '"':
                out += "\\\"";
                break;
            case '<':
                out += "\\u003C";
                break;
            case '>':
                out += "\\u003E";
                break;
            case '&':
                out += "\\u0026";
                break;
            case '=':
                out += "\\u003D";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xF];
                } else {
                    out += ch;
                }
        }
    }
    return out;
}

std::string escape_query(const std::string& text) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out += ch;
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

std::string quote_go(const std::string& text) {
    static const char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '\a':
                out += "\\a";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\v':
                out += "\\v";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    out += "\\x";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xF];
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

}  // namespace cria::chat::gotmpl
