// The objects templates see besides plain data: macros, namespace(), the loop variable, bound
// methods, built-in functions, cycler() and joiner().
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/value.h"

namespace cria::chat::jinja {

class MacroObject : public Object {
  public:
    MacroObject(const MacroNode* node, ScopePtr closure, Value caller = Value())
        : node_(node), closure_(std::move(closure)), caller_(std::move(caller)) {}
    std::string type_name() const override { return "Macro"; }
    Value get_attr(const Value& self, std::string_view name) const override;
    bool is_callable() const override { return true; }
    Value call(Interpreter& interp, CallArgs& args) override;
    std::string to_str() const override { return "<Macro '" + node_->name + "'>"; }
    void release() override {
        closure_.reset();
        caller_ = Value();
    }

  private:
    const MacroNode* node_;
    ScopePtr closure_;  // the scope the macro was defined in: it sees that scope's variables
    Value caller_;      // for a call block's caller: nothing
};

// namespace(): the one mutable object, assigned with {% set ns.attr = value %}.
class NamespaceObject : public Object {
  public:
    explicit NamespaceObject(Dict attrs) : attrs_(std::move(attrs)) {}
    std::string type_name() const override { return "Namespace"; }
    Value get_attr(const Value& self, std::string_view name) const override;
    void set_attr(std::string_view name, Value value) { attrs_.set(Value(name), std::move(value)); }
    // Printed by pyformat through namespace_attrs(), which bounds self-reference.
    const Dict* namespace_attrs() const override { return &attrs_; }
    void release() override { attrs_ = Dict(); }

  private:
    Dict attrs_;
};

class LoopObject : public Object {
  public:
    LoopObject(List items, int depth0, const ForNode* node, ScopePtr scope)
        : items_(std::move(items)), depth0_(depth0), node_(node), scope_(std::move(scope)) {}
    std::string type_name() const override { return "LoopContext"; }
    Value get_attr(const Value& self, std::string_view name) const override;
    bool is_callable() const override { return true; }
    Value call(Interpreter& interp, CallArgs& args) override;
    Value call_method(Interpreter& interp, std::string_view name, CallArgs& args) override;
    std::string to_str() const override;
    void release() override { scope_.reset(); }

    const List& items() const { return items_; }
    void set_index(size_t index0) { index0_ = index0; }

  private:
    List items_;
    size_t index0_ = 0;
    int depth0_;
    const ForNode* node_;  // set for recursive loops
    ScopePtr scope_;       // where a recursive loop runs again
    bool has_changed_value_ = false;
    List last_changed_value_;
};

// `obj.method` before it is called: str/list/dict methods and object methods.
class BoundMethod : public Object {
  public:
    BoundMethod(Value receiver, std::string name)
        : receiver_(std::move(receiver)), name_(std::move(name)) {}
    std::string type_name() const override { return "builtin_function_or_method"; }
    bool is_callable() const override { return true; }
    Value call(Interpreter& interp, CallArgs& args) override;
    std::string to_str() const override {
        return "<built-in method " + name_ + " of " + receiver_.type_name() + " object>";
    }

  private:
    Value receiver_;
    std::string name_;
};

using BuiltinFn = Value (*)(Interpreter& interp, CallArgs& args);

class BuiltinFunction : public Object {
  public:
    BuiltinFunction(std::string name, BuiltinFn fn) : name_(std::move(name)), fn_(fn) {}
    std::string type_name() const override { return "builtin_function_or_method"; }
    bool is_callable() const override { return true; }
    Value call(Interpreter& interp, CallArgs& args) override { return fn_(interp, args); }
    std::string to_str() const override { return "<built-in function " + name_ + ">"; }

  private:
    std::string name_;
    BuiltinFn fn_;
};

class CyclerObject : public Object {
  public:
    explicit CyclerObject(List items) : items_(std::move(items)) {}
    std::string type_name() const override { return "Cycler"; }
    Value get_attr(const Value& self, std::string_view name) const override;
    Value call_method(Interpreter& interp, std::string_view name, CallArgs& args) override;

  private:
    List items_;
    size_t position_ = 0;
};

class JoinerObject : public Object {
  public:
    explicit JoinerObject(std::string separator) : separator_(std::move(separator)) {}
    std::string type_name() const override { return "Joiner"; }
    bool is_callable() const override { return true; }
    Value call(Interpreter& interp, CallArgs& args) override;

  private:
    std::string separator_;
    bool used_ = false;
};

// The global names every template sees: range, dict, namespace, cycler, joiner,
// raise_exception, strftime_now.
void install_globals(Interpreter& interp, Scope& scope);

}  // namespace cria::chat::jinja
