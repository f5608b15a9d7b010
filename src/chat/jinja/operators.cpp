#include "chat/jinja/operators.h"

#include <cmath>
#include <cstdio>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {
namespace {

[[noreturn]] void unsupported(const char* symbol, const Value& a, const Value& b) {
    fail(ErrorKind::kType, std::string("unsupported operand type(s) for ") + symbol + ": '" +
                               a.type_name() + "' and '" + b.type_name() + "'");
}

[[noreturn]] void int_overflow() {
    fail(ErrorKind::kOverflow, "integer result does not fit in 64 bits");
}

void fail_if_undefined(const Value& a, const Value& b) {
    if (a.is_undefined()) a.fail_undefined();
    if (b.is_undefined()) b.fail_undefined();
}

Value repeat(Interpreter& interp, const Value& sequence, int64_t times) {
    if (times <= 0) {
        if (sequence.is_string()) return Value(std::string());
        return sequence.is_tuple() ? Value::tuple({}) : Value::list({});
    }
    if (sequence.is_string()) {
        const std::string& s = sequence.as_string();
        if (!s.empty() && static_cast<uint64_t>(times) > interp.max_bytes() / s.size()) {
            interp.check_string_size(interp.max_bytes() + 1);
        }
        std::string out;
        out.reserve(s.size() * static_cast<size_t>(times));
        for (int64_t i = 0; i < times; ++i) out += s;
        return Value(std::move(out));
    }
    const List& items = sequence.as_list();
    if (!items.empty() && static_cast<uint64_t>(times) > UINT32_MAX / items.size()) {
        interp.check_list_size(SIZE_MAX);
    }
    interp.check_list_size(items.size() * static_cast<size_t>(times));
    List out;
    out.reserve(items.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
    return sequence.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Value add(Interpreter& interp, const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_integral() && b.is_integral()) {
            int64_t result = 0;
            if (__builtin_add_overflow(a.as_int(), b.as_int(), &result)) int_overflow();
            return Value(result);
        }
        return Value(a.as_double() + b.as_double());
    }
    if (a.is_string()) {
        if (!b.is_string()) {
            fail(ErrorKind::kType,
                 "can only concatenate str (not \"" + b.type_name() + "\") to str");
        }
        interp.check_string_size(a.as_string().size() + b.as_string().size());
        return Value(a.as_string() + b.as_string());
    }
    if (a.is_list()) {
        if (!b.is_list() || a.is_tuple() != b.is_tuple()) {
            fail(ErrorKind::kType, "can only concatenate " + a.type_name() + " (not \"" +
                                       b.type_name() + "\") to " + a.type_name());
        }
        interp.check_list_size(a.as_list().size() + b.as_list().size());
        List out = a.as_list();
        out.insert(out.end(), b.as_list().begin(), b.as_list().end());
        return a.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    unsupported("+", a, b);
}

Value multiply(Interpreter& interp, const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_integral() && b.is_integral()) {
            int64_t result = 0;
            if (__builtin_mul_overflow(a.as_int(), b.as_int(), &result)) int_overflow();
            return Value(result);
        }
        return Value(a.as_double() * b.as_double());
    }
    const bool a_seq = a.is_string() || a.is_list();
    const bool b_seq = b.is_string() || b.is_list();
    if (a_seq && b.is_integral()) return repeat(interp, a, b.as_int());
    if (b_seq && a.is_integral()) return repeat(interp, b, a.as_int());
    if (a_seq && (b.is_float() || b_seq || b.is_none())) {
        fail(ErrorKind::kType,
             "can't multiply sequence by non-int of type '" + b.type_name() + "'");
    }
    unsupported("*", a, b);
}

int64_t floor_div(int64_t a, int64_t b) {
    if (b == 0) fail(ErrorKind::kZeroDivision, "integer division or modulo by zero");
    if (a == INT64_MIN && b == -1) int_overflow();
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
    if (b == 0) fail(ErrorKind::kZeroDivision, "integer modulo by zero");
    if (b == -1) return 0;
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

double float_mod(double a, double b) {
    if (b == 0.0) fail(ErrorKind::kZeroDivision, "float modulo");
    double r = std::fmod(a, b);
    if (r != 0.0) {
        if ((r < 0) != (b < 0)) r += b;
    } else {
        r = std::copysign(0.0, b);
    }
    return r;
}

Value power(const Value& a, const Value& b) {
    if (a.is_integral() && b.is_integral() && b.as_int() >= 0) {
        int64_t base = a.as_int();
        int64_t exponent = b.as_int();
        int64_t result = 1;
        while (exponent > 0) {
            if (exponent & 1) {
                if (__builtin_mul_overflow(result, base, &result)) int_overflow();
            }
            exponent >>= 1;
            if (exponent > 0 && __builtin_mul_overflow(base, base, &base)) int_overflow();
        }
        return Value(result);
    }
    const double x = a.as_double();
    const double y = b.as_double();
    if (x == 0.0 && y < 0) {
        fail(ErrorKind::kZeroDivision, "0.0 cannot be raised to a negative power");
    }
    if (x < 0 && y != std::floor(y)) {
        fail(ErrorKind::kValue, "negative number cannot be raised to a fractional power");
    }
    return Value(std::pow(x, y));
}

}  // namespace

Value binary_op(Interpreter& interp, BinaryOp op, const Value& a, const Value& b) {
    if (op == BinaryOp::kConcat) {
        std::string left = interp.str(a);
        std::string right = interp.str(b);
        interp.check_string_size(left.size() + right.size());
        return Value(left + right);
    }
    fail_if_undefined(a, b);
    switch (op) {
        case BinaryOp::kAdd:
            return add(interp, a, b);
        case BinaryOp::kSub:
            if (!a.is_number() || !b.is_number()) unsupported("-", a, b);
            if (a.is_integral() && b.is_integral()) {
                int64_t result = 0;
                if (__builtin_sub_overflow(a.as_int(), b.as_int(), &result)) int_overflow();
                return Value(result);
            }
            return Value(a.as_double() - b.as_double());
        case BinaryOp::kMul:
            return multiply(interp, a, b);
        case BinaryOp::kDiv:
            if (!a.is_number() || !b.is_number()) unsupported("/", a, b);
            if (b.as_double() == 0.0) fail(ErrorKind::kZeroDivision, "division by zero");
            return Value(a.as_double() / b.as_double());
        case BinaryOp::kFloorDiv:
            if (!a.is_number() || !b.is_number()) unsupported("//", a, b);
            if (a.is_integral() && b.is_integral()) return Value(floor_div(a.as_int(), b.as_int()));
            if (b.as_double() == 0.0)
                fail(ErrorKind::kZeroDivision, "float floor division by zero");
            return Value(std::floor(a.as_double() / b.as_double()));
        case BinaryOp::kMod:
            if (a.is_string()) return Value(percent_format(interp, a.as_string(), b));
            if (!a.is_number() || !b.is_number()) unsupported("%", a, b);
            if (a.is_integral() && b.is_integral()) return Value(floor_mod(a.as_int(), b.as_int()));
            return Value(float_mod(a.as_double(), b.as_double()));
        case BinaryOp::kPow:
            if (!a.is_number() || !b.is_number()) unsupported("** or pow()", a, b);
            return power(a, b);
        case BinaryOp::kConcat:
            break;
    }
    fail(ErrorKind::kRuntime, "unknown operator");
}

Value unary_op(UnaryOp op, const Value& v) {
    if (op == UnaryOp::kNot) return Value(!v.truthy());
    if (v.is_undefined()) v.fail_undefined();
    const char* symbol = op == UnaryOp::kNegate ? "-" : "+";
    if (!v.is_number()) {
        fail(ErrorKind::kType,
             std::string("bad operand type for unary ") + symbol + ": '" + v.type_name() + "'");
    }
    if (op == UnaryOp::kPlus) return v.is_bool() ? Value(v.as_int()) : v;
    if (v.is_float()) return Value(-v.as_double());
    if (v.as_int() == INT64_MIN) int_overflow();
    return Value(-v.as_int());
}

bool values_equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
        return a.as_double() == b.as_double();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case ValueKind::kUndefined:
        case ValueKind::kNone:
            return true;
        case ValueKind::kString:
            return a.as_string() == b.as_string();
        case ValueKind::kList: {
            if (a.is_tuple() != b.is_tuple()) return false;
            if (a.same_storage(b)) return true;
            const List& x = a.as_list();
            const List& y = b.as_list();
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i) {
                if (!values_equal(x[i], y[i])) return false;
            }
            return true;
        }
        case ValueKind::kDict: {
            if (a.same_storage(b)) return true;
            const Dict& x = a.as_dict();
            const Dict& y = b.as_dict();
            if (x.size() != y.size()) return false;
            for (const auto& [key, value] : x.entries()) {
                const Value* other = y.find(key);
                if (other == nullptr || !values_equal(value, *other)) return false;
            }
            return true;
        }
        case ValueKind::kObject:
            return a.same_storage(b);
        default:
            return false;
    }
}

bool values_less(const Value& a, const Value& b, const char* symbol) {
    fail_if_undefined(a, b);
    if (a.is_number() && b.is_number()) {
        if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int();
        return a.as_double() < b.as_double();
    }
    if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        const List& x = a.as_list();
        const List& y = b.as_list();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!values_equal(x[i], y[i])) return values_less(x[i], y[i], symbol);
        }
        return x.size() < y.size();
    }
    fail(ErrorKind::kType, std::string("'") + symbol + "' not supported between instances of '" +
                               a.type_name() + "' and '" + b.type_name() + "'");
}

bool compare(CompareOp op, const Value& a, const Value& b) {
    switch (op) {
        case CompareOp::kEq:
            return values_equal(a, b);
        case CompareOp::kNe:
            return !values_equal(a, b);
        case CompareOp::kLt:
            return values_less(a, b, "<");
        case CompareOp::kGt:
            return values_less(b, a, ">");
        case CompareOp::kLe:
            // Python's <= on lists is not "< or ==" for NaN, but it is for everything here.
            if (a.is_number() && b.is_number() && !(a.is_integral() && b.is_integral())) {
                return a.as_double() <= b.as_double();
            }
            return values_equal(a, b) || values_less(a, b, "<=");
        case CompareOp::kGe:
            if (a.is_number() && b.is_number() && !(a.is_integral() && b.is_integral())) {
                return a.as_double() >= b.as_double();
            }
            return values_equal(a, b) || values_less(b, a, ">=");
        case CompareOp::kIn:
            return contains(b, a);
        case CompareOp::kNotIn:
            return !contains(b, a);
    }
    return false;
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case ValueKind::kUndefined:
            return false;  // iterates as empty
        case ValueKind::kString:
            if (!item.is_string()) {
                if (item.is_undefined()) item.fail_undefined();
                fail(ErrorKind::kType,
                     "'in <string>' requires string as left operand, not " + item.type_name());
            }
            return container.as_string().find(item.as_string()) != std::string::npos;
        case ValueKind::kList:
            for (const Value& v : container.as_list()) {
                if (values_equal(v, item)) return true;
            }
            return false;
        case ValueKind::kDict:
            if (item.is_undefined()) return false;
            return container.as_dict().find(item) != nullptr;
        default:
            break;
    }
    fail(ErrorKind::kType, "argument of type '" + container.type_name() + "' is not iterable");
}

std::vector<size_t> slice_indices(size_t length, std::optional<int64_t> start_arg,
                                  std::optional<int64_t> stop_arg,
                                  std::optional<int64_t> step_arg) {
    const int64_t step = step_arg.value_or(1);
    if (step == 0) fail(ErrorKind::kValue, "slice step cannot be zero");
    const auto len = static_cast<int64_t>(length);
    auto adjust = [&](std::optional<int64_t> index, int64_t if_absent) {
        if (!index) return if_absent;
        int64_t i = *index;
        if (i < 0) {
            i += len;
            if (i < 0) i = step < 0 ? -1 : 0;
        } else if (i >= len) {
            i = step < 0 ? len - 1 : len;
        }
        return i;
    };
    const int64_t start = adjust(start_arg, step < 0 ? len - 1 : 0);
    const int64_t stop = adjust(stop_arg, step < 0 ? -1 : len);
    std::vector<size_t> out;
    if (step > 0) {
        for (int64_t i = start; i < stop; i += step) out.push_back(static_cast<size_t>(i));
    } else {
        for (int64_t i = start; i > stop; i += step) out.push_back(static_cast<size_t>(i));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// printf-style formatting

namespace {

std::string pad_field(std::string text, size_t width, bool left_align, char fill) {
    const size_t length = unicode::code_point_count(text);
    if (length >= width) return text;
    const std::string padding(width - length, fill);
    if (left_align) return text + padding;
    if (fill == '0' && !text.empty() && (text[0] == '-' || text[0] == '+' || text[0] == ' ')) {
        return text.substr(0, 1) + padding + text.substr(1);
    }
    return padding + text;
}

}  // namespace

std::string percent_format(Interpreter& interp, const std::string& format, const Value& args) {
    std::vector<Value> positional;
    const Dict* mapping = nullptr;
    if (args.is_tuple()) {
        positional = args.as_list();
    } else {
        positional.push_back(args);
        if (args.is_dict()) mapping = &args.as_dict();
    }
    size_t next_arg = 0;
    bool used_mapping = false;
    auto take = [&]() -> const Value& {
        if (next_arg >= positional.size()) {
            fail(ErrorKind::kType, "not enough arguments for format string");
        }
        return positional[next_arg++];
    };
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            out.push_back(format[i]);
            continue;
        }
        if (++i >= format.size()) fail(ErrorKind::kValue, "incomplete format");
        const Value* keyed = nullptr;
        if (format[i] == '(') {
            const size_t close = format.find(')', i);
            if (close == std::string::npos) fail(ErrorKind::kValue, "incomplete format key");
            if (mapping == nullptr) fail(ErrorKind::kType, "format requires a mapping");
            keyed = mapping->find(std::string_view(format).substr(i + 1, close - i - 1));
            if (keyed == nullptr) {
                fail(ErrorKind::kValue,
                     "format key '" + format.substr(i + 1, close - i - 1) + "' not found");
            }
            used_mapping = true;
            i = close + 1;
        }
        bool left = false;
        bool plus = false;
        bool space = false;
        bool alternate = false;
        bool zero = false;
        for (; i < format.size(); ++i) {
            const char c = format[i];
            if (c == '-') {
                left = true;
            } else if (c == '+') {
                plus = true;
            } else if (c == ' ') {
                space = true;
            } else if (c == '#') {
                alternate = true;
            } else if (c == '0') {
                zero = true;
            } else {
                break;
            }
        }
        auto read_number = [&](bool allow_star) -> int64_t {
            if (i < format.size() && format[i] == '*' && allow_star) {
                ++i;
                const Value& v = take();
                if (!v.is_integral()) fail(ErrorKind::kType, "* wants int");
                return v.as_int();
            }
            int64_t n = 0;
            while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
                n = n * 10 + (format[i++] - '0');
                if (n > static_cast<int64_t>(interp.max_bytes()))
                    interp.check_string_size(SIZE_MAX);
            }
            return n;
        };
        int64_t width = read_number(true);
        if (width < 0) {
            left = true;
            width = -width;
        }
        if (static_cast<uint64_t>(width) > interp.max_bytes()) interp.check_string_size(SIZE_MAX);
        int64_t precision = -1;
        if (i < format.size() && format[i] == '.') {
            ++i;
            precision = read_number(true);
        }
        while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
        if (i >= format.size()) fail(ErrorKind::kValue, "incomplete format");
        const char conversion = format[i];
        if (conversion == '%') {
            out.push_back('%');
            continue;
        }
        const Value& value = keyed != nullptr ? *keyed : take();
        std::string piece;
        switch (conversion) {
            case 's':
            case 'r':
            case 'a': {
                piece = conversion == 's' ? interp.str(value) : to_repr(value, interp.max_bytes());
                if (precision >= 0 &&
                    static_cast<size_t>(precision) < unicode::code_point_count(piece)) {
                    piece.resize(unicode::byte_offset_of(piece, static_cast<size_t>(precision)));
                }
                break;
            }
            case 'd':
            case 'i':
            case 'u':
            case 'x':
            case 'X':
            case 'o':
            case 'c': {
                if (value.is_undefined()) value.fail_undefined();
                if (conversion == 'c') {
                    if (value.is_string() && unicode::code_point_count(value.as_string()) == 1) {
                        piece = value.as_string();
                    } else if (value.is_integral() && value.as_int() >= 0 &&
                               value.as_int() <= 0x10FFFF) {
                        unicode::append_utf8(piece, static_cast<char32_t>(value.as_int()));
                    } else {
                        fail(ErrorKind::kType, "%c requires int or char");
                    }
                    break;
                }
                if (!value.is_number()) {
                    fail(ErrorKind::kType, std::string("%") + conversion +
                                               " format: a real number is required, not " +
                                               value.type_name());
                }
                if (value.is_float() && !std::isfinite(value.as_double())) {
                    fail(ErrorKind::kOverflow, "cannot convert float infinity or NaN to integer");
                }
                const int64_t n =
                    value.is_float() ? static_cast<int64_t>(value.as_double()) : value.as_int();
                const uint64_t magnitude =
                    n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
                char buf[32];
                if (conversion == 'x' || conversion == 'X' || conversion == 'o') {
                    std::snprintf(
                        buf, sizeof(buf),
                        conversion == 'x' ? "%llx" : (conversion == 'X' ? "%llX" : "%llo"),
                        static_cast<unsigned long long>(magnitude));
                } else {
                    std::snprintf(buf, sizeof(buf), "%llu",
                                  static_cast<unsigned long long>(magnitude));
                }
                std::string digits = buf;
                if (precision > 0 && static_cast<size_t>(precision) > digits.size()) {
                    if (static_cast<uint64_t>(precision) > interp.max_bytes()) {
                        interp.check_string_size(SIZE_MAX);
                    }
                    digits.insert(0, static_cast<size_t>(precision) - digits.size(), '0');
                }
                if (alternate && conversion != 'd' && conversion != 'i' && conversion != 'u') {
                    digits.insert(0, conversion == 'o' ? "0o" : (conversion == 'x' ? "0x" : "0X"));
                }
                piece = (n < 0 ? "-" : (plus ? "+" : (space ? " " : ""))) + digits;
                break;
            }
            case 'f':
            case 'F':
            case 'e':
            case 'E':
            case 'g':
            case 'G': {
                if (value.is_undefined()) value.fail_undefined();
                if (!value.is_number()) {
                    fail(ErrorKind::kType, "must be real number, not " + value.type_name());
                }
                if (precision > 100) precision = 100;
                std::string spec = "%";
                if (plus) spec += '+';
                if (space) spec += ' ';
                if (alternate) spec += '#';
                spec += "." + std::to_string(precision < 0 ? 6 : precision) + conversion;
                char buf[512];
                std::snprintf(buf, sizeof(buf), spec.c_str(), value.as_double());
                piece = buf;
                break;
            }
            default:
                fail(ErrorKind::kValue,
                     std::string("unsupported format character '") + conversion + "'");
        }
        out += pad_field(std::move(piece), static_cast<size_t>(width), left,
                         zero && !left && conversion != 's' && conversion != 'r' ? '0' : ' ');
        interp.check_string_size(out.size());
    }
    // Python treats any non-tuple argument with item access (dict, list) as a mapping and then
    // does not complain about unused arguments.
    const bool mapping_like = args.is_dict() || (args.is_list() && !args.is_tuple());
    if (!used_mapping && !mapping_like && next_arg < positional.size()) {
        fail(ErrorKind::kType, "not all arguments converted during string formatting");
    }
    return out;
}

}  // namespace cria::chat::jinja
