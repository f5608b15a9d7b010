// Incremental matching of generated text against a Grammar, and the per-step token mask.
//
// The matcher is a pushdown automaton over bytes. Its configuration is a set of stacks; each
// stack is a chain of interned nodes (grammar position to continue at, parent node), so stacks
// share their common tails and a whole configuration is a sorted list of top-node ids. Every
// distinct configuration is interned as a state, and the byte transitions of each state are
// memoized, which turns the automaton into a lazily built DFA over the configurations the
// generation actually reaches. References in tail position do not push a return node, so the
// right-recursive repetitions the compilers produce keep the stacks flat and revisit the same
// states (a JSON string body is one state, whatever its length).
//
// The token mask for a state walks the vocabulary's byte trie from the root, following the
// memoized transitions and pruning every subtree whose prefix is dead; masks are cached per
// state, so the common steady states (inside a string, between digits) cost a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "grammar/grammar.h"

namespace cria::grammar {

// The byte strings of a model's tokens, arranged as a trie for mask computation. Built once per
// model and shared by every request.
class TokenVocabulary {
  public:
    // `pieces[t]`: the bytes token t stands for in generated text. Tokens listed in
    // `end_tokens` end generation and are allowed exactly when the grammar accepts the text so
    // far. Tokens marked in `never_text` (control tokens) and tokens with no bytes are never
    // allowed otherwise.
    static Expected<std::shared_ptr<const TokenVocabulary>> create(
        std::vector<std::string> pieces, const std::vector<bool>& never_text,
        std::vector<int32_t> end_tokens);

    int32_t n_vocab() const { return static_cast<int32_t>(pieces_.size()); }
    const std::string& piece(int32_t token) const { return pieces_[static_cast<size_t>(token)]; }
    bool is_end_token(int32_t token) const;
    const std::vector<int32_t>& end_tokens() const { return end_tokens_; }
    size_t trie_node_count() const { return child_begin_.size(); }

  private:
    friend class Matcher;
    TokenVocabulary() = default;

    std::vector<std::string> pieces_;  // [n_vocab]
    std::vector<int32_t> end_tokens_;
    // Trie in breadth-first order; node 0 is the root. Children of node n are the nodes
    // child_begin_[n] .. child_begin_[n] + child_count_[n] - 1, sorted by edge byte.
    std::vector<int32_t> child_begin_;       // [n_nodes]
    std::vector<uint16_t> child_count_;      // [n_nodes]
    std::vector<uint8_t> edge_byte_;         // [n_nodes] byte on the edge into the node
    std::vector<int32_t> node_token_begin_;  // [n_nodes + 1] index into node_tokens_
    std::vector<int32_t> node_tokens_;       // tokens whose piece ends at the node
};

class Matcher {
  public:
    // `vocabulary` may be null for byte-level use (accept_bytes, completion) only.
    Matcher(std::shared_ptr<const Grammar> grammar,
            std::shared_ptr<const TokenVocabulary> vocabulary);

    // Advances over generated text; fails (and leaves the matcher unchanged) when the text
    // cannot continue a valid output.
    Status accept_bytes(std::string_view bytes);
    // Advances over a sampled token. An end token is accepted only in an accepting state.
    Status accept_token(int32_t token);
    bool is_token_allowed(int32_t token);

    // Writes the allowed tokens into `words` [ceil(n_vocab / 32)], bit t % 32 of word t / 32.
    Status fill_mask(std::span<uint32_t> words);

    // The text so far is a complete output.
    bool is_accepting() const;
    // Some byte can still follow. When false (and accepting) only an end token may follow.
    bool can_continue() const;
    // True once an end token was accepted.
    bool is_ended() const { return ended_; }

    // The shortest byte string that completes the output from here (breadth-first over
    // states), or nullopt when none is found within `max_bytes`. Used to close outputs in
    // tests and to detect grammars that accept nothing.
    std::optional<std::string> shortest_completion(size_t max_bytes);

    // Number of interned states and stack nodes so far (diagnostics, benchmarks).
    size_t state_count() const { return states_.size(); }
    size_t node_count() const { return nodes_.size(); }

  private:
    static constexpr int32_t kAcceptNode = -1;  // an emptied stack: the text is complete
    static constexpr int32_t kNoParent = -1;
    static constexpr int32_t kDead = -1;     // transition to no state
    static constexpr int32_t kUnknown = -2;  // transition not computed yet
    static constexpr size_t kMaxNodes = 4'000'000;
    static constexpr size_t kMaxStates = 1'000'000;
    static constexpr size_t kMaxCachedMasks = 256;

    enum class Op : uint8_t { kBytes, kRule, kEnd };
    struct Code {
        Op op;
        uint32_t arg;  // byte-set index (kBytes) or rule id (kRule)
    };
    struct Node {
        int32_t pos;
        int32_t parent;
    };
    struct State {
        std::vector<int32_t> nodes;       // sorted top-node ids; kAcceptNode first when present
        std::unique_ptr<int32_t[]> next;  // [256] memoized transitions, allocated on first use
    };
    struct VectorHash {
        size_t operator()(const std::vector<int32_t>& v) const;
    };

    void flatten();
    int32_t intern_node(int32_t pos, int32_t parent);
    void closure(int32_t pos, int32_t parent, std::vector<int32_t>& out);
    int32_t intern_state(std::vector<int32_t>& nodes);
    // The state after `byte` from `state`, or kDead.
    int32_t step(int32_t state, uint8_t byte);
    Status check_limits() const;

    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const TokenVocabulary> vocabulary_;

    std::vector<Code> code_;                             // flattened alternatives, kEnd-terminated
    std::vector<ByteSet> byte_sets_;                     // [n_byte_elements]
    std::vector<std::vector<int32_t>> rule_alt_starts_;  // [n_rules] code_ index per alternative

    std::vector<Node> nodes_;
    std::unordered_map<uint64_t, int32_t> node_ids_;
    std::vector<State> states_;
    std::unordered_map<std::vector<int32_t>, int32_t, VectorHash> state_ids_;
    std::unordered_set<uint64_t> closure_seen_;  // scratch for closure()

    std::unordered_map<int32_t, std::vector<uint32_t>> mask_cache_;
    std::vector<std::pair<int32_t, int32_t>> walk_stack_;  // scratch: (trie node, state)

    int32_t start_state_ = 0;
    int32_t current_ = 0;
    bool ended_ = false;
};

}  // namespace cria::grammar
