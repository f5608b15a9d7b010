#include "chat/gotmpl/exec.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>

#include "chat/gotmpl/format.h"

namespace cria::chat::gotmpl {
namespace {

using Clock = std::chrono::steady_clock;

enum class Flow { kNormal, kBreak, kContinue };

[[noreturn]] void exec_error(const std::string& message, const Node& node) {
    throw Error(message, node.offset);
}

std::string node_text(const Node& node) {
    switch (node.type) {
        case NodeType::kField: {
            std::string out;
            for (const std::string& part : node.ident) out += "." + part;
            return out;
        }
        case NodeType::kVariable: {
            std::string out = node.ident[0];
            for (size_t i = 1; i < node.ident.size(); ++i) out += "." + node.ident[i];
            return out;
        }
        case NodeType::kIdentifier:
            return node.text;
        case NodeType::kDot:
            return ".";
        default:
            return "operand";
    }
}

std::string format_date(const jinja::DateTime& now, int days_back) {
    std::tm tm{};
    tm.tm_year = now.year - 1900;
    tm.tm_mon = now.month - 1;
    tm.tm_mday = now.day - days_back;
    tm.tm_hour = 12;  // away from any daylight-saving edge
    timegm(&tm);      // normalizes the day
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return buf;
}

// What toTypeScriptType prints for one JSON-schema type name.
std::string typescript_type(const std::string& json_type) {
    if (json_type == "string") return "string";
    if (json_type == "number" || json_type == "integer") return "number";
    if (json_type == "boolean") return "boolean";
    if (json_type == "array") return "any[]";
    if (json_type == "object") return "Record<string, any>";
    if (json_type == "null") return "null";
    return "any";
}

std::string property_typescript(const Value& property) {
    if (property.kind != Kind::kStruct || property.composite->type_name != "api.ToolProperty") {
        return "any";
    }
    const Value* any_of = find_field(property, "AnyOf");
    if (any_of && any_of->kind == Kind::kList && any_of->size() > 0) {
        std::string out;
        for (const Value& option : any_of->composite->values) {
            if (!out.empty()) out += " | ";
            out += property_typescript(option);
        }
        return out;
    }
    const Value* type = find_field(property, "Type");
    if (!type || type->kind != Kind::kList || type->size() == 0) return "any";
    std::string out;
    for (const Value& name : type->composite->values) {
        if (!out.empty()) out += " | ";
        out += typescript_type(name.kind == Kind::kString ? name.str() : "");
    }
    return out;
}

// Go's basic kinds for comparisons.
enum class Basic { kInvalid, kBool, kInt, kFloat, kString, kOther };

Basic basic_kind(const Value& v) {
    switch (v.kind) {
        case Kind::kNil:
            return Basic::kInvalid;
        case Kind::kBool:
            return Basic::kBool;
        case Kind::kInt:
            return Basic::kInt;
        case Kind::kFloat:
            return Basic::kFloat;
        case Kind::kString:
            return Basic::kString;
        default:
            return Basic::kOther;
    }
}

class Executor {
  public:
    Executor(const Program& program, const Limits& limits, std::string& out)
        : program_(program),
          limits_(limits),
          out_(out),
          deadline_(Clock::now() + limits.time_limit) {}

    void run(const Node& root, const Value& data) {
        vars_.push_back({"$", data});
        walk(data, root);
    }

  private:
    struct Variable {
        std::string name;
        Value value;
    };

    void tick(const Node& node) {
        if ((++steps_ & 1023) == 0 && Clock::now() > deadline_) {
            throw Error("the template ran past its time limit", node.offset, true);
        }
    }

    void write(const std::string& text, const Node& node) {
        if (out_.size() + text.size() > limits_.max_output_bytes) {
            throw Error("the template's output exceeds " +
                            std::to_string(limits_.max_output_bytes) + " bytes",
                        node.offset, true);
        }
        out_ += text;
    }

    Flow walk(const Value& dot, const Node& node) {
        tick(node);
        switch (node.type) {
            case NodeType::kList:
                for (const NodePtr& child : node.children) {
                    const Flow flow = walk(dot, *child);
                    if (flow != Flow::kNormal) return flow;
                }
                return Flow::kNormal;
            case NodeType::kText:
                write(node.text, node);
                return Flow::kNormal;
            case NodeType::kAction: {
                const Value value = eval_pipeline(dot, *node.pipe);
                if (node.pipe->decl.empty()) {
                    // A nil interface (a missing map key under missingkey=zero) prints as this.
                    write(value.kind == Kind::kNil ? "<no value>" : print_value(value), node);
                }
                return Flow::kNormal;
            }
            case NodeType::kIf:
            case NodeType::kWith: {
                const size_t mark = vars_.size();
                const Value value = eval_pipeline(dot, *node.pipe);
                Flow flow = Flow::kNormal;
                if (is_true(value)) {
                    flow = walk(node.type == NodeType::kWith ? value : dot, *node.list);
                } else if (node.else_list) {
                    flow = walk(dot, *node.else_list);
                }
                vars_.resize(mark);
                return flow;
            }
            case NodeType::kRange:
                return walk_range(dot, node);
            case NodeType::kTemplate:
                return walk_template(dot, node);
            case NodeType::kBreak:
                return Flow::kBreak;
            case NodeType::kContinue:
                return Flow::kContinue;
            default:
                exec_error("unknown node", node);
        }
    }

    Flow walk_range(const Value& dot, const Node& node) {
        const size_t outer_mark = vars_.size();
        const Value value = eval_pipeline(dot, *node.pipe);
        const size_t mark = vars_.size();
        const std::vector<std::string>& decl = node.pipe->decl;
        auto one_iteration = [&](const Value& index, const Value& element) {
            if (++iterations_ > limits_.max_loop_iterations) {
                throw Error("the template ran more than " +
                                std::to_string(limits_.max_loop_iterations) + " loop iterations",
                            node.offset, true);
            }
            if (!decl.empty()) {
                if (node.pipe->is_assign) {
                    // With two variables the index comes first.
                    if (decl.size() == 2) {
                        set_var(decl[0], index, node);
                        set_var(decl[1], element, node);
                    } else {
                        set_var(decl[0], element, node);
                    }
                } else {
                    vars_[mark - 1].value = element;
                    if (decl.size() == 2) vars_[mark - 2].value = index;
                }
            }
            const Flow flow = walk(element, *node.list);
            vars_.resize(mark);
            return flow;
        };
        bool any = false;
        switch (value.kind) {
            case Kind::kList: {
                const auto& items = value.composite->values;
                for (size_t i = 0; i < items.size(); ++i) {
                    any = true;
                    if (one_iteration(Value::of_int(static_cast<int64_t>(i)), items[i]) ==
                        Flow::kBreak)
                        break;
                }
                break;
            }
            case Kind::kMap: {
                const Composite& map = *value.composite;
                for (size_t i = 0; i < map.keys.size(); ++i) {
                    any = true;
                    if (one_iteration(Value::of_string(map.keys[i]), map.values[i]) == Flow::kBreak)
                        break;
                }
                break;
            }
            case Kind::kInt: {
                if (decl.size() > 1) {
                    exec_error("can't use " + print_value(value) +
                                   " to iterate over more than one variable",
                               node);
                }
                for (int64_t i = 0; i < value.integer; ++i) {
                    any = true;
                    if (one_iteration(Value::of_int(i), Value::of_int(i)) == Flow::kBreak) break;
                }
                break;
            }
            case Kind::kNil:
                break;  // a nil value ranges over nothing
            default:
                exec_error("range can't iterate over " + print_value(value), node);
        }
        vars_.resize(outer_mark);
        if (!any && node.else_list) return walk(dot, *node.else_list);
        return Flow::kNormal;
    }

    Flow walk_template(const Value& dot, const Node& node) {
        auto found = program_.defines.find(node.text);
        if (found == program_.defines.end())
            exec_error("no such template \"" + node.text + "\"", node);
        if (++depth_ > limits_.max_recursion_depth) {
            throw Error(
                "template calls nested deeper than " + std::to_string(limits_.max_recursion_depth),
                node.offset, true);
        }
        const Value new_dot = node.pipe ? eval_pipeline(dot, *node.pipe) : Value::nil();
        std::vector<Variable> saved;
        saved.swap(vars_);
        vars_.push_back({"$", new_dot});
        walk(new_dot, *found->second);
        vars_.swap(saved);
        --depth_;
        return Flow::kNormal;
    }

    void set_var(const std::string& name, const Value& value, const Node& node) {
        for (size_t i = vars_.size(); i-- > 0;) {
            if (vars_[i].name == name) {
                vars_[i].value = value;
                return;
            }
        }
        exec_error("undefined variable: " + name, node);
    }

    const Value& var_value(const std::string& name, const Node& node) const {
        for (size_t i = vars_.size(); i-- > 0;) {
            if (vars_[i].name == name) return vars_[i].value;
        }
        exec_error("undefined variable: " + name, node);
    }

    Value eval_pipeline(const Value& dot, const Node& pipe) {
        if (++depth_ > limits_.max_recursion_depth * 4) {
            throw Error("the template nests too deeply", pipe.offset, true);
        }
        Value value;
        bool has_final = false;
        for (const NodePtr& cmd : pipe.children) {
            value = eval_command(dot, *cmd, value, has_final);
            has_final = true;
        }
        for (const std::string& name : pipe.decl) {
            if (pipe.is_assign) {
                set_var(name, value, pipe);
            } else {
                vars_.push_back({name, value});
            }
        }
        --depth_;
        return value;
    }

    static void not_a_function(const Node& cmd, bool has_final) {
        if (cmd.children.size() > 1 || has_final) {
            exec_error("can't give argument to non-function " + node_text(*cmd.children[0]), cmd);
        }
    }

    Value eval_command(const Value& dot, const Node& cmd, const Value& final, bool has_final) {
        const Node& first = *cmd.children[0];
        tick(first);
        switch (first.type) {
            case NodeType::kField:
                not_a_function(cmd, has_final);
                return eval_fields(dot, first, first.ident, 0);
            case NodeType::kChain: {
                not_a_function(cmd, has_final);
                const Value receiver = eval_arg(dot, *first.pipe);
                return eval_fields(receiver, first, first.ident, 0);
            }
            case NodeType::kIdentifier:
                return call_function(dot, first.text, cmd, final, has_final);
            case NodeType::kPipe:
                not_a_function(cmd, has_final);
                return eval_pipeline(dot, first);
            case NodeType::kVariable: {
                not_a_function(cmd, has_final);
                return eval_fields(var_value(first.ident[0], first), first, first.ident, 1);
            }
            default:
                break;
        }
        not_a_function(cmd, has_final);
        switch (first.type) {
            case NodeType::kBool:
                return Value::of_bool(first.boolean);
            case NodeType::kDot:
                return dot;
            case NodeType::kNil:
                exec_error("nil is not a command", first);
            case NodeType::kNumber:
                return constant(first);
            case NodeType::kString:
                return Value::of_string(first.text);
            default:
                exec_error("can't evaluate command", first);
        }
    }

    static Value constant(const Node& number) {
        return number.is_int ? Value::of_int(number.int_value)
                             : Value::of_float(number.float_value);
    }

    // Walks ident[from..] as fields starting at `receiver`.
    static Value eval_fields(Value receiver, const Node& node,
                             const std::vector<std::string>& ident, size_t from) {
        for (size_t i = from; i < ident.size(); ++i)
            receiver = eval_field(receiver, ident[i], node);
        return receiver;
    }

    static Value eval_field(const Value& receiver, const std::string& name, const Node& node) {
        switch (receiver.kind) {
            case Kind::kStruct: {
                const Value* field = find_field(receiver, name);
                if (!field) {
                    exec_error("can't evaluate field " + name + " in type " + type_name(receiver),
                               node);
                }
                return *field;
            }
            case Kind::kMap: {
                const Value* entry = find_field(receiver, name);
                return entry ? *entry : Value::nil();  // missingkey=zero
            }
            case Kind::kNil:
                exec_error("nil pointer evaluating interface {}." + name, node);
            default:
                exec_error("can't evaluate field " + name + " in type " + type_name(receiver),
                           node);
        }
    }

    Value eval_arg(const Value& dot, const Node& arg) {
        switch (arg.type) {
            case NodeType::kDot:
                return dot;
            case NodeType::kNil:
                return Value::nil();
            case NodeType::kField:
                return eval_fields(dot, arg, arg.ident, 0);
            case NodeType::kVariable:
                return eval_fields(var_value(arg.ident[0], arg), arg, arg.ident, 1);
            case NodeType::kPipe:
                return eval_pipeline(dot, arg);
            case NodeType::kIdentifier: {
                Node cmd;
                cmd.type = NodeType::kCommand;
                cmd.offset = arg.offset;
                cmd.children.push_back(std::make_shared<Node>(arg));
                return call_function(dot, arg.text, cmd, Value::nil(), false);
            }
            case NodeType::kChain:
                return eval_fields(eval_arg(dot, *arg.pipe), arg, arg.ident, 0);
            case NodeType::kBool:
                return Value::of_bool(arg.boolean);
            case NodeType::kNumber:
                return constant(arg);
            case NodeType::kString:
                return Value::of_string(arg.text);
            default:
                exec_error("can't handle argument", arg);
        }
    }

    Value call_function(const Value& dot, const std::string& name, const Node& cmd,
                        const Value& final, bool has_final) {
        const size_t given = cmd.children.size() - 1 + (has_final ? 1 : 0);
        // and/or evaluate their arguments only as far as needed.
        if (name == "and" || name == "or") {
            if (given < 1)
                exec_error("wrong number of args for " + name + ": want at least 1 got 0", cmd);
            Value value;
            for (size_t i = 0; i < given; ++i) {
                value = i + 1 < cmd.children.size() ? eval_arg(dot, *cmd.children[i + 1]) : final;
                const bool truth = is_true(value);
                if (name == "and" ? !truth : truth) return value;
            }
            return value;
        }
        std::vector<Value> args;
        args.reserve(given);
        for (size_t i = 1; i < cmd.children.size(); ++i)
            args.push_back(eval_arg(dot, *cmd.children[i]));
        if (has_final) args.push_back(final);
        return apply(name, args, cmd);
    }

    static void want_args(const std::string& name, const std::vector<Value>& args, size_t want,
                          const Node& node) {
        if (args.size() != want) {
            exec_error("wrong number of args for " + name + ": want " + std::to_string(want) +
                           " got " + std::to_string(args.size()),
                       node);
        }
    }

    static int64_t index_of(const Value& v, const Node& node) {
        if (v.kind != Kind::kInt)
            exec_error("cannot index slice/array with type " + type_name(v), node);
        return v.integer;
    }

    Value apply(const std::string& name, std::vector<Value>& args, const Node& node) {
        if (name == "not") {
            want_args(name, args, 1, node);
            return Value::of_bool(!is_true(args[0]));
        }
        if (name == "len") {
            want_args(name, args, 1, node);
            const Value& v = args[0];
            if (v.kind == Kind::kString) return Value::of_int(static_cast<int64_t>(v.str().size()));
            if (v.kind == Kind::kList || v.kind == Kind::kMap) {
                return Value::of_int(static_cast<int64_t>(v.size()));
            }
            if (v.kind == Kind::kNil) exec_error("error calling len: len of nil pointer", node);
            exec_error("error calling len: len of type " + type_name(v), node);
        }
        if (name == "index") return builtin_index(args, node);
        if (name == "slice") return builtin_slice(args, node);
        if (name == "eq") return Value::of_bool(builtin_eq(args, node));
        if (name == "ne") {
            want_args(name, args, 2, node);
            return Value::of_bool(!builtin_eq(args, node));
        }
        if (name == "lt" || name == "le" || name == "gt" || name == "ge") {
            want_args(name, args, 2, node);
            const bool less = builtin_lt(args[0], args[1], node);
            if (name == "lt") return Value::of_bool(less);
            std::vector<Value> pair = {args[0], args[1]};
            const bool equal = builtin_eq(pair, node);
            if (name == "le") return Value::of_bool(less || equal);
            if (name == "gt") return Value::of_bool(!less && !equal);
            return Value::of_bool(!less);
        }
        if (name == "print") return Value::of_string(sprint(args, false));
        if (name == "println") return Value::of_string(sprint(args, true));
        if (name == "printf") {
            if (args.empty() || args[0].kind != Kind::kString) {
                exec_error("wrong type for value; expected string", node);
            }
            return Value::of_string(
                sprintf_go(args[0].str(), std::vector<Value>(args.begin() + 1, args.end())));
        }
        if (name == "html") return Value::of_string(escape_html(sprint(args, false)));
        if (name == "js") return Value::of_string(escape_js(sprint(args, false)));
        if (name == "urlquery") return Value::of_string(escape_query(sprint(args, false)));
        if (name == "call") exec_error("error calling call: call of nil", node);
        if (name == "json") {
            want_args(name, args, 1, node);
            return Value::of_string(marshal_json(args[0]));
        }
        if (name == "currentDate") return Value::of_string(format_date(limits_.now, 0));
        if (name == "yesterdayDate") return Value::of_string(format_date(limits_.now, 1));
        if (name == "toTypeScriptType") {
            want_args(name, args, 1, node);
            return Value::of_string(property_typescript(args[0]));
        }
        exec_error("\"" + name + "\" is not a defined function", node);
    }

    static Value builtin_index(const std::vector<Value>& args, const Node& node) {
        if (args.empty()) exec_error("wrong number of args for index: want at least 1 got 0", node);
        Value item = args[0];
        for (size_t i = 1; i < args.size(); ++i) {
            const Value& key = args[i];
            switch (item.kind) {
                case Kind::kList: {
                    const int64_t at = index_of(key, node);
                    if (at < 0 || static_cast<size_t>(at) >= item.size()) {
                        exec_error("error calling index: index out of range: " + std::to_string(at),
                                   node);
                    }
                    item = item.composite->values[static_cast<size_t>(at)];
                    break;
                }
                case Kind::kString: {
                    const int64_t at = index_of(key, node);
                    if (at < 0 || static_cast<size_t>(at) >= item.str().size()) {
                        exec_error("error calling index: index out of range: " + std::to_string(at),
                                   node);
                    }
                    item = Value::of_int(
                        static_cast<unsigned char>(item.str()[static_cast<size_t>(at)]));
                    break;
                }
                case Kind::kMap: {
                    if (key.kind != Kind::kString) {
                        exec_error("error calling index: value has type " + type_name(key) +
                                       "; should be string",
                                   node);
                    }
                    const Value* entry = find_field(item, key.str());
                    item = entry ? *entry : Value::nil();
                    break;
                }
                case Kind::kNil:
                    exec_error("error calling index: index of untyped nil", node);
                default:
                    exec_error("error calling index: can't index item of type " + type_name(item),
                               node);
            }
        }
        return item;
    }

    static Value builtin_slice(const std::vector<Value>& args, const Node& node) {
        if (args.empty()) exec_error("wrong number of args for slice: want at least 1 got 0", node);
        const Value& item = args[0];
        if (args.size() > 4)
            exec_error(
                "error calling slice: too many slice indexes: " + std::to_string(args.size() - 1),
                node);
        size_t length = 0;
        if (item.kind == Kind::kString) {
            if (args.size() == 4)
                exec_error("error calling slice: cannot 3-index slice a string", node);
            length = item.str().size();
        } else if (item.kind == Kind::kList) {
            length = item.size();
        } else if (item.kind == Kind::kNil) {
            exec_error("error calling slice: slice of untyped nil", node);
        } else {
            exec_error("error calling slice: can't slice item of type " + type_name(item), node);
        }
        int64_t bounds[3] = {0, static_cast<int64_t>(length), static_cast<int64_t>(length)};
        for (size_t i = 1; i < args.size(); ++i) {
            const int64_t at = index_of(args[i], node);
            if (at < 0 || static_cast<size_t>(at) > length) {
                exec_error("error calling slice: index out of range: " + std::to_string(at), node);
            }
            bounds[i - 1] = at;
        }
        if (args.size() < 3) bounds[1] = static_cast<int64_t>(length);
        if (bounds[0] > bounds[1]) {
            exec_error("error calling slice: invalid slice index: " + std::to_string(bounds[0]) +
                           " > " + std::to_string(bounds[1]),
                       node);
        }
        if (args.size() == 4 && bounds[1] > bounds[2]) {
            exec_error("error calling slice: invalid slice index: " + std::to_string(bounds[1]) +
                           " > " + std::to_string(bounds[2]),
                       node);
        }
        if (item.kind == Kind::kString) {
            return Value::of_string(item.str().substr(static_cast<size_t>(bounds[0]),
                                                      static_cast<size_t>(bounds[1] - bounds[0])));
        }
        const auto& items = item.composite->values;
        Value result =
            Value::list(std::vector<Value>(items.begin() + bounds[0], items.begin() + bounds[1]),
                        item.printing);
        return result;
    }

    static bool builtin_eq(const std::vector<Value>& args, const Node& node) {
        if (args.empty()) exec_error("wrong number of args for eq: want at least 1 got 0", node);
        if (args.size() == 1) exec_error("error calling eq: missing argument for comparison", node);
        const Value& a = args[0];
        const Basic ka = basic_kind(a);
        for (size_t i = 1; i < args.size(); ++i) {
            const Value& b = args[i];
            const Basic kb = basic_kind(b);
            bool truth = false;
            if (ka != kb) {
                if (ka != Basic::kInvalid && kb != Basic::kInvalid) {
                    exec_error("error calling eq: incompatible types for comparison", node);
                }
            } else {
                switch (ka) {
                    case Basic::kBool:
                        truth = a.boolean == b.boolean;
                        break;
                    case Basic::kInt:
                        truth = a.integer == b.integer;
                        break;
                    case Basic::kFloat:
                        truth = a.number == b.number;
                        break;
                    case Basic::kString:
                        truth = a.str() == b.str();
                        break;
                    case Basic::kInvalid:
                        truth = true;
                        break;
                    case Basic::kOther:
                        exec_error("error calling eq: non-comparable types " + type_name(a) + ", " +
                                       type_name(b),
                                   node);
                }
            }
            if (truth) return true;
        }
        return false;
    }

    static bool builtin_lt(const Value& a, const Value& b, const Node& node) {
        const Basic ka = basic_kind(a);
        const Basic kb = basic_kind(b);
        if (ka == Basic::kInvalid || ka == Basic::kOther || ka == Basic::kBool ||
            kb == Basic::kInvalid || kb == Basic::kOther || kb == Basic::kBool) {
            exec_error("error calling lt: invalid type for comparison", node);
        }
        if (ka != kb) exec_error("error calling lt: incompatible types for comparison", node);
        switch (ka) {
            case Basic::kInt:
                return a.integer < b.integer;
            case Basic::kFloat:
                return a.number < b.number;
            default:
                return a.str() < b.str();
        }
    }

    const Program& program_;
    const Limits& limits_;
    std::string& out_;
    Clock::time_point deadline_;
    std::vector<Variable> vars_;
    uint64_t steps_ = 0;
    uint64_t iterations_ = 0;
    int depth_ = 0;
};

}  // namespace

void execute(const Program& program, const Node& root, const Value& data, const Limits& limits,
             std::string& out) {
    Executor(program, limits, out).run(root, data);
}

}  // namespace cria::chat::gotmpl
