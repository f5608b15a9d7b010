#include "chat/gotmpl/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

namespace cria::chat::gotmpl {
namespace {

// The shortest decimal digits that read back as `value` (positive, finite, non-zero), and the
// decimal exponent of the first digit: 1500 -> ("15", 3).
void shortest_digits(double value, std::string& digits, int& exponent) {
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
    const std::string text(buf, result.ptr);
    const size_t e = text.find('e');
    digits.clear();
    for (size_t i = 0; i < e; ++i) {
        if (text[i] != '.') digits.push_back(text[i]);
    }
    exponent = std::atoi(text.c_str() + e + 1);
}

// strconv's %e with the shortest digits: d.ddde+XX (two exponent digits at least).
std::string format_e(const std::string& digits, int exponent) {
    std::string out(1, digits[0]);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exponent < 0 ? "e-" : "e+";
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
    return out;
}

// strconv's %f with the shortest digits.
std::string format_f(const std::string& digits, int exponent) {
    const int point = exponent + 1;  // digits before the decimal point
    if (point <= 0) return "0." + std::string(static_cast<size_t>(-point), '0') + digits;
    if (static_cast<size_t>(point) >= digits.size()) {
        return digits + std::string(static_cast<size_t>(point) - digits.size(), '0');
    }
    return digits.substr(0, static_cast<size_t>(point)) + "." +
           digits.substr(static_cast<size_t>(point));
}

std::string special_float(double value) {
    if (std::isnan(value)) return "NaN";
    return value > 0 ? "+Inf" : "-Inf";
}

std::string format_float_json(double value) {
    if (!std::isfinite(value)) return "null";  // Go refuses these; nothing here produces them
    if (value == 0) return std::signbit(value) ? "-0" : "0";
    std::string digits;
    int exponent = 0;
    shortest_digits(std::fabs(value), digits, exponent);
    const double magnitude = std::fabs(value);
    std::string body;
    if (magnitude < 1e-6 || magnitude >= 1e21) {
        body = format_e(digits, exponent);
        // encoding/json writes e-7, not e-07.
        const size_t n = body.size();
        if (n >= 4 && body[n - 4] == 'e' && body[n - 3] == '-' && body[n - 2] == '0') {
            body.erase(n - 2, 1);
        }
    } else {
        body = format_f(digits, exponent);
    }
    return value < 0 ? "-" + body : body;
}

bool is_empty_for_json(const Value& value) {
    switch (value.kind) {
        case Kind::kNil:
            return true;
        case Kind::kBool:
            return !value.boolean;
        case Kind::kInt:
            return value.integer == 0;
        case Kind::kFloat:
            return value.number == 0;
        case Kind::kString:
            return value.str().empty();
        case Kind::kList:
        case Kind::kMap:
            return value.size() == 0;
        case Kind::kStruct:
            return false;
    }
    return false;
}

void append_json(std::string& out, const Value& value) {
    switch (value.kind) {
        case Kind::kNil:
            out += "null";
            return;
        case Kind::kBool:
            out += value.boolean ? "true" : "false";
            return;
        case Kind::kInt:
            out += std::to_string(value.integer);
            return;
        case Kind::kFloat:
            out += format_float_json(value.number);
            return;
        case Kind::kString:
            append_json_string(out, value.str());
            return;
        case Kind::kList: {
            if (value.nil_container) {
                out += "null";
                return;
            }
            const auto& items = value.composite->values;
            if (value.printing == Printing::kPropertyType && items.size() == 1) {
                append_json(out, items[0]);
                return;
            }
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += ',';
                append_json(out, items[i]);
            }
            out += ']';
            return;
        }
        case Kind::kMap: {
            if (value.nil_container) {
                out += "null";
                return;
            }
            const Composite& map = *value.composite;
            out += '{';
            for (size_t i = 0; i < map.keys.size(); ++i) {
                if (i) out += ',';
                append_json_string(out, map.keys[i]);
                out += ':';
                append_json(out, map.values[i]);
            }
            out += '}';
            return;
        }
        case Kind::kStruct: {
            out += '{';
            bool first = true;
            for (const StructField& field : value.composite->fields) {
                if (field.omit_empty && is_empty_for_json(field.value)) continue;
                if (!first) out += ',';
                first = false;
                append_json_string(out, field.json_name);
                out += ':';
                append_json(out, field.value);
            }
            out += '}';
            return;
        }
    }
}

// Decodes one UTF-8 sequence at `i`; returns its length, or 0 when it is not valid UTF-8.
size_t utf8_sequence(const std::string& text, size_t i, uint32_t& code) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    size_t length = 0;
    if (lead < 0x80) {
        code = lead;
        return 1;
    }
    if ((lead & 0xE0) == 0xC0) {
        length = 2;
        code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
        code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
        code = lead & 0x07;
    } else {
        return 0;
    }
    if (i + length > text.size()) return 0;
    for (size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        code = (code << 6) | (byte(i + k) & 0x3F);
    }
    static const uint32_t kSmallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    return length;
}

}  // namespace

Value Value::of_bool(bool b) {
    Value v;
    v.kind = Kind::kBool;
    v.boolean = b;
    return v;
}
Value Value::of_int(int64_t i) {
    Value v;
    v.kind = Kind::kInt;
    v.integer = i;
    return v;
}
Value Value::of_float(double f) {
    Value v;
    v.kind = Kind::kFloat;
    v.number = f;
    return v;
}
Value Value::of_string(std::string s) {
    Value v;
    v.kind = Kind::kString;
    v.text = std::make_shared<const std::string>(std::move(s));
    return v;
}
Value Value::list(std::vector<Value> items, Printing printing) {
    auto composite = std::make_shared<Composite>();
    composite->values = std::move(items);
    Value v;
    v.kind = Kind::kList;
    v.printing = printing;
    v.composite = std::move(composite);
    return v;
}
Value Value::nil_list(Printing printing) {
    Value v = list({}, printing);
    v.nil_container = true;
    return v;
}
Value Value::map(std::vector<std::pair<std::string, Value>> entries, Printing printing) {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    // A JSON object may repeat a key; like Go's decoder, the last one wins.
    std::vector<std::pair<std::string, Value>> unique;
    unique.reserve(entries.size());
    for (auto& entry : entries) {
        if (!unique.empty() && unique.back().first == entry.first) {
            unique.back().second = std::move(entry.second);
        } else {
            unique.push_back(std::move(entry));
        }
    }
    Value v = ordered_map(std::move(unique));
    v.printing = printing;
    return v;
}
Value Value::ordered_map(std::vector<std::pair<std::string, Value>> entries) {
    auto composite = std::make_shared<Composite>();
    composite->keys.reserve(entries.size());
    composite->values.reserve(entries.size());
    // Where each key went: a repeated key replaces the earlier value in place (linear time).
    std::unordered_map<std::string, size_t> position;
    for (auto& [key, value] : entries) {
        auto [at, inserted] = position.emplace(key, composite->keys.size());
        if (!inserted) {
            composite->values[at->second] = std::move(value);
            continue;
        }
        composite->keys.push_back(std::move(key));
        composite->values.push_back(std::move(value));
    }
    Value v;
    v.kind = Kind::kMap;
    v.composite = std::move(composite);
    return v;
}
Value Value::nil_map(Printing printing) {
    Value v = ordered_map({});
    v.printing = printing;
    v.nil_container = true;
    return v;
}

size_t Value::size() const {
    if (kind == Kind::kList || kind == Kind::kMap) return composite->values.size();
    return 0;
}

Value make_struct(std::string type_name, std::vector<StructField> fields, Printing printing) {
    auto composite = std::make_shared<Composite>();
    composite->type_name = std::move(type_name);
    composite->fields = std::move(fields);
    Value v;
    v.kind = Kind::kStruct;
    v.printing = printing;
    v.composite = std::move(composite);
    return v;
}

const Value* find_field(const Value& receiver, const std::string& name) {
    if (receiver.kind == Kind::kStruct) {
        for (const StructField& field : receiver.composite->fields) {
            if (field.name == name) return &field.value;
        }
        return nullptr;
    }
    if (receiver.kind == Kind::kMap) {
        const Composite& map = *receiver.composite;
        for (size_t i = 0; i < map.keys.size(); ++i) {
            if (map.keys[i] == name) return &map.values[i];
        }
    }
    return nullptr;
}

bool is_true(const Value& value) {
    switch (value.kind) {
        case Kind::kNil:
            return false;
        case Kind::kBool:
            return value.boolean;
        case Kind::kInt:
            return value.integer != 0;
        case Kind::kFloat:
            return value.number != 0;
        case Kind::kString:
            return !value.str().empty();
        case Kind::kList:
        case Kind::kMap:
            return value.size() > 0;
        case Kind::kStruct:
            return true;
    }
    return false;
}

std::string type_name(const Value& value) {
    switch (value.kind) {
        case Kind::kNil:
            return "<nil>";
        case Kind::kBool:
            return "bool";
        case Kind::kInt:
            return "int";
        case Kind::kFloat:
            return "float64";
        case Kind::kString:
            return "string";
        case Kind::kList:
            return "[]interface {}";
        case Kind::kMap:
            return "map[string]interface {}";
        case Kind::kStruct:
            return value.composite->type_name;
    }
    return "?";
}

std::string format_float_v(double value) {
    if (!std::isfinite(value)) return special_float(value);
    if (value == 0) return std::signbit(value) ? "-0" : "0";
    std::string digits;
    int exponent = 0;
    shortest_digits(std::fabs(value), digits, exponent);
    // With the shortest digits, strconv decides between %e and %f at precision 6.
    const std::string body =
        exponent < -4 || exponent >= 6 ? format_e(digits, exponent) : format_f(digits, exponent);
    return value < 0 ? "-" + body : body;
}

std::string print_value(const Value& value) {
    switch (value.printing) {
        case Printing::kJson:
            return marshal_json(value);
        case Printing::kJsonNilAsEmptyObject:
            return value.nil_container ? "{}" : marshal_json(value);
        case Printing::kPropertyType:
            if (value.kind == Kind::kList && value.size() == 1) {
                return print_value(value.composite->values[0]);
            }
            if (value.kind == Kind::kList && value.size() == 0) return "";
            break;
        case Printing::kGo:
            break;
    }
    switch (value.kind) {
        case Kind::kNil:
            return "<nil>";
        case Kind::kBool:
            return value.boolean ? "true" : "false";
        case Kind::kInt:
            return std::to_string(value.integer);
        case Kind::kFloat:
            return format_float_v(value.number);
        case Kind::kString:
            return value.str();
        case Kind::kList: {
            std::string out = "[";
            const auto& items = value.composite->values;
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += ' ';
                out += print_value(items[i]);
            }
            return out + "]";
        }
        case Kind::kMap: {
            std::string out = "map[";
            const Composite& map = *value.composite;
            for (size_t i = 0; i < map.keys.size(); ++i) {
                if (i) out += ' ';
                out += map.keys[i] + ":" + print_value(map.values[i]);
            }
            return out + "]";
        }
        case Kind::kStruct: {
            std::string out = "{";
            const auto& fields = value.composite->fields;
            for (size_t i = 0; i < fields.size(); ++i) {
                if (i) out += ' ';
                out += print_value(fields[i].value);
            }
            return out + "}";
        }
    }
    return "";
}

void append_json_string(std::string& out, const std::string& text) {
    static const char kHex[] = "0123456789abcdef";
    out += '"';
    for (size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
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
                    // Control characters, and the HTML characters Go escapes for safe embedding.
                    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                        out += "\\u00";
                        out += kHex[c >> 4];
                        out += kHex[c & 0xF];
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        uint32_t code = 0;
        const size_t length = utf8_sequence(text, i, code);
        if (length == 0) {
            out += "\\ufffd";  // invalid UTF-8 becomes the replacement character
            ++i;
            continue;
        }
        if (code == 0x2028 || code == 0x2029) {
            out += code == 0x2028 ? "\\u2028" : "\\u2029";
        } else {
            out.append(text, i, length);
        }
        i += length;
    }
    out += '"';
}

std::string marshal_json(const Value& value) {
    std::string out;
    append_json(out, value);
    return out;
}

namespace {

template <typename Json>
Value convert_json(const Json& json) {
    switch (json.type()) {
        case Json::value_t::object: {
            std::vector<std::pair<std::string, Value>> entries;
            entries.reserve(json.size());
            for (auto it = json.begin(); it != json.end(); ++it) {
                entries.emplace_back(it.key(), convert_json(it.value()));
            }
            return Value::map(std::move(entries));
        }
        case Json::value_t::array: {
            std::vector<Value> items;
            items.reserve(json.size());
            for (const auto& item : json) items.push_back(convert_json(item));
            return Value::list(std::move(items));
        }
        case Json::value_t::string:
            return Value::of_string(json.template get<std::string>());
        case Json::value_t::boolean:
            return Value::of_bool(json.template get<bool>());
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
        case Json::value_t::number_float:
            return Value::of_float(json.template get<double>());
        default:
            return Value::nil();
    }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) {
    return convert_json(json);
}
Value from_json(const nlohmann::json& json) {
    return convert_json(json);
}

}  // namespace cria::chat::gotmpl
