// Python semantics of the template operators: arithmetic with int/float promotion, str and
// list concatenation and repetition, ==/< with Python's type rules, `in`, slicing, and
// printf-style `%` formatting.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace cria::chat::jinja {

class Interpreter;

Value binary_op(Interpreter& interp, BinaryOp op, const Value& left, const Value& right);
Value unary_op(UnaryOp op, const Value& operand);

// Python's ==.
bool values_equal(const Value& a, const Value& b);
// Python's a < b; TypeError for unorderable pairs (`symbol` names the operator in it).
bool values_less(const Value& a, const Value& b, const char* symbol = "<");
bool compare(CompareOp op, const Value& a, const Value& b);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);

// The indices a Python slice selects from a sequence of `length` items.
std::vector<size_t> slice_indices(size_t length, std::optional<int64_t> start,
                                  std::optional<int64_t> stop, std::optional<int64_t> step);

// `format % args` (also the `format` filter).
std::string percent_format(Interpreter& interp, const std::string& format, const Value& args);

}  // namespace cria::chat::jinja
