// A JSON Schema validator for the keywords cria's grammar supports, written independently of
// the grammar compiler so that tests check generated outputs against the schema's meaning
// rather than against the compiler's own reading of it.
#pragma once

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

namespace cria::test {

class SchemaValidator {
  public:
    explicit SchemaValidator(const nlohmann::json& root) : root_(root) {}

    // Empty when `value` validates; otherwise why not.
    std::string validate(const nlohmann::json& value) const { return check(value, root_, "$"); }

  private:
    using json = nlohmann::json;

    static size_t code_points(const std::string& s) {
        size_t n = 0;
        for (unsigned char c : s) n += (c & 0xc0) != 0x80;
        return n;
    }

    static bool is_type(const json& v, const std::string& t) {
        if (t == "object") return v.is_object();
        if (t == "array") return v.is_array();
        if (t == "string") return v.is_string();
        if (t == "boolean") return v.is_boolean();
        if (t == "null") return v.is_null();
        if (t == "number") return v.is_number();
        if (t == "integer") {
            return v.is_number_integer() ||
                   (v.is_number_float() &&
                    v.get<double>() ==
                        static_cast<double>(static_cast<long long>(v.get<double>())));
        }
        return false;
    }

    static bool valid_date(const std::string& s) {
        static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})$)");
        std::smatch m;
        if (!std::regex_match(s, m, re)) return false;
        const int y = std::stoi(m[1]), mo = std::stoi(m[2]), d = std::stoi(m[3]);
        static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (mo < 1 || mo > 12 || d < 1) return false;
        const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return d <= kDays[mo - 1] + (mo == 2 && leap ? 1 : 0);
    }
    static bool valid_time(const std::string& s) {
        static const std::regex re(
            R"(^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([zZ]|[+-]([01]\d|2[0-3]):[0-5]\d)$)");
        return std::regex_match(s, re);
    }

    std::string check(const json& v, const json& s, const std::string& at) const {
        if (s.is_boolean()) return s.get<bool>() ? "" : at + ": false schema";
        if (s.contains("$ref")) {
            const std::string ref = s["$ref"];
            return check(v, root_.at(json::json_pointer(ref.substr(1))), at);
        }
        if (s.contains("type")) {
            bool ok = false;
            if (s["type"].is_string()) {
                ok = is_type(v, s["type"]);
            } else {
                for (const auto& t : s["type"]) ok = ok || is_type(v, t);
            }
            if (!ok) return at + ": wrong type";
        }
        if (s.contains("const") && v != s["const"]) return at + ": const";
        if (s.contains("enum")) {
            bool found = false;
            for (const auto& e : s["enum"]) found = found || e == v;
            if (!found) return at + ": enum";
        }
        if (s.contains("anyOf")) {
            bool any = false;
            for (const auto& sub : s["anyOf"]) any = any || check(v, sub, at).empty();
            if (!any) return at + ": anyOf";
        }
        if (s.contains("oneOf")) {
            int count = 0;
            for (const auto& sub : s["oneOf"]) count += check(v, sub, at).empty();
            if (count != 1) return at + ": oneOf matched " + std::to_string(count);
        }
        if (s.contains("allOf")) {
            for (const auto& sub : s["allOf"]) {
                std::string e = check(v, sub, at);
                if (!e.empty()) return e;
            }
        }
        if (v.is_object()) {
            const json props = s.value("properties", json::object());
            for (const auto& r : s.value("required", json::array())) {
                if (!v.contains(r.get<std::string>())) return at + ": missing " + r.dump();
            }
            for (const auto& [k, sub] : v.items()) {
                if (props.contains(k)) {
                    std::string e = check(sub, props[k], at + "." + k);
                    if (!e.empty()) return e;
                } else if (s.contains("additionalProperties")) {
                    std::string e = check(sub, s["additionalProperties"], at + "." + k);
                    if (!e.empty()) return e;
                }
            }
        }
        if (v.is_array()) {
            const json prefix = s.value("prefixItems", json::array());
            for (size_t i = 0; i < v.size(); ++i) {
                std::string e;
                if (i < prefix.size()) {
                    e = check(v[i], prefix[i], at + "[" + std::to_string(i) + "]");
                } else if (s.contains("items")) {
                    e = check(v[i], s["items"], at + "[" + std::to_string(i) + "]");
                }
                if (!e.empty()) return e;
            }
            if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>())
                return at + ": minItems";
            if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>())
                return at + ": maxItems";
        }
        if (v.is_string()) {
            const std::string str = v.get<std::string>();
            const size_t n = code_points(str);
            if (s.contains("minLength") && n < s["minLength"].get<size_t>())
                return at + ": minLength";
            if (s.contains("maxLength") && n > s["maxLength"].get<size_t>())
                return at + ": maxLength";
            if (s.contains("pattern") &&
                !std::regex_search(
                    str, std::regex(s["pattern"].get<std::string>(), std::regex::ECMAScript))) {
                return at + ": pattern";
            }
            if (s.contains("format")) {
                const std::string f = s["format"];
                bool ok = true;
                if (f == "date") ok = valid_date(str);
                if (f == "time") ok = valid_time(str);
                if (f == "date-time") {
                    const size_t t = str.find('T');
                    ok = t != std::string::npos && valid_date(str.substr(0, t)) &&
                         valid_time(str.substr(t + 1));
                }
                if (f == "uuid") {
                    static const std::regex re(
                        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{"
                        "12}$");
                    ok = std::regex_match(str, re);
                }
                if (!ok) return at + ": format " + f;
            }
        }
        if (v.is_number()) {
            const double x = v.get<double>();
            if (s.contains("minimum") && x < s["minimum"].get<double>()) return at + ": minimum";
            if (s.contains("maximum") && x > s["maximum"].get<double>()) return at + ": maximum";
            if (s.contains("exclusiveMinimum") && x <= s["exclusiveMinimum"].get<double>())
                return at + ": exclusiveMinimum";
            if (s.contains("exclusiveMaximum") && x >= s["exclusiveMaximum"].get<double>())
                return at + ": exclusiveMaximum";
        }
        return "";
    }

    const json& root_;
};

}  // namespace cria::test
