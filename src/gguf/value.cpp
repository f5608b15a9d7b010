#include "gguf/value.h"

#include <cstdio>
#include <limits>

namespace cria::gguf {

std::string_view value_type_name(ValueType type) {
    switch (type) {
        case ValueType::kUint8:
            return "u8";
        case ValueType::kInt8:
            return "i8";
        case ValueType::kUint16:
            return "u16";
        case ValueType::kInt16:
            return "i16";
        case ValueType::kUint32:
            return "u32";
        case ValueType::kInt32:
            return "i32";
        case ValueType::kFloat32:
            return "f32";
        case ValueType::kBool:
            return "bool";
        case ValueType::kString:
            return "string";
        case ValueType::kArray:
            return "array";
        case ValueType::kUint64:
            return "u64";
        case ValueType::kInt64:
            return "i64";
        case ValueType::kFloat64:
            return "f64";
    }
    return "?";
}

bool is_valid_value_type(uint32_t id) {
    return id <= static_cast<uint32_t>(ValueType::kFloat64);
}

Value Value::array(ValueType element_type, Array items) {
    Value v(ValueType::kArray, std::move(items));
    v.element_type_ = element_type;
    return v;
}

Value Value::string_array(const std::vector<std::string>& items) {
    Array out;
    out.reserve(items.size());
    for (const auto& s : items) out.push_back(Value::string(s));
    return array(ValueType::kString, std::move(out));
}

Value Value::f32_array(const std::vector<float>& items) {
    Array out;
    out.reserve(items.size());
    for (float f : items) out.push_back(Value::f32(f));
    return array(ValueType::kFloat32, std::move(out));
}

Value Value::i32_array(const std::vector<int32_t>& items) {
    Array out;
    out.reserve(items.size());
    for (int32_t i : items) out.push_back(Value::i32(i));
    return array(ValueType::kInt32, std::move(out));
}

bool Value::is_integer() const {
    return std::holds_alternative<uint64_t>(payload_) || std::holds_alternative<int64_t>(payload_);
}

std::optional<uint64_t> Value::as_u64() const {
    if (const auto* u = std::get_if<uint64_t>(&payload_)) return *u;
    if (const auto* i = std::get_if<int64_t>(&payload_)) {
        if (*i >= 0) return static_cast<uint64_t>(*i);
    }
    return std::nullopt;
}

std::optional<int64_t> Value::as_i64() const {
    if (const auto* i = std::get_if<int64_t>(&payload_)) return *i;
    if (const auto* u = std::get_if<uint64_t>(&payload_)) {
        if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return static_cast<int64_t>(*u);
        }
    }
    return std::nullopt;
}

std::optional<double> Value::as_f64() const {
    if (const auto* d = std::get_if<double>(&payload_)) return *d;
    if (const auto* u = std::get_if<uint64_t>(&payload_)) return static_cast<double>(*u);
    if (const auto* i = std::get_if<int64_t>(&payload_)) return static_cast<double>(*i);
    return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
    if (const auto* b = std::get_if<bool>(&payload_)) return *b;
    return std::nullopt;
}

const std::string* Value::as_string() const {
    return std::get_if<std::string>(&payload_);
}

const Value::Array* Value::as_array() const {
    return std::get_if<Array>(&payload_);
}

std::string Value::to_display_string(size_t max_items) const {
    if (const auto* u = std::get_if<uint64_t>(&payload_)) return std::to_string(*u);
    if (const auto* i = std::get_if<int64_t>(&payload_)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&payload_)) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%g", *d);
        return buf;
    }
    if (const auto* b = std::get_if<bool>(&payload_)) return *b ? "true" : "false";
    if (const auto* s = std::get_if<std::string>(&payload_)) {
        constexpr size_t kMaxChars = 60;
        std::string shown = s->size() > kMaxChars ? s->substr(0, kMaxChars) + "..." : *s;
        for (char& c : shown) {
            if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        }
        return "\"" + shown + "\"";
    }
    const Array& items = std::get<Array>(payload_);
    std::string out = "[";
    for (size_t i = 0; i < items.size() && i < max_items; ++i) {
        if (i > 0) out += ", ";
        out += items[i].to_display_string(max_items);
    }
    if (items.size() > max_items) out += ", ... (" + std::to_string(items.size()) + " items)";
    return out + "]";
}

}  // namespace cria::gguf
