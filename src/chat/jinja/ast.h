// The parsed form of a template: expression and statement nodes. A Template owns its tree and
// is immutable after parsing, so one parsed template can render on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace cria::chat::jinja {

// ---------------------------------------------------------------------------------------------
// Expressions

enum class ExprKind : uint8_t {
    kLiteral,
    kName,
    kList,
    kTuple,
    kDict,
    kGetAttr,
    kGetItem,
    kSlice,
    kUnary,
    kBinary,
    kAnd,
    kOr,
    kCompare,
    kConditional,
    kCall,
    kFilter,
    kTest,
};

struct Expr {
    Expr(ExprKind k, uint32_t off) : kind(k), offset(off) {}
    virtual ~Expr() = default;
    ExprKind kind;
    uint32_t offset;  // where the node starts in the source, for error locations
};
using ExprPtr = std::unique_ptr<Expr>;

struct LiteralExpr : Expr {
    LiteralExpr(uint32_t off, Value v) : Expr(ExprKind::kLiteral, off), value(std::move(v)) {}
    Value value;
};

struct NameExpr : Expr {
    NameExpr(uint32_t off, std::string n) : Expr(ExprKind::kName, off), name(std::move(n)) {}
    std::string name;
};

// [a, b], (a, b)
struct SequenceExpr : Expr {
    SequenceExpr(ExprKind k, uint32_t off) : Expr(k, off) {}
    std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
    explicit DictExpr(uint32_t off) : Expr(ExprKind::kDict, off) {}
    std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

// object.name
struct GetAttrExpr : Expr {
    GetAttrExpr(uint32_t off, ExprPtr o, std::string n)
        : Expr(ExprKind::kGetAttr, off), object(std::move(o)), name(std::move(n)) {}
    ExprPtr object;
    std::string name;
};

// object[index]
struct GetItemExpr : Expr {
    GetItemExpr(uint32_t off, ExprPtr o, ExprPtr i)
        : Expr(ExprKind::kGetItem, off), object(std::move(o)), index(std::move(i)) {}
    ExprPtr object;
    ExprPtr index;
};

// start:stop:step inside a subscript; absent parts are null.
struct SliceExpr : Expr {
    explicit SliceExpr(uint32_t off) : Expr(ExprKind::kSlice, off) {}
    ExprPtr start, stop, step;
};

enum class UnaryOp : uint8_t { kNot, kNegate, kPlus };
struct UnaryExpr : Expr {
    UnaryExpr(uint32_t off, UnaryOp o, ExprPtr e)
        : Expr(ExprKind::kUnary, off), op(o), operand(std::move(e)) {}
    UnaryOp op;
    ExprPtr operand;
};

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat };
struct BinaryExpr : Expr {
    BinaryExpr(uint32_t off, BinaryOp o, ExprPtr l, ExprPtr r)
        : Expr(ExprKind::kBinary, off), op(o), left(std::move(l)), right(std::move(r)) {}
    BinaryOp op;
    ExprPtr left, right;
};

// `a and b`, `a or b` (kind tells which)
struct LogicalExpr : Expr {
    LogicalExpr(ExprKind k, uint32_t off, ExprPtr l, ExprPtr r)
        : Expr(k, off), left(std::move(l)), right(std::move(r)) {}
    ExprPtr left, right;
};

enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };
// a < b <= c: Python's chained comparison.
struct CompareExpr : Expr {
    CompareExpr(uint32_t off, ExprPtr first_operand)
        : Expr(ExprKind::kCompare, off), first(std::move(first_operand)) {}
    ExprPtr first;
    std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

// `then if test else otherwise`; otherwise may be null (yields Undefined).
struct ConditionalExpr : Expr {
    explicit ConditionalExpr(uint32_t off) : Expr(ExprKind::kConditional, off) {}
    ExprPtr test, then_value, else_value;
};

struct CallArguments {
    std::vector<ExprPtr> positional;
    std::vector<std::pair<std::string, ExprPtr>> keyword;
    ExprPtr star_args;    // *args
    ExprPtr star_kwargs;  // **kwargs
};

struct CallExpr : Expr {
    CallExpr(uint32_t off, ExprPtr c) : Expr(ExprKind::kCall, off), callee(std::move(c)) {}
    ExprPtr callee;
    CallArguments args;
};

// value | name(args); value is null for `{% filter %}` blocks and `{% set x | f %}`.
struct FilterExpr : Expr {
    FilterExpr(uint32_t off, ExprPtr v, std::string n)
        : Expr(ExprKind::kFilter, off), value(std::move(v)), name(std::move(n)) {}
    ExprPtr value;
    std::string name;
    CallArguments args;
};

// value is [not] name(args)
struct TestExpr : Expr {
    TestExpr(uint32_t off, ExprPtr v, std::string n, bool neg)
        : Expr(ExprKind::kTest, off), value(std::move(v)), name(std::move(n)), negated(neg) {}
    ExprPtr value;
    std::string name;
    bool negated;
    CallArguments args;
};

// ---------------------------------------------------------------------------------------------
// Statements

enum class NodeKind : uint8_t {
    kText,
    kOutput,
    kIf,
    kFor,
    kSet,
    kSetBlock,
    kMacro,
    kCallBlock,
    kFilterBlock,
    kWith,
    kBreak,
    kContinue,
    kScope,  // a body rendered in place: {% block %}, {% generation %}
};

struct Node {
    Node(NodeKind k, uint32_t off) : kind(k), offset(off) {}
    virtual ~Node() = default;
    NodeKind kind;
    uint32_t offset;
};
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct TextNode : Node {
    TextNode(uint32_t off, std::string t) : Node(NodeKind::kText, off), text(std::move(t)) {}
    std::string text;
};

struct OutputNode : Node {
    OutputNode(uint32_t off, ExprPtr e) : Node(NodeKind::kOutput, off), expr(std::move(e)) {}
    ExprPtr expr;
};

struct IfNode : Node {
    explicit IfNode(uint32_t off) : Node(NodeKind::kIf, off) {}
    std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
    Body else_body;
};

// Where an assignment stores: names (several for unpacking), or a namespace attribute.
struct AssignTarget {
    std::vector<std::string> names;
    bool unpack = false;         // `a, b = ...` even with a single name (`a, = ...`)
    std::string namespace_attr;  // non-empty for `ns.attr = ...` (names[0] is the namespace)
};

struct ForNode : Node {
    explicit ForNode(uint32_t off) : Node(NodeKind::kFor, off) {}
    AssignTarget target;
    ExprPtr iterable;
    ExprPtr condition;  // `for x in xs if cond`
    bool recursive = false;
    Body body;
    Body else_body;
};

struct SetNode : Node {
    explicit SetNode(uint32_t off) : Node(NodeKind::kSet, off) {}
    AssignTarget target;
    ExprPtr value;
};

struct SetBlockNode : Node {
    explicit SetBlockNode(uint32_t off) : Node(NodeKind::kSetBlock, off) {}
    AssignTarget target;
    std::vector<std::unique_ptr<FilterExpr>> filters;  // applied to the captured text in order
    Body body;
};

struct MacroParam {
    std::string name;
    ExprPtr default_value;  // null when required
};

struct MacroNode : Node {
    explicit MacroNode(uint32_t off) : Node(NodeKind::kMacro, off) {}
    std::string name;
    std::vector<MacroParam> params;
    Body body;
    // Whether the body refers to these names; Jinja accepts extra arguments only then.
    bool uses_varargs = false;
    bool uses_kwargs = false;
    bool uses_caller = false;
};

// {% call(params) macro(args) %}body{% endcall %}: the body becomes `caller`.
struct CallBlockNode : Node {
    explicit CallBlockNode(uint32_t off) : Node(NodeKind::kCallBlock, off) {}
    std::unique_ptr<CallExpr> call;
    std::unique_ptr<MacroNode> caller;  // the body as an anonymous macro
};

struct FilterBlockNode : Node {
    explicit FilterBlockNode(uint32_t off) : Node(NodeKind::kFilterBlock, off) {}
    std::vector<std::unique_ptr<FilterExpr>> filters;
    Body body;
};

struct WithNode : Node {
    explicit WithNode(uint32_t off) : Node(NodeKind::kWith, off) {}
    std::vector<std::pair<AssignTarget, ExprPtr>> assignments;
    Body body;
};

struct ScopeNode : Node {
    ScopeNode(uint32_t off, bool scoped) : Node(NodeKind::kScope, off), new_scope(scoped) {}
    bool new_scope;
    Body body;
};

struct Template {
    std::string source;  // normalized source, for error locations
    Body body;
};

}  // namespace cria::chat::jinja
