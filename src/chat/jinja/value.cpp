#include "chat/jinja/value.h"

#include <cmath>

#include "chat/jinja/pyformat.h"

namespace cria::chat::jinja {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kSyntax:
            return "TemplateSyntaxError";
        case ErrorKind::kTemplate:
            return "TemplateError";
        case ErrorKind::kUndefined:
            return "UndefinedError";
        case ErrorKind::kType:
            return "TypeError";
        case ErrorKind::kValue:
            return "ValueError";
        case ErrorKind::kZeroDivision:
            return "ZeroDivisionError";
        case ErrorKind::kOverflow:
            return "OverflowError";
        case ErrorKind::kIndex:
            return "IndexError";
        case ErrorKind::kKey:
            return "KeyError";
        case ErrorKind::kSecurity:
            return "SecurityError";
        case ErrorKind::kRuntime:
            return "TemplateRuntimeError";
        case ErrorKind::kAssertion:
            return "TemplateAssertionError";
        case ErrorKind::kFilterArgument:
            return "FilterArgumentError";
        case ErrorKind::kAttribute:
            return "AttributeError";
        case ErrorKind::kLimit:
            return "TemplateLimitError";
    }
    return "Error";
}

void fail(ErrorKind kind, std::string message) {
    throw Error(kind, std::move(message));
}

namespace {

struct UndefinedInfo {
    std::string message;
    ErrorKind kind;
};

struct ListStorage {
    List items;
};

int max_depth_of(const List& items) {
    int depth = 0;
    for (const Value& v : items) depth = std::max(depth, v.depth());
    return depth;
}

}  // namespace

Value::Value(std::string s) : kind_(ValueKind::kString) {
    ptr_ = std::make_shared<std::string>(std::move(s));
}

Value Value::none() {
    Value v;
    v.kind_ = ValueKind::kNone;
    return v;
}

Value Value::undefined(std::string message, ErrorKind kind) {
    Value v;
    v.ptr_ = std::make_shared<UndefinedInfo>(UndefinedInfo{std::move(message), kind});
    return v;
}

Value Value::list(List items) {
    const int depth = max_depth_of(items) + 1;
    if (depth > kMaxNestingDepth) {
        fail(ErrorKind::kLimit, "value nested deeper than " + std::to_string(kMaxNestingDepth));
    }
    Value v;
    v.kind_ = ValueKind::kList;
    v.depth_ = static_cast<uint16_t>(depth);
    v.ptr_ = std::make_shared<List>(std::move(items));
    return v;
}

Value Value::tuple(List items) {
    Value v = list(std::move(items));
    v.flag_ = true;
    return v;
}

Value Value::dict(Dict entries) {
    int depth = 0;
    for (const auto& [key, value] : entries.entries()) depth = std::max(depth, value.depth());
    ++depth;
    if (depth > kMaxNestingDepth) {
        fail(ErrorKind::kLimit, "value nested deeper than " + std::to_string(kMaxNestingDepth));
    }
    Value v;
    v.kind_ = ValueKind::kDict;
    v.depth_ = static_cast<uint16_t>(depth);
    v.ptr_ = std::make_shared<Dict>(std::move(entries));
    return v;
}

Value Value::object(std::shared_ptr<Object> object) {
    Value v;
    v.kind_ = ValueKind::kObject;
    v.ptr_ = std::move(object);
    return v;
}

const std::string& Value::as_string() const {
    return *static_cast<const std::string*>(ptr_.get());
}
const List& Value::as_list() const {
    return *static_cast<const List*>(ptr_.get());
}
const Dict& Value::as_dict() const {
    return *static_cast<const Dict*>(ptr_.get());
}
Object& Value::as_object() const {
    return *static_cast<Object*>(ptr_.get());
}
std::shared_ptr<Object> Value::object_ptr() const {
    return std::static_pointer_cast<Object>(ptr_);
}

const std::string& Value::undefined_message() const {
    static const std::string kNoMessage = "value is undefined";
    if (ptr_ == nullptr) return kNoMessage;
    return static_cast<const UndefinedInfo*>(ptr_.get())->message;
}

ErrorKind Value::undefined_kind() const {
    if (ptr_ == nullptr) return ErrorKind::kUndefined;
    return static_cast<const UndefinedInfo*>(ptr_.get())->kind;
}

void Value::fail_undefined() const {
    fail(undefined_kind(), undefined_message());
}

bool Value::truthy() const {
    switch (kind_) {
        case ValueKind::kUndefined:
        case ValueKind::kNone:
            return false;
        case ValueKind::kBool:
            return flag_;
        case ValueKind::kInt:
            return int_ != 0;
        case ValueKind::kFloat:
            return float_ != 0.0;
        case ValueKind::kString:
            return !as_string().empty();
        case ValueKind::kList:
            return !as_list().empty();
        case ValueKind::kDict:
            return !as_dict().empty();
        case ValueKind::kObject:
            return true;
    }
    return false;
}

std::string Value::type_name() const {
    switch (kind_) {
        case ValueKind::kUndefined:
            return "Undefined";
        case ValueKind::kNone:
            return "NoneType";
        case ValueKind::kBool:
            return "bool";
        case ValueKind::kInt:
            return "int";
        case ValueKind::kFloat:
            return "float";
        case ValueKind::kString:
            return "str";
        case ValueKind::kList:
            return flag_ ? "tuple" : "list";
        case ValueKind::kDict:
            return "dict";
        case ValueKind::kObject:
            return as_object().type_name();
    }
    return "object";
}

// ---------------------------------------------------------------------------------------------
// Dict

std::string Dict::canonical_key(const Value& key) {
    switch (key.kind()) {
        case ValueKind::kNone:
            return "n";
        case ValueKind::kBool:
        case ValueKind::kInt:
            return "i" + std::to_string(key.as_int());
        case ValueKind::kFloat: {
            const double f = key.as_double();
            // Python hashes integral floats like the equal int: {1: 'a'}[1.0] finds 'a'.
            if (std::isfinite(f) && f == std::floor(f) && std::fabs(f) < 9.2e18) {
                return "i" + std::to_string(static_cast<int64_t>(f));
            }
            return "f" + format_float(f);
        }
        default:
            break;
    }
    fail(ErrorKind::kType, "unhashable type: '" + key.type_name() + "'");
}

void Dict::index_entry(size_t position) {
    const Value& key = entries_[position].first;
    if (key.is_string()) {
        string_index_.emplace(key.as_string(), position);
    } else {
        other_index_.emplace(canonical_key(key), position);
    }
}

size_t Dict::position_of(std::string_view key) const {
    if (entries_.size() <= kIndexThreshold) {
        for (size_t i = 0; i < entries_.size(); ++i) {
            const Value& k = entries_[i].first;
            if (k.is_string() && k.as_string() == key) return i;
        }
        return kAbsent;
    }
    auto it = string_index_.find(key);
    return it == string_index_.end() ? kAbsent : it->second;
}

size_t Dict::position_of(const Value& key) const {
    if (key.is_string()) return position_of(std::string_view(key.as_string()));
    const std::string canon = canonical_key(key);
    if (entries_.size() <= kIndexThreshold) {
        for (size_t i = 0; i < entries_.size(); ++i) {
            const Value& k = entries_[i].first;
            if (!k.is_string() && canonical_key(k) == canon) return i;
        }
        return kAbsent;
    }
    auto it = other_index_.find(canon);
    return it == other_index_.end() ? kAbsent : it->second;
}

const Value* Dict::find(std::string_view key) const {
    const size_t position = position_of(key);
    return position == kAbsent ? nullptr : &entries_[position].second;
}

const Value* Dict::find(const Value& key) const {
    const size_t position = position_of(key);
    return position == kAbsent ? nullptr : &entries_[position].second;
}

void Dict::set(Value key, Value value) {
    const size_t position = position_of(key);  // also rejects unhashable keys
    if (position != kAbsent) {
        entries_[position].second = std::move(value);
        return;
    }
    entries_.emplace_back(std::move(key), std::move(value));
    if (entries_.size() == kIndexThreshold + 1) {
        for (size_t i = 0; i < entries_.size(); ++i) index_entry(i);
    } else if (entries_.size() > kIndexThreshold + 1) {
        index_entry(entries_.size() - 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Object defaults

Value Object::get_attr(const Value& self, std::string_view name) const {
    return Value::undefined("'" + type_name() + " object' has no attribute '" + std::string(name) +
                            "'");
}

Value Object::call(Interpreter& interp, CallArgs& args) {
    fail(ErrorKind::kType, "'" + type_name() + "' object is not callable");
}

Value Object::call_method(Interpreter& interp, std::string_view name, CallArgs& args) {
    fail(ErrorKind::kType,
         "'" + type_name() + "' object has no method '" + std::string(name) + "'");
}

std::string Object::to_str() const {
    return "<" + type_name() + " object>";
}

}  // namespace cria::chat::jinja
