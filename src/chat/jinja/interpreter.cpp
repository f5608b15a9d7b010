#include "chat/jinja/interpreter.h"

#include "chat/jinja/lexer.h"
#include "chat/jinja/methods.h"
#include "chat/jinja/objects.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {

// Filters and tests are registered by name in their own files.
bool filter_exists(std::string_view name);
bool test_exists(std::string_view name);
Value call_filter(Interpreter& interp, std::string_view name, const Value& input, CallArgs& args);
bool call_test(Interpreter& interp, std::string_view name, const Value& input, CallArgs& args);

namespace {

// C++ frames of exec/eval that may be active at once. Each counts one guarded level; the
// parser's depth cap bounds a single template, this bounds recursion through macro calls.
constexpr int kMaxEvalDepth = 2000;
// How often (in charged steps) the clock is read for the time limit.
constexpr uint64_t kClockCheckInterval = 64;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Scope

const Value* Scope::lookup(std::string_view name) const {
    for (const Scope* scope = this; scope != nullptr; scope = scope->parent.get()) {
        for (const auto& [key, value] : scope->vars_) {
            if (key == name) return &value;
        }
    }
    return nullptr;
}

void Scope::set(std::string_view name, Value value) {
    for (auto& [key, existing] : vars_) {
        if (key == name) {
            existing = std::move(value);
            return;
        }
    }
    vars_.emplace_back(std::string(name), std::move(value));
}

// ---------------------------------------------------------------------------------------------
// helpers

std::string object_type_repr(const Value& value) {
    if (value.is_none()) return "None";
    if (value.is_object() && value.as_object().type_name() == "Namespace") {
        return "jinja2.utils.Namespace object";
    }
    return value.type_name() + " object";
}

List iterate(Interpreter& interp, const Value& value) {
    switch (value.kind()) {
        case ValueKind::kUndefined:
            return {};
        case ValueKind::kList:
            return value.as_list();
        case ValueKind::kDict: {
            List keys;
            keys.reserve(value.as_dict().size());
            for (const auto& [key, item] : value.as_dict().entries()) keys.push_back(key);
            return keys;
        }
        case ValueKind::kString: {
            const std::string& s = value.as_string();
            List chars;
            size_t pos = 0;
            while (pos < s.size()) {
                const size_t start = pos;
                unicode::decode(s, pos);
                chars.emplace_back(s.substr(start, pos - start));
            }
            interp.check_list_size(chars.size());
            return chars;
        }
        default:
            break;
    }
    fail(ErrorKind::kType, "'" + value.type_name() + "' object is not iterable");
}

struct Interpreter::DepthGuard {
    explicit DepthGuard(Interpreter& i) : interp(i) {
        if (++interp.eval_depth_ > kMaxEvalDepth) {
            fail(ErrorKind::kLimit, "template evaluation nested too deeply");
        }
    }
    ~DepthGuard() { --interp.eval_depth_; }
    Interpreter& interp;
};

// ---------------------------------------------------------------------------------------------
// Interpreter: setup and accounting

Interpreter::Interpreter(const Template& tmpl, const Limits& limits)
    : template_(tmpl), limits_(limits) {}

Interpreter::~Interpreter() {
    for (const auto& object : registered_) object->release();
}

void Interpreter::register_object(std::shared_ptr<Object> object) {
    registered_.push_back(std::move(object));
}

void Interpreter::charge(uint64_t steps) {
    steps_ += steps;
    if (steps_ % kClockCheckInterval < steps || steps >= kClockCheckInterval) {
        if (std::chrono::steady_clock::now() > deadline_) {
            fail(ErrorKind::kLimit, "rendering took longer than the limit of " +
                                        std::to_string(limits_.time_limit.count()) + " ms");
        }
    }
}

void Interpreter::check_string_size(size_t bytes) const {
    if (bytes > limits_.max_output_bytes) {
        fail(ErrorKind::kLimit, "text exceeds the output limit of " +
                                    std::to_string(limits_.max_output_bytes) + " bytes");
    }
}

void Interpreter::check_list_size(size_t count) const {
    if (count > limits_.max_loop_iterations) {
        fail(ErrorKind::kLimit,
             "list exceeds the limit of " + std::to_string(limits_.max_loop_iterations) + " items");
    }
}

std::string Interpreter::str(const Value& value) const {
    return to_str(value, limits_.max_output_bytes);
}

void Interpreter::append_output(std::string& out, std::string_view text) const {
    check_string_size(out.size() + text.size());
    out.append(text);
}

std::string Interpreter::render(const Value& context) {
    deadline_ = std::chrono::steady_clock::now() + limits_.time_limit;
    auto globals = std::make_shared<Scope>(nullptr);
    install_globals(*this, *globals);
    auto context_scope = std::make_shared<Scope>(globals);
    if (context.is_dict()) {
        for (const auto& [key, value] : context.as_dict().entries()) {
            if (key.is_string()) context_scope->set(key.as_string(), value);
        }
    }
    auto top = std::make_shared<Scope>(context_scope);
    std::string out;
    exec_body(template_.body, top, out);
    return out;
}

// ---------------------------------------------------------------------------------------------
// statements

Interpreter::Flow Interpreter::exec_body(const Body& body, const ScopePtr& scope,
                                         std::string& out) {
    for (const NodePtr& node : body) {
        const Flow flow = exec_node(*node, scope, out);
        if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_node(const Node& node, const ScopePtr& scope,
                                         std::string& out) {
    DepthGuard guard(*this);
    charge();
    try {
        switch (node.kind) {
            case NodeKind::kText:
                append_output(out, static_cast<const TextNode&>(node).text);
                return Flow::kNormal;
            case NodeKind::kOutput: {
                const Value value = eval(*static_cast<const OutputNode&>(node).expr, scope);
                if (value.is_string()) {
                    append_output(out, value.as_string());
                } else {
                    append_output(out, str(value));
                }
                return Flow::kNormal;
            }
            case NodeKind::kIf: {
                const auto& if_node = static_cast<const IfNode&>(node);
                for (const auto& [test, body] : if_node.branches) {
                    if (eval(*test, scope).truthy()) return exec_body(body, scope, out);
                }
                return exec_body(if_node.else_body, scope, out);
            }
            case NodeKind::kFor:
                return exec_for(static_cast<const ForNode&>(node), scope, out);
            case NodeKind::kSet: {
                const auto& set = static_cast<const SetNode&>(node);
                assign(set.target, eval(*set.value, scope), scope);
                return Flow::kNormal;
            }
            case NodeKind::kSetBlock: {
                const auto& set = static_cast<const SetBlockNode&>(node);
                std::string captured;
                exec_body(set.body, scope, captured);
                assign(set.target,
                       apply_filter_chain(set.filters, Value(std::move(captured)), scope), scope);
                return Flow::kNormal;
            }
            case NodeKind::kMacro: {
                const auto& macro = static_cast<const MacroNode&>(node);
                auto object = std::make_shared<MacroObject>(&macro, scope);
                register_object(object);
                scope->set(macro.name, Value::object(std::move(object)));
                return Flow::kNormal;
            }
            case NodeKind::kCallBlock:
                exec_call_block(static_cast<const CallBlockNode&>(node), scope, out);
                return Flow::kNormal;
            case NodeKind::kFilterBlock: {
                const auto& block = static_cast<const FilterBlockNode&>(node);
                std::string captured;
                const Flow flow = exec_body(block.body, scope, captured);
                const Value result =
                    apply_filter_chain(block.filters, Value(std::move(captured)), scope);
                append_output(out, str(result));
                return flow;
            }
            case NodeKind::kWith: {
                const auto& with = static_cast<const WithNode&>(node);
                auto inner = std::make_shared<Scope>(scope);
                for (const auto& [target, value] : with.assignments) {
                    assign(target, eval(*value, scope), inner);
                }
                return exec_body(with.body, inner, out);
            }
            case NodeKind::kBreak:
                return Flow::kBreak;
            case NodeKind::kContinue:
                return Flow::kContinue;
            case NodeKind::kScope: {
                const auto& block = static_cast<const ScopeNode&>(node);
                if (!block.new_scope) return exec_body(block.body, scope, out);
                return exec_body(block.body, std::make_shared<Scope>(scope), out);
            }
        }
    } catch (Error& error) {
        if (error.offset() == kNoOffset) error.set_offset(node.offset);
        throw;
    }
    return Flow::kNormal;
}

List Interpreter::loop_items(const ForNode& node, const ScopePtr& scope, const Value& iterable) {
    List items = iterate(*this, iterable);
    if (!node.condition) return items;
    // `for x in xs if cond`: the filter runs first, so loop.length counts kept items only.
    List kept;
    for (Value& item : items) {
        charge();
        auto probe = std::make_shared<Scope>(scope);
        assign(node.target, item, probe);
        if (eval(*node.condition, probe).truthy()) kept.push_back(std::move(item));
    }
    return kept;
}

Interpreter::Flow Interpreter::exec_for(const ForNode& node, const ScopePtr& scope,
                                        std::string& out) {
    List items = loop_items(node, scope, eval(*node.iterable, scope));
    if (items.empty()) return exec_body(node.else_body, std::make_shared<Scope>(scope), out);
    run_loop(node, scope, std::move(items), 0, out);
    return Flow::kNormal;
}

void Interpreter::run_loop(const ForNode& node, const ScopePtr& scope, List items, int depth0,
                           std::string& out) {
    auto loop =
        std::make_shared<LoopObject>(std::move(items), depth0, node.recursive ? &node : nullptr,
                                     node.recursive ? scope : nullptr);
    if (node.recursive) register_object(loop);
    const Value loop_value = Value::object(loop);
    const size_t count = loop->items().size();
    for (size_t i = 0; i < count; ++i) {
        if (++iterations_ > limits_.max_loop_iterations) {
            fail(ErrorKind::kLimit, "loop iterations exceed the limit of " +
                                        std::to_string(limits_.max_loop_iterations));
        }
        charge();
        loop->set_index(i);
        auto iteration = std::make_shared<Scope>(scope);
        assign(node.target, loop->items()[i], iteration);
        iteration->set("loop", loop_value);
        if (exec_body(node.body, iteration, out) == Flow::kBreak) break;
    }
}

std::string Interpreter::render_recursive_loop(const ForNode& node, const ScopePtr& scope,
                                               const Value& iterable, int depth0) {
    if (call_depth_ >= limits_.max_recursion_depth) {
        fail(ErrorKind::kLimit,
             "recursion deeper than the limit of " + std::to_string(limits_.max_recursion_depth));
    }
    ++call_depth_;
    struct Restore {
        int& depth;
        ~Restore() { --depth; }
    } restore{call_depth_};
    List items = loop_items(node, scope, iterable);
    std::string out;
    if (items.empty()) {
        exec_body(node.else_body, std::make_shared<Scope>(scope), out);
    } else {
        run_loop(node, scope, std::move(items), depth0, out);
    }
    return out;
}

Value Interpreter::call_macro(const MacroNode& macro, const ScopePtr& closure, CallArgs& args,
                              const Value& caller) {
    if (call_depth_ >= limits_.max_recursion_depth) {
        fail(ErrorKind::kLimit, "macro calls nested deeper than the limit of " +
                                    std::to_string(limits_.max_recursion_depth));
    }
    ++call_depth_;
    struct Restore {
        int& depth;
        ~Restore() { --depth; }
    } restore{call_depth_};
    charge();
    auto scope = std::make_shared<Scope>(closure);
    const size_t param_count = macro.params.size();
    std::vector<bool> bound(param_count, false);
    List extra_positional;
    for (size_t i = 0; i < args.positional.size(); ++i) {
        if (i < param_count) {
            scope->set(macro.params[i].name, args.positional[i]);
            bound[i] = true;
        } else {
            extra_positional.push_back(args.positional[i]);
        }
    }
    if (!extra_positional.empty() && !macro.uses_varargs) {
        fail(ErrorKind::kType, "macro '" + macro.name + "' takes not more than " +
                                   std::to_string(param_count) + " argument(s)");
    }
    Dict extra_keyword;
    Value caller_value = caller;
    for (auto& [key, value] : args.keyword) {
        size_t index = param_count;
        for (size_t j = 0; j < param_count; ++j) {
            if (macro.params[j].name == key && !bound[j]) index = j;
        }
        if (index < param_count) {
            scope->set(key, value);
            bound[index] = true;
        } else if (key == "caller" && macro.uses_caller) {
            caller_value = value;
        } else if (macro.uses_kwargs) {
            extra_keyword.set(Value(key), value);
        } else {
            fail(ErrorKind::kType,
                 "macro '" + macro.name + "' takes no keyword argument '" + key + "'");
        }
    }
    for (size_t j = 0; j < param_count; ++j) {
        if (bound[j]) continue;
        const MacroParam& param = macro.params[j];
        if (param.default_value) {
            scope->set(param.name, eval(*param.default_value, scope));
        } else {
            scope->set(param.name,
                       Value::undefined("parameter '" + param.name + "' was not provided"));
        }
    }
    if (macro.uses_varargs) scope->set("varargs", Value::tuple(std::move(extra_positional)));
    if (macro.uses_kwargs) scope->set("kwargs", Value::dict(std::move(extra_keyword)));
    if (macro.uses_caller) {
        scope->set("caller", caller_value.is_undefined() ? Value::undefined("'caller' is undefined")
                                                         : caller_value);
    }
    std::string out;
    exec_body(macro.body, scope, out);
    return Value(std::move(out));
}

void Interpreter::exec_call_block(const CallBlockNode& node, const ScopePtr& scope,
                                  std::string& out) {
    auto caller = std::make_shared<MacroObject>(node.caller.get(), scope);
    register_object(caller);
    const Value callee = eval(*node.call->callee, scope);
    CallArgs args;
    eval_args(node.call->args, scope, args);
    args.keyword.emplace_back("caller", Value::object(std::move(caller)));
    const Value result = call(callee, args);
    append_output(out, str(result));
}

void Interpreter::assign(const AssignTarget& target, const Value& value, const ScopePtr& scope) {
    if (!target.namespace_attr.empty()) {
        const Value* holder = scope->lookup(target.names[0]);
        auto* ns = holder != nullptr && holder->is_object()
                       ? dynamic_cast<NamespaceObject*>(&holder->as_object())
                       : nullptr;
        if (ns == nullptr) {
            fail(ErrorKind::kRuntime, "cannot assign attribute on non-namespace object");
        }
        ns->set_attr(target.namespace_attr, value);
        return;
    }
    if (!target.unpack) {
        scope->set(target.names[0], value);
        return;
    }
    const List items = iterate(*this, value);
    if (items.size() < target.names.size()) {
        fail(ErrorKind::kValue, "not enough values to unpack (expected " +
                                    std::to_string(target.names.size()) + ", got " +
                                    std::to_string(items.size()) + ")");
    }
    if (items.size() > target.names.size()) {
        fail(ErrorKind::kValue,
             "too many values to unpack (expected " + std::to_string(target.names.size()) + ")");
    }
    for (size_t i = 0; i < items.size(); ++i) scope->set(target.names[i], items[i]);
}

Value Interpreter::apply_filter_chain(const std::vector<std::unique_ptr<FilterExpr>>& filters,
                                      Value input, const ScopePtr& scope) {
    for (const auto& filter : filters) input = eval_filter(*filter, std::move(input), scope);
    return input;
}

// ---------------------------------------------------------------------------------------------
// expressions

Value Interpreter::eval(const Expr& expr, const ScopePtr& scope) {
    DepthGuard guard(*this);
    try {
        return eval_inner(expr, scope);
    } catch (Error& error) {
        if (error.offset() == kNoOffset) error.set_offset(expr.offset);
        throw;
    }
}

// Each kind of expression has its own out-of-line function: eval() recurses through here, so
// keeping this frame small keeps deep (but legal) templates far from the stack limit.
Value Interpreter::eval_inner(const Expr& expr, const ScopePtr& scope) {
    switch (expr.kind) {
        case ExprKind::kLiteral:
            return static_cast<const LiteralExpr&>(expr).value;
        case ExprKind::kName:
            return eval_name(static_cast<const NameExpr&>(expr), scope);
        case ExprKind::kList:
        case ExprKind::kTuple:
            return eval_sequence(static_cast<const SequenceExpr&>(expr), scope);
        case ExprKind::kDict:
            return eval_dict(static_cast<const DictExpr&>(expr), scope);
        case ExprKind::kGetAttr:
            return eval_get_attr(static_cast<const GetAttrExpr&>(expr), scope);
        case ExprKind::kGetItem:
            return eval_get_item(static_cast<const GetItemExpr&>(expr), scope);
        case ExprKind::kSlice:
            fail(ErrorKind::kSyntax, "slice outside of a subscript");
        case ExprKind::kUnary:
            return eval_unary(static_cast<const UnaryExpr&>(expr), scope);
        case ExprKind::kBinary:
            return eval_binary(static_cast<const BinaryExpr&>(expr), scope);
        case ExprKind::kAnd:
        case ExprKind::kOr:
            return eval_logical(static_cast<const LogicalExpr&>(expr), scope);
        case ExprKind::kCompare:
            return eval_compare(static_cast<const CompareExpr&>(expr), scope);
        case ExprKind::kConditional:
            return eval_conditional(static_cast<const ConditionalExpr&>(expr), scope);
        case ExprKind::kCall:
            return eval_call(static_cast<const CallExpr&>(expr), scope);
        case ExprKind::kFilter: {
            const auto& filter = static_cast<const FilterExpr&>(expr);
            return eval_filter(filter, eval(*filter.value, scope), scope);
        }
        case ExprKind::kTest:
            return eval_test(static_cast<const TestExpr&>(expr), scope);
    }
    fail(ErrorKind::kRuntime, "unknown expression");
}

Value Interpreter::eval_name(const NameExpr& expr, const ScopePtr& scope) {
    const Value* value = scope->lookup(expr.name);
    if (value != nullptr) return *value;
    return Value::undefined("'" + expr.name + "' is undefined");
}

Value Interpreter::eval_sequence(const SequenceExpr& expr, const ScopePtr& scope) {
    List items;
    items.reserve(expr.items.size());
    for (const ExprPtr& item : expr.items) items.push_back(eval(*item, scope));
    return expr.kind == ExprKind::kList ? Value::list(std::move(items))
                                        : Value::tuple(std::move(items));
}

Value Interpreter::eval_dict(const DictExpr& expr, const ScopePtr& scope) {
    Dict dict;
    for (const auto& [key, value] : expr.items) {
        Value k = eval(*key, scope);
        dict.set(std::move(k), eval(*value, scope));
    }
    return Value::dict(std::move(dict));
}

Value Interpreter::eval_get_attr(const GetAttrExpr& expr, const ScopePtr& scope) {
    return get_attr(eval(*expr.object, scope), expr.name);
}

Value Interpreter::eval_get_item(const GetItemExpr& expr, const ScopePtr& scope) {
    const Value object = eval(*expr.object, scope);
    if (expr.index->kind == ExprKind::kSlice) {
        return eval_slice(object, static_cast<const SliceExpr&>(*expr.index), scope);
    }
    return get_item(object, eval(*expr.index, scope));
}

Value Interpreter::eval_unary(const UnaryExpr& expr, const ScopePtr& scope) {
    return unary_op(expr.op, eval(*expr.operand, scope));
}

Value Interpreter::eval_binary(const BinaryExpr& expr, const ScopePtr& scope) {
    const Value left = eval(*expr.left, scope);
    const Value right = eval(*expr.right, scope);
    return binary_op(*this, expr.op, left, right);
}

// `and`/`or` return one of their operands, as in Python.
Value Interpreter::eval_logical(const LogicalExpr& expr, const ScopePtr& scope) {
    Value left = eval(*expr.left, scope);
    const bool decided = expr.kind == ExprKind::kAnd ? !left.truthy() : left.truthy();
    if (decided) return left;
    return eval(*expr.right, scope);
}

Value Interpreter::eval_conditional(const ConditionalExpr& expr, const ScopePtr& scope) {
    if (eval(*expr.test, scope).truthy()) return eval(*expr.then_value, scope);
    if (expr.else_value) return eval(*expr.else_value, scope);
    int line = 0;
    int column = 0;
    locate(template_.source, expr.offset, line, column);
    return Value::undefined("the inline if-expression on line " + std::to_string(line) +
                            " evaluated to false and no else section was defined.");
}

Value Interpreter::eval_call(const CallExpr& expr, const ScopePtr& scope) {
    const Value callee = eval(*expr.callee, scope);
    CallArgs args;
    eval_args(expr.args, scope, args);
    return call(callee, args);
}

Value Interpreter::eval_test(const TestExpr& expr, const ScopePtr& scope) {
    if (!test_exists(expr.name)) fail(ErrorKind::kAssertion, "No test named '" + expr.name + "'.");
    const Value input = eval(*expr.value, scope);
    CallArgs args;
    eval_args(expr.args, scope, args);
    const bool result = apply_test(expr.name, input, args);
    return Value(expr.negated ? !result : result);
}

Value Interpreter::eval_compare(const CompareExpr& expr, const ScopePtr& scope) {
    Value left = eval(*expr.first, scope);
    for (const auto& [op, operand] : expr.rest) {
        Value right = eval(*operand, scope);
        if (!compare(op, left, right)) return Value(false);
        left = std::move(right);
    }
    return Value(true);
}

Value Interpreter::eval_slice(const Value& object, const SliceExpr& slice, const ScopePtr& scope) {
    auto bound = [&](const ExprPtr& part) -> std::optional<int64_t> {
        if (!part) return std::nullopt;
        const Value v = eval(*part, scope);
        if (v.is_none()) return std::nullopt;
        if (!v.is_integral()) {
            fail(ErrorKind::kType,
                 "slice indices must be integers or None or have an __index__ method");
        }
        return v.as_int();
    };
    const auto start = bound(slice.start);
    const auto stop = bound(slice.stop);
    const auto step = bound(slice.step);
    if (object.is_undefined()) object.fail_undefined();
    if (object.is_list()) {
        const List& items = object.as_list();
        List out;
        for (size_t i : slice_indices(items.size(), start, stop, step)) out.push_back(items[i]);
        return object.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (object.is_string()) {
        const std::string& s = object.as_string();
        const std::vector<char32_t> chars = unicode::to_code_points(s);
        std::string out;
        for (size_t i : slice_indices(chars.size(), start, stop, step)) {
            unicode::append_utf8(out, chars[i]);
        }
        return Value(std::move(out));
    }
    // Jinja compiles slices to Python subscripts directly (no getitem fallback to Undefined).
    if (object.is_dict()) fail(ErrorKind::kType, "unhashable type: 'slice'");
    fail(ErrorKind::kType, "'" + object.type_name() + "' object is not subscriptable");
}

void Interpreter::eval_args(const CallArguments& args, const ScopePtr& scope, CallArgs& out) {
    for (const ExprPtr& arg : args.positional) out.positional.push_back(eval(*arg, scope));
    if (args.star_args) {
        for (Value& v : iterate(*this, eval(*args.star_args, scope))) {
            out.positional.push_back(std::move(v));
        }
    }
    for (const auto& [key, arg] : args.keyword) out.keyword.emplace_back(key, eval(*arg, scope));
    if (args.star_kwargs) {
        const Value kwargs = eval(*args.star_kwargs, scope);
        if (!kwargs.is_dict()) {
            fail(ErrorKind::kType,
                 "argument after ** must be a mapping, not " + kwargs.type_name());
        }
        for (const auto& [key, value] : kwargs.as_dict().entries()) {
            if (!key.is_string()) fail(ErrorKind::kType, "keywords must be strings");
            out.keyword.emplace_back(key.as_string(), value);
        }
    }
}

Value Interpreter::eval_filter(const FilterExpr& expr, Value input, const ScopePtr& scope) {
    // Jinja rejects unknown names written in the template when it compiles it (an assertion
    // error); names reached through map()/select() fail at run time instead.
    if (!filter_exists(expr.name)) {
        fail(ErrorKind::kAssertion, "No filter named '" + expr.name + "'.");
    }
    CallArgs args;
    eval_args(expr.args, scope, args);
    return apply_filter(expr.name, input, args);
}

// ---------------------------------------------------------------------------------------------
// services

Value Interpreter::call(const Value& callee, CallArgs& args) {
    charge();
    if (callee.is_object() && callee.as_object().is_callable()) {
        const std::shared_ptr<Object> keep_alive = callee.object_ptr();
        return keep_alive->call(*this, args);
    }
    if (callee.is_undefined()) callee.fail_undefined();
    fail(ErrorKind::kType, "'" + callee.type_name() + "' object is not callable");
}

Value Interpreter::apply_filter(std::string_view name, const Value& input, CallArgs& args) {
    charge();
    return call_filter(*this, name, input, args);
}

bool Interpreter::apply_test(std::string_view name, const Value& input, CallArgs& args) {
    charge();
    return call_test(*this, name, input, args);
}

Value Interpreter::get_attr(const Value& object, std::string_view name) {
    switch (object.kind()) {
        case ValueKind::kUndefined:
            object.fail_undefined();
        case ValueKind::kObject:
            return object.as_object().get_attr(object, name);
        default:
            break;
    }
    switch (lookup_method(object, name)) {
        case MethodLookup::kSafe:
            return Value::object(std::make_shared<BoundMethod>(object, std::string(name)));
        case MethodLookup::kUnsafe:
            return Value::undefined("access to attribute '" + std::string(name) + "' of '" +
                                        object.type_name() + "' object is unsafe.",
                                    ErrorKind::kSecurity);
        case MethodLookup::kNone:
            break;
    }
    if (object.is_dict()) {
        if (const Value* value = object.as_dict().find(name)) return *value;
    }
    return Value::undefined("'" + object_type_repr(object) + "' has no attribute '" +
                            std::string(name) + "'");
}

Value Interpreter::get_item(const Value& object, const Value& key) {
    if (object.is_undefined()) object.fail_undefined();
    if (object.is_dict()) {
        const bool hashable = key.is_string() || key.is_number() || key.is_none();
        if (hashable) {
            if (const Value* value = object.as_dict().find(key)) return *value;
        }
    } else if (object.is_list() || object.is_string()) {
        if (key.is_integral()) {
            int64_t index = key.as_int();
            if (object.is_list()) {
                const List& items = object.as_list();
                if (index < 0) index += static_cast<int64_t>(items.size());
                if (index >= 0 && index < static_cast<int64_t>(items.size())) {
                    return items[static_cast<size_t>(index)];
                }
            } else {
                const std::string& s = object.as_string();
                const auto length = static_cast<int64_t>(unicode::code_point_count(s));
                if (index < 0) index += length;
                if (index >= 0 && index < length) {
                    const size_t begin = unicode::byte_offset_of(s, static_cast<size_t>(index));
                    size_t end = begin;
                    unicode::decode(s, end);
                    return Value(s.substr(begin, end - begin));
                }
            }
        }
    }
    if (key.is_string()) return get_attr(object, key.as_string());
    return Value::undefined(object_type_repr(object) + " has no element " +
                            to_repr(key, limits_.max_output_bytes));
}

}  // namespace cria::chat::jinja
