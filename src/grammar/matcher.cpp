#include "grammar/matcher.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace cria::grammar {

// ---------------------------------------------------------------------------------------------
// MatchTables: the lazily built DFA of one grammar and its masks over one vocabulary.

class MatchTables {
  public:
    static constexpr int32_t kAcceptNode = -1;  // an emptied stack: the text is complete
    static constexpr int32_t kNoParent = -1;
    static constexpr int32_t kDead = -1;     // transition to no state
    static constexpr int32_t kUnknown = -2;  // transition not computed yet
    static constexpr size_t kMaxNodes = 4'000'000;
    static constexpr size_t kMaxStates = 1'000'000;
    // Cached masks are dropped (and recomputed on demand) past this many bytes.
    static constexpr size_t kMaxMaskBytes = size_t{16} << 20;
    // Tables past this size are no longer handed to new requests (they keep growing only for
    // the requests already using them), so shared tables stay bounded.
    static constexpr size_t kMaxSharedBytes = size_t{32} << 20;

    explicit MatchTables(std::shared_ptr<const Grammar> grammar);

    const std::shared_ptr<const Grammar>& grammar() const { return grammar_; }
    bool over_shared_budget() const {
        return approx_bytes_.load(std::memory_order_relaxed) > kMaxSharedBytes;
    }

    // Everything below is called with mutex() held.
    std::mutex& mutex() { return mutex_; }
    int32_t start_state() const { return start_state_; }
    // The state after `byte` from `state`, or kDead.
    int32_t step(int32_t state, uint8_t byte) {
        const int32_t* next = states_[static_cast<size_t>(state)].next.get();
        if (next != nullptr && next[byte] != kUnknown) return next[byte];
        return step_slow(state, byte);
    }
    bool is_accepting(int32_t state) const {
        const auto& nodes = states_[static_cast<size_t>(state)].nodes;
        return !nodes.empty() && nodes.front() == kAcceptNode;
    }
    bool can_continue(int32_t state) const {
        const auto& nodes = states_[static_cast<size_t>(state)].nodes;
        return !nodes.empty() && nodes.back() != kAcceptNode;
    }
    Status check_limits() const {
        if (nodes_.size() > kMaxNodes || states_.size() > kMaxStates) {
            return resource_exhausted("the output grammar grew past its matching limits");
        }
        return Status::ok();
    }
    size_t state_count() const { return states_.size(); }
    size_t node_count() const { return nodes_.size(); }

    void fill_mask(const TokenVocabulary& vocab, int32_t state, std::span<uint32_t> words);

  private:
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
        size_t operator()(const std::vector<int32_t>& v) const {
            uint64_t h = 1469598103934665603ull;
            for (int32_t x : v) {
                h ^= static_cast<uint32_t>(x);
                h *= 1099511628211ull;
            }
            return static_cast<size_t>(h);
        }
    };
    // A cached mask: the allowed token ids when few are allowed, else the bit words.
    struct Mask {
        bool dense = false;
        std::vector<uint32_t> data;  // [n_words] bits, or the allowed ids
    };

    void flatten();
    int32_t intern_node(int32_t pos, int32_t parent);
    void closure(int32_t pos, int32_t parent, std::vector<int32_t>& out);
    int32_t intern_state(std::vector<int32_t>& nodes);
    int32_t step_slow(int32_t state, uint8_t byte);
    // Approximate memory held, read without the lock by TokenVocabulary::tables_for.
    void account(size_t bytes) { approx_bytes_.fetch_add(bytes, std::memory_order_relaxed); }

    std::shared_ptr<const Grammar> grammar_;
    std::mutex mutex_;
    std::atomic<size_t> approx_bytes_{0};

    std::vector<Code> code_;                             // flattened alternatives, kEnd-terminated
    std::vector<ByteSet> byte_sets_;                     // [n_byte_elements]
    std::vector<std::vector<int32_t>> rule_alt_starts_;  // [n_rules] code_ index per alternative

    std::vector<Node> nodes_;
    std::unordered_map<uint64_t, int32_t> node_ids_;
    std::vector<State> states_;
    std::unordered_map<std::vector<int32_t>, int32_t, VectorHash> state_ids_;
    std::unordered_set<uint64_t> closure_seen_;  // scratch for closure()

    std::unordered_map<int32_t, Mask> masks_;
    size_t mask_bytes_ = 0;
    std::vector<int32_t> state_at_depth_;  // scratch for fill_mask: [max trie depth + 1]

    int32_t start_state_ = 0;
};

MatchTables::MatchTables(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
    flatten();
    std::vector<int32_t> start;
    for (int32_t alt : rule_alt_starts_[grammar_->root()]) closure(alt, kNoParent, start);
    start_state_ = intern_state(start);
}

void MatchTables::flatten() {
    const auto& rules = grammar_->rules();
    rule_alt_starts_.resize(rules.size());
    for (size_t r = 0; r < rules.size(); ++r) {
        for (const Sequence& alt : rules[r].alternatives) {
            rule_alt_starts_[r].push_back(static_cast<int32_t>(code_.size()));
            for (const Element& e : alt) {
                if (e.kind == Element::Kind::kRule) {
                    code_.push_back({Op::kRule, e.rule});
                } else {
                    code_.push_back({Op::kBytes, static_cast<uint32_t>(byte_sets_.size())});
                    byte_sets_.push_back(e.bytes);
                }
            }
            code_.push_back({Op::kEnd, 0});
        }
    }
    account(code_.size() * sizeof(Code) + byte_sets_.size() * sizeof(ByteSet));
}

int32_t MatchTables::intern_node(int32_t pos, int32_t parent) {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) |
                         static_cast<uint32_t>(parent + 1);
    auto [it, inserted] = node_ids_.try_emplace(key, static_cast<int32_t>(nodes_.size()));
    if (inserted) {
        nodes_.push_back({pos, parent});
        account(sizeof(Node) + 32);
    }
    return it->second;
}

// Expands (pos, parent) until every stack has a byte set on top (or is empty: accept). The
// worklist and the seen-set make shared and nullable paths cost one visit each; the grammar
// builder rejects left recursion, so the expansion is finite.
void MatchTables::closure(int32_t pos, int32_t parent, std::vector<int32_t>& out) {
    closure_seen_.clear();
    std::vector<std::pair<int32_t, int32_t>> work{{pos, parent}};
    while (!work.empty()) {
        auto [p, par] = work.back();
        work.pop_back();
        const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(p)) << 32) |
                             static_cast<uint32_t>(par + 1);
        if (!closure_seen_.insert(key).second) continue;
        const Code& c = code_[static_cast<size_t>(p)];
        switch (c.op) {
            case Op::kBytes:
                out.push_back(intern_node(p, par));
                break;
            case Op::kEnd:
                if (par == kNoParent) {
                    out.push_back(kAcceptNode);
                } else {
                    const Node& ret = nodes_[static_cast<size_t>(par)];
                    work.emplace_back(ret.pos, ret.parent);
                }
                break;
            case Op::kRule: {
                // A reference in tail position returns straight to our parent.
                const int32_t ret = code_[static_cast<size_t>(p) + 1].op == Op::kEnd
                                        ? par
                                        : intern_node(p + 1, par);
                for (int32_t alt : rule_alt_starts_[c.arg]) work.emplace_back(alt, ret);
                break;
            }
        }
    }
}

int32_t MatchTables::intern_state(std::vector<int32_t>& nodes) {
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    auto it = state_ids_.find(nodes);
    if (it != state_ids_.end()) return it->second;
    const auto id = static_cast<int32_t>(states_.size());
    states_.push_back(State{nodes, nullptr});
    state_ids_.emplace(nodes, id);
    account(2 * nodes.size() * sizeof(int32_t) + sizeof(State) + 64);
    return id;
}

int32_t MatchTables::step_slow(int32_t state, uint8_t byte) {
    State* s = &states_[static_cast<size_t>(state)];
    if (!s->next) {
        s->next = std::make_unique<int32_t[]>(256);
        std::fill_n(s->next.get(), 256, kUnknown);
        account(256 * sizeof(int32_t));
    }
    std::vector<int32_t> next_nodes;
    // Copy: closure() may grow nodes_ but never states_, yet interning below may move states_.
    const std::vector<int32_t> tops = s->nodes;
    for (int32_t id : tops) {
        if (id == kAcceptNode) continue;
        const Node node = nodes_[static_cast<size_t>(id)];
        const Code& c = code_[static_cast<size_t>(node.pos)];
        if (!byte_sets_[c.arg].contains(byte)) continue;
        std::vector<int32_t> part;
        closure(node.pos + 1, node.parent, part);
        next_nodes.insert(next_nodes.end(), part.begin(), part.end());
    }
    const int32_t result = next_nodes.empty() ? kDead : intern_state(next_nodes);
    states_[static_cast<size_t>(state)].next[byte] = result;
    return result;
}

void MatchTables::fill_mask(const TokenVocabulary& v, int32_t state, std::span<uint32_t> words) {
    const size_t n_words = words.size();
    auto cached = masks_.find(state);
    if (cached != masks_.end()) {
        const Mask& mask = cached->second;
        if (mask.dense) {
            std::memcpy(words.data(), mask.data.data(), n_words * sizeof(uint32_t));
        } else {
            std::fill(words.begin(), words.end(), 0u);
            for (uint32_t t : mask.data) words[t >> 5] |= 1u << (t & 31);
        }
        return;
    }

    // One pass over the depth-first trie: a node's state is its parent's state stepped by the
    // node's byte, and the parent is the last node seen one level up.
    std::fill(words.begin(), words.end(), 0u);
    state_at_depth_.resize(static_cast<size_t>(v.max_depth_) + 1);
    state_at_depth_[0] = state;
    const auto n_nodes = static_cast<int32_t>(v.edge_byte_.size());
    size_t allowed = 0;
    for (int32_t node = 1; node < n_nodes;) {
        const auto at = static_cast<size_t>(node);
        const int32_t depth = v.depth_[at];
        const int32_t next =
            step(state_at_depth_[static_cast<size_t>(depth - 1)], v.edge_byte_[at]);
        if (next == kDead) {
            node = v.subtree_end_[at];
            continue;
        }
        state_at_depth_[static_cast<size_t>(depth)] = next;
        for (int32_t i = v.node_token_begin_[at]; i < v.node_token_begin_[at + 1]; ++i) {
            const auto t = static_cast<uint32_t>(v.node_tokens_[static_cast<size_t>(i)]);
            words[t >> 5] |= 1u << (t & 31);
            ++allowed;
        }
        ++node;
    }
    if (is_accepting(state)) {
        for (int32_t t : v.end_tokens()) {
            words[static_cast<uint32_t>(t) >> 5] |= 1u << (static_cast<uint32_t>(t) & 31);
            ++allowed;
        }
    }

    Mask mask;
    mask.dense = allowed >= n_words;  // the id list would be larger than the bits
    if (mask.dense) {
        mask.data.assign(words.begin(), words.end());
    } else {
        mask.data.reserve(allowed);
        for (size_t w = 0; w < n_words; ++w) {
            for (uint32_t bits = words[w]; bits != 0; bits &= bits - 1) {
                mask.data.push_back(static_cast<uint32_t>(w * 32) +
                                    static_cast<uint32_t>(__builtin_ctz(bits)));
            }
        }
    }
    const size_t bytes = mask.data.size() * sizeof(uint32_t) + 64;
    if (mask_bytes_ + bytes > kMaxMaskBytes) {
        masks_.clear();
        approx_bytes_.fetch_sub(mask_bytes_, std::memory_order_relaxed);
        mask_bytes_ = 0;
    }
    mask_bytes_ += bytes;
    account(bytes);
    masks_.emplace(state, std::move(mask));
}

// ---------------------------------------------------------------------------------------------
// TokenVocabulary

TokenVocabulary::~TokenVocabulary() = default;

Expected<std::shared_ptr<const TokenVocabulary>> TokenVocabulary::create(
    std::vector<std::string> pieces, const std::vector<bool>& never_text,
    std::vector<int32_t> end_tokens) {
    const size_t n_vocab = pieces.size();
    if (n_vocab == 0 || n_vocab > (size_t{1} << 30)) {
        return invalid_argument("vocabulary size " + std::to_string(n_vocab) + " is not usable");
    }
    if (!never_text.empty() && never_text.size() != n_vocab) {
        return invalid_argument("never_text must have one entry per token");
    }
    for (int32_t t : end_tokens) {
        if (t < 0 || static_cast<size_t>(t) >= n_vocab) {
            return invalid_argument("end token " + std::to_string(t) +
                                    " is outside the vocabulary");
        }
    }
    std::shared_ptr<TokenVocabulary> vocab(new TokenVocabulary());
    vocab->pieces_ = std::move(pieces);
    std::sort(end_tokens.begin(), end_tokens.end());
    end_tokens.erase(std::unique(end_tokens.begin(), end_tokens.end()), end_tokens.end());
    vocab->end_tokens_ = std::move(end_tokens);

    // Text tokens sorted by piece: a prefix sorts before its extensions, so the trie comes out
    // depth-first in one pass over them.
    std::vector<int32_t> order;
    order.reserve(n_vocab);
    for (size_t t = 0; t < n_vocab; ++t) {
        const bool banned = !never_text.empty() && never_text[t];
        if (!banned && !vocab->pieces_[t].empty() && !vocab->is_end_token(static_cast<int32_t>(t)))
            order.push_back(static_cast<int32_t>(t));
    }
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return vocab->pieces_[static_cast<size_t>(a)] < vocab->pieces_[static_cast<size_t>(b)];
    });

    TokenVocabulary& v = *vocab;
    v.edge_byte_.push_back(0);
    v.depth_.push_back(0);
    v.subtree_end_.push_back(0);
    std::vector<int32_t> path{0};     // node ids from the root down to the last piece's end
    std::vector<int32_t> token_node;  // [order.size()] the node each token ends at
    token_node.reserve(order.size());
    const std::string* previous = nullptr;
    for (int32_t t : order) {
        const std::string& piece = v.pieces_[static_cast<size_t>(t)];
        size_t common = 0;
        if (previous != nullptr) {
            const size_t limit = std::min({previous->size(), piece.size(), path.size() - 1});
            while (common < limit && (*previous)[common] == piece[common]) ++common;
        }
        // Close the subtrees below the common prefix.
        while (path.size() > common + 1) {
            v.subtree_end_[static_cast<size_t>(path.back())] =
                static_cast<int32_t>(v.edge_byte_.size());
            path.pop_back();
        }
        for (size_t i = common; i < piece.size(); ++i) {
            path.push_back(static_cast<int32_t>(v.edge_byte_.size()));
            v.edge_byte_.push_back(static_cast<uint8_t>(piece[i]));
            v.depth_.push_back(static_cast<int32_t>(i + 1));
            v.subtree_end_.push_back(0);
        }
        v.max_depth_ = std::max(v.max_depth_, static_cast<int32_t>(piece.size()));
        token_node.push_back(path.back());
        previous = &piece;
    }
    const auto n_nodes = static_cast<int32_t>(v.edge_byte_.size());
    for (int32_t node : path) v.subtree_end_[static_cast<size_t>(node)] = n_nodes;

    // Tokens per node (several tokens may share a piece).
    v.node_token_begin_.assign(static_cast<size_t>(n_nodes) + 1, 0);
    for (int32_t node : token_node) ++v.node_token_begin_[static_cast<size_t>(node) + 1];
    for (size_t i = 1; i < v.node_token_begin_.size(); ++i) {
        v.node_token_begin_[i] += v.node_token_begin_[i - 1];
    }
    v.node_tokens_.resize(order.size());
    std::vector<int32_t> fill(v.node_token_begin_.begin(), v.node_token_begin_.end() - 1);
    for (size_t i = 0; i < order.size(); ++i) {
        v.node_tokens_[static_cast<size_t>(fill[static_cast<size_t>(token_node[i])]++)] = order[i];
    }
    return std::shared_ptr<const TokenVocabulary>(std::move(vocab));
}

bool TokenVocabulary::is_end_token(int32_t token) const {
    return std::binary_search(end_tokens_.begin(), end_tokens_.end(), token);
}

size_t TokenVocabulary::shared_table_count() const {
    std::lock_guard lock(tables_mutex_);
    return tables_.size();
}

std::shared_ptr<MatchTables> TokenVocabulary::tables_for(
    const std::shared_ptr<const Grammar>& grammar) const {
    std::lock_guard lock(tables_mutex_);
    for (auto it = tables_.begin(); it != tables_.end(); ++it) {
        const Grammar& kept = *(*it)->grammar();
        if (&kept != grammar.get() && !kept.same_rules_as(*grammar)) continue;
        if ((*it)->over_shared_budget()) {
            tables_.erase(it);  // its current users keep it; later requests start afresh
            break;
        }
        tables_.splice(tables_.begin(), tables_, it);
        return tables_.front();
    }
    auto tables = std::make_shared<MatchTables>(grammar);
    tables_.push_front(tables);
    if (tables_.size() > kMaxSharedTables) tables_.pop_back();
    return tables;
}

// ---------------------------------------------------------------------------------------------
// Matcher

Matcher::Matcher(std::shared_ptr<const Grammar> grammar,
                 std::shared_ptr<const TokenVocabulary> vocabulary, bool share_tables)
    : grammar_(std::move(grammar)), vocabulary_(std::move(vocabulary)) {
    tables_ = vocabulary_ && share_tables ? vocabulary_->tables_for(grammar_)
                                          : std::make_shared<MatchTables>(grammar_);
    current_ = tables_->start_state();
}

size_t Matcher::state_count() const {
    std::lock_guard lock(tables_->mutex());
    return tables_->state_count();
}

size_t Matcher::node_count() const {
    std::lock_guard lock(tables_->mutex());
    return tables_->node_count();
}

Status Matcher::accept_bytes(std::string_view bytes) {
    if (ended_) return invalid_argument("the output already ended");
    std::lock_guard lock(tables_->mutex());
    int32_t state = current_;
    for (size_t i = 0; i < bytes.size(); ++i) {
        state = tables_->step(state, static_cast<uint8_t>(bytes[i]));
        if (state == MatchTables::kDead) {
            return invalid_argument("the output does not match the grammar at byte " +
                                    std::to_string(i));
        }
    }
    CRIA_RETURN_IF_ERROR(tables_->check_limits());
    current_ = state;
    return Status::ok();
}

Status Matcher::accept_token(int32_t token) {
    if (!vocabulary_) return internal_error("the matcher has no vocabulary");
    if (token < 0 || token >= vocabulary_->n_vocab()) {
        return invalid_argument("token " + std::to_string(token) + " is outside the vocabulary");
    }
    if (ended_) return invalid_argument("the output already ended");
    if (vocabulary_->is_end_token(token)) {
        if (!is_accepting()) return invalid_argument("the output is not complete yet");
        ended_ = true;
        return Status::ok();
    }
    const std::string& piece = vocabulary_->piece(token);
    if (piece.empty()) return invalid_argument("token has no text");
    return accept_bytes(piece);
}

bool Matcher::is_token_allowed(int32_t token) {
    if (!vocabulary_ || token < 0 || token >= vocabulary_->n_vocab() || ended_) return false;
    if (vocabulary_->is_end_token(token)) return is_accepting();
    const std::string& piece = vocabulary_->piece(token);
    if (piece.empty()) return false;
    std::lock_guard lock(tables_->mutex());
    int32_t state = current_;
    for (char c : piece) {
        state = tables_->step(state, static_cast<uint8_t>(c));
        if (state == MatchTables::kDead) return false;
    }
    return true;
}

bool Matcher::is_accepting() const {
    std::lock_guard lock(tables_->mutex());
    return tables_->is_accepting(current_);
}

bool Matcher::can_continue() const {
    if (ended_) return false;
    std::lock_guard lock(tables_->mutex());
    return tables_->can_continue(current_);
}

Status Matcher::fill_mask(std::span<uint32_t> words) {
    if (!vocabulary_) return internal_error("the matcher has no vocabulary");
    const size_t n_words = (static_cast<size_t>(vocabulary_->n_vocab()) + 31) / 32;
    if (words.size() != n_words) return invalid_argument("mask has the wrong number of words");
    if (ended_) {
        std::fill(words.begin(), words.end(), 0u);
        return Status::ok();
    }
    std::lock_guard lock(tables_->mutex());
    tables_->fill_mask(*vocabulary_, current_, words);
    return tables_->check_limits();
}

std::optional<std::string> Matcher::shortest_completion(size_t max_bytes) {
    // Breadth-first over states; parent links rebuild the bytes.
    struct Visit {
        int32_t state;
        int32_t from;  // index into visits, -1 for the start
        uint8_t byte;
        uint32_t depth;
    };
    std::lock_guard lock(tables_->mutex());
    std::vector<Visit> visits{{current_, -1, 0, 0}};
    std::unordered_set<int32_t> seen{current_};
    for (size_t i = 0; i < visits.size(); ++i) {
        const Visit v = visits[i];
        if (tables_->is_accepting(v.state)) {
            std::string out;
            for (int32_t k = static_cast<int32_t>(i); visits[static_cast<size_t>(k)].from >= 0;
                 k = visits[static_cast<size_t>(k)].from) {
                out.push_back(static_cast<char>(visits[static_cast<size_t>(k)].byte));
            }
            std::reverse(out.begin(), out.end());
            return out;
        }
        if (v.depth >= max_bytes || visits.size() > 2'000'000) continue;
        for (unsigned b = 0; b < 256; ++b) {
            const int32_t next = tables_->step(v.state, static_cast<uint8_t>(b));
            if (next == MatchTables::kDead || !seen.insert(next).second) continue;
            visits.push_back({next, static_cast<int32_t>(i), static_cast<uint8_t>(b), v.depth + 1});
        }
    }
    return std::nullopt;
}

}  // namespace cria::grammar
