// The built-in filters (`value | name(args)`), following Jinja's definitions and Hugging
// Face's tojson override (ensure_ascii=False, indent, separators, sort_keys).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "chat/jinja/args.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/methods.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {

namespace {

using FilterFn = Value (*)(Interpreter& interp, const Value& input, CallArgs& args);

// ---- shared helpers -------------------------------------------------------------------------

// Jinja's make_attrgetter: "a.b.0" walks items/attributes; digits index sequences.
Value get_path(Interpreter& interp, Value item, const Value& attribute, const Value* fallback) {
    if (attribute.is_none()) return item;
    if (!attribute.is_string()) return interp.get_item(item, attribute);
    const std::string& path = attribute.as_string();
    size_t start = 0;
    while (true) {
        const size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
        const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        if (numeric && part.size() <= 18) {
            item = interp.get_item(item, Value(static_cast<int64_t>(std::stoll(part))));
        } else {
            item = interp.get_item(item, Value(part));
        }
        if (fallback != nullptr && !fallback->is_none() && item.is_undefined()) item = *fallback;
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return item;
}

Value lower_if_string(const Value& v, bool case_sensitive) {
    if (case_sensitive || !v.is_string()) return v;
    return Value(unicode::lower(v.as_string()));
}

void stable_sort_values(List& items, const std::vector<Value>& keys, bool reverse) {
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return reverse ? values_less(keys[b], keys[a]) : values_less(keys[a], keys[b]);
    });
    List sorted;
    sorted.reserve(items.size());
    for (size_t i : order) sorted.push_back(std::move(items[i]));
    items = std::move(sorted);
}

std::string input_str(Interpreter& interp, const Value& input) {
    return interp.str(input);
}

// ---- string filters -------------------------------------------------------------------------

Value filter_upper(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("upper", args, {});
    return Value(unicode::upper(input_str(interp, input)));
}

Value filter_lower(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("lower", args, {});
    return Value(unicode::lower(input_str(interp, input)));
}

Value filter_capitalize(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("capitalize", args, {});
    return Value(python_capitalize(input_str(interp, input)));
}

// Jinja's title: upper-case the first character after '-', whitespace or an opening bracket.
Value filter_title(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("title", args, {});
    const std::string s = input_str(interp, input);
    std::string out;
    bool word_start = true;
    size_t pos = 0;
    while (pos < s.size()) {
        const char32_t c = unicode::decode(s, pos);
        const bool separator =
            c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || unicode::is_space(c);
        if (separator) {
            unicode::append_utf8(out, c);
            word_start = true;
        } else {
            unicode::append_utf8(out, word_start ? unicode::to_upper(c) : unicode::to_lower(c));
            word_start = false;
        }
    }
    return Value(std::move(out));
}

Value filter_trim(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("trim", args, {"chars"});
    const Value* chars = binder.get(0);
    if (chars != nullptr && !chars->is_none()) {
        const std::string& set = require_string(*chars, "trim() chars");
        return Value(python_strip(input_str(interp, input), &set, true, true));
    }
    return Value(python_strip(input_str(interp, input), nullptr, true, true));
}

Value filter_replace(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("replace", args, {"old", "new", "count"}, 2);
    CallArgs method_args;
    method_args.positional = {Value(interp.str(*binder.get(0))), Value(interp.str(*binder.get(1)))};
    if (binder.has(2) && !binder.get(2)->is_none())
        method_args.positional.push_back(*binder.get(2));
    return call_builtin_method(interp, Value(input_str(interp, input)), "replace", method_args);
}

Value filter_indent(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("indent", args, {"width", "first", "blank"});
    std::string indention;
    const Value width = binder.get_or(0, Value(4));
    if (width.is_string()) {
        indention = width.as_string();
    } else {
        const int64_t n = require_int(width, "indent width");
        interp.check_string_size(n > 0 ? static_cast<size_t>(n) : 0);
        indention.assign(n > 0 ? static_cast<size_t>(n) : 0, ' ');
    }
    const bool first = binder.get_or(1, Value(false)).truthy();
    const bool blank = binder.get_or(2, Value(false)).truthy();
    // Jinja does `s += "\n"` and then s.splitlines(): only strings get through.
    if (input.is_undefined()) input.fail_undefined();
    if (input.is_list()) fail(ErrorKind::kAttribute, "'list' object has no attribute 'splitlines'");
    if (!input.is_string()) {
        fail(ErrorKind::kType,
             "unsupported operand type(s) for +=: '" + input.type_name() + "' and 'str'");
    }
    const std::vector<std::string> lines = python_splitlines(input_str(interp, input) + "\n");
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) {
            out += "\n";
            if (blank || !lines[i].empty()) out += indention;
        }
        out += lines[i];
        interp.check_string_size(out.size());
    }
    if (first) out = indention + out;
    interp.check_string_size(out.size());
    return Value(std::move(out));
}

Value filter_center(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("center", args, {"width"});
    CallArgs method_args;
    method_args.positional = {binder.get_or(0, Value(80))};
    return call_builtin_method(interp, Value(input_str(interp, input)), "center", method_args);
}

Value filter_truncate(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("truncate", args, {"length", "killwords", "end", "leeway"});
    const int64_t length = require_int(binder.get_or(0, Value(255)), "length");
    const bool killwords = binder.get_or(1, Value(false)).truthy();
    const std::string end = interp.str(binder.get_or(2, Value("...")));
    const Value leeway_value = binder.get_or(3, Value::none());
    const int64_t leeway = leeway_value.is_none() ? 5 : require_int(leeway_value, "leeway");
    const auto end_length = static_cast<int64_t>(unicode::code_point_count(end));
    if (length < end_length)
        fail(ErrorKind::kValue, "expected length >= " + std::to_string(end_length));
    if (leeway < 0) fail(ErrorKind::kValue, "expected leeway >= 0");
    if (input.is_undefined()) return input;
    // Jinja measures len(value) first and returns short values unchanged, lists included.
    if (input.is_list() || input.is_dict()) {
        const auto size =
            static_cast<int64_t>(input.is_list() ? input.as_list().size() : input.as_dict().size());
        if (size <= length + leeway) return input;
        fail(ErrorKind::kAttribute, "'" + input.type_name() + "' object has no attribute 'rsplit'");
    }
    if (!input.is_string()) {
        fail(ErrorKind::kType, "object of type '" + input.type_name() + "' has no len()");
    }
    const std::string s = input_str(interp, input);
    const std::vector<char32_t> chars = unicode::to_code_points(s);
    if (static_cast<int64_t>(chars.size()) <= length + leeway) return Value(s);
    std::string kept =
        unicode::from_code_points(chars.data(), chars.data() + (length - end_length));
    if (!killwords) {
        const size_t space = kept.rfind(' ');
        if (space != std::string::npos) kept.resize(space);
    }
    return Value(kept + end);
}

Value filter_wordcount(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("wordcount", args, {});
    const std::string s = input_str(interp, input);
    int64_t count = 0;
    bool in_word = false;
    size_t pos = 0;
    while (pos < s.size()) {
        const char32_t c = unicode::decode(s, pos);
        const bool word_char = c == '_' || unicode::is_alpha(c) || unicode::is_digit(c);
        if (word_char && !in_word) ++count;
        in_word = word_char;
    }
    return Value(count);
}

Value filter_escape(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("escape", args, {});
    const std::string s = input_str(interp, input);
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out.push_back(c);
        }
    }
    interp.check_string_size(out.size());
    return Value(std::move(out));
}

Value filter_striptags(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("striptags", args, {});
    const std::string s = input_str(interp, input);
    std::string text;
    for (size_t i = 0; i < s.size();) {
        if (s.compare(i, 4, "<!--") == 0) {
            const size_t end = s.find("-->", i + 4);
            if (end == std::string::npos) {
                text.append(s, i, std::string::npos);
                break;
            }
            i = end + 3;
        } else if (s[i] == '<') {
            const size_t end = s.find('>', i + 1);
            if (end == std::string::npos) {
                text.append(s, i, std::string::npos);
                break;
            }
            i = end + 1;
        } else {
            text.push_back(s[i++]);
        }
    }
    std::string out;
    CallArgs split_args;
    const Value words = call_builtin_method(interp, Value(text), "split", split_args);
    for (size_t i = 0; i < words.as_list().size(); ++i) {
        if (i > 0) out.push_back(' ');
        out += words.as_list()[i].as_string();
    }
    static const std::pair<const char*, const char*> kEntities[] = {
        {"&lt;", "<"},  {"&gt;", ">"},   {"&quot;", "\""},       {"&#34;", "\""},
        {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", "\xc2\xa0"}, {"&amp;", "&"}};
    for (const auto& [entity, plain] : kEntities) {
        std::string replaced;
        size_t start = 0;
        for (size_t hit = out.find(entity); hit != std::string::npos;
             hit = out.find(entity, start)) {
            replaced.append(out, start, hit - start);
            replaced += plain;
            start = hit + std::char_traits<char>::length(entity);
        }
        replaced.append(out, start, std::string::npos);
        out = std::move(replaced);
    }
    return Value(std::move(out));
}

Value filter_format(Interpreter& interp, const Value& input, CallArgs& args) {
    if (!args.positional.empty() && !args.keyword.empty()) {
        fail(ErrorKind::kFilterArgument,
             "can't handle positional and keyword arguments at the same time");
    }
    Value format_args;
    if (!args.keyword.empty()) {
        Dict mapping;
        for (const auto& [key, value] : args.keyword) mapping.set(Value(key), value);
        format_args = Value::dict(std::move(mapping));
    } else {
        format_args = Value::tuple(args.positional);
    }
    return Value(percent_format(interp, input_str(interp, input), format_args));
}

Value filter_urlencode(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("urlencode", args, {});
    auto quote = [](const std::string& s, bool for_query) {
        std::string out;
        for (char c : s) {
            const auto byte = static_cast<unsigned char>(c);
            const bool safe = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                              (byte >= '0' && byte <= '9') || c == '_' || c == '.' || c == '-' ||
                              c == '~' || (!for_query && c == '/');
            if (safe) {
                out.push_back(c);
            } else {
                char buf[4];
                std::snprintf(buf, sizeof(buf), "%%%02X", byte);
                out += buf;
            }
        }
        return out;
    };
    if (input.is_dict()) {
        std::string out;
        for (const auto& [key, value] : input.as_dict().entries()) {
            if (!out.empty()) out.push_back('&');
            out += quote(interp.str(key), true) + "=" + quote(interp.str(value), true);
        }
        return Value(std::move(out));
    }
    return Value(quote(input_str(interp, input), false));
}

Value filter_string(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("string", args, {});
    return Value(input_str(interp, input));
}

Value filter_pprint(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("pprint", args, {});
    return Value(to_repr(input, interp.max_bytes()));
}

Value filter_tojson(Interpreter& interp, const Value& input, CallArgs& args) {
    // Hugging Face's signature: tojson(x, ensure_ascii=False, indent=None, separators=None,
    // sort_keys=False), with json.dumps' defaults for the separators.
    ArgBinder binder("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions options;
    options.ensure_ascii = binder.get_or(0, Value(false)).truthy();
    const Value indent = binder.get_or(1, Value::none());
    if (!indent.is_none()) {
        options.pretty = true;
        options.item_separator = ",";
        if (indent.is_string()) {
            options.indent = indent.as_string();
        } else {
            const int64_t n = require_int(indent, "indent");
            if (n > 1024) fail(ErrorKind::kLimit, "tojson indent too large");
            options.indent.assign(n > 0 ? static_cast<size_t>(n) : 0, ' ');
        }
    }
    const Value separators = binder.get_or(2, Value::none());
    if (!separators.is_none()) {
        const List parts = iterate(interp, separators);
        if (parts.size() != 2) fail(ErrorKind::kValue, "separators must be a pair of strings");
        options.item_separator = require_string(parts[0], "item separator");
        options.key_separator = require_string(parts[1], "key separator");
    }
    options.sort_keys = binder.get_or(3, Value(false)).truthy();
    return Value(to_json(input, options, interp.max_bytes()));
}

// ---- number filters -------------------------------------------------------------------------

// Python's int(str, base), accepting surrounding whitespace, a sign, underscores between
// digits and (for base 0 or the matching base) 0x/0o/0b prefixes.
bool parse_python_int(std::string_view text, int base, int64_t& out) {
    std::string s = python_strip(text, nullptr, true, true);
    size_t i = 0;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    if (i + 1 < s.size() && s[i] == '0') {
        const char p = static_cast<char>(s[i + 1] | 0x20);
        const int prefixed = p == 'x' ? 16 : (p == 'o' ? 8 : (p == 'b' ? 2 : 0));
        if (prefixed != 0 && (base == 0 || base == prefixed)) {
            base = prefixed;
            i += 2;
            if (i < s.size() && s[i] == '_') ++i;
        }
    }
    if (base == 0) base = 10;
    if (base < 2 || base > 36 || i >= s.size()) return false;
    uint64_t value = 0;
    bool previous_underscore = true;
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '_') {
            if (previous_underscore) return false;
            previous_underscore = true;
            continue;
        }
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        if (c >= 'a' && c <= 'z') digit = c - 'a' + 10;
        if (c >= 'A' && c <= 'Z') digit = c - 'A' + 10;
        if (digit < 0 || digit >= base) return false;
        value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
        if (value > static_cast<uint64_t>(INT64_MAX)) return false;
        previous_underscore = false;
    }
    if (previous_underscore) return false;
    out = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
    return true;
}

// Python's float(str): decimal or "inf"/"nan" forms, with whitespace and underscores.
bool parse_python_float(std::string_view text, double& out) {
    std::string s = python_strip(text, nullptr, true, true);
    std::string lowered = unicode::lower(s);
    std::string_view body = lowered;
    bool negative = false;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        negative = body[0] == '-';
        body.remove_prefix(1);
    }
    if (body == "inf" || body == "infinity") {
        out = negative ? -HUGE_VAL : HUGE_VAL;
        return true;
    }
    if (body == "nan") {
        out = std::nan("");
        return true;
    }
    std::string cleaned;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {
            const bool between_digits = i > 0 && i + 1 < s.size() &&
                                        std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
                                        std::isdigit(static_cast<unsigned char>(s[i + 1]));
            if (!between_digits) return false;
            continue;
        }
        const char c = s[i];
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
              c == '+' || c == '-')) {
            return false;
        }
        cleaned.push_back(c);
    }
    if (cleaned.empty()) return false;
    char* end = nullptr;
    out = std::strtod(cleaned.c_str(), &end);
    return end == cleaned.c_str() + cleaned.size();
}

Value filter_int(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("int", args, {"default", "base"});
    const Value fallback = binder.get_or(0, Value(0));
    const int64_t base = require_int(binder.get_or(1, Value(10)), "base");
    if (input.is_undefined()) input.fail_undefined();
    if (input.is_integral()) return Value(input.as_int());
    if (input.is_float()) {
        const double f = input.as_double();
        if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return fallback;
        return Value(static_cast<int64_t>(f));
    }
    if (input.is_string()) {
        int64_t parsed = 0;
        if (parse_python_int(input.as_string(), static_cast<int>(base), parsed))
            return Value(parsed);
        double f = 0;
        if (parse_python_float(input.as_string(), f) && std::isfinite(f) && std::fabs(f) < 9.2e18) {
            return Value(static_cast<int64_t>(f));
        }
    }
    return fallback;
}

Value filter_float(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("float", args, {"default"});
    const Value fallback = binder.get_or(0, Value(0.0));
    if (input.is_undefined()) input.fail_undefined();
    if (input.is_number()) return Value(input.as_double());
    if (input.is_string()) {
        double f = 0;
        if (parse_python_float(input.as_string(), f)) return Value(f);
    }
    return fallback;
}

Value filter_abs(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("abs", args, {});
    if (input.is_float()) return Value(std::fabs(input.as_double()));
    if (input.is_integral()) {
        if (input.as_int() == INT64_MIN)
            fail(ErrorKind::kOverflow, "integer result does not fit in 64 bits");
        return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
    }
    fail(ErrorKind::kType, "bad operand type for abs(): '" + input.type_name() + "'");
}

// Python's round(x, ndigits): correctly rounded, ties to even on the exact binary value.
double python_round(double x, int64_t digits) {
    if (!std::isfinite(x) || digits > 300) return x;
    if (digits >= 0) {
        char buf[400];
        std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(digits), x);
        return std::strtod(buf, nullptr);
    }
    if (digits < -308) return std::copysign(0.0, x);
    const double scale = std::pow(10.0, static_cast<double>(-digits));
    return std::nearbyint(x / scale) * scale;
}

Value filter_round(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("round", args, {"precision", "method"});
    const int64_t precision = require_int(binder.get_or(0, Value(0)), "precision");
    const std::string method = interp.str(binder.get_or(1, Value("common")));
    if (method != "common" && method != "ceil" && method != "floor") {
        fail(ErrorKind::kFilterArgument, "method must be common, ceil or floor");
    }
    if (!input.is_number()) {
        fail(ErrorKind::kType, "type " + input.type_name() + " doesn't define __round__ method");
    }
    if (method == "common") {
        if (input.is_integral()) return Value(input.as_int());  // round(int, n) stays an int
        return Value(python_round(input.as_double(), precision));
    }
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double scaled = input.as_double() * scale;
    return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

// ---- sequence filters -----------------------------------------------------------------------

Value filter_length(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("length", args, {});
    switch (input.kind()) {
        case ValueKind::kUndefined:
            return Value(0);
        case ValueKind::kString:
            return Value(static_cast<int64_t>(unicode::code_point_count(input.as_string())));
        case ValueKind::kList:
            return Value(static_cast<int64_t>(input.as_list().size()));
        case ValueKind::kDict:
            return Value(static_cast<int64_t>(input.as_dict().size()));
        default:
            break;
    }
    fail(ErrorKind::kType, "object of type '" + input.type_name() + "' has no len()");
}

Value filter_list(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("list", args, {});
    return Value::list(iterate(interp, input));
}

Value filter_first(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("first", args, {});
    const List items = iterate(interp, input);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
}

Value filter_last(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("last", args, {});
    const List items = iterate(interp, input);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
}

Value filter_reverse(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("reverse", args, {});
    if (input.is_string()) {
        std::vector<char32_t> chars = unicode::to_code_points(input.as_string());
        std::reverse(chars.begin(), chars.end());
        return Value(unicode::from_code_points(chars.data(), chars.data() + chars.size()));
    }
    if (!(input.is_list() || input.is_dict() || input.is_undefined())) {
        fail(ErrorKind::kFilterArgument, "argument must be iterable");
    }
    List items = iterate(interp, input);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value filter_join(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("join", args, {"d", "attribute"});
    const std::string separator = interp.str(binder.get_or(0, Value("")));
    const Value attribute = binder.get_or(1, Value::none());
    const List items = iterate(interp, input);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        interp.charge();
        if (i > 0) out += separator;
        out += interp.str(get_path(interp, items[i], attribute, nullptr));
        interp.check_string_size(out.size());
    }
    return Value(std::move(out));
}

Value filter_default(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("default", args, {"default_value", "boolean"});
    const bool boolean = binder.get_or(1, Value(false)).truthy();
    if (input.is_undefined() || (boolean && !input.truthy())) return binder.get_or(0, Value(""));
    return input;
}

Value filter_items(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("items", args, {});
    if (input.is_undefined()) return Value::list({});
    if (!input.is_dict()) fail(ErrorKind::kType, "Can only get item pairs from a mapping.");
    List items;
    for (const auto& [key, value] : input.as_dict().entries())
        items.push_back(Value::tuple({key, value}));
    return Value::list(std::move(items));
}

Value filter_dictsort(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("dictsort", args, {"case_sensitive", "by", "reverse"});
    const bool case_sensitive = binder.get_or(0, Value(false)).truthy();
    const std::string by = interp.str(binder.get_or(1, Value("key")));
    const bool reverse = binder.get_or(2, Value(false)).truthy();
    if (by != "key" && by != "value") {
        fail(ErrorKind::kFilterArgument, "You can only sort by either \"key\" or \"value\"");
    }
    if (input.is_undefined()) input.fail_undefined();
    if (!input.is_dict()) {
        fail(ErrorKind::kAttribute, "'" + input.type_name() + "' object has no attribute 'items'");
    }
    List items;
    std::vector<Value> keys;
    for (const auto& [key, value] : input.as_dict().entries()) {
        items.push_back(Value::tuple({key, value}));
        keys.push_back(lower_if_string(by == "key" ? key : value, case_sensitive));
    }
    stable_sort_values(items, keys, reverse);
    return Value::list(std::move(items));
}

Value filter_sort(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("sort", args, {"reverse", "case_sensitive", "attribute"});
    const bool reverse = binder.get_or(0, Value(false)).truthy();
    const bool case_sensitive = binder.get_or(1, Value(false)).truthy();
    const Value attribute = binder.get_or(2, Value::none());
    List items = iterate(interp, input);
    // Several comma-separated attributes sort by a tuple of keys.
    std::vector<Value> attributes;
    if (attribute.is_string() && attribute.as_string().find(',') != std::string::npos) {
        CallArgs split_args;
        split_args.positional = {Value(",")};
        for (const Value& part :
             call_builtin_method(interp, attribute, "split", split_args).as_list()) {
            attributes.push_back(part);
        }
    }
    std::vector<Value> keys;
    keys.reserve(items.size());
    for (const Value& item : items) {
        interp.charge();
        if (attributes.empty()) {
            keys.push_back(
                lower_if_string(get_path(interp, item, attribute, nullptr), case_sensitive));
        } else {
            List parts;
            for (const Value& attr : attributes) {
                parts.push_back(
                    lower_if_string(get_path(interp, item, attr, nullptr), case_sensitive));
            }
            keys.push_back(Value::list(std::move(parts)));
        }
    }
    stable_sort_values(items, keys, reverse);
    return Value::list(std::move(items));
}

Value filter_unique(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("unique", args, {"case_sensitive", "attribute"});
    const bool case_sensitive = binder.get_or(0, Value(false)).truthy();
    const Value attribute = binder.get_or(1, Value::none());
    Dict seen;
    List out;
    for (const Value& item : iterate(interp, input)) {
        interp.charge();
        const Value key =
            lower_if_string(get_path(interp, item, attribute, nullptr), case_sensitive);
        if (key.is_list() || key.is_dict()) {
            fail(ErrorKind::kType, "unhashable type: '" + key.type_name() + "'");
        }
        if (key.is_undefined() || key.is_object()) {
            bool duplicate = false;
            for (const Value& kept : out) duplicate = duplicate || values_equal(kept, item);
            if (!duplicate) out.push_back(item);
            continue;
        }
        if (seen.find(key) == nullptr) {
            seen.set(key, Value(true));
            out.push_back(item);
        }
    }
    return Value::list(std::move(out));
}

Value min_max(Interpreter& interp, const Value& input, CallArgs& args, const char* name,
              bool want_max) {
    ArgBinder binder(name, args, {"case_sensitive", "attribute"});
    const bool case_sensitive = binder.get_or(0, Value(false)).truthy();
    const Value attribute = binder.get_or(1, Value::none());
    const List items = iterate(interp, input);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value best_key =
        lower_if_string(get_path(interp, items[0], attribute, nullptr), case_sensitive);
    for (size_t i = 1; i < items.size(); ++i) {
        interp.charge();
        Value key = lower_if_string(get_path(interp, items[i], attribute, nullptr), case_sensitive);
        if (want_max ? values_less(best_key, key) : values_less(key, best_key)) {
            best = i;
            best_key = std::move(key);
        }
    }
    return items[best];
}

Value filter_min(Interpreter& interp, const Value& input, CallArgs& args) {
    return min_max(interp, input, args, "min", false);
}
Value filter_max(Interpreter& interp, const Value& input, CallArgs& args) {
    return min_max(interp, input, args, "max", true);
}

Value filter_sum(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("sum", args, {"attribute", "start"});
    const Value attribute = binder.get_or(0, Value::none());
    Value total = binder.get_or(1, Value(0));
    if (total.is_string()) {
        fail(ErrorKind::kType, "sum() can't sum strings [use ''.join(seq) instead]");
    }
    for (const Value& item : iterate(interp, input)) {
        interp.charge();
        total =
            binary_op(interp, BinaryOp::kAdd, total, get_path(interp, item, attribute, nullptr));
    }
    return total;
}

Value filter_batch(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("batch", args, {"linecount", "fill_with"}, 1);
    const int64_t count = require_int(*binder.get(0), "linecount");
    if (count <= 0) fail(ErrorKind::kValue, "batch size must be positive");
    const Value fill = binder.get_or(1, Value::none());
    const List items = iterate(interp, input);
    List batches;
    List current;
    for (const Value& item : items) {
        if (static_cast<int64_t>(current.size()) == count) {
            batches.push_back(Value::list(std::move(current)));
            current.clear();
        }
        current.push_back(item);
    }
    if (!current.empty()) {
        if (!fill.is_none()) {
            interp.check_list_size(static_cast<size_t>(count));
            while (static_cast<int64_t>(current.size()) < count) current.push_back(fill);
        }
        batches.push_back(Value::list(std::move(current)));
    }
    return Value::list(std::move(batches));
}

Value filter_slice(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("slice", args, {"slices", "fill_with"}, 1);
    const int64_t slices = require_int(*binder.get(0), "slices");
    if (slices <= 0) fail(ErrorKind::kZeroDivision, "integer division or modulo by zero");
    interp.check_list_size(static_cast<size_t>(slices));
    const Value fill = binder.get_or(1, Value::none());
    const List items = iterate(interp, input);
    const auto length = static_cast<int64_t>(items.size());
    const int64_t per_slice = length / slices;
    const int64_t with_extra = length % slices;
    int64_t offset = 0;
    List out;
    for (int64_t n = 0; n < slices; ++n) {
        const int64_t start = offset + n * per_slice;
        if (n < with_extra) ++offset;
        const int64_t end = offset + (n + 1) * per_slice;
        List part(items.begin() + start, items.begin() + end);
        if (!fill.is_none() && n >= with_extra) part.push_back(fill);
        out.push_back(Value::list(std::move(part)));
    }
    return Value::list(std::move(out));
}

Value filter_attr(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("attr", args, {"name"}, 1);
    const std::string& name = require_string(*binder.get(0), "attribute name");
    // Only attributes, never items: {"a": 1}|attr("a") is undefined.
    if (input.is_dict() && lookup_method(input, name) == MethodLookup::kNone) {
        return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    return interp.get_attr(input, name);
}

// map(attribute=..., default=...) or map('filter', args...)
Value filter_map(Interpreter& interp, const Value& input, CallArgs& args) {
    if (!input.truthy()) return Value::list({});
    const List items = iterate(interp, input);
    List out;
    out.reserve(items.size());
    if (args.positional.empty()) {
        const Value* attribute = nullptr;
        const Value* fallback = nullptr;
        for (const auto& [key, value] : args.keyword) {
            if (key == "attribute") {
                attribute = &value;
            } else if (key == "default") {
                fallback = &value;
            } else {
                fail(ErrorKind::kFilterArgument, "Unexpected keyword argument '" + key + "'");
            }
        }
        if (attribute == nullptr)
            fail(ErrorKind::kFilterArgument, "map requires a filter argument");
        for (const Value& item : items) {
            interp.charge();
            out.push_back(get_path(interp, item, *attribute, fallback));
        }
        return Value::list(std::move(out));
    }
    const std::string name = require_string(args.positional[0], "map() filter name");
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const Value& item : items) {
        CallArgs call_args = rest;
        out.push_back(interp.apply_filter(name, item, call_args));
    }
    return Value::list(std::move(out));
}

Value select_impl(Interpreter& interp, const Value& input, CallArgs& args, bool lookup_attr,
                  bool keep_matching) {
    if (!input.truthy()) return Value::list({});
    size_t offset = 0;
    Value attribute;
    if (lookup_attr) {
        if (args.positional.empty())
            fail(ErrorKind::kFilterArgument, "Missing parameter for attribute name");
        attribute = args.positional[0];
        offset = 1;
    }
    std::string test_name;
    CallArgs test_args;
    if (args.positional.size() > offset) {
        test_name = require_string(args.positional[offset], "test name");
        test_args.positional.assign(args.positional.begin() + static_cast<ptrdiff_t>(offset) + 1,
                                    args.positional.end());
        test_args.keyword = args.keyword;
    }
    List out;
    for (const Value& item : iterate(interp, input)) {
        interp.charge();
        const Value subject = lookup_attr ? get_path(interp, item, attribute, nullptr) : item;
        bool passed = false;
        if (test_name.empty()) {
            passed = subject.truthy();
        } else {
            CallArgs call_args = test_args;
            passed = interp.apply_test(test_name, subject, call_args);
        }
        if (passed == keep_matching) out.push_back(item);
    }
    return Value::list(std::move(out));
}

Value filter_select(Interpreter& interp, const Value& input, CallArgs& args) {
    return select_impl(interp, input, args, false, true);
}
Value filter_reject(Interpreter& interp, const Value& input, CallArgs& args) {
    return select_impl(interp, input, args, false, false);
}
Value filter_selectattr(Interpreter& interp, const Value& input, CallArgs& args) {
    return select_impl(interp, input, args, true, true);
}
Value filter_rejectattr(Interpreter& interp, const Value& input, CallArgs& args) {
    return select_impl(interp, input, args, true, false);
}

Value filter_safe(Interpreter& interp, const Value& input, CallArgs& args) {
    ArgBinder binder("safe", args, {});
    return Value(input_str(interp, input));  // Markup is a str: the value becomes its text
}

const std::unordered_map<std::string_view, FilterFn>& filter_table() {
    static const std::unordered_map<std::string_view, FilterFn> kFilters = {
        {"abs", filter_abs},
        {"attr", filter_attr},
        {"batch", filter_batch},
        {"capitalize", filter_capitalize},
        {"center", filter_center},
        {"count", filter_length},
        {"d", filter_default},
        {"default", filter_default},
        {"dictsort", filter_dictsort},
        {"e", filter_escape},
        {"escape", filter_escape},
        {"first", filter_first},
        {"float", filter_float},
        {"forceescape", filter_escape},
        {"format", filter_format},
        {"indent", filter_indent},
        {"int", filter_int},
        {"items", filter_items},
        {"join", filter_join},
        {"last", filter_last},
        {"length", filter_length},
        {"list", filter_list},
        {"lower", filter_lower},
        {"map", filter_map},
        {"max", filter_max},
        {"min", filter_min},
        {"pprint", filter_pprint},
        {"reject", filter_reject},
        {"rejectattr", filter_rejectattr},
        {"replace", filter_replace},
        {"reverse", filter_reverse},
        {"round", filter_round},
        {"safe", filter_safe},
        {"select", filter_select},
        {"selectattr", filter_selectattr},
        {"slice", filter_slice},
        {"sort", filter_sort},
        {"string", filter_string},
        {"striptags", filter_striptags},
        {"sum", filter_sum},
        {"title", filter_title},
        {"tojson", filter_tojson},
        {"trim", filter_trim},
        {"truncate", filter_truncate},
        {"unique", filter_unique},
        {"upper", filter_upper},
        {"urlencode", filter_urlencode},
        {"wordcount", filter_wordcount},
    };
    return kFilters;
}

}  // namespace

bool filter_exists(std::string_view name) {
    return filter_table().count(name) != 0;
}

Value call_filter(Interpreter& interp, std::string_view name, const Value& input, CallArgs& args) {
    const auto& table = filter_table();
    auto it = table.find(name);
    if (it == table.end()) {
        fail(ErrorKind::kRuntime, "No filter named '" + std::string(name) + "'.");
    }
    return it->second(interp, input, args);
}

}  // namespace cria::chat::jinja
