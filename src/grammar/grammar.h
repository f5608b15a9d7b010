// A context-free grammar over bytes, the form every structured-output constraint compiles to.
//
// A grammar is a list of rules; a rule is a list of alternatives; an alternative is a sequence of
// elements, each either a set of bytes (one byte from the set) or a reference to a rule.
// Repetition is expressed with helper rules (see GrammarBuilder::repeat), so the matcher only
// ever deals with these two element kinds. Working on bytes rather than code points keeps the
// matcher independent of tokenization; UTF-8 validity is encoded in the rules themselves.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cria::grammar {

using RuleId = uint32_t;

// 256 bits: bit b is set when byte b is accepted.
struct ByteSet {
    std::array<uint64_t, 4> bits{};

    bool contains(uint8_t byte) const { return (bits[byte >> 6] >> (byte & 63)) & 1u; }
    void add(uint8_t byte) { bits[byte >> 6] |= uint64_t{1} << (byte & 63); }
    void add_range(uint8_t first, uint8_t last) {
        for (unsigned b = first; b <= last; ++b) add(static_cast<uint8_t>(b));
    }
    void remove(uint8_t byte) { bits[byte >> 6] &= ~(uint64_t{1} << (byte & 63)); }
    bool empty() const { return (bits[0] | bits[1] | bits[2] | bits[3]) == 0; }
    static ByteSet single(uint8_t byte) {
        ByteSet set;
        set.add(byte);
        return set;
    }
    static ByteSet range(uint8_t first, uint8_t last) {
        ByteSet set;
        set.add_range(first, last);
        return set;
    }
};

struct Element {
    enum class Kind : uint8_t { kBytes, kRule };
    Kind kind = Kind::kBytes;
    RuleId rule = 0;  // kRule only
    ByteSet bytes;    // kBytes only

    static Element byte_set(const ByteSet& set) { return {Kind::kBytes, 0, set}; }
    static Element byte(uint8_t b) { return byte_set(ByteSet::single(b)); }
    static Element ref(RuleId id) { return {Kind::kRule, id, {}}; }
};

using Sequence = std::vector<Element>;

struct Rule {
    std::string name;  // for diagnostics only
    std::vector<Sequence> alternatives;
};

// Limits that keep a hostile schema from producing an enormous grammar.
inline constexpr size_t kMaxGrammarElements = 2'000'000;

// An immutable compiled grammar, shared between the requests that use it.
class Grammar {
  public:
    const std::vector<Rule>& rules() const { return rules_; }
    RuleId root() const { return root_; }
    size_t element_count() const { return element_count_; }
    // A readable dump (one rule per line) for tests and debugging.
    std::string to_string() const;
    // A hash of the rules (names aside), and exact structural equality: two requests with the
    // same schema compile equal grammars, which then share their matching tables.
    uint64_t fingerprint() const { return fingerprint_; }
    bool same_rules_as(const Grammar& other) const;

  private:
    friend class GrammarBuilder;
    std::vector<Rule> rules_;
    RuleId root_ = 0;
    size_t element_count_ = 0;
    uint64_t fingerprint_ = 0;
};

class GrammarBuilder {
  public:
    // Declares a rule with no alternatives yet, so that it can be referenced before it is
    // defined (recursive structures, $ref).
    RuleId declare(std::string name);
    void add_alternative(RuleId rule, Sequence sequence);
    // declare() + one alternative per sequence.
    RuleId define(std::string name, std::vector<Sequence> alternatives);

    // `item` repeated between min_count and max_count times (nullopt: unbounded), with
    // `separator` between consecutive items. Returns a rule matching the whole repetition.
    RuleId repeat(std::string name, const Sequence& item, uint32_t min_count,
                  std::optional<uint32_t> max_count, const Sequence& separator = {});

    // A choice between literal texts, each followed by its own continuation: the texts are
    // laid out as a trie of rules (shared prefixes once, then one alternative per next byte),
    // so that a matcher follows one path through n texts instead of n stacks at once, and the
    // grammar has as many elements as the texts have distinct prefix bytes. Equal texts with
    // equal continuations are kept once. Built without recursion: texts may nest deeply.
    struct LiteralBranch {
        std::string text;
        Sequence continuation;
    };
    RuleId literal_choice(std::string name, std::vector<LiteralBranch> branches);

    size_t element_count() const { return element_count_; }
    const Rule& rule(RuleId id) const { return rules_[id]; }

    // Checks that every rule has an alternative and every reference points at a rule, and that
    // the size stayed within kMaxGrammarElements.
    Expected<std::shared_ptr<const Grammar>> build(RuleId root) const;

  private:
    std::vector<Rule> rules_;
    size_t element_count_ = 0;
};

// Sequence helpers.
Sequence literal(std::string_view text);
void append(Sequence& to, const Sequence& from);
Sequence concat(std::initializer_list<Sequence> parts);
inline Sequence seq(Element element) {
    return Sequence{std::move(element)};
}

}  // namespace cria::grammar
