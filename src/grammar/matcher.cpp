#include "grammar/matcher.h"

#include <algorithm>
#include <cstring>
#include <deque>

namespace cria::grammar {

// ---------------------------------------------------------------------------------------------
// TokenVocabulary

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

    // Text tokens sorted by piece: the trie is then built in one pass, children in byte order.
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

    // Build a pointer trie first (children appended in byte order thanks to the sort), then
    // lay it out breadth-first so each node's children are contiguous.
    struct BuildNode {
        std::vector<std::pair<uint8_t, int32_t>> children;
        std::vector<int32_t> tokens;
    };
    std::vector<BuildNode> build(1);
    for (int32_t t : order) {
        int32_t node = 0;
        for (char c : vocab->pieces_[static_cast<size_t>(t)]) {
            const auto byte = static_cast<uint8_t>(c);
            auto& children = build[static_cast<size_t>(node)].children;
            if (!children.empty() && children.back().first == byte) {
                node = children.back().second;
            } else {
                build.push_back({});
                const auto id = static_cast<int32_t>(build.size() - 1);
                build[static_cast<size_t>(node)].children.emplace_back(byte, id);
                node = id;
            }
        }
        build[static_cast<size_t>(node)].tokens.push_back(t);
    }
    const size_t n_nodes = build.size();
    std::vector<int32_t> bfs_order;  // bfs position -> build id
    bfs_order.reserve(n_nodes);
    std::vector<int32_t> bfs_index(n_nodes, 0);  // build id -> bfs position
    bfs_order.push_back(0);
    vocab->edge_byte_.assign(n_nodes, 0);
    for (size_t i = 0; i < bfs_order.size(); ++i) {
        for (const auto& [byte, child] : build[static_cast<size_t>(bfs_order[i])].children) {
            bfs_index[static_cast<size_t>(child)] = static_cast<int32_t>(bfs_order.size());
            vocab->edge_byte_[bfs_order.size()] = byte;
            bfs_order.push_back(child);
        }
    }
    vocab->child_begin_.resize(n_nodes);
    vocab->child_count_.resize(n_nodes);
    vocab->node_token_begin_.resize(n_nodes + 1);
    for (size_t i = 0; i < n_nodes; ++i) {
        const BuildNode& node = build[static_cast<size_t>(bfs_order[i])];
        vocab->child_count_[i] = static_cast<uint16_t>(node.children.size());
        vocab->child_begin_[i] =
            node.children.empty() ? 0 : bfs_index[static_cast<size_t>(node.children[0].second)];
        vocab->node_token_begin_[i] = static_cast<int32_t>(vocab->node_tokens_.size());
        vocab->node_tokens_.insert(vocab->node_tokens_.end(), node.tokens.begin(),
                                   node.tokens.end());
    }
    vocab->node_token_begin_[n_nodes] = static_cast<int32_t>(vocab->node_tokens_.size());
    return std::shared_ptr<const TokenVocabulary>(std::move(vocab));
}

bool TokenVocabulary::is_end_token(int32_t token) const {
    return std::binary_search(end_tokens_.begin(), end_tokens_.end(), token);
}

// ---------------------------------------------------------------------------------------------
// Matcher

size_t Matcher::VectorHash::operator()(const std::vector<int32_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (int32_t x : v) {
        h ^= static_cast<uint32_t>(x);
        h *= 1099511628211ull;
    }
    return static_cast<size_t>(h);
}

Matcher::Matcher(std::shared_ptr<const Grammar> grammar,
                 std::shared_ptr<const TokenVocabulary> vocabulary)
    : grammar_(std::move(grammar)), vocabulary_(std::move(vocabulary)) {
    flatten();
    std::vector<int32_t> start;
    for (int32_t alt : rule_alt_starts_[grammar_->root()]) closure(alt, kNoParent, start);
    start_state_ = intern_state(start);
    current_ = start_state_;
}

void Matcher::flatten() {
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
}

int32_t Matcher::intern_node(int32_t pos, int32_t parent) {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) |
                         static_cast<uint32_t>(parent + 1);
    auto [it, inserted] = node_ids_.try_emplace(key, static_cast<int32_t>(nodes_.size()));
    if (inserted) nodes_.push_back({pos, parent});
    return it->second;
}

// Expands (pos, parent) until every stack has a byte set on top (or is empty: accept). The
// worklist and the seen-set make shared and nullable paths cost one visit each; the grammar
// builder rejects left recursion, so the expansion is finite.
void Matcher::closure(int32_t pos, int32_t parent, std::vector<int32_t>& out) {
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

int32_t Matcher::intern_state(std::vector<int32_t>& nodes) {
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    auto it = state_ids_.find(nodes);
    if (it != state_ids_.end()) return it->second;
    const auto id = static_cast<int32_t>(states_.size());
    states_.push_back(State{nodes, nullptr});
    state_ids_.emplace(nodes, id);
    return id;
}

int32_t Matcher::step(int32_t state, uint8_t byte) {
    State* s = &states_[static_cast<size_t>(state)];
    if (s->next) {
        const int32_t known = s->next[byte];
        if (known != kUnknown) return known;
    } else {
        s->next = std::make_unique<int32_t[]>(256);
        std::fill_n(s->next.get(), 256, kUnknown);
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

Status Matcher::check_limits() const {
    if (nodes_.size() > kMaxNodes || states_.size() > kMaxStates) {
        return resource_exhausted("the output grammar grew past its matching limits");
    }
    return Status::ok();
}

Status Matcher::accept_bytes(std::string_view bytes) {
    if (ended_) return invalid_argument("the output already ended");
    int32_t state = current_;
    for (size_t i = 0; i < bytes.size(); ++i) {
        state = step(state, static_cast<uint8_t>(bytes[i]));
        if (state == kDead) {
            return invalid_argument("the output does not match the grammar at byte " +
                                    std::to_string(i));
        }
    }
    CRIA_RETURN_IF_ERROR(check_limits());
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
    int32_t state = current_;
    for (char c : vocabulary_->piece(token)) {
        state = step(state, static_cast<uint8_t>(c));
        if (state == kDead) return false;
    }
    return !vocabulary_->piece(token).empty();
}

bool Matcher::is_accepting() const {
    const auto& nodes = states_[static_cast<size_t>(current_)].nodes;
    return !nodes.empty() && nodes.front() == kAcceptNode;
}

bool Matcher::can_continue() const {
    const auto& nodes = states_[static_cast<size_t>(current_)].nodes;
    return !ended_ && !nodes.empty() && nodes.back() != kAcceptNode;
}

Status Matcher::fill_mask(std::span<uint32_t> words) {
    if (!vocabulary_) return internal_error("the matcher has no vocabulary");
    const size_t n_words = (static_cast<size_t>(vocabulary_->n_vocab()) + 31) / 32;
    if (words.size() != n_words) return invalid_argument("mask has the wrong number of words");
    if (ended_) {
        std::fill(words.begin(), words.end(), 0u);
        return Status::ok();
    }
    auto cached = mask_cache_.find(current_);
    if (cached != mask_cache_.end()) {
        std::memcpy(words.data(), cached->second.data(), n_words * sizeof(uint32_t));
        return Status::ok();
    }

    std::fill(words.begin(), words.end(), 0u);
    const TokenVocabulary& v = *vocabulary_;
    walk_stack_.clear();
    walk_stack_.emplace_back(0, current_);
    while (!walk_stack_.empty()) {
        const auto [node, state] = walk_stack_.back();
        walk_stack_.pop_back();
        const int32_t first = v.child_begin_[static_cast<size_t>(node)];
        const int32_t count = v.child_count_[static_cast<size_t>(node)];
        for (int32_t child = first; child < first + count; ++child) {
            const int32_t next = step(state, v.edge_byte_[static_cast<size_t>(child)]);
            if (next == kDead) continue;
            for (int32_t i = v.node_token_begin_[static_cast<size_t>(child)];
                 i < v.node_token_begin_[static_cast<size_t>(child) + 1]; ++i) {
                const auto t = static_cast<uint32_t>(v.node_tokens_[static_cast<size_t>(i)]);
                words[t >> 5] |= 1u << (t & 31);
            }
            if (v.child_count_[static_cast<size_t>(child)] != 0) {
                walk_stack_.emplace_back(child, next);
            }
        }
    }
    if (is_accepting()) {
        for (int32_t t : v.end_tokens()) {
            words[static_cast<uint32_t>(t) >> 5] |= 1u << (static_cast<uint32_t>(t) & 31);
        }
    }
    CRIA_RETURN_IF_ERROR(check_limits());
    if (mask_cache_.size() >= kMaxCachedMasks) mask_cache_.clear();
    mask_cache_.emplace(current_, std::vector<uint32_t>(words.begin(), words.end()));
    return Status::ok();
}

std::optional<std::string> Matcher::shortest_completion(size_t max_bytes) {
    // Breadth-first over states; parent links rebuild the bytes.
    struct Visit {
        int32_t state;
        int32_t from;  // index into visits, -1 for the start
        uint8_t byte;
        uint32_t depth;
    };
    std::vector<Visit> visits{{current_, -1, 0, 0}};
    std::unordered_set<int32_t> seen{current_};
    for (size_t i = 0; i < visits.size(); ++i) {
        const Visit v = visits[i];
        const auto& nodes = states_[static_cast<size_t>(v.state)].nodes;
        if (!nodes.empty() && nodes.front() == kAcceptNode) {
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
            const int32_t next = step(v.state, static_cast<uint8_t>(b));
            if (next == kDead || !seen.insert(next).second) continue;
            visits.push_back({next, static_cast<int32_t>(i), static_cast<uint8_t>(b), v.depth + 1});
        }
    }
    return std::nullopt;
}

}  // namespace cria::grammar
