// Renders a parsed Template: scopes, statements, expressions, and the sandbox accounting
// (output size, loop iterations, call depth, time) that every operation reports to.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/strftime.h"
#include "chat/jinja/value.h"

namespace cria::chat::jinja {

struct Limits {
    size_t max_output_bytes = 8u << 20;      // also the largest string any operation may build
    uint64_t max_loop_iterations = 1000000;  // over the whole rendering; also caps list sizes
    int max_recursion_depth = 64;            // nested macro calls and recursive loops
    std::chrono::milliseconds time_limit{2000};
    DateTime now;  // what strftime_now() formats
};

// Variables of one level: the globals, the context, a loop iteration, a macro call...
// Lookups walk outwards through `parent`.
class Scope {
  public:
    explicit Scope(std::shared_ptr<Scope> parent_scope) : parent(std::move(parent_scope)) {}
    const Value* lookup(std::string_view name) const;
    void set(std::string_view name, Value value);
    void clear() { vars_.clear(); }

    std::shared_ptr<Scope> parent;

  private:
    std::vector<std::pair<std::string, Value>> vars_;  // few per scope: linear search is fastest
};
using ScopePtr = std::shared_ptr<Scope>;

class LoopObject;

class Interpreter {
  public:
    Interpreter(const Template& tmpl, const Limits& limits);
    ~Interpreter();
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;

    // Renders with `context` (a dict) layered over the global functions. Throws Error.
    std::string render(const Value& context);

    // ---- services for filters, tests, methods and objects -----------------------------------
    Value call(const Value& callee, CallArgs& args);
    Value apply_filter(std::string_view name, const Value& input, CallArgs& args);
    bool apply_test(std::string_view name, const Value& input, CallArgs& args);
    Value get_attr(const Value& object, std::string_view name);
    Value get_item(const Value& object, const Value& key);

    // Counts work and enforces the time limit; called per loop item, call, statement.
    void charge(uint64_t steps = 1);
    // Fails with kLimit when a string of `bytes` would exceed the output limit.
    void check_string_size(size_t bytes) const;
    // Fails with kLimit when a list of `count` items would exceed the item limit.
    void check_list_size(size_t count) const;
    size_t max_bytes() const { return limits_.max_output_bytes; }
    const DateTime& now() const { return limits_.now; }
    // str(value) within the output limit.
    std::string str(const Value& value) const;

    // Keeps `object` alive until the end of the rendering and then calls release() on it, to
    // break reference cycles through scopes and namespaces.
    void register_object(std::shared_ptr<Object> object);

    // Runs a macro (or a call block's caller) with arguments; returns the rendered text.
    Value call_macro(const MacroNode& macro, const ScopePtr& closure, CallArgs& args,
                     const Value& caller);
    // `loop(items)` inside a recursive for loop.
    std::string render_recursive_loop(const ForNode& node, const ScopePtr& scope,
                                      const Value& iterable, int depth0);

  private:
    enum class Flow { kNormal, kBreak, kContinue };

    struct DepthGuard;

    Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out);
    Flow exec_node(const Node& node, const ScopePtr& scope, std::string& out);
    Flow exec_for(const ForNode& node, const ScopePtr& scope, std::string& out);
    List loop_items(const ForNode& node, const ScopePtr& scope, const Value& iterable);
    void run_loop(const ForNode& node, const ScopePtr& scope, List items, int depth0,
                  std::string& out);
    void exec_call_block(const CallBlockNode& node, const ScopePtr& scope, std::string& out);
    void assign(const AssignTarget& target, const Value& value, const ScopePtr& scope);
    Value apply_filter_chain(const std::vector<std::unique_ptr<FilterExpr>>& filters, Value input,
                             const ScopePtr& scope);
    void append_output(std::string& out, std::string_view text) const;

    Value eval(const Expr& expr, const ScopePtr& scope);
    Value eval_inner(const Expr& expr, const ScopePtr& scope);
    // One out-of-line function per expression kind (see eval_inner).
#define CRIA_JINJA_NOINLINE __attribute__((noinline))
    CRIA_JINJA_NOINLINE Value eval_name(const NameExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_sequence(const SequenceExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_dict(const DictExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_get_attr(const GetAttrExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_get_item(const GetItemExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_unary(const UnaryExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_binary(const BinaryExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_logical(const LogicalExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_conditional(const ConditionalExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_call(const CallExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_test(const TestExpr& expr, const ScopePtr& scope);
    CRIA_JINJA_NOINLINE Value eval_compare(const CompareExpr& expr, const ScopePtr& scope);
#undef CRIA_JINJA_NOINLINE
    Value eval_slice(const Value& object, const SliceExpr& slice, const ScopePtr& scope);
    void eval_args(const CallArguments& args, const ScopePtr& scope, CallArgs& out);
    Value eval_filter(const FilterExpr& expr, Value input, const ScopePtr& scope);

    const Template& template_;
    Limits limits_;
    std::chrono::steady_clock::time_point deadline_;
    uint64_t steps_ = 0;
    uint64_t iterations_ = 0;
    int call_depth_ = 0;  // macro calls and recursive loops in progress
    int eval_depth_ = 0;  // C++ recursion of exec/eval, bounded to protect the stack
    std::vector<std::shared_ptr<Object>> registered_;
};

// Materializes what a for loop (or list()) iterates: list items, dict keys, string
// characters; nothing for Undefined. TypeError for values that are not iterable.
List iterate(Interpreter& interp, const Value& value);

// The Python type description Jinja uses in undefined messages: "dict object", "None".
std::string object_type_repr(const Value& value);

}  // namespace cria::chat::jinja
