#include "chat/gotmpl/parse.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "chat/gotmpl/value.h"

namespace cria::chat::gotmpl {
namespace {

// A template is untrusted input: nesting is bounded so that parsing and execution cannot
// exhaust the stack.
constexpr int kMaxNesting = 200;

enum class Tok {
    kText,
    kLeftDelim,
    kRightDelim,
    kField,       // .Name (value: Name)
    kDot,         // .
    kVariable,    // $ or $name (value includes the $)
    kIdentifier,  // a function name
    kKeyword,     // if else end range with define template block break continue
    kBool,
    kNil,
    kString,  // value: unquoted
    kNumber,  // value: the literal text
    kChar,    // value: the code point as decimal text
    kPipe,
    kLeftParen,
    kRightParen,
    kDeclare,
    kAssign,
    kComma,
    kEof,
};

struct Token {
    Tok type = Tok::kEof;
    std::string value;
    uint32_t offset = 0;
    bool space_before = false;  // whitespace separates it from the previous token
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_alnum(char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           u >= 0x80;
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

[[noreturn]] void syntax_error(const std::string& message, uint32_t offset) {
    throw Error(message, offset);
}

void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

class Lexer {
  public:
    explicit Lexer(std::string_view source) : src_(source) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) {
            const size_t open = src_.find("{{", pos_);
            const size_t text_end = open == std::string_view::npos ? src_.size() : open;
            std::string text(src_.substr(pos_, text_end - pos_));
            const uint32_t text_at = static_cast<uint32_t>(pos_);
            pos_ = text_end;
            bool trim_left = false;
            // "{{- " trims the text before; "{{-3" is a negative number.
            if (open != std::string_view::npos && open + 3 < src_.size() && src_[open + 2] == '-' &&
                is_space(src_[open + 3])) {
                trim_left = true;
            }
            if (trim_left) {
                while (!text.empty() && is_space(text.back())) text.pop_back();
            }
            if (trim_next_text_) {
                size_t skip = 0;
                while (skip < text.size() && is_space(text[skip])) ++skip;
                text.erase(0, skip);
                trim_next_text_ = false;
            }
            if (!text.empty()) push(Tok::kText, std::move(text), text_at, false);
            if (open == std::string_view::npos) break;
            lex_action(open, trim_left);
        }
        push(Tok::kEof, "", static_cast<uint32_t>(src_.size()), false);
        return std::move(tokens_);
    }

  private:
    void push(Tok type, std::string value, uint32_t offset, bool space_before) {
        tokens_.push_back(Token{type, std::move(value), offset, space_before});
    }

    // At a right delimiter: "}}" or " -}}" (the space belongs to the trim marker).
    size_t right_delim_length(bool& trim) const {
        trim = false;
        if (src_.compare(pos_, 2, "}}") == 0) return 2;
        if (pos_ + 3 < src_.size() && is_space(src_[pos_]) && src_[pos_ + 1] == '-' &&
            src_.compare(pos_ + 2, 2, "}}") == 0) {
            trim = true;
            return 4;
        }
        return 0;
    }

    void lex_action(size_t open, bool trim_left) {
        const uint32_t action_at = static_cast<uint32_t>(open);
        pos_ = open + 2 + (trim_left ? 2 : 0);
        // A comment: {{/* ... */}}, with optional trim markers, and nothing else in the action.
        if (src_.compare(pos_, 2, "/*") == 0) {
            const size_t close = src_.find("*/", pos_ + 2);
            if (close == std::string_view::npos) syntax_error("unclosed comment", action_at);
            pos_ = close + 2;
            bool trim = false;
            const size_t length = right_delim_length(trim);
            if (length == 0) syntax_error("comment ends before closing delimiter", action_at);
            pos_ += length;
            trim_next_text_ = trim;
            return;
        }
        push(Tok::kLeftDelim, "", action_at, false);
        int paren_depth = 0;
        bool space = false;
        while (true) {
            if (pos_ >= src_.size()) syntax_error("unclosed action", action_at);
            bool trim = false;
            const size_t length = right_delim_length(trim);
            if (length != 0 && paren_depth == 0) {
                push(Tok::kRightDelim, "", static_cast<uint32_t>(pos_), space);
                pos_ += length;
                trim_next_text_ = trim;
                return;
            }
            const char c = src_[pos_];
            const uint32_t at = static_cast<uint32_t>(pos_);
            if (is_space(c)) {
                space = true;
                ++pos_;
                continue;
            }
            if (length != 0) syntax_error("unclosed left paren", at);
            if (c == '|') {
                push(Tok::kPipe, "|", at, space);
                ++pos_;
            } else if (c == '(') {
                push(Tok::kLeftParen, "(", at, space);
                ++paren_depth;
                ++pos_;
            } else if (c == ')') {
                if (paren_depth == 0) syntax_error("unexpected right paren", at);
                push(Tok::kRightParen, ")", at, space);
                --paren_depth;
                ++pos_;
            } else if (c == ',') {
                push(Tok::kComma, ",", at, space);
                ++pos_;
            } else if (c == ':') {
                if (src_.compare(pos_, 2, ":=") != 0) syntax_error("expected :=", at);
                push(Tok::kDeclare, ":=", at, space);
                pos_ += 2;
            } else if (c == '=') {
                push(Tok::kAssign, "=", at, space);
                ++pos_;
            } else if (c == '"') {
                push(Tok::kString, lex_quoted(), at, space);
            } else if (c == '`') {
                const size_t close = src_.find('`', pos_ + 1);
                if (close == std::string_view::npos)
                    syntax_error("unterminated raw quoted string", at);
                push(Tok::kString, std::string(src_.substr(pos_ + 1, close - pos_ - 1)), at, space);
                pos_ = close + 1;
            } else if (c == '\'') {
                push(Tok::kChar, lex_char(), at, space);
            } else if (c == '$') {
                size_t end = pos_ + 1;
                while (end < src_.size() && is_alnum(src_[end])) ++end;
                push(Tok::kVariable, std::string(src_.substr(pos_, end - pos_)), at, space);
                pos_ = end;
            } else if (c == '.') {
                if (pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])) {
                    push(Tok::kNumber, lex_number(), at, space);
                } else {
                    size_t end = pos_ + 1;
                    while (end < src_.size() && is_alnum(src_[end])) ++end;
                    if (end == pos_ + 1) {
                        push(Tok::kDot, ".", at, space);
                    } else {
                        push(Tok::kField, std::string(src_.substr(pos_ + 1, end - pos_ - 1)), at,
                             space);
                    }
                    pos_ = end;
                }
            } else if (is_digit(c) || ((c == '-' || c == '+') && pos_ + 1 < src_.size() &&
                                       (is_digit(src_[pos_ + 1]) || src_[pos_ + 1] == '.'))) {
                push(Tok::kNumber, lex_number(), at, space);
            } else if (is_alnum(c)) {
                size_t end = pos_;
                while (end < src_.size() && is_alnum(src_[end])) ++end;
                std::string word(src_.substr(pos_, end - pos_));
                pos_ = end;
                static const char* const kKeywords[] = {"if",    "else",    "end",      "range",
                                                        "with",  "define",  "template", "block",
                                                        "break", "continue"};
                Tok type = Tok::kIdentifier;
                if (word == "true" || word == "false") {
                    type = Tok::kBool;
                } else if (word == "nil") {
                    type = Tok::kNil;
                } else if (std::find(std::begin(kKeywords), std::end(kKeywords), word) !=
                           std::end(kKeywords)) {
                    type = Tok::kKeyword;
                }
                push(type, std::move(word), at, space);
            } else {
                syntax_error(std::string("unrecognized character in action: '") + c + "'", at);
            }
            space = false;
        }
    }

    uint32_t hex_value(size_t digits) {
        if (pos_ + digits > src_.size())
            syntax_error("bad escape in string", static_cast<uint32_t>(pos_));
        uint32_t value = 0;
        for (size_t i = 0; i < digits; ++i) {
            const char h = src_[pos_++];
            value <<= 4;
            if (h >= '0' && h <= '9') {
                value |= static_cast<uint32_t>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
                value |= static_cast<uint32_t>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
                value |= static_cast<uint32_t>(h - 'A' + 10);
            } else {
                syntax_error("bad escape in string", static_cast<uint32_t>(pos_ - 1));
            }
        }
        return value;
    }

    // One Go escape after a backslash (pos_ is after the backslash), appended to `out`.
    void lex_escape(std::string& out, char quote) {
        if (pos_ >= src_.size())
            syntax_error("unterminated quoted string", static_cast<uint32_t>(pos_));
        const char e = src_[pos_++];
        switch (e) {
            case 'a':
                out += '\a';
                return;
            case 'b':
                out += '\b';
                return;
            case 'f':
                out += '\f';
                return;
            case 'n':
                out += '\n';
                return;
            case 'r':
                out += '\r';
                return;
            case 't':
                out += '\t';
                return;
            case 'v':
                out += '\v';
                return;
            case '\\':
                out += '\\';
                return;
            case 'x':
                out += static_cast<char>(hex_value(2));
                return;
            case 'u':
                append_utf8(out, hex_value(4));
                return;
            case 'U': {
                const uint32_t code = hex_value(8);
                if (code > 0x10FFFF)
                    syntax_error("bad escape in string", static_cast<uint32_t>(pos_));
                append_utf8(out, code);
                return;
            }
            default:
                if (e == quote) {
                    out += e;
                    return;
                }
                if (e >= '0' && e <= '7') {
                    if (pos_ + 2 > src_.size())
                        syntax_error("bad escape in string", static_cast<uint32_t>(pos_));
                    uint32_t value = static_cast<uint32_t>(e - '0');
                    for (int i = 0; i < 2; ++i) {
                        const char o = src_[pos_++];
                        if (o < '0' || o > '7')
                            syntax_error("bad escape in string", static_cast<uint32_t>(pos_));
                        value = value * 8 + static_cast<uint32_t>(o - '0');
                    }
                    if (value > 255)
                        syntax_error("bad escape in string", static_cast<uint32_t>(pos_));
                    out += static_cast<char>(value);
                    return;
                }
                syntax_error("unknown escape sequence in string", static_cast<uint32_t>(pos_ - 1));
        }
    }

    std::string lex_quoted() {
        const uint32_t at = static_cast<uint32_t>(pos_);
        ++pos_;
        std::string out;
        while (true) {
            if (pos_ >= src_.size() || src_[pos_] == '\n')
                syntax_error("unterminated quoted string", at);
            const char c = src_[pos_++];
            if (c == '"') return out;
            if (c == '\\') {
                lex_escape(out, '"');
            } else {
                out += c;
            }
        }
    }

    std::string lex_char() {
        const uint32_t at = static_cast<uint32_t>(pos_);
        ++pos_;
        std::string out;
        while (pos_ < src_.size() && src_[pos_] != '\'' && src_[pos_] != '\n') {
            const char c = src_[pos_++];
            if (c == '\\') {
                lex_escape(out, '\'');
            } else {
                out += c;
            }
        }
        if (pos_ >= src_.size() || src_[pos_] != '\'')
            syntax_error("unterminated character constant", at);
        ++pos_;
        // The code point of the one character inside.
        if (out.empty()) syntax_error("empty character constant", at);
        const auto lead = static_cast<unsigned char>(out[0]);
        uint32_t code = lead;
        size_t length = 1;
        if (lead >= 0xF0) {
            code = lead & 0x07;
            length = 4;
        } else if (lead >= 0xE0) {
            code = lead & 0x0F;
            length = 3;
        } else if (lead >= 0xC0) {
            code = lead & 0x1F;
            length = 2;
        }
        if (out.size() != length) syntax_error("malformed character constant", at);
        for (size_t i = 1; i < length; ++i)
            code = (code << 6) | (static_cast<unsigned char>(out[i]) & 0x3F);
        return std::to_string(code);
    }

    std::string lex_number() {
        const size_t start = pos_;
        if (src_[pos_] == '+' || src_[pos_] == '-') ++pos_;
        while (pos_ < src_.size() && (is_alnum(src_[pos_]) || src_[pos_] == '.' ||
                                      ((src_[pos_] == '+' || src_[pos_] == '-') &&
                                       (src_[pos_ - 1] == 'e' || src_[pos_ - 1] == 'E' ||
                                        src_[pos_ - 1] == 'p' || src_[pos_ - 1] == 'P')))) {
            ++pos_;
        }
        return std::string(src_.substr(start, pos_ - start));
    }

    std::string_view src_;
    size_t pos_ = 0;
    bool trim_next_text_ = false;
    std::vector<Token> tokens_;
};

// Go's number syntax, reduced to what templates use: decimal, 0x/0o/0b integers, decimals with
// fraction and exponent, and underscores between digits.
NodePtr number_node(const Token& token) {
    std::string text;
    for (char c : token.value) {
        if (c != '_') text += c;
    }
    auto node = std::make_shared<Node>();
    node->type = NodeType::kNumber;
    node->offset = token.offset;
    if (token.type == Tok::kChar) {
        node->is_int = true;
        node->int_value = std::stoll(token.value);
        node->float_value = static_cast<double>(node->int_value);
        return node;
    }
    const bool negative = !text.empty() && text[0] == '-';
    std::string body =
        (!text.empty() && (text[0] == '-' || text[0] == '+')) ? text.substr(1) : text;
    int base = 10;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) base = 16;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) base = 8;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) base = 2;
    const bool has_fraction = base == 10 && body.find_first_of(".eE") != std::string::npos;
    if (!has_fraction) {
        const std::string digits = base == 10 ? body : body.substr(2);
        if (digits.empty())
            syntax_error("bad number syntax: \"" + token.value + "\"", token.offset);
        errno = 0;
        char* end = nullptr;
        // A leading 0 means octal in Go ("017").
        const int effective = base == 10 && digits.size() > 1 && digits[0] == '0' ? 8 : base;
        const unsigned long long magnitude = std::strtoull(digits.c_str(), &end, effective);
        if (*end != '\0' || errno == ERANGE || magnitude > (1ull << 63)) {
            syntax_error("bad number syntax: \"" + token.value + "\"", token.offset);
        }
        if (!negative && magnitude == (1ull << 63)) {
            syntax_error("bad number syntax: \"" + token.value + "\"", token.offset);
        }
        node->is_int = true;
        node->int_value =
            negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
        node->float_value = static_cast<double>(node->int_value);
        return node;
    }
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (*end != '\0') syntax_error("bad number syntax: \"" + token.value + "\"", token.offset);
    node->float_value = value;
    return node;
}

class Parser {
  public:
    Parser(std::vector<Token> tokens, Program& program)
        : tokens_(std::move(tokens)), program_(program) {}

    void run() {
        program_.root = make(NodeType::kList, 0);
        vars_ = {"$"};
        while (peek().type != Tok::kEof) {
            if (peek().type == Tok::kLeftDelim && peek(1).type == Tok::kKeyword &&
                peek(1).value == "define") {
                next();
                next();
                parse_definition();
                continue;
            }
            NodePtr node = text_or_action();
            if (node->type == NodeType::kList && node->text == "end") {
                syntax_error("unexpected {{end}}", node->offset);
            }
            if (node->type == NodeType::kList && node->text == "else") {
                syntax_error("unexpected {{else}}", node->offset);
            }
            program_.root->children.push_back(std::move(node));
        }
    }

  private:
    const Token& peek(size_t ahead = 0) const {
        return tokens_[std::min(at_ + ahead, tokens_.size() - 1)];
    }
    const Token& next() {
        const Token& token = tokens_[std::min(at_, tokens_.size() - 1)];
        if (at_ < tokens_.size() - 1) ++at_;
        return token;
    }
    static NodePtr make(NodeType type, uint32_t offset) {
        auto node = std::make_shared<Node>();
        node->type = type;
        node->offset = offset;
        return node;
    }
    static std::string describe(const Token& token) {
        switch (token.type) {
            case Tok::kEof:
                return "EOF";
            case Tok::kRightDelim:
                return "\"}}\"";
            case Tok::kText:
                return "text";
            default:
                return "\"" + token.value + "\"";
        }
    }
    const Token& expect(Tok type, const char* context) {
        const Token& token = next();
        if (token.type != type) {
            syntax_error("unexpected " + describe(token) + " in " + context, token.offset);
        }
        return token;
    }

    // {{define "name"}} list {{end}}
    void parse_definition() {
        const Token& name = next();
        if (name.type != Tok::kString) syntax_error("define: name must be a string", name.offset);
        expect(Tok::kRightDelim, "define clause");
        const std::vector<std::string> saved = vars_;
        vars_ = {"$"};
        auto [body, terminator] = item_list();
        vars_ = saved;
        if (terminator->text != "end")
            syntax_error("unexpected {{else}} in define", terminator->offset);
        add_definition(name.value, body, name.offset);
    }

    void add_definition(const std::string& name, const NodePtr& body, uint32_t offset) {
        auto existing = program_.defines.find(name);
        if (existing != program_.defines.end() && !existing->second->children.empty() &&
            !body->children.empty()) {
            syntax_error("multiple definition of template \"" + name + "\"", offset);
        }
        if (existing == program_.defines.end() || !body->children.empty()) {
            program_.defines[name] = body;
        }
    }

    // Returns a node; {{end}} and {{else}} come back as kList nodes named "end" / "else".
    NodePtr text_or_action() {
        const Token& token = next();
        if (token.type == Tok::kText) {
            NodePtr node = make(NodeType::kText, token.offset);
            node->text = token.value;
            return node;
        }
        if (token.type == Tok::kLeftDelim) return action(token.offset);
        syntax_error("unexpected " + describe(token) + " in input", token.offset);
    }

    NodePtr action(uint32_t offset) {
        const Token& token = peek();
        if (token.type == Tok::kKeyword) {
            const std::string word = token.value;
            if (word == "end" || word == "else") {
                next();
                NodePtr marker = make(NodeType::kList, token.offset);
                marker->text = word;
                if (word == "end") expect(Tok::kRightDelim, "end");
                // After {{else}} the caller looks for `if`/`with` or the right delimiter.
                return marker;
            }
            next();
            if (word == "if") return control(NodeType::kIf, token.offset);
            if (word == "range") return control(NodeType::kRange, token.offset);
            if (word == "with") return control(NodeType::kWith, token.offset);
            if (word == "template") return template_call(token.offset, false);
            if (word == "block") return template_call(token.offset, true);
            if (word == "break" || word == "continue") {
                if (range_depth_ == 0) {
                    syntax_error("{{" + word + "}} outside {{range}}", token.offset);
                }
                expect(Tok::kRightDelim, word.c_str());
                return make(word == "break" ? NodeType::kBreak : NodeType::kContinue, token.offset);
            }
            syntax_error("unexpected \"" + word + "\" in command", token.offset);
        }
        NodePtr node = make(NodeType::kAction, offset);
        node->pipe = pipeline("command", Tok::kRightDelim);
        return node;
    }

    // Items up to {{end}} or {{else}}; returns the list and the terminator marker.
    std::pair<NodePtr, NodePtr> item_list() {
        if (++nesting_ > kMaxNesting) syntax_error("template nesting too deep", peek().offset);
        NodePtr list = make(NodeType::kList, peek().offset);
        while (peek().type != Tok::kEof) {
            NodePtr node = text_or_action();
            if (node->type == NodeType::kList && (node->text == "end" || node->text == "else")) {
                --nesting_;
                return {list, node};
            }
            list->children.push_back(std::move(node));
        }
        syntax_error("unexpected EOF", peek().offset);
    }

    NodePtr control(NodeType type, uint32_t offset) {
        const size_t vars_mark = vars_.size();
        NodePtr node = make(type, offset);
        const char* context = type == NodeType::kIf      ? "if"
                              : type == NodeType::kRange ? "range"
                                                         : "with";
        node->pipe = pipeline(context, Tok::kRightDelim);
        if (type == NodeType::kRange) ++range_depth_;
        auto [list, terminator] = item_list();
        if (type == NodeType::kRange) --range_depth_;
        node->list = list;
        if (terminator->text == "else") {
            // {{else if ...}} and {{else with ...}} nest a new control that shares the {{end}}.
            const bool chained =
                (type == NodeType::kIf && peek().type == Tok::kKeyword && peek().value == "if") ||
                (type == NodeType::kWith && peek().type == Tok::kKeyword && peek().value == "with");
            if (chained) {
                const Token& keyword = next();
                NodePtr else_list = make(NodeType::kList, keyword.offset);
                else_list->children.push_back(control(type, keyword.offset));
                node->else_list = else_list;
            } else {
                expect(Tok::kRightDelim, "else");
                auto [else_list, end] = item_list();
                if (end->text != "end") syntax_error("expected end; found {{else}}", end->offset);
                node->else_list = else_list;
            }
        }
        vars_.resize(vars_mark);
        return node;
    }

    NodePtr template_call(uint32_t offset, bool is_block) {
        const char* context = is_block ? "block clause" : "template clause";
        const Token& name = next();
        if (name.type != Tok::kString) {
            syntax_error(std::string("unexpected ") + describe(name) + " in " + context,
                         name.offset);
        }
        NodePtr node = make(NodeType::kTemplate, offset);
        node->text = name.value;
        if (peek().type != Tok::kRightDelim) {
            node->pipe = pipeline(context, Tok::kRightDelim);
        } else {
            next();
        }
        if (is_block) {
            const std::vector<std::string> saved = vars_;
            vars_ = {"$"};
            auto [body, terminator] = item_list();
            vars_ = saved;
            if (terminator->text != "end")
                syntax_error("unexpected {{else}} in block", terminator->offset);
            add_definition(node->text, body, name.offset);
        }
        return node;
    }

    // [decl] command ( '|' command )* end
    NodePtr pipeline(const char* context, Tok end) {
        NodePtr pipe = make(NodeType::kPipe, peek().offset);
        // Declarations: $x := / $x = / $i, $e := (range only).
        if (peek().type == Tok::kVariable) {
            const Token& first = peek();
            if (peek(1).type == Tok::kDeclare || peek(1).type == Tok::kAssign) {
                pipe->decl.push_back(first.value);
                pipe->is_assign = peek(1).type == Tok::kAssign;
                next();
                next();
            } else if (peek(1).type == Tok::kComma && std::string(context) == "range" &&
                       peek(2).type == Tok::kVariable &&
                       (peek(3).type == Tok::kDeclare || peek(3).type == Tok::kAssign)) {
                pipe->decl.push_back(first.value);
                pipe->decl.push_back(peek(2).value);
                pipe->is_assign = peek(3).type == Tok::kAssign;
                for (int i = 0; i < 4; ++i) next();
            } else if (peek(1).type == Tok::kComma) {
                syntax_error(std::string("too many declarations in ") + context, peek(1).offset);
            }
        }
        for (const std::string& name : pipe->decl) {
            if (pipe->is_assign) {
                if (std::find(vars_.begin(), vars_.end(), name) == vars_.end()) {
                    syntax_error("undefined variable \"" + name + "\"", pipe->offset);
                }
            }
        }
        while (true) {
            const Token& token = peek();
            if (token.type == end) {
                next();
                if (pipe->children.empty()) {
                    syntax_error(std::string("missing value for ") + context, token.offset);
                }
                break;
            }
            switch (token.type) {
                case Tok::kBool:
                case Tok::kChar:
                case Tok::kDot:
                case Tok::kField:
                case Tok::kIdentifier:
                case Tok::kNumber:
                case Tok::kNil:
                case Tok::kString:
                case Tok::kVariable:
                case Tok::kLeftParen:
                    pipe->children.push_back(command(end));
                    break;
                default:
                    syntax_error("unexpected " + describe(token) + " in " + context, token.offset);
            }
        }
        // Constants cannot take the piped value.
        for (size_t i = 1; i < pipe->children.size(); ++i) {
            const NodeType first = pipe->children[i]->children[0]->type;
            if (first == NodeType::kBool || first == NodeType::kDot || first == NodeType::kNil ||
                first == NodeType::kNumber || first == NodeType::kString) {
                syntax_error("non executable command in pipeline stage " + std::to_string(i + 1),
                             pipe->children[i]->offset);
            }
        }
        if (!pipe->is_assign) {
            for (const std::string& name : pipe->decl) vars_.push_back(name);
        }
        return pipe;
    }

    NodePtr command(Tok end) {
        NodePtr cmd = make(NodeType::kCommand, peek().offset);
        while (true) {
            NodePtr operand = this->operand();
            const bool had_operand = operand != nullptr;
            if (operand) cmd->children.push_back(std::move(operand));
            const Token& token = peek();
            if (token.type == end || token.type == Tok::kRightParen ||
                token.type == Tok::kRightDelim) {
                if (token.type != end) {
                    syntax_error("unexpected " + describe(token) + " in operand", token.offset);
                }
                break;
            }
            if (token.type == Tok::kPipe) {
                next();
                if (peek().type == end) syntax_error("missing command after |", peek().offset);
                break;
            }
            if (!token.space_before || !had_operand) {
                syntax_error("unexpected " + describe(token) + " in operand", token.offset);
            }
        }
        if (cmd->children.empty()) syntax_error("empty command", cmd->offset);
        return cmd;
    }

    NodePtr operand() {
        NodePtr node = term();
        if (!node) return nullptr;
        if (peek().type == Tok::kField && !peek().space_before) {
            std::vector<std::string> fields;
            while (peek().type == Tok::kField && !peek().space_before)
                fields.push_back(next().value);
            switch (node->type) {
                case NodeType::kField:
                case NodeType::kVariable:
                    node->ident.insert(node->ident.end(), fields.begin(), fields.end());
                    break;
                case NodeType::kBool:
                case NodeType::kString:
                case NodeType::kNumber:
                case NodeType::kNil:
                case NodeType::kDot:
                    syntax_error("unexpected . after term", node->offset);
                default: {
                    NodePtr chain = make(NodeType::kChain, node->offset);
                    chain->pipe = node;
                    chain->ident = std::move(fields);
                    node = chain;
                }
            }
        }
        return node;
    }

    NodePtr term() {
        const Token& token = peek();
        switch (token.type) {
            case Tok::kIdentifier: {
                next();
                if (!is_known_function(token.value)) {
                    syntax_error("function \"" + token.value + "\" not defined", token.offset);
                }
                NodePtr node = make(NodeType::kIdentifier, token.offset);
                node->text = token.value;
                return node;
            }
            case Tok::kDot:
                next();
                return make(NodeType::kDot, token.offset);
            case Tok::kNil:
                next();
                return make(NodeType::kNil, token.offset);
            case Tok::kVariable: {
                next();
                if (std::find(vars_.begin(), vars_.end(), token.value) == vars_.end()) {
                    syntax_error("undefined variable \"" + token.value + "\"", token.offset);
                }
                NodePtr node = make(NodeType::kVariable, token.offset);
                node->ident.push_back(token.value);
                return node;
            }
            case Tok::kField: {
                next();
                NodePtr node = make(NodeType::kField, token.offset);
                node->ident.push_back(token.value);
                return node;
            }
            case Tok::kBool: {
                next();
                NodePtr node = make(NodeType::kBool, token.offset);
                node->boolean = token.value == "true";
                return node;
            }
            case Tok::kNumber:
            case Tok::kChar:
                next();
                return number_node(token);
            case Tok::kString: {
                next();
                NodePtr node = make(NodeType::kString, token.offset);
                node->text = token.value;
                return node;
            }
            case Tok::kLeftParen: {
                next();
                if (++nesting_ > kMaxNesting)
                    syntax_error("template nesting too deep", token.offset);
                NodePtr pipe = pipeline("parenthesized pipeline", Tok::kRightParen);
                --nesting_;
                return pipe;
            }
            default:
                return nullptr;
        }
    }

    std::vector<Token> tokens_;
    size_t at_ = 0;
    Program& program_;
    std::vector<std::string> vars_;
    int range_depth_ = 0;
    int nesting_ = 0;
};

}  // namespace

bool is_known_function(std::string_view name) {
    static const char* const kFunctions[] = {"and",
                                             "call",
                                             "html",
                                             "index",
                                             "slice",
                                             "js",
                                             "len",
                                             "not",
                                             "or",
                                             "print",
                                             "printf",
                                             "println",
                                             "urlquery",
                                             "eq",
                                             "ge",
                                             "gt",
                                             "le",
                                             "lt",
                                             "ne",
                                             "json",
                                             "currentDate",
                                             "yesterdayDate",
                                             "toTypeScriptType"};
    return std::find(std::begin(kFunctions), std::end(kFunctions), name) != std::end(kFunctions);
}

std::shared_ptr<Program> parse_program(std::string_view source) {
    auto program = std::make_shared<Program>();
    program->source = std::string(source);
    Parser parser(Lexer(program->source).run(), *program);
    parser.run();
    return program;
}

std::string describe_position(std::string_view source, uint32_t offset) {
    int line = 1;
    int column = 1;
    for (size_t i = 0; i < source.size() && i < offset; ++i) {
        if (source[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

}  // namespace cria::chat::gotmpl
