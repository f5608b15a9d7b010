// Python's text forms of values: str(), repr(), float repr and json.dumps(), byte-exact, since
// rendered prompts must match what Hugging Face's Python renderer produces.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/jinja/value.h"

namespace cria::chat::jinja {

// repr(float): the shortest string that round-trips, in Python's layout ("1.0", "1e+16",
// "1.5e-07", "inf", "nan").
std::string format_float(double value);

// str(value) and repr(value). Both fail with ErrorKind::kLimit once the text would exceed
// `max_bytes`, so that printing a list holding one large string many times stays bounded.
std::string to_str(const Value& value, size_t max_bytes);
std::string to_repr(const Value& value, size_t max_bytes);
// repr() of a str: quoted and escaped as Python does.
std::string repr_string(std::string_view text);

// json.dumps(value, ensure_ascii=False, indent=..., separators=..., sort_keys=...).
struct JsonOptions {
    bool pretty = false;  // indent given (even 0 or ""): one item per line
    std::string indent;   // the text per indentation level
    std::string item_separator = ", ";
    std::string key_separator = ": ";
    bool sort_keys = false;
    bool ensure_ascii = false;  // escape non-ASCII as \uXXXX (surrogate pairs above U+FFFF)
};
std::string to_json(const Value& value, const JsonOptions& options, size_t max_bytes);

// The Value for a JSON document, keeping object key order. Fails (kLimit) past
// kMaxNestingDepth levels of nesting.
Value from_json(const nlohmann::ordered_json& json);

}  // namespace cria::chat::jinja
