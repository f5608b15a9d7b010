#include "chat/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "chat/jinja/error.h"
#include "chat/jinja/unicode.h"

namespace cria::chat::jinja {
namespace {

std::string describe(const Token& token) {
    switch (token.type) {
        case TokenType::kText:
            return "template data";
        case TokenType::kVariableBegin:
            return "'{{'";
        case TokenType::kVariableEnd:
            return "'}}'";
        case TokenType::kBlockBegin:
            return "'{%'";
        case TokenType::kBlockEnd:
            return "'%}'";
        case TokenType::kName:
            return "'" + token.text + "'";
        case TokenType::kString:
            return "string literal";
        case TokenType::kInteger:
            return "integer literal";
        case TokenType::kFloat:
            return "float literal";
        case TokenType::kOperator:
            return "'" + token.text + "'";
        case TokenType::kEnd:
            return "end of template";
    }
    return "token";
}

std::string quote_list(const std::vector<std::string>& names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
        out += "'" + names[i] + "'";
    }
    return out;
}

class Parser {
  public:
    explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

    Body parse() {
        Body body = subparse({});
        if (cur().type != TokenType::kEnd) fail_at(cur(), "unexpected " + describe(cur()));
        return body;
    }

  private:
    // ---- token helpers ----------------------------------------------------------------------
    const Token& cur() const { return tokens_[index_]; }
    const Token& peek(size_t ahead = 1) const {
        return tokens_[std::min(index_ + ahead, tokens_.size() - 1)];
    }
    const Token& advance() {
        const Token& token = tokens_[index_];
        if (index_ + 1 < tokens_.size()) ++index_;
        return token;
    }
    bool is_op(const char* op) const {
        return cur().type == TokenType::kOperator && cur().text == op;
    }
    bool is_name(const char* name) const {
        return cur().type == TokenType::kName && cur().text == name;
    }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        advance();
        return true;
    }

    [[noreturn]] void fail_at(const Token& token, std::string message) {
        throw Error(ErrorKind::kSyntax, std::move(message), token.offset);
    }

    void expect_op(const char* op) {
        if (!skip_op(op))
            fail_at(cur(), std::string("expected '") + op + "', got " + describe(cur()));
    }
    void expect(TokenType type, const char* what) {
        if (cur().type != type)
            fail_at(cur(), std::string("expected ") + what + ", got " + describe(cur()));
        advance();
    }
    std::string expect_identifier() {
        if (cur().type != TokenType::kName)
            fail_at(cur(), "expected a name, got " + describe(cur()));
        return advance().text;
    }

    // Bounds the recursion of the descent (and so of the tree and its evaluation).
    struct DepthGuard {
        DepthGuard(Parser& p) : parser(p) {  // NOLINT
            if (++parser.depth_ > kMaxParseDepth) {
                parser.fail_at(parser.cur(), "template nested too deeply (more than " +
                                                 std::to_string(kMaxParseDepth) + " levels)");
            }
        }
        ~DepthGuard() { --parser.depth_; }
        Parser& parser;
    };

    // ---- template structure -----------------------------------------------------------------

    // Parses nodes until a `{% name %}` with name in end_names (left as the current token, the
    // block start consumed) or the end of the template.
    Body subparse(const std::vector<std::string>& end_names) {
        Body body;
        while (true) {
            const Token& token = cur();
            switch (token.type) {
                case TokenType::kText:
                    body.push_back(std::make_unique<TextNode>(token.offset, token.text));
                    advance();
                    break;
                case TokenType::kVariableBegin: {
                    advance();
                    ExprPtr expr = parse_tuple(true, {});
                    expect(TokenType::kVariableEnd, "'}}'");
                    body.push_back(std::make_unique<OutputNode>(token.offset, std::move(expr)));
                    break;
                }
                case TokenType::kBlockBegin: {
                    advance();
                    if (cur().type == TokenType::kName &&
                        std::find(end_names.begin(), end_names.end(), cur().text) !=
                            end_names.end()) {
                        return body;
                    }
                    body.push_back(parse_statement());
                    expect(TokenType::kBlockEnd, "'%}'");
                    break;
                }
                case TokenType::kEnd:
                    if (!end_names.empty()) {
                        std::string message =
                            "unexpected end of template; expected " + quote_list(end_names);
                        if (!tag_stack_.empty()) {
                            message += " to close the '" + tag_stack_.back().first + "' opened";
                            int line = 0;
                            int column = 0;
                            locate(source_, tag_stack_.back().second, line, column);
                            message += " at line " + std::to_string(line) + ", column " +
                                       std::to_string(column);
                        }
                        fail_at(token, message);
                    }
                    return body;
                default:
                    fail_at(token, "unexpected " + describe(token));
            }
        }
    }

    // The body of a block statement: `%}` then nodes up to one of end_names.
    Body parse_statements(const std::vector<std::string>& end_names) {
        skip_op(":");
        expect(TokenType::kBlockEnd, "'%}'");
        end_stack_.push_back(end_names);
        Body body = subparse(end_names);
        end_stack_.pop_back();
        return body;
    }

    NodePtr parse_statement() {
        DepthGuard guard(*this);
        const Token& token = cur();
        if (token.type != TokenType::kName)
            fail_at(token, "expected a tag name, got " + describe(token));
        const std::string& tag = token.text;
        tag_stack_.emplace_back(tag, token.offset);
        NodePtr node;
        if (tag == "if") {
            node = parse_if();
        } else if (tag == "for") {
            node = parse_for();
        } else if (tag == "set") {
            node = parse_set();
        } else if (tag == "macro") {
            node = parse_macro();
        } else if (tag == "call") {
            node = parse_call_block();
        } else if (tag == "filter") {
            node = parse_filter_block();
        } else if (tag == "with") {
            node = parse_with();
        } else if (tag == "break" || tag == "continue") {
            if (loop_depth_ == 0) fail_at(token, "'" + tag + "' outside of a loop");
            const bool is_break = tag == "break";
            advance();
            node = std::make_unique<Node>(is_break ? NodeKind::kBreak : NodeKind::kContinue,
                                          token.offset);
        } else if (tag == "print") {
            advance();
            node = std::make_unique<OutputNode>(token.offset, parse_tuple(true, {}));
        } else if (tag == "block") {
            node = parse_block();
        } else if (tag == "generation") {
            // Hugging Face's {% generation %} marks assistant text for masks; it renders as is.
            advance();
            auto scope = std::make_unique<ScopeNode>(token.offset, false);
            scope->body = parse_statements({"endgeneration"});
            advance();
            node = std::move(scope);
        } else if (tag == "include" || tag == "import" || tag == "from" || tag == "extends") {
            fail_at(token, "tag '" + tag +
                               "' is not supported: a chat template cannot load "
                               "other templates");
        } else {
            fail_unknown_tag(token);
        }
        tag_stack_.pop_back();
        return node;
    }

    [[noreturn]] void fail_unknown_tag(const Token& token) {
        std::string message = "encountered unknown tag '" + token.text + "'";
        if (!end_stack_.empty()) {
            bool expected_elsewhere = false;
            for (const auto& names : end_stack_) {
                if (std::find(names.begin(), names.end(), token.text) != names.end()) {
                    expected_elsewhere = true;
                }
            }
            message += expected_elsewhere ? "; probably a nesting mistake: looking for "
                                          : "; looking for ";
            message += quote_list(end_stack_.back());
            // The top of tag_stack_ is the unknown tag itself; below it is the open block.
            if (tag_stack_.size() >= 2) {
                message += " to close '" + tag_stack_[tag_stack_.size() - 2].first + "'";
            }
        }
        fail_at(token, message);
    }

    NodePtr parse_if() {
        auto node = std::make_unique<IfNode>(advance().offset);
        while (true) {
            ExprPtr test = parse_tuple(false, {});
            Body body = parse_statements({"elif", "else", "endif"});
            node->branches.emplace_back(std::move(test), std::move(body));
            const Token& end = advance();
            if (end.text == "elif") continue;
            if (end.text == "else") {
                node->else_body = parse_statements({"endif"});
                advance();
            }
            break;
        }
        return node;
    }

    NodePtr parse_for() {
        auto node = std::make_unique<ForNode>(advance().offset);
        node->target = parse_assign_target(false, {"in"});
        if (!skip_name("in")) fail_at(cur(), "expected 'in', got " + describe(cur()));
        node->iterable = parse_tuple(false, {"recursive"});
        if (skip_name("if")) node->condition = parse_expression(true);
        node->recursive = skip_name("recursive");
        ++loop_depth_;
        node->body = parse_statements({"endfor", "else"});
        --loop_depth_;
        if (advance().text == "else") {
            node->else_body = parse_statements({"endfor"});
            advance();
        }
        return node;
    }

    NodePtr parse_set() {
        const uint32_t offset = advance().offset;
        AssignTarget target = parse_assign_target(true, {});
        if (skip_op("=")) {
            auto node = std::make_unique<SetNode>(offset);
            node->target = std::move(target);
            node->value = parse_tuple(true, {});
            return node;
        }
        auto node = std::make_unique<SetBlockNode>(offset);
        node->target = std::move(target);
        if (is_op("|")) {
            advance();
            node->filters = parse_filter_chain();
        }
        node->body = parse_statements({"endset"});
        advance();
        return node;
    }

    // Names (optionally parenthesized, comma separated) or `ns.attr` when allowed.
    AssignTarget parse_assign_target(bool with_namespace, const std::vector<std::string>& ends) {
        AssignTarget target;
        const bool parenthesized = skip_op("(");
        while (true) {
            const Token& token = cur();
            if (token.type != TokenType::kName || token.text == "true" || token.text == "false" ||
                token.text == "none" || token.text == "True" || token.text == "False" ||
                token.text == "None") {
                fail_at(token, "can't assign to " + describe(token));
            }
            target.names.push_back(advance().text);
            if (with_namespace && !parenthesized && target.names.size() == 1 && is_op(".")) {
                advance();
                target.namespace_attr = expect_identifier();
                return target;
            }
            if (!is_op(",")) break;
            advance();
            target.unpack = true;
            if (parenthesized ? is_op(")")
                              : (cur().type == TokenType::kBlockEnd || is_op("=") ||
                                 (cur().type == TokenType::kName &&
                                  std::find(ends.begin(), ends.end(), cur().text) != ends.end()))) {
                break;  // trailing comma
            }
        }
        if (parenthesized) expect_op(")");
        return target;
    }

    NodePtr parse_macro() {
        auto node = std::make_unique<MacroNode>(advance().offset);
        node->name = expect_identifier();
        parse_signature(*node);
        parse_macro_body(*node, "endmacro");
        return node;
    }

    void parse_signature(MacroNode& node) {
        expect_op("(");
        while (!is_op(")")) {
            if (!node.params.empty()) expect_op(",");
            if (is_op(")")) break;
            MacroParam param;
            param.name = expect_identifier();
            if (skip_op("=")) {
                param.default_value = parse_expression(true);
            } else if (!node.params.empty() && node.params.back().default_value != nullptr) {
                fail_at(cur(), "non-default argument follows default argument");
            }
            node.params.push_back(std::move(param));
        }
        expect_op(")");
    }

    void parse_macro_body(MacroNode& node, const char* end_name) {
        const int saved_loop_depth = loop_depth_;
        loop_depth_ = 0;
        macro_stack_.push_back(&node);
        node.body = parse_statements({end_name});
        macro_stack_.pop_back();
        loop_depth_ = saved_loop_depth;
        advance();
    }

    NodePtr parse_call_block() {
        auto node = std::make_unique<CallBlockNode>(advance().offset);
        auto caller = std::make_unique<MacroNode>(node->offset);
        caller->name = "caller";
        if (is_op("(")) parse_signature(*caller);
        ExprPtr call = parse_expression(true);
        if (call->kind != ExprKind::kCall) fail_at(cur(), "expected a call in {% call %}");
        node->call.reset(static_cast<CallExpr*>(call.release()));
        parse_macro_body(*caller, "endcall");
        node->caller = std::move(caller);
        return node;
    }

    NodePtr parse_filter_block() {
        auto node = std::make_unique<FilterBlockNode>(advance().offset);
        node->filters = parse_filter_chain();
        node->body = parse_statements({"endfilter"});
        advance();
        return node;
    }

    NodePtr parse_with() {
        auto node = std::make_unique<WithNode>(advance().offset);
        while (cur().type != TokenType::kBlockEnd) {
            if (!node->assignments.empty()) expect_op(",");
            AssignTarget target = parse_assign_target(false, {});
            expect_op("=");
            node->assignments.emplace_back(std::move(target), parse_expression(true));
        }
        node->body = parse_statements({"endwith"});
        advance();
        return node;
    }

    NodePtr parse_block() {
        auto node = std::make_unique<ScopeNode>(advance().offset, true);
        const std::string name = expect_identifier();
        skip_name("scoped");
        skip_name("required");
        node->body = parse_statements({"endblock"});
        advance();
        if (cur().type == TokenType::kName && cur().text == name) advance();
        return node;
    }

    // name(args) | name(args) ...; the first '|' (if any) is already consumed.
    std::vector<std::unique_ptr<FilterExpr>> parse_filter_chain() {
        std::vector<std::unique_ptr<FilterExpr>> filters;
        while (true) {
            filters.push_back(parse_filter_call(nullptr));
            if (!skip_op("|")) break;
        }
        return filters;
    }

    std::unique_ptr<FilterExpr> parse_filter_call(ExprPtr value) {
        const Token& token = cur();
        std::string name = expect_identifier();
        while (is_op(".")) {
            advance();
            name += "." + expect_identifier();
        }
        auto filter = std::make_unique<FilterExpr>(token.offset, std::move(value), std::move(name));
        if (is_op("(")) parse_call_args(filter->args);
        return filter;
    }

    // ---- expressions ------------------------------------------------------------------------

    bool is_tuple_end(const std::vector<std::string>& extra_ends) const {
        const TokenType type = cur().type;
        if (type == TokenType::kVariableEnd || type == TokenType::kBlockEnd ||
            type == TokenType::kEnd || is_op(")")) {
            return true;
        }
        return type == TokenType::kName &&
               std::find(extra_ends.begin(), extra_ends.end(), cur().text) != extra_ends.end();
    }

    // Expressions separated by commas form a tuple (`{{ a, b }}`, `{% set x = 1, 2 %}`).
    ExprPtr parse_tuple(bool with_conditional, const std::vector<std::string>& extra_ends,
                        bool explicit_parens = false) {
        const uint32_t offset = cur().offset;
        std::vector<ExprPtr> items;
        bool is_tuple = false;
        while (true) {
            if (!items.empty()) expect_op(",");
            if (is_tuple_end(extra_ends)) break;
            items.push_back(parse_expression(with_conditional));
            if (is_op(",")) {
                is_tuple = true;
            } else {
                break;
            }
        }
        if (!is_tuple) {
            if (!items.empty()) return std::move(items[0]);
            if (!explicit_parens) fail_at(cur(), "expected an expression, got " + describe(cur()));
        }
        auto tuple = std::make_unique<SequenceExpr>(ExprKind::kTuple, offset);
        tuple->items = std::move(items);
        return tuple;
    }

    ExprPtr parse_expression(bool with_conditional) {
        DepthGuard guard(*this);
        if (!with_conditional) return parse_or();
        const uint32_t offset = cur().offset;
        ExprPtr expr = parse_or();
        while (is_name("if")) {
            DepthGuard chain_guard(*this);
            advance();
            auto cond = std::make_unique<ConditionalExpr>(offset);
            cond->then_value = std::move(expr);
            cond->test = parse_or();
            if (skip_name("else")) cond->else_value = parse_expression(true);
            expr = std::move(cond);
        }
        return expr;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        int chain = 0;
        while (is_name("or")) {
            chain_step(chain);
            const uint32_t offset = advance().offset;
            left =
                std::make_unique<LogicalExpr>(ExprKind::kOr, offset, std::move(left), parse_and());
        }
        depth_ -= chain;
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        int chain = 0;
        while (is_name("and")) {
            chain_step(chain);
            const uint32_t offset = advance().offset;
            left =
                std::make_unique<LogicalExpr>(ExprKind::kAnd, offset, std::move(left), parse_not());
        }
        depth_ -= chain;
        return left;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            DepthGuard guard(*this);
            const uint32_t offset = advance().offset;
            return std::make_unique<UnaryExpr>(offset, UnaryOp::kNot, parse_not());
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const uint32_t offset = cur().offset;
        ExprPtr first = parse_math1();
        std::unique_ptr<CompareExpr> compare;
        int chain = 0;
        while (true) {
            CompareOp op;
            if (is_op("==")) {
                op = CompareOp::kEq;
            } else if (is_op("!=")) {
                op = CompareOp::kNe;
            } else if (is_op("<")) {
                op = CompareOp::kLt;
            } else if (is_op("<=")) {
                op = CompareOp::kLe;
            } else if (is_op(">")) {
                op = CompareOp::kGt;
            } else if (is_op(">=")) {
                op = CompareOp::kGe;
            } else if (is_name("in")) {
                op = CompareOp::kIn;
            } else if (is_name("not") && peek().type == TokenType::kName && peek().text == "in") {
                advance();
                op = CompareOp::kNotIn;
            } else {
                break;
            }
            chain_step(chain);
            advance();
            if (!compare) compare = std::make_unique<CompareExpr>(offset, std::move(first));
            compare->rest.emplace_back(op, parse_math1());
        }
        depth_ -= chain;
        if (compare) return compare;
        return first;
    }

    ExprPtr parse_math1() {
        ExprPtr left = parse_concat();
        int chain = 0;
        while (is_op("+") || is_op("-")) {
            chain_step(chain);
            const Token& token = advance();
            const BinaryOp op = token.text == "+" ? BinaryOp::kAdd : BinaryOp::kSub;
            left = std::make_unique<BinaryExpr>(token.offset, op, std::move(left), parse_concat());
        }
        depth_ -= chain;
        return left;
    }

    ExprPtr parse_concat() {
        ExprPtr left = parse_math2();
        int chain = 0;
        while (is_op("~")) {
            chain_step(chain);
            const uint32_t offset = advance().offset;
            left = std::make_unique<BinaryExpr>(offset, BinaryOp::kConcat, std::move(left),
                                                parse_math2());
        }
        depth_ -= chain;
        return left;
    }

    ExprPtr parse_math2() {
        ExprPtr left = parse_pow();
        int chain = 0;
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            chain_step(chain);
            const Token& token = advance();
            BinaryOp op = BinaryOp::kMul;
            if (token.text == "/") op = BinaryOp::kDiv;
            if (token.text == "//") op = BinaryOp::kFloorDiv;
            if (token.text == "%") op = BinaryOp::kMod;
            left = std::make_unique<BinaryExpr>(token.offset, op, std::move(left), parse_pow());
        }
        depth_ -= chain;
        return left;
    }

    ExprPtr parse_pow() {
        ExprPtr left = parse_unary(true);
        int chain = 0;
        while (is_op("**")) {
            chain_step(chain);
            const uint32_t offset = advance().offset;
            left = std::make_unique<BinaryExpr>(offset, BinaryOp::kPow, std::move(left),
                                                parse_unary(true));
        }
        depth_ -= chain;
        return left;
    }

    // Each link of a left-associative chain deepens the tree by one level.
    void chain_step(int& chain) {
        ++chain;
        if (++depth_ > kMaxParseDepth) {
            fail_at(cur(), "expression nested too deeply (more than " +
                               std::to_string(kMaxParseDepth) + " levels)");
        }
    }

    ExprPtr parse_unary(bool with_filter) {
        DepthGuard guard(*this);
        ExprPtr node;
        if (is_op("-") || is_op("+")) {
            const Token& token = advance();
            node = std::make_unique<UnaryExpr>(
                token.offset, token.text == "-" ? UnaryOp::kNegate : UnaryOp::kPlus,
                parse_unary(false));
        } else {
            node = parse_primary();
        }
        int chain = 0;
        node = parse_postfix(std::move(node), chain);
        if (with_filter) node = parse_filter_expr(std::move(node), chain);
        depth_ -= chain;
        return node;
    }

    ExprPtr parse_primary() {
        const Token& token = cur();
        switch (token.type) {
            case TokenType::kName: {
                advance();
                const std::string& name = token.text;
                if (name == "true" || name == "True") {
                    return std::make_unique<LiteralExpr>(token.offset, Value(true));
                }
                if (name == "false" || name == "False") {
                    return std::make_unique<LiteralExpr>(token.offset, Value(false));
                }
                if (name == "none" || name == "None") {
                    return std::make_unique<LiteralExpr>(token.offset, Value::none());
                }
                if (!macro_stack_.empty()) {
                    if (name == "varargs") macro_stack_.back()->uses_varargs = true;
                    if (name == "kwargs") macro_stack_.back()->uses_kwargs = true;
                    if (name == "caller") macro_stack_.back()->uses_caller = true;
                }
                return std::make_unique<NameExpr>(token.offset, name);
            }
            case TokenType::kString: {
                // Adjacent string literals concatenate, as in Python.
                std::string text = advance().text;
                while (cur().type == TokenType::kString) text += advance().text;
                return std::make_unique<LiteralExpr>(token.offset, Value(std::move(text)));
            }
            case TokenType::kInteger:
                advance();
                return std::make_unique<LiteralExpr>(token.offset, Value(token.int_value));
            case TokenType::kFloat:
                advance();
                return std::make_unique<LiteralExpr>(token.offset, Value(token.float_value));
            case TokenType::kOperator:
                if (token.text == "(") {
                    advance();
                    ExprPtr inner = parse_tuple(true, {}, true);
                    expect_op(")");
                    return inner;
                }
                if (token.text == "[") return parse_list();
                if (token.text == "{") return parse_dict();
                break;
            default:
                break;
        }
        fail_at(token, "unexpected " + describe(token));
    }

    ExprPtr parse_list() {
        auto list = std::make_unique<SequenceExpr>(ExprKind::kList, advance().offset);
        while (!is_op("]")) {
            if (!list->items.empty()) expect_op(",");
            if (is_op("]")) break;
            list->items.push_back(parse_expression(true));
        }
        expect_op("]");
        return list;
    }

    ExprPtr parse_dict() {
        auto dict = std::make_unique<DictExpr>(advance().offset);
        while (!is_op("}")) {
            if (!dict->items.empty()) expect_op(",");
            if (is_op("}")) break;
            ExprPtr key = parse_expression(true);
            expect_op(":");
            dict->items.emplace_back(std::move(key), parse_expression(true));
        }
        expect_op("}");
        return dict;
    }

    ExprPtr parse_postfix(ExprPtr node, int& chain) {
        while (true) {
            if (is_op(".") || is_op("[")) {
                chain_step(chain);
                node = parse_subscript(std::move(node));
            } else if (is_op("(")) {
                chain_step(chain);
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_filter_expr(ExprPtr node, int& chain) {
        while (true) {
            if (is_op("|")) {
                chain_step(chain);
                advance();
                node = parse_filter_call(std::move(node));
            } else if (is_name("is")) {
                chain_step(chain);
                node = parse_test(std::move(node));
            } else if (is_op("(")) {
                chain_step(chain);
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr node) {
        const Token& token = advance();
        if (token.text == ".") {
            const Token& attr = cur();
            if (attr.type == TokenType::kName) {
                advance();
                return std::make_unique<GetAttrExpr>(token.offset, std::move(node), attr.text);
            }
            if (attr.type == TokenType::kInteger) {
                advance();
                return std::make_unique<GetItemExpr>(
                    token.offset, std::move(node),
                    std::make_unique<LiteralExpr>(attr.offset, Value(attr.int_value)));
            }
            fail_at(attr, "expected a name or number after '.', got " + describe(attr));
        }
        std::vector<ExprPtr> args;
        while (!is_op("]")) {
            if (!args.empty()) expect_op(",");
            args.push_back(parse_subscribed());
        }
        expect_op("]");
        if (args.empty()) fail_at(token, "expected a subscript expression");
        ExprPtr index;
        if (args.size() == 1) {
            index = std::move(args[0]);
        } else {
            auto tuple = std::make_unique<SequenceExpr>(ExprKind::kTuple, token.offset);
            tuple->items = std::move(args);
            index = std::move(tuple);
        }
        return std::make_unique<GetItemExpr>(token.offset, std::move(node), std::move(index));
    }

    // An index or a start:stop:step slice.
    ExprPtr parse_subscribed() {
        const uint32_t offset = cur().offset;
        ExprPtr start;
        if (!is_op(":")) {
            start = parse_expression(true);
            if (!is_op(":")) return start;
        }
        advance();  // ':'
        auto slice = std::make_unique<SliceExpr>(offset);
        slice->start = std::move(start);
        if (!is_op("]") && !is_op(",") && !is_op(":")) slice->stop = parse_expression(true);
        if (skip_op(":")) {
            if (!is_op("]") && !is_op(",")) slice->step = parse_expression(true);
        }
        return slice;
    }

    ExprPtr parse_call(ExprPtr callee) {
        const uint32_t offset = callee->offset;
        auto call = std::make_unique<CallExpr>(offset, std::move(callee));
        parse_call_args(call->args);
        return call;
    }

    void parse_call_args(CallArguments& args) {
        const Token& open = cur();
        expect_op("(");
        bool require_comma = false;
        while (!is_op(")")) {
            if (require_comma) {
                expect_op(",");
                if (is_op(")")) break;
            }
            if (is_op("*")) {
                if (args.star_args || args.star_kwargs)
                    fail_at(open, "invalid syntax for function call");
                advance();
                args.star_args = parse_expression(true);
            } else if (is_op("**")) {
                if (args.star_kwargs) fail_at(open, "invalid syntax for function call");
                advance();
                args.star_kwargs = parse_expression(true);
            } else if (cur().type == TokenType::kName && peek().type == TokenType::kOperator &&
                       peek().text == "=") {
                if (args.star_kwargs) fail_at(open, "invalid syntax for function call");
                std::string key = advance().text;
                advance();
                args.keyword.emplace_back(std::move(key), parse_expression(true));
            } else {
                if (args.star_args || args.star_kwargs || !args.keyword.empty()) {
                    fail_at(cur(), "positional argument follows keyword argument");
                }
                args.positional.push_back(parse_expression(true));
            }
            require_comma = true;
        }
        expect_op(")");
    }

    ExprPtr parse_test(ExprPtr value) {
        const uint32_t offset = advance().offset;  // 'is'
        const bool negated = skip_name("not");
        std::string name = expect_identifier();
        while (is_op(".")) {
            advance();
            name += "." + expect_identifier();
        }
        auto test = std::make_unique<TestExpr>(offset, std::move(value), std::move(name), negated);
        const Token& next = cur();
        if (is_op("(")) {
            parse_call_args(test->args);
        } else if ((next.type == TokenType::kName || next.type == TokenType::kString ||
                    next.type == TokenType::kInteger || next.type == TokenType::kFloat ||
                    is_op("[") || is_op("{")) &&
                   !(next.type == TokenType::kName &&
                     (next.text == "else" || next.text == "or" || next.text == "and"))) {
            // `x is divisibleby 3`, `x is sameas none`: one argument without parentheses.
            if (next.type == TokenType::kName && next.text == "is") {
                fail_at(next, "cannot chain multiple tests with 'is'");
            }
            int chain = 0;
            ExprPtr arg = parse_postfix(parse_primary(), chain);
            depth_ -= chain;
            test->args.positional.push_back(std::move(arg));
        }
        return test;
    }

    std::vector<Token> tokens_;
    size_t index_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;
    std::vector<MacroNode*> macro_stack_;
    std::vector<std::vector<std::string>> end_stack_;
    std::vector<std::pair<std::string, uint32_t>> tag_stack_;  // open tags, for messages

  public:
    std::string_view source_;
};

}  // namespace

std::unique_ptr<Template> parse_template(std::string_view raw_source, const LexerOptions& options) {
    if (raw_source.size() > kMaxTemplateBytes) {
        throw Error(ErrorKind::kSyntax,
                    "template is larger than " + std::to_string(kMaxTemplateBytes) + " bytes", 0);
    }
    if (!unicode::is_valid_utf8(raw_source)) {
        throw Error(ErrorKind::kSyntax, "template is not valid UTF-8", 0);
    }
    auto tmpl = std::make_unique<Template>();
    tmpl->source = normalize_source(raw_source);
    Parser parser(tokenize(tmpl->source, options));
    parser.source_ = tmpl->source;
    tmpl->body = parser.parse();
    return tmpl;
}

}  // namespace cria::chat::jinja
