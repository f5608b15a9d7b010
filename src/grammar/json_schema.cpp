#include "grammar/json_schema.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "grammar/pattern.h"
#include "grammar/schema_exclusivity.h"

namespace cria::grammar {

namespace {

// ordered_json keeps the keys in request order, which is the order objects are generated in.
using json = nlohmann::ordered_json;

constexpr uint32_t kMaxIndentSpaces = 32;
constexpr uint32_t kMaxIndentTabs = 8;
constexpr uint32_t kMaxIntegerDigits = 15;
constexpr uint32_t kMaxFractionDigits = 15;
constexpr uint32_t kMaxExponentDigits = 2;
// Bounds on counted repetitions, so a schema cannot ask for a gigantic grammar.
constexpr int64_t kMaxStringLengthBound = 10'000;
constexpr int64_t kMaxItemsBound = 10'000;
constexpr size_t kMaxProperties = 1'000;
constexpr int kMaxSchemaDepth = 64;

const std::set<std::string>& annotation_keywords() {
    static const std::set<std::string> kKeys = {
        "title",    "description", "default",  "examples",  "$schema", "$id",
        "$comment", "deprecated",  "readOnly", "writeOnly", "$defs",   "definitions",
    };
    return kKeys;
}

const std::set<std::string>& supported_keywords() {
    static const std::set<std::string> kKeys = {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "const",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    };
    return kKeys;
}

Status schema_error(const std::string& path, const std::string& message) {
    return invalid_argument("JSON Schema at " + path + ": " + message);
}

std::string child_path(const std::string& path, const std::string& key) {
    return path + "/" + key;
}

bool json_type_matches(const json& value, const std::string& type) {
    if (type == "string") return value.is_string();
    if (type == "number") return value.is_number();
    if (type == "integer") {
        if (value.is_number_integer()) return true;
        if (value.is_number_float()) {
            const double d = value.get<double>();
            return d == static_cast<double>(static_cast<int64_t>(d));
        }
        return false;
    }
    if (type == "boolean") return value.is_boolean();
    if (type == "null") return value.is_null();
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    return false;
}

std::string to_decimal(uint64_t value) {
    return std::to_string(value);
}

// Alternatives matching every decimal string of the same length between `lo` and `hi`
// (lo <= hi, digits only).
void same_length_range(const std::string& lo, const std::string& hi, Sequence prefix,
                       std::vector<Sequence>& out) {
    const size_t n = lo.size();
    if (n == 0) {
        out.push_back(std::move(prefix));
        return;
    }
    const bool lo_rest_zero = lo.find_first_not_of('0', 1) == std::string::npos;
    const bool hi_rest_nine = hi.find_first_not_of('9', 1) == std::string::npos;
    const Element any_digit = Element::byte_set(ByteSet::range('0', '9'));
    auto fixed_tail = [&](Sequence s, uint8_t first, uint8_t last) {
        s.push_back(Element::byte_set(ByteSet::range(first, last)));
        for (size_t i = 1; i < n; ++i) s.push_back(any_digit);
        out.push_back(std::move(s));
    };
    if (lo_rest_zero && hi_rest_nine) {
        fixed_tail(std::move(prefix), static_cast<uint8_t>(lo[0]), static_cast<uint8_t>(hi[0]));
        return;
    }
    if (lo[0] == hi[0]) {
        prefix.push_back(Element::byte(static_cast<uint8_t>(lo[0])));
        same_length_range(lo.substr(1), hi.substr(1), std::move(prefix), out);
        return;
    }
    Sequence low = prefix;
    low.push_back(Element::byte(static_cast<uint8_t>(lo[0])));
    same_length_range(lo.substr(1), std::string(n - 1, '9'), std::move(low), out);
    if (lo[0] + 1 <= hi[0] - 1) {
        fixed_tail(prefix, static_cast<uint8_t>(lo[0] + 1), static_cast<uint8_t>(hi[0] - 1));
    }
    Sequence high = prefix;
    high.push_back(Element::byte(static_cast<uint8_t>(hi[0])));
    same_length_range(std::string(n - 1, '0'), hi.substr(1), std::move(high), out);
}

// Decimal strings without leading zeros for the integers in [lo, hi] (hi nullopt: up to
// kMaxIntegerDigits digits, or the length of lo when that is longer).
void nonnegative_range(uint64_t lo, std::optional<uint64_t> hi, const Sequence& prefix,
                       std::vector<Sequence>& out) {
    const size_t lo_len = to_decimal(lo).size();
    const size_t hi_len = hi ? to_decimal(*hi).size() : std::max<size_t>(kMaxIntegerDigits, lo_len);
    for (size_t len = lo_len; len <= hi_len; ++len) {
        uint64_t first = 1;
        for (size_t i = 1; i < len; ++i) first *= 10;
        if (len == 1) first = 0;
        const uint64_t last = len >= 20 ? UINT64_MAX : first == 0 ? 9 : first * 10 - 1;
        const uint64_t a = std::max(lo, first);
        const uint64_t b = hi ? std::min(*hi, last) : last;
        if (a > b) continue;
        same_length_range(to_decimal(a), to_decimal(b), prefix, out);
    }
}

// Parses an integer bound; fractional bounds are rounded towards the allowed side.
Expected<std::optional<int64_t>> integer_bound(const json& schema, const std::string& key,
                                               const std::string& path, bool lower,
                                               bool exclusive) {
    auto it = schema.find(key);
    if (it == schema.end()) return std::optional<int64_t>{};
    if (!it->is_number()) return schema_error(path, "'" + key + "' must be a number");
    const double value = it->get<double>();
    if (!(value > -1e18 && value < 1e18)) {
        return schema_error(path, "'" + key + "' is outside the supported range (|x| < 1e18)");
    }
    int64_t bound;
    if (it->is_number_integer()) {
        bound = it->get<int64_t>();
        if (exclusive) bound += lower ? 1 : -1;
    } else {
        const double rounded = lower ? std::ceil(value) : std::floor(value);
        bound = static_cast<int64_t>(rounded);
        if (exclusive && rounded == value) bound += lower ? 1 : -1;
    }
    return std::optional<int64_t>(bound);
}

}  // namespace

struct JsonSchemaCompiler::Impl {
    explicit Impl(GrammarBuilder& b) : builder(b) {}

    GrammarBuilder& builder;
    const json* root = nullptr;
    std::map<std::string, RuleId> ref_rules;
    std::map<std::string, RuleId> shared;  // helper rules by name
    int depth = 0;
    uint32_t counter = 0;

    std::string fresh(const std::string& base) { return base + "-" + std::to_string(counter++); }

    // A helper rule built once per builder.
    template <typename Fn>
    RuleId shared_rule(const std::string& name, Fn&& make) {
        auto it = shared.find(name);
        if (it != shared.end()) return it->second;
        const RuleId id = make();
        shared.emplace(name, id);
        return id;
    }

    // Whitespace as compact or pretty-printed JSON has it: nothing, one space, or a newline
    // and an indentation of spaces or of tabs. Bounded so that a weak model cannot spend its
    // whole token budget on layout.
    RuleId ws() {
        return shared_rule("ws", [&] {
            const RuleId spaces = builder.repeat("ws-spaces", literal(" "), 0, kMaxIndentSpaces);
            const RuleId tabs = builder.repeat("ws-tabs", literal("\t"), 0, kMaxIndentTabs);
            return builder.define("ws", {Sequence{}, literal(" "),
                                         Sequence{Element::byte('\n'), Element::ref(spaces)},
                                         Sequence{Element::byte('\n'), Element::ref(tabs)}});
        });
    }

    RuleId hex() {
        return shared_rule("hex", [&] {
            ByteSet set = ByteSet::range('0', '9');
            set.add_range('a', 'f');
            set.add_range('A', 'F');
            return builder.define("hex", {seq(Element::byte_set(set))});
        });
    }

    // One character of a JSON string body: plain UTF-8 (valid sequences only) or an escape.
    RuleId string_char() {
        return shared_rule("char", [&] {
            ByteSet plain = ByteSet::range(0x20, 0x7f);
            plain.remove('"');
            plain.remove('\\');
            const Element cont = Element::byte_set(ByteSet::range(0x80, 0xbf));
            ByteSet e1 = ByteSet::range(0xe1, 0xec);
            e1.add_range(0xee, 0xef);
            ByteSet simple_escape;
            for (char c : std::string("\"\\/bfnrt")) simple_escape.add(static_cast<uint8_t>(c));
            ByteSet hex_no_d = ByteSet::range('0', '9');
            hex_no_d.add_range('a', 'c');
            hex_no_d.add_range('e', 'f');
            hex_no_d.add_range('A', 'C');
            hex_no_d.add_range('E', 'F');
            ByteSet d;
            d.add('d');
            d.add('D');
            const Element h = Element::ref(hex());
            // \uXXXX without surrogates (D800-DFFF).
            const RuleId unicode = builder.define(
                "unicode-escape", {Sequence{Element::byte_set(hex_no_d), h, h, h},
                                   Sequence{Element::byte_set(d),
                                            Element::byte_set(ByteSet::range('0', '7')), h, h}});
            return builder.define(
                "char",
                {seq(Element::byte_set(plain)),
                 Sequence{Element::byte('\\'), Element::byte_set(simple_escape)},
                 Sequence{Element::byte('\\'), Element::byte('u'), Element::ref(unicode)},
                 Sequence{Element::byte_set(ByteSet::range(0xc2, 0xdf)), cont},
                 Sequence{Element::byte(0xe0), Element::byte_set(ByteSet::range(0xa0, 0xbf)), cont},
                 Sequence{Element::byte_set(e1), cont, cont},
                 Sequence{Element::byte(0xed), Element::byte_set(ByteSet::range(0x80, 0x9f)), cont},
                 Sequence{Element::byte(0xf0), Element::byte_set(ByteSet::range(0x90, 0xbf)), cont,
                          cont},
                 Sequence{Element::byte_set(ByteSet::range(0xf1, 0xf3)), cont, cont, cont},
                 Sequence{Element::byte(0xf4), Element::byte_set(ByteSet::range(0x80, 0x8f)), cont,
                          cont}});
        });
    }

    RuleId string_rule(uint32_t min_length, std::optional<uint32_t> max_length) {
        const std::string name = "string-" + std::to_string(min_length) + "-" +
                                 (max_length ? std::to_string(*max_length) : "inf");
        return shared_rule(name, [&] {
            const RuleId body = builder.repeat(name + "-body", seq(Element::ref(string_char())),
                                               min_length, max_length);
            return builder.define(
                name, {Sequence{Element::byte('"'), Element::ref(body), Element::byte('"')}});
        });
    }

    RuleId number_rule() {
        return shared_rule("number", [&] {
            const Element digit = Element::byte_set(ByteSet::range('0', '9'));
            const RuleId int_part = integer_digits();
            const RuleId frac = builder.define(
                "fraction",
                {Sequence{}, concat({literal("."),
                                     seq(Element::ref(builder.repeat("fraction-digits", seq(digit),
                                                                     1, kMaxFractionDigits)))})});
            ByteSet e;
            e.add('e');
            e.add('E');
            ByteSet sign;
            sign.add('+');
            sign.add('-');
            const RuleId exp_sign =
                builder.define("exponent-sign", {Sequence{}, seq(Element::byte_set(sign))});
            const RuleId exp_digits =
                builder.repeat("exponent-digits", seq(digit), 1, kMaxExponentDigits);
            const RuleId exp = builder.define(
                "exponent", {Sequence{}, Sequence{Element::byte_set(e), Element::ref(exp_sign),
                                                  Element::ref(exp_digits)}});
            const RuleId minus = builder.define("minus", {Sequence{}, literal("-")});
            return builder.define("number", {Sequence{Element::ref(minus), Element::ref(int_part),
                                                      Element::ref(frac), Element::ref(exp)}});
        });
    }

    // "0" or a number without leading zeros, at most kMaxIntegerDigits digits.
    RuleId integer_digits() {
        return shared_rule("integer-digits", [&] {
            const RuleId rest =
                builder.repeat("integer-rest", seq(Element::byte_set(ByteSet::range('0', '9'))), 0,
                               kMaxIntegerDigits - 1);
            return builder.define(
                "integer-digits",
                {literal("0"),
                 Sequence{Element::byte_set(ByteSet::range('1', '9')), Element::ref(rest)}});
        });
    }

    RuleId integer_rule() {
        return shared_rule("integer", [&] {
            const RuleId minus = builder.define("integer-minus", {Sequence{}, literal("-")});
            return builder.define("integer",
                                  {Sequence{Element::ref(minus), Element::ref(integer_digits())}});
        });
    }

    RuleId any_value() {
        return shared_rule("value", [&] {
            const RuleId value = builder.declare("value");
            shared.emplace("value", value);  // recursion: objects and arrays contain values
            const RuleId object = free_object(value);
            const RuleId array = free_array(value);
            builder.add_alternative(value, seq(Element::ref(object)));
            builder.add_alternative(value, seq(Element::ref(array)));
            builder.add_alternative(value, seq(Element::ref(string_rule(0, std::nullopt))));
            builder.add_alternative(value, seq(Element::ref(number_rule())));
            builder.add_alternative(value, literal("true"));
            builder.add_alternative(value, literal("false"));
            builder.add_alternative(value, literal("null"));
            return value;
        });
    }

    RuleId any_object() {
        any_value();
        return shared_rule("object", [&] { return free_object(any_value()); });
    }

    // An object whose keys are any strings and whose values match `value_rule`.
    RuleId free_object(RuleId value_rule) {
        const Element w = Element::ref(ws());
        const Sequence member = {Element::ref(string_rule(0, std::nullopt)),
                                 w,
                                 Element::byte(':'),
                                 w,
                                 Element::ref(value_rule),
                                 w};
        const RuleId members = builder.repeat(fresh("members"), member, 0, std::nullopt,
                                              Sequence{Element::byte(','), w});
        return builder.define(
            fresh("object"),
            {Sequence{Element::byte('{'), w, Element::ref(members), Element::byte('}')}});
    }

    RuleId free_array(RuleId item_rule) { return array_rule({}, item_rule, 0, std::nullopt); }

    // "[" prefix items in order, then `items` (nullopt: none allowed) "]", with the item count
    // between min and max.
    RuleId array_rule(const std::vector<RuleId>& prefix, std::optional<RuleId> items,
                      uint32_t min_items, std::optional<uint32_t> max_items) {
        const Element w = Element::ref(ws());
        const auto k = static_cast<uint32_t>(prefix.size());
        if (!items) max_items = std::min(max_items.value_or(k), k);
        auto item_at = [&](uint32_t i) { return i < k ? prefix[i] : *items; };
        // after_i: i items emitted so far (i >= 1).
        const std::string base = fresh("array");
        const uint32_t steady = std::max(k, min_items);  // from here on the state repeats
        RuleId next_rule = 0;
        bool have_next = false;
        if (!max_items) {
            // after_steady ::= () | "," ws item ws after_steady
            const RuleId loop = builder.declare(base + "-more");
            builder.add_alternative(loop, {});
            builder.add_alternative(
                loop, {Element::byte(','), w, Element::ref(*items), w, Element::ref(loop)});
            next_rule = loop;
            have_next = true;
        }
        const uint32_t top = max_items ? *max_items : steady;
        // Build after_i for i = top down to 1.
        for (uint32_t i = top; i >= 1; --i) {
            if (!max_items && i == steady) continue;  // the loop above
            const RuleId after = builder.declare(base + "-after" + std::to_string(i));
            if (i >= min_items) builder.add_alternative(after, {});
            if (have_next && (!max_items || i < *max_items)) {
                builder.add_alternative(after, {Element::byte(','), w, Element::ref(item_at(i)), w,
                                                Element::ref(next_rule)});
            }
            next_rule = after;
            have_next = true;
            if (i == 1) break;
        }
        const RuleId array = builder.declare(base);
        if (min_items == 0) {
            builder.add_alternative(array, {Element::byte('['), w, Element::byte(']')});
        }
        if (top >= 1 || !max_items) {
            builder.add_alternative(array, {Element::byte('['), w, Element::ref(item_at(0)), w,
                                            Element::ref(next_rule), Element::byte(']')});
        }
        return array;
    }

    Expected<RuleId> compile(const json& schema, const std::string& path) {
        if (++depth > kMaxSchemaDepth) {
            --depth;
            return schema_error(path, "the schema nests deeper than " +
                                          std::to_string(kMaxSchemaDepth) + " levels");
        }
        Expected<RuleId> result = compile_inner(schema, path);
        --depth;
        if (builder.element_count() > kMaxGrammarElements) {
            return schema_error(path, "the schema needs too large a grammar");
        }
        return result;
    }

    Expected<const json*> resolve_ref(const std::string& ref, const std::string& path) {
        if (ref.empty() || ref[0] != '#') {
            return schema_error(
                path, "'$ref' must be a local reference starting with '#' (got '" + ref + "')");
        }
        try {
            const json::json_pointer pointer(ref.substr(1));
            if (!root->contains(pointer)) {
                return schema_error(path, "'$ref' target '" + ref + "' does not exist");
            }
            return &root->at(pointer);
        } catch (const json::exception&) {
            return schema_error(path, "'$ref' '" + ref + "' is not a valid JSON pointer");
        }
    }

    Expected<RuleId> compile_inner(const json& schema, const std::string& path) {
        if (schema.is_boolean()) {
            if (schema.get<bool>()) return any_value();
            return schema_error(path, "the schema 'false' accepts nothing");
        }
        if (!schema.is_object()) return schema_error(path, "a schema must be an object");

        bool has_constraint = false;
        for (const auto& [key, value] : schema.items()) {
            if (annotation_keywords().count(key) != 0) continue;
            if (supported_keywords().count(key) == 0) {
                return schema_error(path, "keyword '" + key + "' is not supported");
            }
            has_constraint = true;
        }
        if (!has_constraint) return any_value();

        if (auto it = schema.find("$ref"); it != schema.end()) {
            if (!it->is_string()) return schema_error(path, "'$ref' must be a string");
            for (const auto& [key, value] : schema.items()) {
                if (key != "$ref" && annotation_keywords().count(key) == 0) {
                    return schema_error(path,
                                        "keyword '" + key + "' next to '$ref' is not supported");
                }
            }
            const std::string ref = it->get<std::string>();
            auto known = ref_rules.find(ref);
            if (known != ref_rules.end()) return known->second;
            CRIA_ASSIGN_OR_RETURN(const json* target, resolve_ref(ref, path));
            // Declared before compiling so that recursive references find it.
            const RuleId rule = builder.declare("ref" + ref);
            ref_rules.emplace(ref, rule);
            CRIA_ASSIGN_OR_RETURN(const RuleId body, compile(*target, ref));
            builder.add_alternative(rule, seq(Element::ref(body)));
            return rule;
        }

        for (const char* combinator : {"anyOf", "oneOf"}) {
            auto it = schema.find(combinator);
            if (it == schema.end()) continue;
            const std::string where = child_path(path, combinator);
            if (!it->is_array() || it->empty()) {
                return schema_error(path,
                                    std::string("'") + combinator + "' must be a non-empty array");
            }
            for (const auto& [key, value] : schema.items()) {
                if (key != combinator && annotation_keywords().count(key) == 0) {
                    return schema_error(path, "keyword '" + key + "' next to '" + combinator +
                                                  "' is not supported");
                }
            }
            if (std::string(combinator) == "oneOf") {
                CRIA_RETURN_IF_ERROR(check_one_of_exclusive(*it, where));
            }
            const RuleId rule = builder.declare(fresh(combinator));
            for (size_t i = 0; i < it->size(); ++i) {
                CRIA_ASSIGN_OR_RETURN(const RuleId branch,
                                      compile((*it)[i], child_path(where, std::to_string(i))));
                builder.add_alternative(rule, seq(Element::ref(branch)));
            }
            return rule;
        }

        if (schema.contains("allOf")) {
            CRIA_ASSIGN_OR_RETURN(json merged, merge_all_of(schema, path));
            return compile(merged, path);
        }

        // The types this schema allows.
        std::vector<std::string> types;
        if (auto it = schema.find("type"); it != schema.end()) {
            if (it->is_string()) {
                types.push_back(it->get<std::string>());
            } else if (it->is_array() && !it->empty()) {
                for (const json& t : *it) {
                    if (!t.is_string()) return schema_error(path, "'type' entries must be strings");
                    types.push_back(t.get<std::string>());
                }
            } else {
                return schema_error(path, "'type' must be a string or a non-empty array");
            }
            for (const std::string& t : types) {
                static const std::set<std::string> kTypes = {
                    "string", "number", "integer", "boolean", "null", "object", "array"};
                if (kTypes.count(t) == 0) return schema_error(path, "unknown type '" + t + "'");
            }
        }

        if (schema.contains("const") || schema.contains("enum")) {
            std::vector<json> values;
            if (auto it = schema.find("const"); it != schema.end()) values.push_back(*it);
            if (auto it = schema.find("enum"); it != schema.end()) {
                if (!it->is_array() || it->empty()) {
                    return schema_error(path, "'enum' must be a non-empty array");
                }
                if (schema.contains("const")) {
                    // Both: only const survives, and only if enum lists it.
                    if (std::find(it->begin(), it->end(), values[0]) == it->end()) {
                        return schema_error(path, "'const' is not one of 'enum'");
                    }
                } else {
                    values.assign(it->begin(), it->end());
                }
            }
            // The values as a trie of literals: an enum of n values costs the matcher one path,
            // not n alternatives followed side by side.
            std::vector<GrammarBuilder::LiteralBranch> kept;
            for (const json& value : values) {
                if (!types.empty() && std::none_of(types.begin(), types.end(), [&](auto& t) {
                        return json_type_matches(value, t);
                    }))
                    continue;
                kept.push_back({value.dump(), {}});
            }
            if (kept.empty()) {
                return schema_error(path, "no 'enum'/'const' value has the allowed 'type'");
            }
            return builder.literal_choice(fresh("enum"), std::move(kept));
        }

        if (types.empty()) {
            // Infer from the keywords present, as validators apply them only to their type.
            if (schema.contains("properties") || schema.contains("required") ||
                schema.contains("additionalProperties"))
                types.push_back("object");
            if (schema.contains("items") || schema.contains("prefixItems") ||
                schema.contains("minItems") || schema.contains("maxItems"))
                types.push_back("array");
            if (schema.contains("minLength") || schema.contains("maxLength") ||
                schema.contains("pattern") || schema.contains("format"))
                types.push_back("string");
            if (schema.contains("minimum") || schema.contains("maximum") ||
                schema.contains("exclusiveMinimum") || schema.contains("exclusiveMaximum"))
                types.push_back("integer");
            if (types.empty()) return any_value();
            if (types.size() > 1) {
                return schema_error(path, "keywords of several types without a 'type'");
            }
        }

        if (types.size() == 1) return compile_typed(schema, types[0], path);
        const RuleId rule = builder.declare(fresh("types"));
        for (const std::string& t : types) {
            CRIA_ASSIGN_OR_RETURN(const RuleId branch, compile_typed(schema, t, path));
            builder.add_alternative(rule, seq(Element::ref(branch)));
        }
        return rule;
    }

    // oneOf is generated like anyOf, which is right only when a value generated from one
    // branch fails every other branch: the branches must provably exclude each other.
    Status check_one_of_exclusive(const json& branches, const std::string& where) {
        constexpr size_t kMaxOneOfBranches = 64;
        if (branches.size() > kMaxOneOfBranches) {
            return schema_error(where, "'oneOf' with more than " +
                                           std::to_string(kMaxOneOfBranches) +
                                           " branches is not supported (use 'anyOf')");
        }
        for (size_t i = 0; i < branches.size(); ++i) {
            for (size_t j = i + 1; j < branches.size(); ++j) {
                if (schemas_exclusive(*root, branches[i], branches[j])) continue;
                return schema_error(
                    where, "'oneOf' branches " + std::to_string(i) + " and " + std::to_string(j) +
                               " may both match the same value, and then the output would fail "
                               "'oneOf'; cria supports 'oneOf' only when its branches provably "
                               "exclude each other (different 'type's, different 'const'/'enum' "
                               "values, disjoint ranges, or objects told apart by a required "
                               "property with different 'const' values); use 'anyOf' otherwise");
            }
        }
        return Status::ok();
    }

    Expected<json> merge_all_of(const json& schema, const std::string& path) {
        const json& all = schema.at("allOf");
        if (!all.is_array() || all.empty()) {
            return schema_error(path, "'allOf' must be a non-empty array");
        }
        json merged = json::object();
        merged["type"] = "object";
        json properties = json::object();
        std::set<std::string> required;
        bool closed = false;
        std::vector<json> parts;
        json self = schema;
        self.erase("allOf");
        parts.push_back(self);
        for (const json& part : all) parts.push_back(part);
        for (size_t i = 0; i < parts.size(); ++i) {
            const std::string where =
                i == 0 ? path : child_path(path, "allOf/" + std::to_string(i - 1));
            const json* part = &parts[i];
            for (int hops = 0; part->is_object() && part->contains("$ref"); ++hops) {
                if (hops > 16 || !(*part)["$ref"].is_string()) {
                    return schema_error(where, "'allOf' could not resolve a '$ref'");
                }
                CRIA_ASSIGN_OR_RETURN(part, resolve_ref((*part)["$ref"].get<std::string>(), where));
            }
            if (!part->is_object())
                return schema_error(where, "'allOf' supports object schemas only");
            for (const auto& [key, value] : part->items()) {
                if (annotation_keywords().count(key) != 0) continue;
                if (key == "type") {
                    if (value != "object") {
                        return schema_error(where, "'allOf' supports object schemas only");
                    }
                } else if (key == "properties") {
                    if (!value.is_object())
                        return schema_error(where, "'properties' must be an object");
                    for (const auto& [name, sub] : value.items()) {
                        if (properties.contains(name)) {
                            return schema_error(where, "'allOf' declares property '" + name +
                                                           "' twice, which is not supported");
                        }
                        properties[name] = sub;
                    }
                } else if (key == "required") {
                    if (!value.is_array())
                        return schema_error(where, "'required' must be an array");
                    for (const json& name : value) {
                        if (!name.is_string())
                            return schema_error(where, "'required' entries must be strings");
                        required.insert(name.get<std::string>());
                    }
                } else if (key == "additionalProperties") {
                    if (value == false) closed = true;
                } else {
                    return schema_error(where, "keyword '" + key +
                                                   "' inside 'allOf' is not supported (only "
                                                   "object schemas with properties merge)");
                }
            }
        }
        merged["properties"] = properties;
        merged["required"] = json(std::vector<std::string>(required.begin(), required.end()));
        if (closed) merged["additionalProperties"] = false;
        return merged;
    }

    Expected<RuleId> compile_typed(const json& schema, const std::string& type,
                                   const std::string& path) {
        if (type == "null") return builder.define(fresh("null"), {literal("null")});
        if (type == "boolean") {
            return builder.define(fresh("boolean"), {literal("true"), literal("false")});
        }
        if (type == "number") {
            for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
                if (schema.contains(key)) {
                    return schema_error(
                        path, std::string("'") + key + "' is supported for integers only");
                }
            }
            return number_rule();
        }
        if (type == "integer") return compile_integer(schema, path);
        if (type == "string") return compile_string(schema, path);
        if (type == "array") return compile_array(schema, path);
        return compile_object(schema, path);
    }

    Expected<RuleId> compile_integer(const json& schema, const std::string& path) {
        CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> lo,
                              integer_bound(schema, "minimum", path, true, false));
        CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> hi,
                              integer_bound(schema, "maximum", path, false, false));
        CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> xlo,
                              integer_bound(schema, "exclusiveMinimum", path, true, true));
        CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> xhi,
                              integer_bound(schema, "exclusiveMaximum", path, false, true));
        if (xlo) lo = lo ? std::max(*lo, *xlo) : *xlo;
        if (xhi) hi = hi ? std::min(*hi, *xhi) : *xhi;
        if (!lo && !hi) return integer_rule();
        if (lo && hi && *lo > *hi) {
            return schema_error(path, "'minimum' is greater than 'maximum': no integer fits");
        }
        std::vector<Sequence> alternatives;
        if (!lo || *lo < 0) {
            // Negative part: -[max(1, -hi) .. -lo].
            const uint64_t small = hi && *hi < 0 ? static_cast<uint64_t>(-*hi) : 1;
            const std::optional<uint64_t> large =
                lo ? std::optional<uint64_t>(static_cast<uint64_t>(-*lo)) : std::nullopt;
            nonnegative_range(small, large, literal("-"), alternatives);
        }
        if (!hi || *hi >= 0) {
            const uint64_t small = lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0;
            const std::optional<uint64_t> large =
                hi ? std::optional<uint64_t>(static_cast<uint64_t>(*hi)) : std::nullopt;
            nonnegative_range(small, large, {}, alternatives);
        }
        return builder.define(fresh("integer-range"), std::move(alternatives));
    }

    Expected<std::optional<uint32_t>> count_keyword(const json& schema, const std::string& key,
                                                    const std::string& path, int64_t cap) {
        auto it = schema.find(key);
        if (it == schema.end()) return std::optional<uint32_t>{};
        if (!it->is_number_integer() || it->get<int64_t>() < 0) {
            return schema_error(path, "'" + key + "' must be a non-negative integer");
        }
        if (it->get<int64_t>() > cap) {
            return schema_error(path,
                                "'" + key + "' above " + std::to_string(cap) + " is not supported");
        }
        return std::optional<uint32_t>(static_cast<uint32_t>(it->get<int64_t>()));
    }

    Expected<RuleId> compile_string(const json& schema, const std::string& path) {
        CRIA_ASSIGN_OR_RETURN(std::optional<uint32_t> min_length,
                              count_keyword(schema, "minLength", path, kMaxStringLengthBound));
        CRIA_ASSIGN_OR_RETURN(std::optional<uint32_t> max_length,
                              count_keyword(schema, "maxLength", path, kMaxStringLengthBound));
        const bool has_length = min_length || max_length;
        if (min_length && max_length && *min_length > *max_length) {
            return schema_error(path, "'minLength' is greater than 'maxLength'");
        }
        if (auto it = schema.find("format"); it != schema.end()) {
            if (!it->is_string()) return schema_error(path, "'format' must be a string");
            if (has_length || schema.contains("pattern")) {
                return schema_error(path,
                                    "'format' together with 'pattern', 'minLength' or "
                                    "'maxLength' is not supported");
            }
            return compile_format(it->get<std::string>(), path);
        }
        if (auto it = schema.find("pattern"); it != schema.end()) {
            if (!it->is_string()) return schema_error(path, "'pattern' must be a string");
            if (has_length) {
                return schema_error(path,
                                    "'pattern' together with 'minLength' or 'maxLength' "
                                    "is not supported");
            }
            Expected<RuleId> body = compile_pattern(builder, it->get<std::string>(), string_char());
            if (!body) return schema_error(path, "'pattern': " + body.status().message());
            return builder.define(
                fresh("pattern"),
                {Sequence{Element::byte('"'), Element::ref(*body), Element::byte('"')}});
        }
        return string_rule(min_length.value_or(0), max_length);
    }

    Expected<RuleId> compile_format(const std::string& format, const std::string& path) {
        const Element digit = Element::byte_set(ByteSet::range('0', '9'));
        auto digits = [&](int n) { return Sequence(static_cast<size_t>(n), digit); };
        auto q = [&](RuleId body) {
            return builder.define(fresh("format"), {Sequence{Element::byte('"'), Element::ref(body),
                                                             Element::byte('"')}});
        };
        auto date = [&] {
            return shared_rule("date", [&] {
                const Element d19 = Element::byte_set(ByteSet::range('1', '9'));
                // Days valid in every month, then 29/30, then 31. February stops at 28 so that
                // no leap-year reasoning is needed.
                const RuleId day28 = builder.define(
                    "day28",
                    {Sequence{Element::byte('0'), d19}, Sequence{Element::byte('1'), digit},
                     Sequence{Element::byte('2'), Element::byte_set(ByteSet::range('0', '8'))}});
                const RuleId day30 = builder.define(
                    "day30", {seq(Element::ref(day28)), literal("29"), literal("30")});
                const RuleId day31 =
                    builder.define("day31", {seq(Element::ref(day30)), literal("31")});
                std::vector<Sequence> month_days;
                for (const char* m : {"01", "03", "05", "07", "08", "10", "12"}) {
                    month_days.push_back(
                        concat({literal(m), literal("-"), seq(Element::ref(day31))}));
                }
                for (const char* m : {"04", "06", "09", "11"}) {
                    month_days.push_back(
                        concat({literal(m), literal("-"), seq(Element::ref(day30))}));
                }
                month_days.push_back(concat({literal("02-"), seq(Element::ref(day28))}));
                const RuleId md = builder.define("month-day", std::move(month_days));
                return builder.define("date",
                                      {concat({digits(4), literal("-"), seq(Element::ref(md))})});
            });
        };
        auto time = [&] {
            return shared_rule("time", [&] {
                const RuleId hour = builder.define(
                    "hour",
                    {Sequence{Element::byte_set(ByteSet::range('0', '1')), digit},
                     Sequence{Element::byte('2'), Element::byte_set(ByteSet::range('0', '3'))}});
                const Sequence minute = {Element::byte_set(ByteSet::range('0', '5')), digit};
                const RuleId fraction = builder.repeat("time-fraction", seq(digit), 1, 6);
                const RuleId opt_fraction = builder.define(
                    "time-opt-fraction",
                    {Sequence{}, Sequence{Element::byte('.'), Element::ref(fraction)}});
                ByteSet sign;
                sign.add('+');
                sign.add('-');
                const RuleId offset = builder.define(
                    "time-offset",
                    {literal("Z"), concat({seq(Element::byte_set(sign)), seq(Element::ref(hour)),
                                           literal(":"), minute})});
                return builder.define(
                    "time",
                    {concat({seq(Element::ref(hour)), literal(":"), minute, literal(":"), minute,
                             seq(Element::ref(opt_fraction)), seq(Element::ref(offset))})});
            });
        };
        if (format == "date") return q(date());
        if (format == "time") return q(time());
        if (format == "date-time") {
            const RuleId dt = builder.define(
                fresh("date-time"),
                {Sequence{Element::ref(date()), Element::byte('T'), Element::ref(time())}});
            return q(dt);
        }
        if (format == "uuid") {
            const Element h = Element::ref(hex());
            Sequence body;
            for (int group : {8, 4, 4, 4, 12}) {
                if (!body.empty()) body.push_back(Element::byte('-'));
                for (int i = 0; i < group; ++i) body.push_back(h);
            }
            return q(builder.define(fresh("uuid"), {body}));
        }
        return schema_error(
            path,
            "'format' '" + format + "' is not supported (supported: date, time, date-time, uuid)");
    }

    Expected<RuleId> compile_array(const json& schema, const std::string& path) {
        CRIA_ASSIGN_OR_RETURN(std::optional<uint32_t> min_items,
                              count_keyword(schema, "minItems", path, kMaxItemsBound));
        CRIA_ASSIGN_OR_RETURN(std::optional<uint32_t> max_items,
                              count_keyword(schema, "maxItems", path, kMaxItemsBound));
        if (min_items && max_items && *min_items > *max_items) {
            return schema_error(path, "'minItems' is greater than 'maxItems'");
        }
        std::vector<RuleId> prefix;
        if (auto it = schema.find("prefixItems"); it != schema.end()) {
            if (!it->is_array()) return schema_error(path, "'prefixItems' must be an array");
            for (size_t i = 0; i < it->size(); ++i) {
                CRIA_ASSIGN_OR_RETURN(
                    const RuleId item,
                    compile((*it)[i], child_path(path, "prefixItems/" + std::to_string(i))));
                prefix.push_back(item);
            }
        }
        std::optional<RuleId> items;
        if (auto it = schema.find("items"); it != schema.end()) {
            if (!(it->is_boolean() && !it->get<bool>())) {
                if (it->is_array()) {
                    return schema_error(path,
                                        "'items' as an array is not supported (use "
                                        "'prefixItems')");
                }
                CRIA_ASSIGN_OR_RETURN(const RuleId item, compile(*it, child_path(path, "items")));
                items = item;
            }
        } else {
            items = any_value();
        }
        const uint32_t lo = min_items.value_or(0);
        if (!items && lo > prefix.size()) {
            return schema_error(path, "'minItems' needs more items than 'prefixItems' allows");
        }
        return array_rule(prefix, items, lo, max_items);
    }

    Expected<RuleId> compile_object(const json& schema, const std::string& path) {
        const json empty = json::object();
        const json* properties = &empty;
        if (auto it = schema.find("properties"); it != schema.end()) {
            if (!it->is_object()) return schema_error(path, "'properties' must be an object");
            if (it->size() > kMaxProperties) {
                return schema_error(path, "more than " + std::to_string(kMaxProperties) +
                                              " 'properties' is not supported");
            }
            properties = &*it;
        }
        std::set<std::string> required;
        if (auto it = schema.find("required"); it != schema.end()) {
            if (!it->is_array()) return schema_error(path, "'required' must be an array");
            for (const json& name : *it) {
                if (!name.is_string()) {
                    return schema_error(path, "'required' entries must be strings");
                }
                if (!properties->contains(name.get<std::string>())) {
                    return schema_error(path, "'required' names '" + name.get<std::string>() +
                                                  "', which 'properties' does not declare");
                }
                required.insert(name.get<std::string>());
            }
        }
        const json* additional = nullptr;
        if (auto it = schema.find("additionalProperties"); it != schema.end()) {
            additional = &*it;
        }
        const Element w = Element::ref(ws());

        if (properties->empty()) {
            if (additional != nullptr && additional->is_boolean() && !additional->get<bool>()) {
                return builder.define(fresh("empty-object"),
                                      {Sequence{Element::byte('{'), w, Element::byte('}')}});
            }
            if (additional == nullptr || additional->is_boolean()) return any_object();
            CRIA_ASSIGN_OR_RETURN(const RuleId value,
                                  compile(*additional, child_path(path, "additionalProperties")));
            return free_object(value);
        }
        if (additional != nullptr && !additional->is_boolean()) {
            // Validate the schema even though declared-only objects never need it.
            CRIA_ASSIGN_OR_RETURN(const RuleId unused,
                                  compile(*additional, child_path(path, "additionalProperties")));
            (void)unused;
        }

        // member_j ::= "key" ws ":" ws value ws
        std::vector<Sequence> members;
        std::vector<bool> is_required;
        for (const auto& [name, sub] : properties->items()) {
            CRIA_ASSIGN_OR_RETURN(const RuleId value,
                                  compile(sub, child_path(path, "properties/" + name)));
            members.push_back(concat({literal(json(name).dump()),
                                      Sequence{w, Element::byte(':'), w, Element::ref(value), w}}));
            is_required.push_back(required.count(name) != 0);
        }
        const size_t n = members.size();
        // rest_i: members from i on, after at least one was emitted (so each starts with ",").
        // A member j >= i may come next only when no required member lies in [i, j).
        std::vector<RuleId> rest(n + 1);
        const std::string base = fresh("object");
        for (size_t i = n + 1; i-- > 0;) {
            rest[i] = builder.declare(base + "-rest" + std::to_string(i));
            bool required_skipped = false;
            for (size_t j = i; j < n && !required_skipped; ++j) {
                builder.add_alternative(rest[i],
                                        concat({Sequence{Element::byte(','), w}, members[j],
                                                seq(Element::ref(rest[j + 1]))}));
                required_skipped = is_required[j];
            }
            if (!required_skipped) builder.add_alternative(rest[i], {});
        }
        const RuleId body = builder.declare(base + "-body");
        bool required_skipped = false;
        for (size_t j = 0; j < n && !required_skipped; ++j) {
            builder.add_alternative(body, concat({members[j], seq(Element::ref(rest[j + 1]))}));
            required_skipped = is_required[j];
        }
        if (!required_skipped) builder.add_alternative(body, {});
        return builder.define(
            base, {Sequence{Element::byte('{'), w, Element::ref(body), Element::byte('}')}});
    }
};

JsonSchemaCompiler::JsonSchemaCompiler(GrammarBuilder& builder)
    : impl_(std::make_unique<Impl>(builder)) {}
JsonSchemaCompiler::~JsonSchemaCompiler() = default;

Expected<RuleId> JsonSchemaCompiler::compile(const nlohmann::ordered_json& schema) {
    impl_->root = &schema;
    impl_->ref_rules.clear();
    return impl_->compile(schema, "#");
}

RuleId JsonSchemaCompiler::whitespace() {
    return impl_->ws();
}
RuleId JsonSchemaCompiler::any_object() {
    return impl_->any_object();
}

namespace {

Expected<std::shared_ptr<const Grammar>> finish(GrammarBuilder& builder, JsonSchemaCompiler& c,
                                                RuleId value) {
    // Leading whitespace is allowed (models often start with a newline); nothing may follow the
    // value, so generation ends as soon as it is complete.
    const RuleId root =
        builder.define("root", {Sequence{Element::ref(c.whitespace()), Element::ref(value)}});
    return builder.build(root);
}

}  // namespace

Expected<std::shared_ptr<const Grammar>> compile_json_object_grammar() {
    GrammarBuilder builder;
    JsonSchemaCompiler compiler(builder);
    return finish(builder, compiler, compiler.any_object());
}

Expected<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::ordered_json& schema) {
    GrammarBuilder builder;
    JsonSchemaCompiler compiler(builder);
    CRIA_ASSIGN_OR_RETURN(const RuleId value, compiler.compile(schema));
    return finish(builder, compiler, value);
}

}  // namespace cria::grammar
