// Methods of str, list and dict values that templates call (`s.split(',')`, `d.items()`),
// with the ImmutableSandboxedEnvironment rule that methods mutating a list or dict are unsafe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/value.h"

namespace cria::chat::jinja {

class Interpreter;

enum class MethodLookup { kNone, kSafe, kUnsafe };

// Whether `receiver.name` names a method of a str, list or dict.
MethodLookup lookup_method(const Value& receiver, std::string_view name);

// Calls the method; only valid after lookup_method returned kSafe.
Value call_builtin_method(Interpreter& interp, const Value& receiver, std::string_view name,
                          CallArgs& args);

// Python's str.strip/lstrip/rstrip with an optional set of characters (whitespace when
// `chars` is null). Shared with the trim filter.
std::string python_strip(std::string_view text, const std::string* chars, bool left, bool right);

// Python's str.splitlines() (keepends=False).
std::vector<std::string> python_splitlines(std::string_view text);

// Python's str.capitalize() (the Jinja `title` filter differs and lives with the filters).
std::string python_capitalize(std::string_view text);

}  // namespace cria::chat::jinja
