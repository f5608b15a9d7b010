#include "chat/jinja/objects.h"

#include "chat/jinja/args.h"
#include "chat/jinja/methods.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/pyformat.h"

namespace cria::chat::jinja {

// ---------------------------------------------------------------------------------------------
// objects

Value MacroObject::get_attr(const Value& self, std::string_view name) const {
    if (name == "name") return Value(node_->name);
    if (name == "arguments") {
        List names;
        for (const auto& param : node_->params) names.emplace_back(param.name);
        return Value::tuple(std::move(names));
    }
    return Object::get_attr(self, name);
}

Value MacroObject::call(Interpreter& interp, CallArgs& args) {
    return interp.call_macro(*node_, closure_, args, caller_);
}

Value NamespaceObject::get_attr(const Value& self, std::string_view name) const {
    if (const Value* value = attrs_.find(name)) return *value;
    return Value::undefined("'jinja2.utils.Namespace object' has no attribute '" +
                            std::string(name) + "'");
}

Value LoopObject::get_attr(const Value& self, std::string_view name) const {
    const auto length = static_cast<int64_t>(items_.size());
    const auto index0 = static_cast<int64_t>(index0_);
    if (name == "index") return Value(index0 + 1);
    if (name == "index0") return Value(index0);
    if (name == "revindex") return Value(length - index0);
    if (name == "revindex0") return Value(length - index0 - 1);
    if (name == "first") return Value(index0 == 0);
    if (name == "last") return Value(index0 + 1 == length);
    if (name == "length") return Value(length);
    if (name == "depth") return Value(static_cast<int64_t>(depth0_) + 1);
    if (name == "depth0") return Value(static_cast<int64_t>(depth0_));
    if (name == "previtem") {
        if (index0 == 0) return Value::undefined("there is no previous item");
        return items_[index0_ - 1];
    }
    if (name == "nextitem") {
        if (index0 + 1 >= length) return Value::undefined("there is no next item");
        return items_[index0_ + 1];
    }
    if (name == "cycle" || name == "changed") {
        return Value::object(std::make_shared<BoundMethod>(self, std::string(name)));
    }
    return Value::undefined("'LoopContext object' has no attribute '" + std::string(name) + "'");
}

Value LoopObject::call(Interpreter& interp, CallArgs& args) {
    if (node_ == nullptr) {
        fail(ErrorKind::kType,
             "The loop must have the 'recursive' marker to be called recursively.");
    }
    ArgBinder binder("loop", args, {"iterable"}, 1);
    return Value(interp.render_recursive_loop(*node_, scope_, *binder.get(0), depth0_ + 1));
}

Value LoopObject::call_method(Interpreter& interp, std::string_view name, CallArgs& args) {
    if (name == "cycle") {
        if (args.positional.empty()) fail(ErrorKind::kType, "no items for cycling given");
        return args.positional[index0_ % args.positional.size()];
    }
    // changed(*values): true when the values differ from the previous call's.
    const List& values = args.positional;
    bool same = has_changed_value_ && values.size() == last_changed_value_.size();
    for (size_t i = 0; same && i < values.size(); ++i) {
        same = values_equal(values[i], last_changed_value_[i]);
    }
    if (same) return Value(false);
    has_changed_value_ = true;
    last_changed_value_ = values;
    return Value(true);
}

std::string LoopObject::to_str() const {
    return "<LoopContext " + std::to_string(index0_ + 1) + "/" + std::to_string(items_.size()) +
           ">";
}

Value BoundMethod::call(Interpreter& interp, CallArgs& args) {
    if (receiver_.is_object()) return receiver_.as_object().call_method(interp, name_, args);
    return call_builtin_method(interp, receiver_, name_, args);
}

Value CyclerObject::get_attr(const Value& self, std::string_view name) const {
    if (name == "current") return items_.empty() ? Value::none() : items_[position_];
    if (name == "next" || name == "reset") {
        return Value::object(std::make_shared<BoundMethod>(self, std::string(name)));
    }
    return Object::get_attr(self, name);
}

Value CyclerObject::call_method(Interpreter& interp, std::string_view name, CallArgs& args) {
    if (name == "reset") {
        position_ = 0;
        return Value::none();
    }
    if (items_.empty()) return Value::none();
    Value item = items_[position_];
    position_ = (position_ + 1) % items_.size();
    return item;
}

Value JoinerObject::call(Interpreter& interp, CallArgs& args) {
    if (!used_) {
        used_ = true;
        return Value(std::string());
    }
    return Value(separator_);
}

// ---------------------------------------------------------------------------------------------
// global functions

namespace {

// Jinja's sandbox refuses ranges longer than this (MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

Value builtin_range(Interpreter& interp, CallArgs& args) {
    if (!args.keyword.empty()) fail(ErrorKind::kType, "range() takes no keyword arguments");
    const size_t n = args.positional.size();
    if (n < 1 || n > 3) {
        fail(ErrorKind::kType, "range expected at least 1 argument, got " + std::to_string(n));
    }
    auto as_int = [](const Value& v) {
        if (v.is_undefined()) v.fail_undefined();
        if (!v.is_integral()) {
            fail(ErrorKind::kType,
                 "'" + v.type_name() + "' object cannot be interpreted as an integer");
        }
        return v.as_int();
    };
    int64_t start = 0;
    int64_t stop = 0;
    int64_t step = 1;
    if (n == 1) {
        stop = as_int(args.positional[0]);
    } else {
        start = as_int(args.positional[0]);
        stop = as_int(args.positional[1]);
        if (n == 3) step = as_int(args.positional[2]);
    }
    if (step == 0) fail(ErrorKind::kValue, "range() arg 3 must not be zero");
    // Length computed in 128 bits: start/stop/step may be anywhere in int64.
    __int128 length = 0;
    if (step > 0 && start < stop) {
        length = (static_cast<__int128>(stop) - start + step - 1) / step;
    } else if (step < 0 && start > stop) {
        length = (static_cast<__int128>(start) - stop - step - 1) / -static_cast<__int128>(step);
    }
    if (length > kMaxRange) {
        fail(ErrorKind::kOverflow,
             "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    interp.check_list_size(static_cast<size_t>(length));
    List items;
    items.reserve(static_cast<size_t>(length));
    for (int64_t i = 0; i < static_cast<int64_t>(length); ++i) items.emplace_back(start + i * step);
    return Value::list(std::move(items));
}

Value builtin_dict(Interpreter& interp, CallArgs& args) {
    Dict dict;
    if (args.positional.size() > 1) {
        fail(ErrorKind::kType,
             "dict expected at most 1 argument, got " + std::to_string(args.positional.size()));
    }
    if (!args.positional.empty()) {
        const Value& source = args.positional[0];
        if (source.is_dict()) {
            for (const auto& [key, value] : source.as_dict().entries()) dict.set(key, value);
        } else {
            for (const Value& pair : iterate(interp, source)) {
                const List items = iterate(interp, pair);
                if (items.size() != 2) {
                    fail(ErrorKind::kValue, "dictionary update sequence element has length " +
                                                std::to_string(items.size()) + "; 2 is required");
                }
                dict.set(items[0], items[1]);
            }
        }
    }
    for (const auto& [key, value] : args.keyword) dict.set(Value(key), value);
    return Value::dict(std::move(dict));
}

Value builtin_namespace(Interpreter& interp, CallArgs& args) {
    Value base = builtin_dict(interp, args);
    auto ns = std::make_shared<NamespaceObject>(base.as_dict());
    interp.register_object(ns);
    return Value::object(std::move(ns));
}

Value builtin_cycler(Interpreter& interp, CallArgs& args) {
    return Value::object(std::make_shared<CyclerObject>(args.positional));
}

Value builtin_joiner(Interpreter& interp, CallArgs& args) {
    ArgBinder binder("joiner", args, {"sep"});
    return Value::object(std::make_shared<JoinerObject>(interp.str(binder.get_or(0, Value(", ")))));
}

Value builtin_raise_exception(Interpreter& interp, CallArgs& args) {
    ArgBinder binder("raise_exception", args, {"message"}, 1);
    throw Error(ErrorKind::kTemplate, interp.str(*binder.get(0)));
}

Value builtin_strftime_now(Interpreter& interp, CallArgs& args) {
    ArgBinder binder("strftime_now", args, {"format"}, 1);
    const std::string& format = require_string(*binder.get(0), "strftime() argument 1");
    std::string out = format_datetime(interp.now(), format);
    interp.check_string_size(out.size());
    return Value(std::move(out));
}

}  // namespace

void install_globals(Interpreter& interp, Scope& scope) {
    struct Entry {
        const char* name;
        BuiltinFn fn;
    };
    static const Entry kGlobals[] = {
        {"range", builtin_range},
        {"dict", builtin_dict},
        {"namespace", builtin_namespace},
        {"cycler", builtin_cycler},
        {"joiner", builtin_joiner},
        {"raise_exception", builtin_raise_exception},
        {"strftime_now", builtin_strftime_now},
    };
    for (const Entry& entry : kGlobals) {
        scope.set(entry.name,
                  Value::object(std::make_shared<BuiltinFunction>(entry.name, entry.fn)));
    }
}

}  // namespace cria::chat::jinja
