// The built-in tests (`value is name(args)`), following Jinja's definitions.
#include <cmath>
#include <unordered_map>

#include "chat/jinja/args.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {

bool filter_exists(std::string_view name);
bool test_exists(std::string_view name);

namespace {

using TestFn = bool (*)(Interpreter& interp, const Value& input, CallArgs& args);

int64_t python_mod_int(const Value& value, int64_t divisor) {
    if (value.is_undefined()) value.fail_undefined();
    if (!value.is_number()) {
        fail(ErrorKind::kType,
             "unsupported operand type(s) for %: '" + value.type_name() + "' and 'int'");
    }
    if (divisor == 0) fail(ErrorKind::kZeroDivision, "integer modulo by zero");
    if (value.is_float()) {
        double r = std::fmod(value.as_double(), static_cast<double>(divisor));
        return r == 0.0 ? 0 : 1;
    }
    int64_t r = value.as_int() % divisor;
    if (r != 0 && ((r < 0) != (divisor < 0))) r += divisor;
    return r;
}

bool test_odd(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("odd", args, {});
    return python_mod_int(input, 2) == 1;
}

bool test_even(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("even", args, {});
    return python_mod_int(input, 2) == 0;
}

bool test_divisibleby(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("divisibleby", args, {"num"}, 1);
    const Value& num = *binder.get(0);
    if (num.is_float() || input.is_float()) {
        if (num.as_double() == 0.0) fail(ErrorKind::kZeroDivision, "float modulo");
        return std::fmod(input.as_double(), num.as_double()) == 0.0;
    }
    return python_mod_int(input, require_int(num, "divisor")) == 0;
}

bool test_defined(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("defined", args, {});
    return !input.is_undefined();
}

bool test_undefined(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("undefined", args, {});
    return input.is_undefined();
}

bool test_none(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("none", args, {});
    return input.is_none();
}

bool test_boolean(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("boolean", args, {});
    return input.is_bool();
}

bool test_true(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("true", args, {});
    return input.is_bool() && input.as_bool();
}

bool test_false(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("false", args, {});
    return input.is_bool() && !input.as_bool();
}

bool test_integer(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("integer", args, {});
    return input.is_int();
}

bool test_float(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("float", args, {});
    return input.is_float();
}

bool test_number(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("number", args, {});
    return input.is_number();
}

bool test_string(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("string", args, {});
    return input.is_string();
}

bool test_mapping(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("mapping", args, {});
    return input.is_dict();
}

// Has a length and item access: str, list, tuple, dict, and Undefined (which has both).
bool test_sequence(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("sequence", args, {});
    return input.is_string() || input.is_list() || input.is_dict() || input.is_undefined();
}

bool test_iterable(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("iterable", args, {});
    if (input.is_object()) return input.as_object().type_name() == "LoopContext";
    return input.is_string() || input.is_list() || input.is_dict() || input.is_undefined();
}

bool test_callable(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("callable", args, {});
    // Undefined defines __call__ (to raise), so Python reports it callable.
    return input.is_undefined() || (input.is_object() && input.as_object().is_callable());
}

bool test_sameas(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("sameas", args, {"other"}, 1);
    const Value& other = *binder.get(0);
    if (input.kind() != other.kind()) return false;
    switch (input.kind()) {
        case ValueKind::kNone:
        case ValueKind::kUndefined:
            return true;
        case ValueKind::kBool:
            return input.as_bool() == other.as_bool();
        case ValueKind::kInt:
            return input.as_int() == other.as_int();
        case ValueKind::kFloat:
            return input.as_double() == other.as_double();
        default:
            return input.same_storage(other);
    }
}

bool test_escaped(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("escaped", args, {});
    return false;  // no Markup values: autoescaping is off in chat templates
}

bool test_in(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("in", args, {"seq"}, 1);
    return contains(*binder.get(0), input);
}

bool test_lower(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("lower", args, {});
    const std::string s = interp.str(input);
    bool cased = false;
    size_t pos = 0;
    while (pos < s.size()) {
        const char32_t c = unicode::decode(s, pos);
        if (unicode::is_upper(c)) return false;
        cased = cased || unicode::is_lower(c);
    }
    return cased;
}

bool test_upper(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("upper", args, {});
    const std::string s = interp.str(input);
    bool cased = false;
    size_t pos = 0;
    while (pos < s.size()) {
        const char32_t c = unicode::decode(s, pos);
        if (unicode::is_lower(c)) return false;
        cased = cased || unicode::is_upper(c);
    }
    return cased;
}

bool test_filter(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("filter", args, {});
    return input.is_string() && filter_exists(input.as_string());
}

bool test_test(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("test", args, {});
    return input.is_string() && test_exists(input.as_string());
}

template <CompareOp Op>
bool test_compare(Interpreter&, const Value& input, CallArgs& args) {
    ArgBinder binder("compare", args, {"other"}, 1);
    return compare(Op, input, *binder.get(0));
}

const std::unordered_map<std::string_view, TestFn>& test_table() {
    static const std::unordered_map<std::string_view, TestFn> kTests = {
        {"odd", test_odd},
        {"even", test_even},
        {"divisibleby", test_divisibleby},
        {"defined", test_defined},
        {"undefined", test_undefined},
        {"none", test_none},
        {"boolean", test_boolean},
        {"true", test_true},
        {"false", test_false},
        {"integer", test_integer},
        {"float", test_float},
        {"number", test_number},
        {"string", test_string},
        {"mapping", test_mapping},
        {"sequence", test_sequence},
        {"iterable", test_iterable},
        {"callable", test_callable},
        {"sameas", test_sameas},
        {"escaped", test_escaped},
        {"in", test_in},
        {"lower", test_lower},
        {"upper", test_upper},
        {"filter", test_filter},
        {"test", test_test},
        {"==", test_compare<CompareOp::kEq>},
        {"eq", test_compare<CompareOp::kEq>},
        {"equalto", test_compare<CompareOp::kEq>},
        {"!=", test_compare<CompareOp::kNe>},
        {"ne", test_compare<CompareOp::kNe>},
        {">", test_compare<CompareOp::kGt>},
        {"gt", test_compare<CompareOp::kGt>},
        {"greaterthan", test_compare<CompareOp::kGt>},
        {">=", test_compare<CompareOp::kGe>},
        {"ge", test_compare<CompareOp::kGe>},
        {"<", test_compare<CompareOp::kLt>},
        {"lt", test_compare<CompareOp::kLt>},
        {"lessthan", test_compare<CompareOp::kLt>},
        {"<=", test_compare<CompareOp::kLe>},
        {"le", test_compare<CompareOp::kLe>},
    };
    return kTests;
}

}  // namespace

bool test_exists(std::string_view name) {
    return test_table().count(name) != 0;
}

bool call_test(Interpreter& interp, std::string_view name, const Value& input, CallArgs& args) {
    const auto& table = test_table();
    auto it = table.find(name);
    if (it == table.end()) fail(ErrorKind::kRuntime, "No test named '" + std::string(name) + "'.");
    return it->second(interp, input, args);
}

}  // namespace cria::chat::jinja
