#include "grammar/matcher.h"

#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "walk.h"

namespace cria::grammar {
namespace {

std::shared_ptr<const Grammar> build_or_die(GrammarBuilder& b, RuleId root) {
    auto g = b.build(root);
    EXPECT_TRUE(g.has_value()) << g.status().message();
    return *g;
}

bool matches(const std::shared_ptr<const Grammar>& g, const std::string& text) {
    Matcher m(g, nullptr);
    return m.accept_bytes(text).is_ok() && m.is_accepting();
}

TEST(GrammarMatcher, LiteralsAlternativesAndPrefixes) {
    GrammarBuilder b;
    const RuleId root = b.define("root", {literal("yes"), literal("no"), literal("nope")});
    auto g = build_or_die(b, root);
    EXPECT_TRUE(matches(g, "yes"));
    EXPECT_TRUE(matches(g, "no"));
    EXPECT_TRUE(matches(g, "nope"));
    EXPECT_FALSE(matches(g, "ye"));
    EXPECT_FALSE(matches(g, "yess"));
    Matcher m(g, nullptr);
    ASSERT_TRUE(m.accept_bytes("no").is_ok());
    EXPECT_TRUE(m.is_accepting());
    EXPECT_TRUE(m.can_continue());  // "nope" is still possible
    EXPECT_FALSE(m.accept_bytes("x").is_ok());
    ASSERT_TRUE(m.accept_bytes("pe").is_ok());  // the failed byte left the matcher unchanged
    EXPECT_FALSE(m.can_continue());
}

// A literal choice accepts exactly its texts, each followed by its own continuation.
TEST(GrammarMatcher, LiteralChoiceIsATrieOfItsTexts) {
    GrammarBuilder b;
    const RuleId tail = b.define("tail", {literal("!")});
    const RuleId root = b.literal_choice("choice", {{"no", {}},
                                                    {"nope", {}},
                                                    {"yes", {}},
                                                    {"yes", {}},  // a repeated text is kept once
                                                    {"yesterday", seq(Element::ref(tail))},
                                                    {"n", literal("+")},
                                                    {"", literal("empty")}});
    auto g = build_or_die(b, root);
    for (const char* text : {"no", "nope", "yes", "yesterday!", "n+", "empty"}) {
        EXPECT_TRUE(matches(g, text)) << text;
    }
    for (const char* text : {"", "n", "nop", "ye", "yesterday", "yes!", "nope!", "emptyx", "x"}) {
        EXPECT_FALSE(matches(g, text)) << text;
    }
    // One path through the trie: the matcher's configuration stays one stack.
    Matcher m(g, nullptr);
    ASSERT_TRUE(m.accept_bytes("yest").is_ok());
    EXPECT_LE(m.node_count(), 12u);
}

// Texts that nest deeply (each a prefix of the next): one trie level per byte.
TEST(GrammarMatcher, LiteralChoiceOfDeeplyNestedTexts) {
    GrammarBuilder b;
    std::vector<GrammarBuilder::LiteralBranch> branches;
    for (int n = 1; n <= 3000; ++n)
        branches.push_back({std::string(static_cast<size_t>(n), 'a'), {}});
    const RuleId root = b.literal_choice("deep", std::move(branches));
    auto g = build_or_die(b, root);
    EXPECT_TRUE(matches(g, std::string(3000, 'a')));
    EXPECT_TRUE(matches(g, std::string(7, 'a')));
    EXPECT_FALSE(matches(g, std::string(3001, 'a')));
}

TEST(GrammarMatcher, BoundedAndUnboundedRepetition) {
    GrammarBuilder b;
    const RuleId digits = b.repeat("d", seq(Element::byte_set(ByteSet::range('0', '9'))), 2, 4);
    const RuleId list = b.repeat("l", literal("ab"), 0, std::nullopt, literal(","));
    const RuleId root =
        b.define("root", {Sequence{Element::ref(digits), Element::byte(':'), Element::ref(list)}});
    auto g = build_or_die(b, root);
    EXPECT_TRUE(matches(g, "12:"));
    EXPECT_TRUE(matches(g, "1234:ab"));
    EXPECT_TRUE(matches(g, "12:ab,ab,ab"));
    EXPECT_FALSE(matches(g, "1:"));
    EXPECT_FALSE(matches(g, "12345:"));
    EXPECT_FALSE(matches(g, "12:ab,"));
    EXPECT_FALSE(matches(g, "12:abab"));
}

TEST(GrammarMatcher, RightRecursionKeepsStatesBounded) {
    GrammarBuilder b;
    const RuleId star = b.repeat("s", seq(Element::byte('a')), 0, std::nullopt);
    auto g = build_or_die(b, star);
    Matcher m(g, nullptr);
    ASSERT_TRUE(m.accept_bytes(std::string(10000, 'a')).is_ok());
    EXPECT_LT(m.state_count(), 8u);
    EXPECT_LT(m.node_count(), 8u);
}

TEST(GrammarMatcher, RejectsLeftRecursion) {
    GrammarBuilder b;
    const RuleId expr = b.declare("expr");
    b.add_alternative(expr, {Element::ref(expr), Element::byte('+'), Element::byte('1')});
    b.add_alternative(expr, literal("1"));
    auto g = b.build(expr);
    ASSERT_FALSE(g.has_value());
    EXPECT_NE(g.status().message().find("left-recursive"), std::string::npos);
}

TEST(GrammarMatcher, RejectsUndefinedRules) {
    GrammarBuilder b;
    const RuleId missing = b.declare("missing");
    const RuleId root = b.define("root", {seq(Element::ref(missing))});
    EXPECT_FALSE(b.build(root).has_value());
}

TEST(GrammarMatcher, MaskAgreesWithPerTokenCheck) {
    // (ab|ac)*d with a vocabulary that has tokens crossing rule boundaries.
    GrammarBuilder b;
    const RuleId pair = b.define("pair", {literal("ab"), literal("ac")});
    const RuleId star = b.repeat("star", seq(Element::ref(pair)), 0, std::nullopt);
    const RuleId root = b.define("root", {Sequence{Element::ref(star), Element::byte('d')}});
    auto g = build_or_die(b, root);
    auto vocab = TokenVocabulary::create(
        {"a", "b", "c", "d", "ab", "ba", "abac", "acd", "bd", "x", "", "<eos>", "<ctl>"},
        {false, false, false, false, false, false, false, false, false, false, false, false, true},
        {11});
    ASSERT_TRUE(vocab.has_value());
    Matcher m(g, *vocab);
    std::vector<uint32_t> words(1);
    auto allowed_set = [&] {
        EXPECT_TRUE(m.fill_mask(words).is_ok());
        std::string out;
        for (int t = 0; t < 13; ++t) {
            const bool bit = (words[0] >> t) & 1u;
            EXPECT_EQ(bit, m.is_token_allowed(t)) << "token " << t;
            if (bit) out += (*vocab)->piece(t) + "|";
        }
        return out;
    };
    EXPECT_EQ(allowed_set(), "a|d|ab|abac|acd|");
    ASSERT_TRUE(m.accept_token(4).is_ok());  // "ab"
    EXPECT_EQ(allowed_set(), "a|d|ab|abac|acd|");
    ASSERT_TRUE(m.accept_token(3).is_ok());  // "d"
    EXPECT_TRUE(m.is_accepting());
    EXPECT_EQ(allowed_set(), "<eos>|");
    EXPECT_FALSE(m.accept_token(0).is_ok());
    ASSERT_TRUE(m.accept_token(11).is_ok());
    EXPECT_TRUE(m.is_ended());
    EXPECT_EQ(allowed_set(), "");
}

TEST(GrammarMatcher, ShortestCompletion) {
    GrammarBuilder b;
    const RuleId root = b.define("root", {literal("abcdef"), literal("abxy")});
    auto g = build_or_die(b, root);
    Matcher m(g, nullptr);
    ASSERT_TRUE(m.accept_bytes("ab").is_ok());
    EXPECT_EQ(m.shortest_completion(100), std::optional<std::string>("xy"));
    EXPECT_EQ(m.shortest_completion(1), std::nullopt);
}

// Requests whose grammars have the same rules share the states and masks earlier ones built;
// a matcher with tables of its own computes the same masks from scratch.
TEST(GrammarMatcher, EqualGrammarsShareTheirTables) {
    auto make = [](const char* word) {
        GrammarBuilder b;
        const RuleId root = b.define("root", {literal(word), literal("abd")});
        return build_or_die(b, root);
    };
    const auto first = make("abc");
    const auto same = make("abc");  // compiled again: another object, equal rules
    const auto other = make("abx");
    auto vocab = TokenVocabulary::create({"a", "b", "c", "x", "ab", "bc", "d", "<eos>"}, {}, {7});
    ASSERT_TRUE(vocab.has_value());
    std::vector<uint32_t> words(1);
    Matcher a(first, *vocab);
    ASSERT_TRUE(a.accept_bytes("ab").is_ok());
    ASSERT_TRUE(a.fill_mask(words).is_ok());
    const uint32_t after_ab = words[0];
    EXPECT_EQ(after_ab, (1u << 2) | (1u << 6));  // "c" or "d"
    const size_t states = a.state_count();
    EXPECT_EQ((*vocab)->shared_table_count(), 1u);

    Matcher b(same, *vocab);
    EXPECT_EQ(b.state_count(), states);  // nothing new to build: the tables are a's
    ASSERT_TRUE(b.accept_bytes("ab").is_ok());
    EXPECT_EQ(b.state_count(), states);
    ASSERT_TRUE(b.fill_mask(words).is_ok());
    EXPECT_EQ(words[0], after_ab);
    EXPECT_EQ((*vocab)->shared_table_count(), 1u);

    Matcher own(first, *vocab, /*share_tables=*/false);
    EXPECT_LT(own.state_count(), states);
    ASSERT_TRUE(own.accept_bytes("ab").is_ok());
    ASSERT_TRUE(own.fill_mask(words).is_ok());
    EXPECT_EQ(words[0], after_ab);

    Matcher c(other, *vocab);
    ASSERT_TRUE(c.accept_bytes("ab").is_ok());
    ASSERT_TRUE(c.fill_mask(words).is_ok());
    EXPECT_EQ(words[0], (1u << 3) | (1u << 6));  // "x" or "d"
    EXPECT_EQ((*vocab)->shared_table_count(), 2u);
    // The matchers of one grammar still move independently.
    ASSERT_TRUE(a.accept_bytes("c").is_ok());
    EXPECT_TRUE(a.is_accepting());
    EXPECT_FALSE(b.is_accepting());
}

TEST(TokenVocabulary, RejectsBadInput) {
    EXPECT_FALSE(TokenVocabulary::create({}, {}, {}).has_value());
    EXPECT_FALSE(TokenVocabulary::create({"a"}, {}, {1}).has_value());
    EXPECT_FALSE(TokenVocabulary::create({"a", "b"}, {true}, {}).has_value());
}

}  // namespace
}  // namespace cria::grammar
