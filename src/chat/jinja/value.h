// The values a template computes with, modelled on the Python objects Jinja sees: None, bool,
// int, float, str, list/tuple, dict (insertion ordered) and a few callable/attribute objects
// (macros, namespaces, the loop variable). Strings, lists and dicts are immutable once built
// (Hugging Face renders with Jinja's ImmutableSandboxedEnvironment), so copies share storage.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/jinja/error.h"

namespace cria::chat::jinja {

class Value;
class Dict;
class Object;
class Interpreter;
struct CallArgs;

using List = std::vector<Value>;

// Deepest nesting of lists/dicts a value may have (context JSON and template-built values).
inline constexpr int kMaxNestingDepth = 256;

enum class ValueKind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,  // also tuples (Value::is_tuple)
    kDict,
    kObject,
};

class Value {
  public:
    // A default Value is Undefined with no explanation.
    Value() = default;
    Value(bool b) : kind_(ValueKind::kBool), flag_(b) {}      // NOLINT: implicit by design
    Value(int64_t i) : kind_(ValueKind::kInt), int_(i) {}     // NOLINT
    Value(int i) : kind_(ValueKind::kInt), int_(i) {}         // NOLINT
    Value(double f) : kind_(ValueKind::kFloat), float_(f) {}  // NOLINT
    Value(std::string s);                                     // NOLINT
    Value(std::string_view s) : Value(std::string(s)) {}      // NOLINT
    Value(const char* s) : Value(std::string(s)) {}           // NOLINT

    static Value none();
    // Undefined that raises `kind` with `message` when misused (printing it gives "").
    static Value undefined(std::string message, ErrorKind kind = ErrorKind::kUndefined);
    static Value list(List items);
    static Value tuple(List items);
    static Value dict(Dict entries);
    static Value object(std::shared_ptr<Object> object);

    ValueKind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
    bool is_none() const { return kind_ == ValueKind::kNone; }
    bool is_bool() const { return kind_ == ValueKind::kBool; }
    bool is_int() const { return kind_ == ValueKind::kInt; }
    bool is_float() const { return kind_ == ValueKind::kFloat; }
    // Python's numbers.Number: bool, int and float.
    bool is_number() const { return is_bool() || is_int() || is_float(); }
    // Python ints, where bool counts as an int.
    bool is_integral() const { return is_bool() || is_int(); }
    bool is_string() const { return kind_ == ValueKind::kString; }
    bool is_list() const { return kind_ == ValueKind::kList; }
    bool is_tuple() const { return kind_ == ValueKind::kList && flag_; }
    bool is_dict() const { return kind_ == ValueKind::kDict; }
    bool is_object() const { return kind_ == ValueKind::kObject; }

    bool as_bool() const { return flag_; }
    // The integer value of an int or bool.
    int64_t as_int() const { return is_bool() ? (flag_ ? 1 : 0) : int_; }
    // The value of any number as a double.
    double as_double() const { return is_float() ? float_ : static_cast<double>(as_int()); }
    const std::string& as_string() const;
    const List& as_list() const;
    const Dict& as_dict() const;
    Object& as_object() const;
    std::shared_ptr<Object> object_ptr() const;

    // The message an Undefined raises when misused, and the Python exception class.
    const std::string& undefined_message() const;
    ErrorKind undefined_kind() const;
    // Raises the Undefined's error (only valid on an Undefined).
    [[noreturn]] void fail_undefined() const;

    // Python truthiness.
    bool truthy() const;
    // Python's type(x).__name__, for error messages ("int", "str", "NoneType", ...).
    std::string type_name() const;
    // True when both refer to the same shared storage (Python's `is` for containers).
    bool same_storage(const Value& other) const { return ptr_ == other.ptr_; }
    // Nesting depth of lists and dicts (0 for everything else). Capped at kMaxNestingDepth when
    // containers are built, so that recursive walks and destruction stay shallow.
    int depth() const { return depth_; }

  private:
    ValueKind kind_ = ValueKind::kUndefined;
    bool flag_ = false;  // the bool value, or "is a tuple" for lists
    uint16_t depth_ = 0;
    union {
        int64_t int_ = 0;
        double float_;
    };
    // The string, List, Dict, Object or undefined message, depending on kind_.
    std::shared_ptr<void> ptr_;
};

// An insertion-ordered dict. Keys are hashable scalars (str, int, float, bool, None) compared
// with Python's rules (1 == 1.0 == True).
class Dict {
  public:
    size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }

    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    // Inserts, or replaces the value in place (keeping the key's position) when present.
    void set(Value key, Value value);

  private:
    static constexpr size_t kIndexThreshold = 8;  // linear scans are faster below this
    static constexpr size_t kAbsent = SIZE_MAX;
    size_t position_of(std::string_view key) const;
    size_t position_of(const Value& key) const;
    void index_entry(size_t position);
    // Canonical hash key of a non-string key ("i42", "f0.5", "n"); throws on unhashable keys.
    static std::string canonical_key(const Value& key);

    std::vector<std::pair<Value, Value>> entries_;
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // Built once the dict grows past kIndexThreshold: key -> position in entries_.
    std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> string_index_;
    std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> other_index_;
};

// Positional and keyword arguments of a call, as Python passes them.
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
};

// Objects with attributes or behaviour beyond plain data: macros, namespace(), loop, cycler...
class Object {
  public:
    virtual ~Object() = default;
    // The Python-visible type name ("Namespace", "LoopContext", "Macro", ...).
    virtual std::string type_name() const = 0;
    // Attribute lookup; an Undefined when there is no such attribute.
    virtual Value get_attr(const Value& self, std::string_view name) const;
    virtual bool is_callable() const { return false; }
    virtual Value call(Interpreter& interp, CallArgs& args);
    // Calls the method `name` that get_attr handed out as a bound method.
    virtual Value call_method(Interpreter& interp, std::string_view name, CallArgs& args);
    // str() of the object.
    virtual std::string to_str() const;
    // The attributes of a namespace() object (printed as "<Namespace {...}>"), else null.
    virtual const Dict* namespace_attrs() const { return nullptr; }
    // Called at the end of a rendering to break reference cycles (namespaces can hold
    // themselves).
    virtual void release() {}
};

}  // namespace cria::chat::jinja
