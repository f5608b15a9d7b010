#include "chat/jinja/methods.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "chat/jinja/args.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {
namespace {

using MethodFn = Value (*)(Interpreter& interp, const Value& self, CallArgs& args);

// ---- string helpers -------------------------------------------------------------------------

std::u32string to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    size_t pos = 0;
    while (pos < s.size()) out.push_back(unicode::decode(s, pos));
    return out;
}

std::string from_u32(std::u32string_view s) {
    return unicode::from_code_points(s.data(), s.data() + s.size());
}

bool is_cased(char32_t c) {
    return unicode::is_upper(c) || unicode::is_lower(c);
}

// Resolves Python's optional start/end arguments against a length in code points.
void clamp_range(const Value* start_arg, const Value* end_arg, size_t length, size_t& start,
                 size_t& end) {
    auto resolve = [&](const Value* arg, int64_t fallback) {
        if (arg == nullptr || arg->is_none()) return fallback;
        int64_t i = require_int(*arg, "slice index");
        if (i < 0) i = std::max<int64_t>(0, i + static_cast<int64_t>(length));
        return std::min<int64_t>(i, static_cast<int64_t>(length));
    };
    start = static_cast<size_t>(resolve(start_arg, 0));
    end = static_cast<size_t>(resolve(end_arg, static_cast<int64_t>(length)));
}

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
    const std::u32string text = to_u32(s);
    std::vector<std::string> parts;
    if (!from_right) {
        size_t i = 0;
        while (i < text.size()) {
            while (i < text.size() && unicode::is_space(text[i])) ++i;
            if (i >= text.size()) break;
            if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
                size_t end = text.size();
                while (end > i && unicode::is_space(text[end - 1])) --end;
                parts.push_back(from_u32(std::u32string_view(text).substr(i, end - i)));
                break;
            }
            size_t j = i;
            while (j < text.size() && !unicode::is_space(text[j])) ++j;
            parts.push_back(from_u32(std::u32string_view(text).substr(i, j - i)));
            i = j;
        }
        return parts;
    }
    size_t i = text.size();
    while (i > 0) {
        while (i > 0 && unicode::is_space(text[i - 1])) --i;
        if (i == 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            size_t begin = 0;
            while (begin < i && unicode::is_space(text[begin])) ++begin;
            parts.push_back(from_u32(std::u32string_view(text).substr(begin, i - begin)));
            break;
        }
        size_t j = i;
        while (j > 0 && !unicode::is_space(text[j - 1])) --j;
        parts.push_back(from_u32(std::u32string_view(text).substr(j, i - j)));
        i = j;
    }
    std::reverse(parts.begin(), parts.end());
    return parts;
}

std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit,
                                  bool from_right) {
    if (sep.empty()) fail(ErrorKind::kValue, "empty separator");
    std::vector<std::string> parts;
    if (!from_right) {
        size_t start = 0;
        while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
            const size_t hit = s.find(sep, start);
            if (hit == std::string_view::npos) break;
            parts.emplace_back(s.substr(start, hit - start));
            start = hit + sep.size();
        }
        parts.emplace_back(s.substr(start));
        return parts;
    }
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        if (end < sep.size()) break;
        const size_t hit = s.rfind(sep, end - sep.size());
        if (hit == std::string_view::npos) break;
        parts.emplace_back(s.substr(hit + sep.size(), end - hit - sep.size()));
        end = hit;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
}

Value string_list(std::vector<std::string> parts) {
    List items;
    items.reserve(parts.size());
    for (std::string& part : parts) items.emplace_back(std::move(part));
    return Value::list(std::move(items));
}

const std::string& self_str(const Value& self) {
    return self.as_string();
}

std::string optional_chars(const ArgBinder& binder, size_t index, bool& has_chars) {
    const Value* chars = binder.get(index);
    has_chars = chars != nullptr && !chars->is_none();
    if (!has_chars) return std::string();
    return require_string(*chars, "strip arg");
}

// ---- str methods ----------------------------------------------------------------------------

Value str_strip_impl(const Value& self, CallArgs& args, const char* name, bool left, bool right) {
    ArgBinder binder(name, args, {"chars"});
    bool has_chars = false;
    const std::string chars = optional_chars(binder, 0, has_chars);
    return Value(python_strip(self_str(self), has_chars ? &chars : nullptr, left, right));
}

Value str_strip(Interpreter&, const Value& self, CallArgs& args) {
    return str_strip_impl(self, args, "strip", true, true);
}
Value str_lstrip(Interpreter&, const Value& self, CallArgs& args) {
    return str_strip_impl(self, args, "lstrip", true, false);
}
Value str_rstrip(Interpreter&, const Value& self, CallArgs& args) {
    return str_strip_impl(self, args, "rstrip", false, true);
}

Value split_impl(Interpreter& interp, const Value& self, CallArgs& args, bool from_right) {
    ArgBinder binder(from_right ? "rsplit" : "split", args, {"sep", "maxsplit"});
    const int64_t maxsplit = binder.has(1) ? require_int(*binder.get(1), "maxsplit") : -1;
    const Value* sep = binder.get(0);
    std::vector<std::string> parts;
    if (sep == nullptr || sep->is_none()) {
        parts = split_whitespace(self_str(self), maxsplit, from_right);
    } else {
        parts = split_on(self_str(self), require_string(*sep, "separator"), maxsplit, from_right);
    }
    interp.check_list_size(parts.size());
    return string_list(std::move(parts));
}

Value str_split(Interpreter& interp, const Value& self, CallArgs& args) {
    return split_impl(interp, self, args, false);
}
Value str_rsplit(Interpreter& interp, const Value& self, CallArgs& args) {
    return split_impl(interp, self, args, true);
}

std::vector<std::string> splitlines_impl(std::string_view s, bool keepends) {
    const std::u32string text = to_u32(s);
    std::vector<std::string> parts;
    size_t start = 0;
    size_t i = 0;
    auto is_break = [](char32_t c) {
        return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
               c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    };
    while (i < text.size()) {
        if (!is_break(text[i])) {
            ++i;
            continue;
        }
        size_t end = i + 1;
        if (text[i] == '\r' && end < text.size() && text[end] == '\n') ++end;
        parts.push_back(
            from_u32(std::u32string_view(text).substr(start, (keepends ? end : i) - start)));
        start = i = end;
    }
    if (start < text.size()) parts.push_back(from_u32(std::u32string_view(text).substr(start)));
    return parts;
}

Value str_splitlines(Interpreter& interp, const Value& self, CallArgs& args) {
    ArgBinder binder("splitlines", args, {"keepends"});
    std::vector<std::string> parts =
        splitlines_impl(self_str(self), binder.get_or(0, Value(false)).truthy());
    interp.check_list_size(parts.size());
    return string_list(std::move(parts));
}

Value affix_impl(const Value& self, CallArgs& args, const char* name, bool prefix) {
    ArgBinder binder(name, args, {prefix ? "prefix" : "suffix", "start", "end"}, 1);
    const std::string& s = self_str(self);
    std::string_view view = s;
    if (binder.has(1) || binder.has(2)) {
        size_t start = 0;
        size_t end = 0;
        clamp_range(binder.get(1), binder.get(2), unicode::code_point_count(s), start, end);
        if (start > end) return Value(false);
        const size_t b = unicode::byte_offset_of(s, start);
        const size_t e = unicode::byte_offset_of(s, end);
        view = view.substr(b, e - b);
    }
    auto matches = [&](const Value& candidate) {
        const std::string& affix = require_string(
            candidate, std::string(name) + " first arg must be str or a tuple of str, not");
        if (affix.size() > view.size()) return false;
        return prefix ? view.compare(0, affix.size(), affix) == 0
                      : view.compare(view.size() - affix.size(), affix.size(), affix) == 0;
    };
    const Value& arg = *binder.get(0);
    if (arg.is_list()) {
        for (const Value& candidate : arg.as_list()) {
            if (matches(candidate)) return Value(true);
        }
        return Value(false);
    }
    if (!arg.is_string()) {
        if (arg.is_undefined()) arg.fail_undefined();
        fail(
            ErrorKind::kType,
            std::string(name) + " first arg must be str or a tuple of str, not " + arg.type_name());
    }
    return Value(matches(arg));
}

Value str_startswith(Interpreter&, const Value& self, CallArgs& args) {
    return affix_impl(self, args, "startswith", true);
}
Value str_endswith(Interpreter&, const Value& self, CallArgs& args) {
    return affix_impl(self, args, "endswith", false);
}

Value str_replace(Interpreter& interp, const Value& self, CallArgs& args) {
    ArgBinder binder("replace", args, {"old", "new", "count"}, 2);
    const std::string& s = self_str(self);
    const std::string& old_text = require_string(*binder.get(0), "replace() argument 1");
    const std::string& new_text = require_string(*binder.get(1), "replace() argument 2");
    int64_t count = binder.has(2) ? require_int(*binder.get(2), "count") : -1;
    std::string out;
    if (old_text.empty()) {
        // Python inserts the replacement before every character and at the end.
        size_t pos = 0;
        int64_t done = 0;
        while (true) {
            if (count < 0 || done < count) {
                out += new_text;
                ++done;
            }
            if (pos >= s.size()) break;
            const size_t start = pos;
            unicode::decode(s, pos);
            out.append(s, start, pos - start);
            interp.check_string_size(out.size());
        }
        return Value(std::move(out));
    }
    size_t start = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        const size_t hit = s.find(old_text, start);
        if (hit == std::string::npos) break;
        out.append(s, start, hit - start);
        out += new_text;
        interp.check_string_size(out.size());
        start = hit + old_text.size();
        ++done;
    }
    out.append(s, start, std::string::npos);
    interp.check_string_size(out.size());
    return Value(std::move(out));
}

// find/rfind/index/rindex/count: positions are in code points, as in Python.
int64_t find_impl(const Value& self, CallArgs& args, const char* name, bool from_right) {
    ArgBinder binder(name, args, {"sub", "start", "end"}, 1);
    const std::string& s = self_str(self);
    const std::string& sub = require_string(*binder.get(0), "must be str, not");
    size_t start = 0;
    size_t end = 0;
    clamp_range(binder.get(1), binder.get(2), unicode::code_point_count(s), start, end);
    if (start > end) return -1;
    const size_t b = unicode::byte_offset_of(s, start);
    const size_t e = unicode::byte_offset_of(s, end);
    const std::string_view window = std::string_view(s).substr(b, e - b);
    const size_t hit = from_right ? window.rfind(sub) : window.find(sub);
    if (hit == std::string_view::npos) return -1;
    return static_cast<int64_t>(start + unicode::code_point_count(window.substr(0, hit)));
}

Value str_find(Interpreter&, const Value& self, CallArgs& args) {
    return Value(find_impl(self, args, "find", false));
}
Value str_rfind(Interpreter&, const Value& self, CallArgs& args) {
    return Value(find_impl(self, args, "rfind", true));
}
Value str_index(Interpreter&, const Value& self, CallArgs& args) {
    const int64_t i = find_impl(self, args, "index", false);
    if (i < 0) fail(ErrorKind::kValue, "substring not found");
    return Value(i);
}
Value str_rindex(Interpreter&, const Value& self, CallArgs& args) {
    const int64_t i = find_impl(self, args, "rindex", true);
    if (i < 0) fail(ErrorKind::kValue, "substring not found");
    return Value(i);
}

Value str_count(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("count", args, {"sub", "start", "end"}, 1);
    const std::string& s = self_str(self);
    const std::string& sub = require_string(*binder.get(0), "must be str, not");
    size_t start = 0;
    size_t end = 0;
    clamp_range(binder.get(1), binder.get(2), unicode::code_point_count(s), start, end);
    if (start > end) return Value(0);
    const size_t b = unicode::byte_offset_of(s, start);
    const size_t e = unicode::byte_offset_of(s, end);
    const std::string_view window = std::string_view(s).substr(b, e - b);
    if (sub.empty()) return Value(static_cast<int64_t>(end - start + 1));
    int64_t n = 0;
    for (size_t pos = window.find(sub); pos != std::string_view::npos;
         pos = window.find(sub, pos + sub.size())) {
        ++n;
    }
    return Value(n);
}

Value str_join(Interpreter& interp, const Value& self, CallArgs& args) {
    ArgBinder binder("join", args, {"iterable"}, 1);
    const List items = iterate(interp, *binder.get(0));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_string()) {
            fail(ErrorKind::kType, "sequence item " + std::to_string(i) +
                                       ": expected str instance, " + items[i].type_name() +
                                       " found");
        }
        if (i > 0) out += self_str(self);
        out += items[i].as_string();
        interp.check_string_size(out.size());
    }
    return Value(std::move(out));
}

Value case_map(const Value& self, char32_t (*map)(char32_t)) {
    std::string out;
    const std::string& s = self_str(self);
    size_t pos = 0;
    while (pos < s.size()) unicode::append_utf8(out, map(unicode::decode(s, pos)));
    return Value(std::move(out));
}

Value str_upper(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("upper", args, {});
    return Value(unicode::upper(self_str(self)));
}
Value str_lower(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("lower", args, {});
    return Value(unicode::lower(self_str(self)));
}
Value str_swapcase(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("swapcase", args, {});
    return case_map(self, [](char32_t c) {
        return unicode::is_upper(c) ? unicode::to_lower(c) : unicode::to_upper(c);
    });
}

Value str_title(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("title", args, {});
    std::string out;
    bool previous_cased = false;
    const std::string& s = self_str(self);
    size_t pos = 0;
    while (pos < s.size()) {
        const char32_t c = unicode::decode(s, pos);
        if (is_cased(c)) {
            unicode::append_utf8(out, previous_cased ? unicode::to_lower(c) : unicode::to_upper(c));
            previous_cased = true;
        } else {
            unicode::append_utf8(out, c);
            previous_cased = false;
        }
    }
    return Value(std::move(out));
}

Value str_capitalize(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("capitalize", args, {});
    return Value(python_capitalize(self_str(self)));
}

Value pad_impl(Interpreter& interp, const Value& self, CallArgs& args, const char* name,
               int align) {  // -1 left (ljust), 0 center, 1 right (rjust)
    ArgBinder binder(name, args, {"width", "fillchar"}, 1);
    const int64_t width = require_int(*binder.get(0), "width");
    std::string fill = " ";
    if (binder.has(1)) {
        fill = require_string(*binder.get(1), "fillchar");
        if (unicode::code_point_count(fill) != 1) {
            fail(ErrorKind::kType, "The fill character must be exactly one character long");
        }
    }
    const std::string& s = self_str(self);
    const auto length = static_cast<int64_t>(unicode::code_point_count(s));
    if (width <= length) return self;
    interp.check_string_size(static_cast<size_t>(width) * fill.size());
    const int64_t total = width - length;
    int64_t left = 0;
    if (align == 1) left = total;
    if (align == 0) left = total / 2 + (total & width & 1);  // CPython's centering rule
    std::string out;
    for (int64_t i = 0; i < left; ++i) out += fill;
    out += s;
    for (int64_t i = 0; i < total - left; ++i) out += fill;
    return Value(std::move(out));
}

Value str_center(Interpreter& interp, const Value& self, CallArgs& args) {
    return pad_impl(interp, self, args, "center", 0);
}
Value str_ljust(Interpreter& interp, const Value& self, CallArgs& args) {
    return pad_impl(interp, self, args, "ljust", -1);
}
Value str_rjust(Interpreter& interp, const Value& self, CallArgs& args) {
    return pad_impl(interp, self, args, "rjust", 1);
}

Value str_zfill(Interpreter& interp, const Value& self, CallArgs& args) {
    ArgBinder binder("zfill", args, {"width"}, 1);
    const int64_t width = require_int(*binder.get(0), "width");
    const std::string& s = self_str(self);
    const auto length = static_cast<int64_t>(unicode::code_point_count(s));
    if (width <= length) return self;
    interp.check_string_size(static_cast<size_t>(width));
    const size_t sign = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    std::string out = s.substr(0, sign);
    out.append(static_cast<size_t>(width - length), '0');
    out += s.substr(sign);
    return Value(std::move(out));
}

Value partition_impl(const Value& self, CallArgs& args, const char* name, bool from_right) {
    ArgBinder binder(name, args, {"sep"}, 1);
    const std::string& s = self_str(self);
    const std::string& sep = require_string(*binder.get(0), "separator");
    if (sep.empty()) fail(ErrorKind::kValue, "empty separator");
    const size_t hit = from_right ? s.rfind(sep) : s.find(sep);
    if (hit == std::string::npos) {
        return from_right ? Value::tuple({Value(""), Value(""), self})
                          : Value::tuple({self, Value(""), Value("")});
    }
    return Value::tuple({Value(s.substr(0, hit)), Value(sep), Value(s.substr(hit + sep.size()))});
}

Value str_partition(Interpreter&, const Value& self, CallArgs& args) {
    return partition_impl(self, args, "partition", false);
}
Value str_rpartition(Interpreter&, const Value& self, CallArgs& args) {
    return partition_impl(self, args, "rpartition", true);
}

Value str_removeprefix(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("removeprefix", args, {"prefix"}, 1);
    const std::string& s = self_str(self);
    const std::string& prefix = require_string(*binder.get(0), "removeprefix() argument");
    if (s.compare(0, prefix.size(), prefix) == 0) return Value(s.substr(prefix.size()));
    return self;
}

Value str_removesuffix(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("removesuffix", args, {"suffix"}, 1);
    const std::string& s = self_str(self);
    const std::string& suffix = require_string(*binder.get(0), "removesuffix() argument");
    if (!suffix.empty() && s.size() >= suffix.size() &&
        s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return Value(s.substr(0, s.size() - suffix.size()));
    }
    return self;
}

template <bool (*Predicate)(char32_t)>
Value all_chars(const Value& self, CallArgs& args, const char* name) {
    ArgBinder binder(name, args, {});
    const std::string& s = self_str(self);
    if (s.empty()) return Value(false);
    size_t pos = 0;
    while (pos < s.size()) {
        if (!Predicate(unicode::decode(s, pos))) return Value(false);
    }
    return Value(true);
}

bool is_alnum_cp(char32_t c) {
    return unicode::is_alpha(c) || unicode::is_digit(c);
}
bool is_ascii_cp(char32_t c) {
    return c < 0x80;
}

Value str_isalpha(Interpreter&, const Value& self, CallArgs& args) {
    return all_chars<unicode::is_alpha>(self, args, "isalpha");
}
Value str_isdigit(Interpreter&, const Value& self, CallArgs& args) {
    return all_chars<unicode::is_digit>(self, args, "isdigit");
}
Value str_isalnum(Interpreter&, const Value& self, CallArgs& args) {
    return all_chars<is_alnum_cp>(self, args, "isalnum");
}
Value str_isspace(Interpreter&, const Value& self, CallArgs& args) {
    return all_chars<unicode::is_space>(self, args, "isspace");
}
Value str_isascii(Interpreter&, const Value& self, CallArgs& args) {
    if (self_str(self).empty()) return Value(true);
    return all_chars<is_ascii_cp>(self, args, "isascii");
}

// islower/isupper: at least one cased character and none of the other case.
Value case_test(const Value& self, CallArgs& args, const char* name, bool want_lower) {
    ArgBinder binder(name, args, {});
    const std::string& s = self_str(self);
    bool any_cased = false;
    size_t pos = 0;
    while (pos < s.size()) {
        const char32_t c = unicode::decode(s, pos);
        if (want_lower ? unicode::is_upper(c) : unicode::is_lower(c)) return Value(false);
        if (is_cased(c)) any_cased = true;
    }
    return Value(any_cased);
}

Value str_islower(Interpreter&, const Value& self, CallArgs& args) {
    return case_test(self, args, "islower", true);
}
Value str_isupper(Interpreter&, const Value& self, CallArgs& args) {
    return case_test(self, args, "isupper", false);
}

// ---- str.format ---------------------------------------------------------------------------

std::string apply_format_spec(Interpreter& interp, const Value& value, std::string_view spec) {
    if (spec.empty()) return interp.str(value);
    size_t i = 0;
    std::string fill = " ";
    char align = '\0';
    auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
    if (spec.size() >= 2 && is_align(spec[1])) {
        size_t p = 0;
        unicode::decode(spec, p);
        if (p == 1) {
            fill = std::string(spec.substr(0, 1));
            align = spec[1];
            i = 2;
        }
    }
    if (align == '\0' && !spec.empty() && is_align(spec[0])) {
        align = spec[0];
        i = 1;
    }
    char sign = '-';
    if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
    bool alternate = false;
    if (i < spec.size() && spec[i] == '#') {
        alternate = true;
        ++i;
    }
    if (i < spec.size() && spec[i] == '0') {
        if (align == '\0') {
            fill = "0";
            align = '=';
        }
        ++i;
    }
    int64_t width = 0;
    while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
        width = width * 10 + (spec[i++] - '0');
        if (static_cast<uint64_t>(width) > interp.max_bytes()) interp.check_string_size(SIZE_MAX);
    }
    bool grouping = false;
    if (i < spec.size() && (spec[i] == ',' || spec[i] == '_')) {
        grouping = spec[i] == ',';
        ++i;
    }
    int precision = -1;
    if (i < spec.size() && spec[i] == '.') {
        ++i;
        precision = 0;
        while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
            precision = std::min(precision * 10 + (spec[i++] - '0'), 100);
        }
    }
    char type = i < spec.size() ? spec[i++] : '\0';
    if (i != spec.size()) fail(ErrorKind::kValue, "Invalid format specifier");

    std::string body;
    std::string sign_text;
    if (value.is_string() || (type == 's') || (!value.is_number() && type == '\0')) {
        if (!value.is_string() && type == 's' && !value.is_undefined()) {
            fail(ErrorKind::kValue,
                 "Unknown format code 's' for object of type '" + value.type_name() + "'");
        }
        body = interp.str(value);
        if (precision >= 0 && static_cast<size_t>(precision) < unicode::code_point_count(body)) {
            body.resize(unicode::byte_offset_of(body, static_cast<size_t>(precision)));
        }
        if (align == '\0') align = '<';
    } else if (value.is_number()) {
        if (type == '\0' && value.is_integral()) type = 'd';
        double number = value.as_double();
        const bool negative = value.is_integral() ? value.as_int() < 0 : std::signbit(number);
        if (negative) sign_text = "-";
        if (!negative && sign == '+') sign_text = "+";
        if (!negative && sign == ' ') sign_text = " ";
        char buf[512];
        switch (type) {
            case 'd':
            case 'x':
            case 'X':
            case 'o':
            case 'b': {
                if (!value.is_integral()) {
                    fail(ErrorKind::kValue, std::string("Unknown format code '") + type +
                                                "' for object of type 'float'");
                }
                const int64_t n = value.as_int();
                uint64_t magnitude =
                    n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
                if (type == 'b') {
                    if (magnitude == 0) body = "0";
                    while (magnitude > 0) {
                        body.insert(body.begin(), static_cast<char>('0' + (magnitude & 1)));
                        magnitude >>= 1;
                    }
                } else {
                    std::snprintf(buf, sizeof(buf),
                                  type == 'd'
                                      ? "%llu"
                                      : (type == 'x' ? "%llx" : (type == 'X' ? "%llX" : "%llo")),
                                  static_cast<unsigned long long>(magnitude));
                    body = buf;
                }
                if (grouping && type == 'd') {
                    std::string grouped;
                    for (size_t k = 0; k < body.size(); ++k) {
                        if (k > 0 && (body.size() - k) % 3 == 0) grouped.push_back(',');
                        grouped.push_back(body[k]);
                    }
                    body = grouped;
                }
                if (alternate && type != 'd') {
                    body.insert(
                        0, type == 'b' ? "0b" : (type == 'o' ? "0o" : (type == 'x' ? "0x" : "0X")));
                }
                break;
            }
            case 'f':
            case 'F':
            case 'e':
            case 'E':
            case 'g':
            case 'G':
            case '%':
            case '\0': {
                if (type == '%') number *= 100;
                if (type == '\0' && precision < 0) {
                    body = format_float(std::fabs(number));
                } else {
                    const char conv = type == '%' ? 'f' : (type == '\0' ? 'g' : type);
                    std::string fmt = std::string(alternate ? "%#." : "%.") +
                                      std::to_string(precision < 0 ? 6 : precision) + conv;
                    std::snprintf(buf, sizeof(buf), fmt.c_str(), std::fabs(number));
                    body = buf;
                    if (type == '%') body += "%";
                }
                break;
            }
            default:
                fail(ErrorKind::kValue, std::string("Unknown format code '") + type +
                                            "' for object of type '" + value.type_name() + "'");
        }
        if (align == '\0') align = '>';
    } else {
        fail(ErrorKind::kType,
             "unsupported format string passed to " + value.type_name() + ".__format__");
    }
    const size_t length = unicode::code_point_count(sign_text) + unicode::code_point_count(body);
    if (static_cast<size_t>(width) <= length) return sign_text + body;
    const size_t padding = static_cast<size_t>(width) - length;
    auto repeat_fill = [&](size_t n) {
        std::string out;
        for (size_t k = 0; k < n; ++k) out += fill;
        return out;
    };
    switch (align) {
        case '<':
            return sign_text + body + repeat_fill(padding);
        case '^':
            return repeat_fill(padding / 2) + sign_text + body + repeat_fill(padding - padding / 2);
        case '=':
            return sign_text + repeat_fill(padding) + body;
        default:
            return repeat_fill(padding) + sign_text + body;
    }
}

Value str_format(Interpreter& interp, const Value& self, CallArgs& args) {
    const std::string& fmt = self_str(self);
    std::string out;
    size_t auto_index = 0;
    bool used_auto = false;
    bool used_manual = false;
    for (size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
                out.push_back('}');
                ++i;
                continue;
            }
            fail(ErrorKind::kValue, "Single '}' encountered in format string");
        }
        if (c != '{') {
            out.push_back(c);
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out.push_back('{');
            ++i;
            continue;
        }
        const size_t close = fmt.find('}', i);
        if (close == std::string::npos)
            fail(ErrorKind::kValue, "Single '{' encountered in format string");
        std::string_view field = std::string_view(fmt).substr(i + 1, close - i - 1);
        i = close;
        std::string_view spec;
        char conversion = '\0';
        if (const size_t colon = field.find(':'); colon != std::string_view::npos) {
            spec = field.substr(colon + 1);
            field = field.substr(0, colon);
        }
        if (const size_t bang = field.find('!'); bang != std::string_view::npos) {
            if (bang + 2 != field.size())
                fail(ErrorKind::kValue, "expected ':' after conversion specifier");
            conversion = field[bang + 1];
            field = field.substr(0, bang);
        }
        size_t name_end = 0;
        while (name_end < field.size() && field[name_end] != '.' && field[name_end] != '[')
            ++name_end;
        const std::string_view name = field.substr(0, name_end);
        Value value;
        if (name.empty()) {
            if (used_manual) {
                fail(ErrorKind::kValue,
                     "cannot switch from manual field specification to "
                     "automatic field numbering");
            }
            used_auto = true;
            if (auto_index >= args.positional.size()) {
                fail(ErrorKind::kIndex, "Replacement index " + std::to_string(auto_index) +
                                            " out of range for positional args tuple");
            }
            value = args.positional[auto_index++];
        } else if (std::all_of(name.begin(), name.end(),
                               [](char ch) { return ch >= '0' && ch <= '9'; })) {
            if (used_auto) {
                fail(ErrorKind::kValue,
                     "cannot switch from automatic field numbering to manual "
                     "field specification");
            }
            used_manual = true;
            const size_t index = static_cast<size_t>(std::stoull(std::string(name.substr(0, 9))));
            if (index >= args.positional.size()) {
                fail(ErrorKind::kIndex, "Replacement index " + std::to_string(index) +
                                            " out of range for positional args tuple");
            }
            value = args.positional[index];
        } else {
            bool found = false;
            for (const auto& [key, v] : args.keyword) {
                if (key == name) {
                    value = v;
                    found = true;
                }
            }
            if (!found) fail(ErrorKind::kKey, "'" + std::string(name) + "'");
        }
        // .attr and [key] accessors, resolved like template attribute access.
        size_t p = name_end;
        while (p < field.size()) {
            if (field[p] == '.') {
                size_t q = p + 1;
                while (q < field.size() && field[q] != '.' && field[q] != '[') ++q;
                value = interp.get_attr(value, field.substr(p + 1, q - p - 1));
                p = q;
            } else {
                const size_t q = field.find(']', p);
                if (q == std::string_view::npos)
                    fail(ErrorKind::kValue, "Missing ']' in format string");
                const std::string_view key = field.substr(p + 1, q - p - 1);
                if (!key.empty() && std::all_of(key.begin(), key.end(),
                                                [](char ch) { return ch >= '0' && ch <= '9'; })) {
                    value = interp.get_item(
                        value,
                        Value(static_cast<int64_t>(std::stoll(std::string(key.substr(0, 18))))));
                } else {
                    value = interp.get_item(value, Value(key));
                }
                p = q + 1;
            }
        }
        if (conversion == 'r' || conversion == 'a') {
            value = Value(to_repr(value, interp.max_bytes()));
        } else if (conversion == 's') {
            value = Value(interp.str(value));
        } else if (conversion != '\0') {
            fail(ErrorKind::kValue, std::string("Unknown conversion specifier ") + conversion);
        }
        out += apply_format_spec(interp, value, spec);
        interp.check_string_size(out.size());
    }
    return Value(std::move(out));
}

// ---- list and dict methods ------------------------------------------------------------------

Value list_index(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("index", args, {"value"}, 1);
    const List& items = self.as_list();
    for (size_t i = 0; i < items.size(); ++i) {
        if (values_equal(items[i], *binder.get(0))) return Value(static_cast<int64_t>(i));
    }
    fail(ErrorKind::kValue, to_repr(*binder.get(0), 1024) + " is not in list");
}

Value list_count(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("count", args, {"value"}, 1);
    int64_t n = 0;
    for (const Value& item : self.as_list()) n += values_equal(item, *binder.get(0)) ? 1 : 0;
    return Value(n);
}

Value container_copy(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("copy", args, {});
    return self;  // values are immutable: sharing is a faithful copy
}

Value dict_items(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("items", args, {});
    List items;
    items.reserve(self.as_dict().size());
    for (const auto& [key, value] : self.as_dict().entries())
        items.push_back(Value::tuple({key, value}));
    return Value::list(std::move(items));
}

Value dict_keys(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("keys", args, {});
    List items;
    for (const auto& [key, value] : self.as_dict().entries()) items.push_back(key);
    return Value::list(std::move(items));
}

Value dict_values(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("values", args, {});
    List items;
    for (const auto& [key, value] : self.as_dict().entries()) items.push_back(value);
    return Value::list(std::move(items));
}

Value dict_get(Interpreter&, const Value& self, CallArgs& args) {
    ArgBinder binder("get", args, {"key", "default"}, 1);
    const Value& key = *binder.get(0);
    if (key.is_list() || key.is_dict())
        fail(ErrorKind::kType, "unhashable type: '" + key.type_name() + "'");
    if (key.is_string() || key.is_number() || key.is_none()) {
        if (const Value* value = self.as_dict().find(key)) return *value;
    }
    return binder.get_or(1, Value::none());
}

struct MethodTable {
    std::unordered_map<std::string_view, MethodFn> str;
    std::unordered_map<std::string_view, MethodFn> list;
    std::unordered_map<std::string_view, MethodFn> dict;
};

const MethodTable& methods() {
    static const MethodTable kTable = {
        {
            {"strip", str_strip},
            {"lstrip", str_lstrip},
            {"rstrip", str_rstrip},
            {"split", str_split},
            {"rsplit", str_rsplit},
            {"splitlines", str_splitlines},
            {"startswith", str_startswith},
            {"endswith", str_endswith},
            {"replace", str_replace},
            {"find", str_find},
            {"rfind", str_rfind},
            {"index", str_index},
            {"rindex", str_rindex},
            {"count", str_count},
            {"join", str_join},
            {"upper", str_upper},
            {"lower", str_lower},
            {"casefold", str_lower},
            {"swapcase", str_swapcase},
            {"title", str_title},
            {"capitalize", str_capitalize},
            {"center", str_center},
            {"ljust", str_ljust},
            {"rjust", str_rjust},
            {"zfill", str_zfill},
            {"partition", str_partition},
            {"rpartition", str_rpartition},
            {"removeprefix", str_removeprefix},
            {"removesuffix", str_removesuffix},
            {"isalpha", str_isalpha},
            {"isdigit", str_isdigit},
            {"isdecimal", str_isdigit},
            {"isnumeric", str_isdigit},
            {"isalnum", str_isalnum},
            {"isspace", str_isspace},
            {"isascii", str_isascii},
            {"islower", str_islower},
            {"isupper", str_isupper},
            {"format", str_format},
        },
        {
            {"index", list_index},
            {"count", list_count},
            {"copy", container_copy},
        },
        {
            {"items", dict_items},
            {"keys", dict_keys},
            {"values", dict_values},
            {"get", dict_get},
            {"copy", container_copy},
        },
    };
    return kTable;
}

bool is_unsafe(const Value& receiver, std::string_view name) {
    static const std::string_view kListMutators[] = {"append", "clear",  "extend",  "insert",
                                                     "pop",    "remove", "reverse", "sort"};
    static const std::string_view kDictMutators[] = {"clear", "pop", "popitem", "setdefault",
                                                     "update"};
    if (receiver.is_list() && !receiver.is_tuple()) {
        return std::find(std::begin(kListMutators), std::end(kListMutators), name) !=
               std::end(kListMutators);
    }
    if (receiver.is_dict()) {
        return std::find(std::begin(kDictMutators), std::end(kDictMutators), name) !=
               std::end(kDictMutators);
    }
    return false;
}

const std::unordered_map<std::string_view, MethodFn>* table_for(const Value& receiver) {
    if (receiver.is_string()) return &methods().str;
    if (receiver.is_list()) return &methods().list;
    if (receiver.is_dict()) return &methods().dict;
    return nullptr;
}

}  // namespace

std::string python_strip(std::string_view text, const std::string* chars, bool left, bool right) {
    std::u32string set;
    if (chars != nullptr) set = to_u32(*chars);
    auto strippable = [&](char32_t c) {
        return chars == nullptr ? unicode::is_space(c) : set.find(c) != std::u32string::npos;
    };
    const std::u32string s = to_u32(text);
    size_t begin = 0;
    size_t end = s.size();
    if (left) {
        while (begin < end && strippable(s[begin])) ++begin;
    }
    if (right) {
        while (end > begin && strippable(s[end - 1])) --end;
    }
    return from_u32(std::u32string_view(s).substr(begin, end - begin));
}

std::vector<std::string> python_splitlines(std::string_view text) {
    return splitlines_impl(text, false);
}

std::string python_capitalize(std::string_view text) {
    std::string out;
    size_t pos = 0;
    bool first = true;
    while (pos < text.size()) {
        const char32_t c = unicode::decode(text, pos);
        unicode::append_utf8(out, first ? unicode::to_upper(c) : unicode::to_lower(c));
        first = false;
    }
    return out;
}

MethodLookup lookup_method(const Value& receiver, std::string_view name) {
    const auto* table = table_for(receiver);
    if (table == nullptr) return MethodLookup::kNone;
    if (table->count(name) != 0) return MethodLookup::kSafe;
    if (is_unsafe(receiver, name)) return MethodLookup::kUnsafe;
    return MethodLookup::kNone;
}

Value call_builtin_method(Interpreter& interp, const Value& receiver, std::string_view name,
                          CallArgs& args) {
    const auto* table = table_for(receiver);
    if (table != nullptr) {
        auto it = table->find(name);
        if (it != table->end()) return it->second(interp, receiver, args);
    }
    fail(ErrorKind::kType,
         "'" + receiver.type_name() + "' object has no method '" + std::string(name) + "'");
}

}  // namespace cria::chat::jinja
