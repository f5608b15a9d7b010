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
// The token mask for a state scans the vocabulary's byte trie (laid out depth-first, so the scan
// reads memory in order) following the memoized transitions and skipping every subtree whose
// prefix is dead. Masks are cached per state.
//
// The lazily built DFA and its masks depend only on the grammar and the vocabulary, so they are
// shared: the vocabulary keeps the tables of the grammars used most recently, and a request
// whose grammar has the same rules as an earlier one (the same schema, the same tools) starts
// with every state and mask that earlier requests computed. The tables are locked while a
// matcher uses them, so matchers of concurrent requests may share them.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "grammar/grammar.h"

namespace cria::grammar {

class MatchTables;

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
    ~TokenVocabulary();

    int32_t n_vocab() const { return static_cast<int32_t>(pieces_.size()); }
    const std::string& piece(int32_t token) const { return pieces_[static_cast<size_t>(token)]; }
    bool is_end_token(int32_t token) const;
    const std::vector<int32_t>& end_tokens() const { return end_tokens_; }
    size_t trie_node_count() const { return edge_byte_.size(); }
    // Grammars whose matching tables are kept for later requests (diagnostics, tests).
    size_t shared_table_count() const;

  private:
    friend class Matcher;
    friend class MatchTables;
    TokenVocabulary() = default;

    // The matching tables for `grammar`: kept ones when a recent grammar has the same rules,
    // else new ones, kept in place of the least recently used.
    std::shared_ptr<MatchTables> tables_for(const std::shared_ptr<const Grammar>& grammar) const;

    std::vector<std::string> pieces_;  // [n_vocab]
    std::vector<int32_t> end_tokens_;
    // Trie in depth-first order; node 0 is the root (the empty prefix). The subtree of node n is
    // the nodes n .. subtree_end_[n] - 1, so a dead prefix skips its whole subtree at once.
    std::vector<uint8_t> edge_byte_;         // [n_nodes] byte on the edge into the node
    std::vector<int32_t> depth_;             // [n_nodes] bytes from the root
    std::vector<int32_t> subtree_end_;       // [n_nodes]
    std::vector<int32_t> node_token_begin_;  // [n_nodes + 1] index into node_tokens_
    std::vector<int32_t> node_tokens_;       // tokens whose piece ends at the node
    int32_t max_depth_ = 0;

    static constexpr size_t kMaxSharedTables = 8;
    mutable std::mutex tables_mutex_;
    mutable std::list<std::shared_ptr<MatchTables>> tables_;  // most recently used first
};

class Matcher {
  public:
    // `vocabulary` may be null for byte-level use (accept_bytes, completion) only.
    // `share_tables` false gives the matcher tables of its own, built from scratch: what the
    // first request with a new grammar costs (benchmarks, tests).
    Matcher(std::shared_ptr<const Grammar> grammar,
            std::shared_ptr<const TokenVocabulary> vocabulary, bool share_tables = true);

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

    // Number of interned states and stack nodes in the (shared) tables (diagnostics, tests).
    size_t state_count() const;
    size_t node_count() const;

  private:
    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const TokenVocabulary> vocabulary_;
    std::shared_ptr<MatchTables> tables_;
    int32_t current_ = 0;  // state id in tables_
    bool ended_ = false;
};

}  // namespace cria::grammar
