#include "chat/jinja/pyformat.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {
namespace {

// Objects can refer to themselves (a namespace holding itself), so str()/repr() of nested
// values carry a recursion budget independent of the container depth cap.
constexpr int kMaxPrintDepth = 2 * kMaxNestingDepth;

void check_size(const std::string& out, size_t max_bytes) {
    if (out.size() > max_bytes) {
        fail(ErrorKind::kLimit,
             "text of a value exceeds the output limit of " + std::to_string(max_bytes) + " bytes");
    }
}

void append_repr(std::string& out, const Value& value, size_t max_bytes, int depth);

void append_sequence_repr(std::string& out, const Value& value, size_t max_bytes, int depth) {
    const List& items = value.as_list();
    const bool tuple = value.is_tuple();
    out.push_back(tuple ? '(' : '[');
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, items[i], max_bytes, depth + 1);
        check_size(out, max_bytes);
    }
    if (tuple && items.size() == 1) out.push_back(',');
    out.push_back(tuple ? ')' : ']');
}

void append_dict_repr(std::string& out, const Dict& dict, size_t max_bytes, int depth) {
    out.push_back('{');
    bool first = true;
    for (const auto& [key, item] : dict.entries()) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, key, max_bytes, depth + 1);
        out += ": ";
        append_repr(out, item, max_bytes, depth + 1);
        check_size(out, max_bytes);
    }
    out.push_back('}');
}

void append_repr(std::string& out, const Value& value, size_t max_bytes, int depth) {
    if (depth > kMaxPrintDepth) fail(ErrorKind::kLimit, "value nested too deeply to print");
    switch (value.kind()) {
        case ValueKind::kUndefined:
            out += "Undefined";
            break;
        case ValueKind::kString:
            out += repr_string(value.as_string());
            break;
        case ValueKind::kList:
            append_sequence_repr(out, value, max_bytes, depth);
            break;
        case ValueKind::kDict:
            append_dict_repr(out, value.as_dict(), max_bytes, depth);
            break;
        case ValueKind::kObject:
            if (const Dict* attrs = value.as_object().namespace_attrs()) {
                out += "<Namespace ";
                append_dict_repr(out, *attrs, max_bytes, depth);
                out += ">";
            } else {
                out += value.as_object().to_str();
            }
            break;
        default:
            out += to_str(value, max_bytes);
            break;
    }
}

}  // namespace

std::string format_float(double value) {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    // Shortest round-trip digits and decimal exponent, then Python's repr layout: positional
    // for 1e-4 <= |x| < 1e16, otherwise scientific with a signed two-digit exponent.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    const size_t e_pos = sci.find('e');
    std::string mantissa = sci.substr(0, e_pos);
    const int exponent = std::stoi(sci.substr(e_pos + 1));
    bool negative = false;
    if (!mantissa.empty() && mantissa[0] == '-') {
        negative = true;
        mantissa.erase(0, 1);
    }
    std::string digits;
    for (char c : mantissa) {
        if (c != '.') digits.push_back(c);
    }
    std::string out = negative ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out += "0.";
            out.append(static_cast<size_t>(-exponent - 1), '0');
            out += digits;
        } else {
            const size_t int_len = static_cast<size_t>(exponent) + 1;
            if (digits.size() <= int_len) {
                out += digits;
                out.append(int_len - digits.size(), '0');
                out += ".0";
            } else {
                out += digits.substr(0, int_len);
                out += ".";
                out += digits.substr(int_len);
            }
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
        out += ".";
        out += digits.substr(1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+',
                  exponent < 0 ? -exponent : exponent);
    out += exp_buf;
    return out;
}

std::string repr_string(std::string_view text) {
    const bool has_single = text.find('\'') != std::string_view::npos;
    const bool has_double = text.find('"') != std::string_view::npos;
    const char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out;
    out.reserve(text.size() + 2);
    out.push_back(quote);
    size_t pos = 0;
    while (pos < text.size()) {
        const char32_t cp = unicode::decode(text, pos);
        if (cp == static_cast<char32_t>(quote) || cp == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(cp));
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (unicode::is_printable(cp)) {
            unicode::append_utf8(out, cp);
        } else {
            char buf[16];
            if (cp <= 0xFF) {
                std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(cp));
            } else if (cp <= 0xFFFF) {
                std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
            } else {
                std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(cp));
            }
            out += buf;
        }
    }
    out.push_back(quote);
    return out;
}

std::string to_str(const Value& value, size_t max_bytes) {
    switch (value.kind()) {
        case ValueKind::kUndefined:
            return "";
        case ValueKind::kNone:
            return "None";
        case ValueKind::kBool:
            return value.as_bool() ? "True" : "False";
        case ValueKind::kInt:
            return std::to_string(value.as_int());
        case ValueKind::kFloat:
            return format_float(value.as_double());
        case ValueKind::kString:
            return value.as_string();
        case ValueKind::kList:
        case ValueKind::kDict:
        case ValueKind::kObject: {
            std::string out;
            append_repr(out, value, max_bytes, 0);
            check_size(out, max_bytes);
            return out;
        }
    }
    return "";
}

std::string to_repr(const Value& value, size_t max_bytes) {
    std::string out;
    append_repr(out, value, max_bytes, 0);
    check_size(out, max_bytes);
    return out;
}

// ---------------------------------------------------------------------------------------------
// json.dumps

namespace {

void append_json_string(std::string& out, std::string_view text, bool ensure_ascii) {
    out.push_back('"');
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const auto byte = static_cast<unsigned char>(c);
        if (ensure_ascii && byte >= 0x80) {
            size_t pos = i;
            const char32_t cp = unicode::decode(text, pos);
            i = pos - 1;
            char buf[16];
            if (cp >= 0x10000) {
                const char32_t v = cp - 0x10000;
                std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x",
                              static_cast<unsigned>(0xD800 + (v >> 10)),
                              static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
            } else {
                std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
            }
            out += buf;
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
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
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (byte < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", byte);
                    out += buf;
                } else {
                    out.push_back(c);  // ensure_ascii=False: everything else verbatim
                }
        }
    }
    out.push_back('"');
}

std::string json_float(double f) {
    if (std::isnan(f)) return "NaN";
    if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
    return format_float(f);
}

// json.dumps converts non-string keys: True -> "true", None -> "null", 1.5 -> "1.5".
std::string json_key(const Value& key) {
    switch (key.kind()) {
        case ValueKind::kString:
            return key.as_string();
        case ValueKind::kBool:
            return key.as_bool() ? "true" : "false";
        case ValueKind::kNone:
            return "null";
        case ValueKind::kInt:
            return std::to_string(key.as_int());
        case ValueKind::kFloat:
            return json_float(key.as_double());
        default:
            break;
    }
    fail(ErrorKind::kType, "keys must be str, int, float, bool or None, not " + key.type_name());
}

class JsonWriter {
  public:
    JsonWriter(const JsonOptions& options, size_t max_bytes)
        : options_(options), max_bytes_(max_bytes) {}

    void write(const Value& value, int level) {
        if (level > kMaxPrintDepth) fail(ErrorKind::kLimit, "value nested too deeply for JSON");
        switch (value.kind()) {
            case ValueKind::kNone:
                out_ += "null";
                break;
            case ValueKind::kBool:
                out_ += value.as_bool() ? "true" : "false";
                break;
            case ValueKind::kInt:
                out_ += std::to_string(value.as_int());
                break;
            case ValueKind::kFloat:
                out_ += json_float(value.as_double());
                break;
            case ValueKind::kString:
                append_json_string(out_, value.as_string(), options_.ensure_ascii);
                break;
            case ValueKind::kList:
                write_list(value.as_list(), level);
                break;
            case ValueKind::kDict:
                write_dict(value.as_dict(), level);
                break;
            case ValueKind::kUndefined:
            case ValueKind::kObject:
                fail(ErrorKind::kType,
                     "Object of type " + value.type_name() + " is not JSON serializable");
        }
        if (out_.size() > max_bytes_) {
            fail(ErrorKind::kLimit,
                 "JSON text exceeds the output limit of " + std::to_string(max_bytes_) + " bytes");
        }
    }

    std::string take() { return std::move(out_); }

  private:
    void newline(int level) {
        if (!options_.pretty) return;
        out_.push_back('\n');
        for (int i = 0; i < level; ++i) out_ += options_.indent;
    }

    void write_list(const List& items, int level) {
        if (items.empty()) {
            out_ += "[]";
            return;
        }
        out_.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
            if (i > 0) out_ += options_.item_separator;
            newline(level + 1);
            write(items[i], level + 1);
        }
        newline(level);
        out_.push_back(']');
    }

    void write_dict(const Dict& dict, int level) {
        if (dict.empty()) {
            out_ += "{}";
            return;
        }
        std::vector<std::pair<std::string, const Value*>> entries;
        entries.reserve(dict.size());
        for (const auto& [key, item] : dict.entries()) {
            if (options_.sort_keys && !key.is_string()) {
                fail(ErrorKind::kType, "'<' not supported between dict keys of mixed types");
            }
            entries.emplace_back(json_key(key), &item);
        }
        if (options_.sort_keys) {
            std::stable_sort(entries.begin(), entries.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        out_.push_back('{');
        for (size_t i = 0; i < entries.size(); ++i) {
            if (i > 0) out_ += options_.item_separator;
            newline(level + 1);
            append_json_string(out_, entries[i].first, options_.ensure_ascii);
            out_ += options_.key_separator;
            write(*entries[i].second, level + 1);
        }
        newline(level);
        out_.push_back('}');
    }

    const JsonOptions& options_;
    size_t max_bytes_;
    std::string out_;
};

Value from_json_at(const nlohmann::ordered_json& json, int depth) {
    if (depth > kMaxNestingDepth) {
        fail(ErrorKind::kLimit,
             "context JSON nested deeper than " + std::to_string(kMaxNestingDepth));
    }
    switch (json.type()) {
        case nlohmann::ordered_json::value_t::null:
            return Value::none();
        case nlohmann::ordered_json::value_t::boolean:
            return Value(json.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer:
            return Value(json.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            const uint64_t u = json.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float:
            return Value(json.get<double>());
        case nlohmann::ordered_json::value_t::string:
            return Value(json.get_ref<const std::string&>());
        case nlohmann::ordered_json::value_t::array: {
            List items;
            items.reserve(json.size());
            for (const auto& item : json) items.push_back(from_json_at(item, depth + 1));
            return Value::list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Dict dict;
            for (const auto& [key, item] : json.items()) {
                dict.set(Value(key), from_json_at(item, depth + 1));
            }
            return Value::dict(std::move(dict));
        }
        default:
            break;
    }
    fail(ErrorKind::kType, "unsupported JSON value in the context");
}

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options, size_t max_bytes) {
    JsonWriter writer(options, max_bytes);
    writer.write(value, 0);
    return writer.take();
}

Value from_json(const nlohmann::ordered_json& json) {
    return from_json_at(json, 0);
}

}  // namespace cria::chat::jinja
