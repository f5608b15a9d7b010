// Values of Ollama's Go-template dialect: what Go's text/template sees through reflection when
// Ollama hands it a map of strings, bools, message structs, tool structs and decoded JSON.
// Printing follows Go's fmt %v (with the String() methods Ollama's types define) and JSON
// follows Go's encoding/json, because templates print both and prompts must match byte for byte.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cria::chat::gotmpl {

inline constexpr uint32_t kNoOffset = UINT32_MAX;

// Every failure inside parsing and execution; converted to a Status at the public boundary.
class Error : public std::exception {
  public:
    Error(std::string message, uint32_t offset = kNoOffset, bool limit = false)
        : message_(std::move(message)), offset_(offset), limit_(limit) {}
    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& message() const { return message_; }
    uint32_t offset() const { return offset_; }  // byte offset into the source, or kNoOffset
    void set_offset(uint32_t offset) { offset_ = offset; }
    bool is_limit() const { return limit_; }  // a sandbox cap was exceeded

  private:
    std::string message_;
    uint32_t offset_;
    bool limit_;
};

enum class Kind { kNil, kBool, kInt, kFloat, kString, kList, kMap, kStruct };

// How a value prints with %v: Go's default form, or a String() method of Ollama's types.
enum class Printing {
    kGo,                    // fmt's default: [a b], map[k:v], {f1 f2}
    kJson,                  // String() returns the compact JSON
    kJsonNilAsEmptyObject,  // as kJson, but a nil map prints {}
    kPropertyType,          // one type prints bare ("string"), several as [string null]
};

struct Composite;

struct Value {
    Kind kind = Kind::kNil;
    Printing printing = Printing::kGo;
    bool nil_container = false;  // a nil slice or map: prints [] / map[], marshals null
    bool boolean = false;
    int64_t integer = 0;
    double number = 0;
    std::shared_ptr<const std::string> text;
    std::shared_ptr<const Composite> composite;

    static Value nil() { return Value{}; }
    static Value of_bool(bool b);
    static Value of_int(int64_t i);
    static Value of_float(double f);
    static Value of_string(std::string s);
    static Value list(std::vector<Value> items, Printing printing = Printing::kGo);
    static Value nil_list(Printing printing = Printing::kGo);
    // A Go map: keys come out sorted, as Go's fmt, encoding/json and range visit them.
    static Value map(std::vector<std::pair<std::string, Value>> entries,
                     Printing printing = Printing::kGo);
    // An insertion-ordered map (Ollama's ordered maps): kept in the order given.
    static Value ordered_map(std::vector<std::pair<std::string, Value>> entries);
    static Value nil_map(Printing printing = Printing::kGo);

    const std::string& str() const { return *text; }
    size_t size() const;  // list or map length
};

struct StructField {
    std::string name;       // the Go field name templates use (.Role)
    std::string json_name;  // the name encoding/json writes
    bool omit_empty = false;
    Value value;
};

struct Composite {
    std::string type_name;            // struct: the Go type, for error messages
    std::vector<Value> values;        // list items, map values, struct field values
    std::vector<std::string> keys;    // map keys (in iteration order)
    std::vector<StructField> fields;  // struct fields, in declaration order
};

// A struct value of type `type_name` with the given fields.
Value make_struct(std::string type_name, std::vector<StructField> fields,
                  Printing printing = Printing::kGo);

// The field of a struct or the entry of a map; nullptr when absent.
const Value* find_field(const Value& receiver, const std::string& name);

// Go's truth: false, 0, nil, and empty strings, slices and maps are false; structs are true.
bool is_true(const Value& value);

// The Go type name as fmt's %T would say it, for messages.
std::string type_name(const Value& value);

// fmt.Sprint of one value (%v).
std::string print_value(const Value& value);

// encoding/json's Marshal: compact, HTML characters escaped, map keys sorted.
std::string marshal_json(const Value& value);
// The JSON text of one string, as encoding/json writes it (quotes included).
void append_json_string(std::string& out, const std::string& text);

// Go's %v form of a float64 (strconv 'g' with the shortest digits: 1e+06, 0.5, 1.5e-07).
std::string format_float_v(double value);

// JSON decoded into Go's `any`: objects become map[string]any, numbers float64.
Value from_json(const nlohmann::ordered_json& json);
Value from_json(const nlohmann::json& json);

}  // namespace cria::chat::gotmpl
