#include "grammar/pattern.h"

#include <array>
#include <optional>
#include <string>

namespace cria::grammar {

namespace {

constexpr uint32_t kMaxRepeat = 1000;
constexpr int kMaxNesting = 32;

// A set of characters: explicit ASCII members plus, optionally, every non-ASCII character.
struct CharSet {
    std::array<bool, 128> ascii{};
    bool non_ascii = false;

    void add_range(unsigned first, unsigned last) {
        for (unsigned c = first; c <= last && c < 128; ++c) ascii[c] = true;
    }
    void negate() {
        for (bool& b : ascii) b = !b;
        non_ascii = !non_ascii;
    }
    void merge(const CharSet& other) {
        for (size_t i = 0; i < 128; ++i) ascii[i] = ascii[i] || other.ascii[i];
        non_ascii = non_ascii || other.non_ascii;
    }
};

CharSet class_digit() {
    CharSet s;
    s.add_range('0', '9');
    return s;
}
CharSet class_word() {
    CharSet s;
    s.add_range('0', '9');
    s.add_range('a', 'z');
    s.add_range('A', 'Z');
    s.ascii['_'] = true;
    return s;
}
CharSet class_space() {
    CharSet s;
    for (char c : std::string(" \t\n\r\f\v")) s.ascii[static_cast<unsigned char>(c)] = true;
    return s;
}

class PatternCompiler {
  public:
    PatternCompiler(GrammarBuilder& builder, std::string_view pattern, RuleId json_char)
        : builder_(builder), pattern_(pattern), json_char_(json_char) {}

    Expected<RuleId> compile() {
        size_t begin = 0;
        size_t end = pattern_.size();
        const bool anchored_start = end > 0 && pattern_[0] == '^';
        if (anchored_start) begin = 1;
        // A final `$` anchors unless it is escaped (preceded by an odd run of backslashes).
        bool anchored_end = false;
        if (end > begin && pattern_[end - 1] == '$') {
            size_t slashes = 0;
            for (size_t i = end - 1; i > begin && pattern_[i - 1] == '\\'; --i) ++slashes;
            if (slashes % 2 == 0) {
                anchored_end = true;
                --end;
            }
        }
        pattern_ = pattern_.substr(0, end);
        pos_ = begin;
        CRIA_ASSIGN_OR_RETURN(const RuleId body, parse_alternation(0));
        if (pos_ != pattern_.size()) return error("unbalanced ')'");
        Sequence whole;
        const RuleId any =
            builder_.repeat("pattern-any", seq(Element::ref(json_char_)), 0, std::nullopt);
        if (!anchored_start) whole.push_back(Element::ref(any));
        whole.push_back(Element::ref(body));
        if (!anchored_end) whole.push_back(Element::ref(any));
        return builder_.define("pattern", {whole});
    }

  private:
    Status error(const std::string& what) const {
        return invalid_argument(what + " at offset " + std::to_string(pos_) +
                                " is not supported in patterns");
    }

    bool at_end() const { return pos_ >= pattern_.size(); }
    char peek() const { return pattern_[pos_]; }

    Expected<RuleId> parse_alternation(int nesting) {
        if (nesting > kMaxNesting) return error("nesting deeper than 32 groups");
        const RuleId rule = builder_.declare("pattern-alt");
        while (true) {
            CRIA_ASSIGN_OR_RETURN(Sequence branch, parse_concatenation(nesting));
            builder_.add_alternative(rule, std::move(branch));
            if (!at_end() && peek() == '|') {
                ++pos_;
                continue;
            }
            return rule;
        }
    }

    Expected<Sequence> parse_concatenation(int nesting) {
        Sequence out;
        while (!at_end() && peek() != '|' && peek() != ')') {
            CRIA_ASSIGN_OR_RETURN(Sequence atom, parse_atom(nesting));
            CRIA_ASSIGN_OR_RETURN(Sequence quantified, parse_quantifier(std::move(atom)));
            append(out, quantified);
            if (builder_.element_count() > kMaxGrammarElements) return error("pattern size");
        }
        return out;
    }

    Expected<uint32_t> parse_number() {
        uint32_t value = 0;
        bool any = false;
        while (!at_end() && peek() >= '0' && peek() <= '9') {
            value = value * 10 + static_cast<uint32_t>(peek() - '0');
            if (value > kMaxRepeat) return error("a repetition count above 1000");
            ++pos_;
            any = true;
        }
        if (!any) return error("a '{' that is not a repetition count");
        return value;
    }

    Expected<Sequence> parse_quantifier(Sequence atom) {
        if (at_end()) return atom;
        uint32_t min = 1;
        std::optional<uint32_t> max = 1;
        const char c = peek();
        if (c == '*') {
            min = 0;
            max.reset();
            ++pos_;
        } else if (c == '+') {
            min = 1;
            max.reset();
            ++pos_;
        } else if (c == '?') {
            min = 0;
            max = 1;
            ++pos_;
        } else if (c == '{') {
            ++pos_;
            CRIA_ASSIGN_OR_RETURN(min, parse_number());
            max = min;
            if (!at_end() && peek() == ',') {
                ++pos_;
                if (!at_end() && peek() == '}') {
                    max.reset();
                } else {
                    CRIA_ASSIGN_OR_RETURN(const uint32_t upper, parse_number());
                    if (upper < min) return error("a repetition {n,m} with m < n");
                    max = upper;
                }
            }
            if (at_end() || peek() != '}') return error("an unterminated '{'");
            ++pos_;
        } else {
            return atom;
        }
        if (!at_end() && peek() == '?') ++pos_;  // lazy: same language
        if (!at_end() && (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{')) {
            return error("a repeated quantifier");
        }
        return seq(Element::ref(builder_.repeat("pattern-repeat", atom, min, max)));
    }

    // One UTF-8 encoded character starting at pos_, appended literally.
    Expected<Sequence> parse_literal_utf8() {
        const auto lead = static_cast<uint8_t>(peek());
        size_t length = lead < 0x80         ? 1
                        : (lead >> 5) == 6  ? 2
                        : (lead >> 4) == 14 ? 3
                        : (lead >> 3) == 30 ? 4
                                            : 0;
        if (length == 0 || pos_ + length > pattern_.size()) return error("invalid UTF-8");
        Sequence out;
        for (size_t i = 0; i < length; ++i) {
            const auto byte = static_cast<uint8_t>(pattern_[pos_ + i]);
            if (i > 0 && (byte & 0xc0) != 0x80) return error("invalid UTF-8");
            out.push_back(Element::byte(byte));
        }
        pos_ += length;
        return out;
    }

    Expected<Sequence> parse_atom(int nesting) {
        const char c = peek();
        if (c == '(') {
            ++pos_;
            if (pattern_.substr(pos_, 2) == "?:") {
                pos_ += 2;
            } else if (!at_end() && peek() == '?') {
                return error("lookaround or a named group");
            }
            CRIA_ASSIGN_OR_RETURN(const RuleId inner, parse_alternation(nesting + 1));
            if (at_end() || peek() != ')') return error("an unclosed '('");
            ++pos_;
            return seq(Element::ref(inner));
        }
        if (c == '[') return parse_class();
        if (c == '.') {
            ++pos_;
            CharSet any;
            any.add_range(0, 127);
            any.ascii['\n'] = false;
            any.non_ascii = true;
            return emit_set(any);
        }
        if (c == '\\') return parse_escape(false);
        if (c == '^' || c == '$')
            return error(std::string("an anchor '") + c + "' inside the pattern");
        if (c == '*' || c == '+' || c == '?' || c == '{')
            return error("a quantifier with nothing to repeat");
        if (static_cast<uint8_t>(c) >= 0x80) return parse_literal_utf8();
        ++pos_;
        CharSet one;
        one.ascii[static_cast<unsigned char>(c)] = true;
        return emit_set(one);
    }

    // Returns the escape's set; for a class member sets `single` to its character when it is
    // one character (so it may start a range).
    Expected<CharSet> escape_set(std::optional<unsigned>& single) {
        ++pos_;  // the backslash
        if (at_end()) return error("a trailing backslash");
        const char c = peek();
        ++pos_;
        CharSet set;
        single.reset();
        switch (c) {
            case 'd':
                return class_digit();
            case 'w':
                return class_word();
            case 's':
                return class_space();
            case 'D':
                set = class_digit();
                set.negate();
                return set;
            case 'W':
                set = class_word();
                set.negate();
                return set;
            case 'S':
                set = class_space();
                set.negate();
                return set;
            case 'n':
                single = '\n';
                break;
            case 't':
                single = '\t';
                break;
            case 'r':
                single = '\r';
                break;
            case 'f':
                single = '\f';
                break;
            case 'v':
                single = '\v';
                break;
            default:
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    static_cast<uint8_t>(c) >= 0x80) {
                    --pos_;
                    return error(std::string("the escape '\\") + c + "'");
                }
                single = static_cast<unsigned char>(c);  // an escaped metacharacter
        }
        set.ascii[*single] = true;
        return set;
    }

    Expected<Sequence> parse_escape(bool) {
        std::optional<unsigned> single;
        CRIA_ASSIGN_OR_RETURN(const CharSet set, escape_set(single));
        return emit_set(set);
    }

    Expected<Sequence> parse_class() {
        ++pos_;  // '['
        bool negated = false;
        if (!at_end() && peek() == '^') {
            negated = true;
            ++pos_;
        }
        CharSet set;
        bool first = true;
        while (true) {
            if (at_end()) return error("an unclosed '['");
            if (peek() == ']' && !first) {
                ++pos_;
                break;
            }
            first = false;
            std::optional<unsigned> low;
            if (peek() == '\\') {
                CRIA_ASSIGN_OR_RETURN(const CharSet part, escape_set(low));
                if (!low) {
                    set.merge(part);
                    continue;
                }
            } else if (peek() == '[') {
                return error("a nested class or POSIX class");
            } else {
                if (static_cast<uint8_t>(peek()) >= 0x80) return error("a non-ASCII class member");
                low = static_cast<unsigned char>(peek());
                ++pos_;
            }
            if (pos_ + 1 < pattern_.size() && peek() == '-' && pattern_[pos_ + 1] != ']') {
                ++pos_;
                std::optional<unsigned> high;
                if (peek() == '\\') {
                    CRIA_ASSIGN_OR_RETURN(const CharSet ignored, escape_set(high));
                    (void)ignored;
                    if (!high) return error("a class range ending in a class escape");
                } else {
                    if (static_cast<uint8_t>(peek()) >= 0x80) {
                        return error("a non-ASCII class member");
                    }
                    high = static_cast<unsigned char>(peek());
                    ++pos_;
                }
                if (*high < *low) return error("a reversed class range");
                set.add_range(*low, *high);
            } else {
                set.ascii[*low] = true;
            }
        }
        if (negated) set.negate();
        return emit_set(set);
    }

    // One character of `set`, in JSON-encoded form.
    Expected<Sequence> emit_set(const CharSet& set) {
        const RuleId rule = builder_.declare("pattern-char");
        ByteSet plain;
        for (unsigned c = 0x20; c < 0x7f; ++c) {
            if (set.ascii[c] && c != '"' && c != '\\') plain.add(static_cast<uint8_t>(c));
        }
        if (set.ascii[0x7f]) plain.add(0x7f);
        if (!plain.empty()) builder_.add_alternative(rule, seq(Element::byte_set(plain)));
        if (set.ascii['"']) builder_.add_alternative(rule, literal("\\\""));
        if (set.ascii['\\']) builder_.add_alternative(rule, literal("\\\\"));
        for (unsigned c = 0; c < 0x20; ++c) {
            if (!set.ascii[c]) continue;
            switch (c) {
                case '\n':
                    builder_.add_alternative(rule, literal("\\n"));
                    break;
                case '\t':
                    builder_.add_alternative(rule, literal("\\t"));
                    break;
                case '\r':
                    builder_.add_alternative(rule, literal("\\r"));
                    break;
                case '\b':
                    builder_.add_alternative(rule, literal("\\b"));
                    break;
                case '\f':
                    builder_.add_alternative(rule, literal("\\f"));
                    break;
                default: {
                    static const char* kHex = "0123456789abcdef";
                    std::string escape = "\\u00";
                    escape.push_back(kHex[c >> 4]);
                    escape.push_back(kHex[c & 15]);
                    builder_.add_alternative(rule, literal(escape));
                }
            }
        }
        if (set.non_ascii) {
            const Element cont = Element::byte_set(ByteSet::range(0x80, 0xbf));
            ByteSet e1 = ByteSet::range(0xe1, 0xec);
            e1.add_range(0xee, 0xef);
            builder_.add_alternative(rule, {Element::byte_set(ByteSet::range(0xc2, 0xdf)), cont});
            builder_.add_alternative(
                rule, {Element::byte(0xe0), Element::byte_set(ByteSet::range(0xa0, 0xbf)), cont});
            builder_.add_alternative(rule, {Element::byte_set(e1), cont, cont});
            builder_.add_alternative(
                rule, {Element::byte(0xed), Element::byte_set(ByteSet::range(0x80, 0x9f)), cont});
            builder_.add_alternative(
                rule,
                {Element::byte(0xf0), Element::byte_set(ByteSet::range(0x90, 0xbf)), cont, cont});
            builder_.add_alternative(
                rule, {Element::byte_set(ByteSet::range(0xf1, 0xf3)), cont, cont, cont});
            builder_.add_alternative(
                rule,
                {Element::byte(0xf4), Element::byte_set(ByteSet::range(0x80, 0x8f)), cont, cont});
        }
        if (builder_.rule(rule).alternatives.empty()) return error("a class that matches nothing");
        return seq(Element::ref(rule));
    }

    GrammarBuilder& builder_;
    std::string_view pattern_;
    RuleId json_char_;
    size_t pos_ = 0;
};

}  // namespace

Expected<RuleId> compile_pattern(GrammarBuilder& builder, std::string_view pattern,
                                 RuleId json_char) {
    if (pattern.size() > 4096) return invalid_argument("patterns longer than 4096 bytes");
    return PatternCompiler(builder, pattern, json_char).compile();
}

}  // namespace cria::grammar
