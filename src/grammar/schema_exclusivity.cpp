#include "grammar/schema_exclusivity.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cria::grammar {

namespace {

using json = nlohmann::ordered_json;

constexpr int kMaxDepth = 32;
constexpr int kMaxRefHops = 16;
// Value comparisons and sub-proofs one schemas_exclusive() call may spend.
constexpr int64_t kWorkBudget = 200'000;

// Inclusive bounds; nullopt is unbounded.
struct Range {
    std::optional<double> lo;
    std::optional<double> hi;
};

bool ranges_disjoint(const Range& a, const Range& b) {
    return (a.hi && b.lo && *a.hi < *b.lo) || (b.hi && a.lo && *b.hi < *a.lo);
}

bool in_range(double value, const Range& range) {
    return (!range.lo || value >= *range.lo) && (!range.hi || value <= *range.hi);
}

bool is_integral(const json& value) {
    if (value.is_number_integer()) return true;
    if (!value.is_number_float()) return false;
    const double d = value.get<double>();
    return std::isfinite(d) && d == std::floor(d);
}

// The JSON Schema type names a value has ("integer" values are also "number"s).
bool value_has_type(const json& value, const std::string& type) {
    if (type == "integer") return value.is_number() && is_integral(value);
    if (type == "number") return value.is_number();
    if (type == "string") return value.is_string();
    if (type == "boolean") return value.is_boolean();
    if (type == "null") return value.is_null();
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    return false;
}

size_t utf8_length(const std::string& text) {
    size_t n = 0;
    for (char c : text) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    return n;
}

std::optional<double> number_at(const json& schema, const char* key) {
    auto it = schema.find(key);
    if (it == schema.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

// The integers a schema's numeric bounds allow.
Range integer_range(const json& s) {
    Range r;
    if (auto v = number_at(s, "minimum")) r.lo = std::ceil(*v);
    if (auto v = number_at(s, "exclusiveMinimum")) {
        const double lo = std::floor(*v) + 1;
        r.lo = r.lo ? std::max(*r.lo, lo) : lo;
    }
    if (auto v = number_at(s, "maximum")) r.hi = std::floor(*v);
    if (auto v = number_at(s, "exclusiveMaximum")) {
        const double hi = std::ceil(*v) - 1;
        r.hi = r.hi ? std::min(*r.hi, hi) : hi;
    }
    return r;
}

// The numbers (integral or not) a schema's numeric bounds allow, exclusive bounds widened to
// inclusive ones (conservative).
Range number_range(const json& s) {
    Range r;
    r.lo = number_at(s, "minimum");
    if (auto v = number_at(s, "exclusiveMinimum")) r.lo = r.lo ? std::max(*r.lo, *v) : *v;
    r.hi = number_at(s, "maximum");
    if (auto v = number_at(s, "exclusiveMaximum")) r.hi = r.hi ? std::min(*r.hi, *v) : *v;
    return r;
}

Range count_range(const json& s, const char* min_key, const char* max_key) {
    Range r;
    r.lo = number_at(s, min_key);
    r.hi = number_at(s, max_key);
    return r;
}

const json* member(const json& s, const char* key) {
    if (!s.is_object()) return nullptr;
    auto it = s.find(key);
    return it == s.end() ? nullptr : &*it;
}

std::set<std::string> required_names(const json& s) {
    std::set<std::string> names;
    if (const json* required = member(s, "required"); required && required->is_array()) {
        for (const json& name : *required) {
            if (name.is_string()) names.insert(name.get<std::string>());
        }
    }
    return names;
}

bool is_closed_object(const json& s) {
    const json* additional = member(s, "additionalProperties");
    return additional != nullptr && additional->is_boolean() && !additional->get<bool>();
}

class Prover {
  public:
    explicit Prover(const json& root) : root_(root) {}

    bool exclusive(const json& a_in, const json& b_in, int depth) {
        if (!spend() || depth > kMaxDepth) return false;
        const json* a = resolve(a_in);
        const json* b = resolve(b_in);
        if (a == nullptr || b == nullptr) return false;
        if (a->is_boolean()) return !a->get<bool>();
        if (b->is_boolean()) return !b->get<bool>();
        if (!a->is_object() || !b->is_object()) return false;

        // Unions: every branch must be exclusive; an intersection: one part suffices.
        for (const json* s : {a, b}) {
            const json* other = s == a ? b : a;
            for (const char* key : {"anyOf", "oneOf"}) {
                if (const json* branches = member(*s, key); branches && branches->is_array()) {
                    for (const json& branch : *branches) {
                        if (!exclusive(branch, *other, depth + 1)) return false;
                    }
                    return true;
                }
            }
            if (const json* parts = member(*s, "allOf"); parts && parts->is_array()) {
                for (const json& part : *parts) {
                    if (exclusive(part, *other, depth + 1)) return true;
                }
                json rest = *s;
                rest.erase("allOf");
                return exclusive(rest, *other, depth + 1);
            }
        }

        // Listed values: each must fail the other schema.
        for (const json* s : {a, b}) {
            const json* other = s == a ? b : a;
            if (auto values = listed_values(*s)) {
                for (const json& value : *values) {
                    if (!fails(value, *other, depth + 1)) return false;
                }
                return true;
            }
        }

        const json* type_a = member(*a, "type");
        const json* type_b = member(*b, "type");
        if (type_a == nullptr || type_b == nullptr) return false;
        const std::set<std::string> types_a = type_names(*type_a);
        const std::set<std::string> types_b = type_names(*type_b);
        if (types_a.empty() || types_b.empty()) return false;
        for (const std::string& t : shared_types(types_a, types_b)) {
            if (!exclusive_within(t, *a, *b, depth)) return false;
        }
        return true;
    }

  private:
    bool spend() { return --budget_ >= 0; }

    // Follows local $refs; nullptr when one cannot be followed.
    const json* resolve(const json& schema) {
        const json* s = &schema;
        for (int hops = 0; s->is_object() && s->contains("$ref"); ++hops) {
            const json& ref = s->at("$ref");
            if (hops >= kMaxRefHops || !ref.is_string()) return nullptr;
            const std::string text = ref.get<std::string>();
            if (text.empty() || text[0] != '#') return nullptr;
            try {
                const json::json_pointer pointer(text.substr(1));
                if (!root_.contains(pointer)) return nullptr;
                s = &root_.at(pointer);
            } catch (const json::exception&) {
                return nullptr;
            }
        }
        return s;
    }

    static std::optional<std::vector<json>> listed_values(const json& s) {
        if (const json* value = member(s, "const")) return std::vector<json>{*value};
        if (const json* values = member(s, "enum"); values && values->is_array()) {
            return std::vector<json>(values->begin(), values->end());
        }
        return std::nullopt;
    }

    static std::set<std::string> type_names(const json& type) {
        std::set<std::string> names;
        if (type.is_string()) names.insert(type.get<std::string>());
        if (type.is_array()) {
            for (const json& t : type) {
                if (t.is_string()) names.insert(t.get<std::string>());
            }
        }
        return names;
    }

    // The types both sets allow; an integer is also a number.
    static std::set<std::string> shared_types(const std::set<std::string>& a,
                                              const std::set<std::string>& b) {
        std::set<std::string> shared;
        for (const std::string& t : a) {
            if (b.count(t) != 0) shared.insert(t);
        }
        if ((a.count("integer") && b.count("number")) || (a.count("number") && b.count("integer")))
            shared.insert("integer");
        return shared;
    }

    // No value of type `type` validates against both.
    bool exclusive_within(const std::string& type, const json& a, const json& b, int depth) {
        if (type == "integer") return ranges_disjoint(integer_range(a), integer_range(b));
        if (type == "number") return ranges_disjoint(number_range(a), number_range(b));
        if (type == "string") {
            return ranges_disjoint(count_range(a, "minLength", "maxLength"),
                                   count_range(b, "minLength", "maxLength"));
        }
        if (type == "array") {
            const Range count_a = count_range(a, "minItems", "maxItems");
            const Range count_b = count_range(b, "minItems", "maxItems");
            if (ranges_disjoint(count_a, count_b)) return true;
            const json* prefix_a = member(a, "prefixItems");
            const json* prefix_b = member(b, "prefixItems");
            if (!prefix_a || !prefix_b || !prefix_a->is_array() || !prefix_b->is_array())
                return false;
            // An index both arrays must fill, with exclusive item schemas.
            const double must = std::min(count_a.lo.value_or(0), count_b.lo.value_or(0));
            for (size_t i = 0; i < std::min(prefix_a->size(), prefix_b->size()); ++i) {
                if (static_cast<double>(i) >= must) break;
                if (exclusive((*prefix_a)[i], (*prefix_b)[i], depth + 1)) return true;
            }
            return false;
        }
        if (type == "object") {
            const std::set<std::string> required_a = required_names(a);
            const std::set<std::string> required_b = required_names(b);
            const json* props_a = member(a, "properties");
            const json* props_b = member(b, "properties");
            auto declared = [](const json* props, const std::string& name) {
                return props != nullptr && props->is_object() && props->contains(name);
            };
            for (const std::string& name : required_a) {
                if (is_closed_object(b) && !declared(props_b, name)) return true;
                if (required_b.count(name) != 0 && declared(props_a, name) &&
                    declared(props_b, name) &&
                    exclusive(props_a->at(name), props_b->at(name), depth + 1))
                    return true;
            }
            for (const std::string& name : required_b) {
                if (is_closed_object(a) && !declared(props_a, name)) return true;
            }
            return false;
        }
        return false;  // boolean, null: nothing tells two such schemas apart here
    }

    // `value` provably fails `schema_in`.
    bool fails(const json& value, const json& schema_in, int depth) {
        if (!spend() || depth > kMaxDepth) return false;
        const json* s = resolve(schema_in);
        if (s == nullptr) return false;
        if (s->is_boolean()) return !s->get<bool>();
        if (!s->is_object()) return false;
        for (const char* key : {"anyOf", "oneOf"}) {
            if (const json* branches = member(*s, key); branches && branches->is_array()) {
                bool all_fail = true;
                for (const json& branch : *branches) {
                    if (!fails(value, branch, depth + 1)) {
                        all_fail = false;
                        break;
                    }
                }
                if (all_fail) return true;
            }
        }
        if (const json* parts = member(*s, "allOf"); parts && parts->is_array()) {
            for (const json& part : *parts) {
                if (fails(value, part, depth + 1)) return true;
            }
        }
        if (auto values = listed_values(*s)) {
            bool listed = false;
            for (const json& allowed : *values) {
                if (!spend()) return false;
                if (allowed == value) {
                    listed = true;
                    break;
                }
            }
            if (!listed) return true;
        }
        if (const json* type = member(*s, "type")) {
            const std::set<std::string> types = type_names(*type);
            if (!types.empty() && std::none_of(types.begin(), types.end(), [&](const auto& t) {
                    return value_has_type(value, t);
                }))
                return true;
        }
        if (value.is_number()) {
            const double v = value.get<double>();
            if (!in_range(v, number_range(*s))) return true;
            if (member(*s, "exclusiveMinimum") && v <= *number_at(*s, "exclusiveMinimum"))
                return true;
            if (member(*s, "exclusiveMaximum") && v >= *number_at(*s, "exclusiveMaximum"))
                return true;
        }
        if (value.is_string() &&
            !in_range(static_cast<double>(utf8_length(value.get<std::string>())),
                      count_range(*s, "minLength", "maxLength")))
            return true;
        if (value.is_array()) {
            if (!in_range(static_cast<double>(value.size()),
                          count_range(*s, "minItems", "maxItems")))
                return true;
            if (const json* prefix = member(*s, "prefixItems"); prefix && prefix->is_array()) {
                for (size_t i = 0; i < std::min(prefix->size(), value.size()); ++i) {
                    if (fails(value[i], (*prefix)[i], depth + 1)) return true;
                }
            }
        }
        if (value.is_object()) {
            for (const std::string& name : required_names(*s)) {
                if (!value.contains(name)) return true;
            }
            const json* props = member(*s, "properties");
            for (const auto& [name, item] : value.items()) {
                const bool declared = props && props->is_object() && props->contains(name);
                if (declared && fails(item, props->at(name), depth + 1)) return true;
                if (!declared && is_closed_object(*s)) return true;
            }
        }
        return false;
    }

    const json& root_;
    int64_t budget_ = kWorkBudget;
};

}  // namespace

bool schemas_exclusive(const json& root, const json& a, const json& b) {
    return Prover(root).exclusive(a, b, 0);
}

}  // namespace cria::grammar
