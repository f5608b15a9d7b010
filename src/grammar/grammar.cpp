#include "grammar/grammar.h"

#include <algorithm>

#include <cstdio>

namespace cria::grammar {

namespace {

std::string describe_byte_set(const ByteSet& set) {
    std::string out = "[";
    auto emit = [&](unsigned b) {
        if (b >= 0x21 && b < 0x7f && b != '\\' && b != ']' && b != '-') {
            out.push_back(static_cast<char>(b));
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", b);
            out += buf;
        }
    };
    for (unsigned b = 0; b < 256;) {
        if (!set.contains(static_cast<uint8_t>(b))) {
            ++b;
            continue;
        }
        unsigned last = b;
        while (last + 1 < 256 && set.contains(static_cast<uint8_t>(last + 1))) ++last;
        emit(b);
        if (last > b) {
            out.push_back('-');
            emit(last);
        }
        b = last + 1;
    }
    out.push_back(']');
    return out;
}

// A rule that can reach itself without consuming a byte would make the matcher expand forever.
Status check_no_left_recursion(const std::vector<Rule>& rules) {
    std::vector<bool> nullable(rules.size(), false);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < rules.size(); ++r) {
            if (nullable[r]) continue;
            for (const Sequence& alt : rules[r].alternatives) {
                bool all = true;
                for (const Element& e : alt) {
                    if (e.kind == Element::Kind::kBytes || !nullable[e.rule]) {
                        all = false;
                        break;
                    }
                }
                if (all) {
                    nullable[r] = true;
                    changed = true;
                    break;
                }
            }
        }
    }
    // Edges r -> s when s can be the first thing r expands to.
    std::vector<std::vector<RuleId>> left(rules.size());
    for (size_t r = 0; r < rules.size(); ++r) {
        for (const Sequence& alt : rules[r].alternatives) {
            for (const Element& e : alt) {
                if (e.kind == Element::Kind::kBytes) break;
                left[r].push_back(e.rule);
                if (!nullable[e.rule]) break;
            }
        }
    }
    // Iterative three-colour depth-first search for a cycle.
    std::vector<uint8_t> colour(rules.size(), 0);  // 0 new, 1 on the path, 2 done
    for (size_t start = 0; start < rules.size(); ++start) {
        if (colour[start] != 0) continue;
        std::vector<std::pair<RuleId, size_t>> path{{static_cast<RuleId>(start), 0}};
        colour[start] = 1;
        while (!path.empty()) {
            auto& [rule, next] = path.back();
            if (next < left[rule].size()) {
                const RuleId target = left[rule][next++];
                if (colour[target] == 1) {
                    return invalid_argument("the grammar is left-recursive at rule '" +
                                            rules[target].name + "'");
                }
                if (colour[target] == 0) {
                    colour[target] = 1;
                    path.emplace_back(target, 0);
                }
            } else {
                colour[rule] = 2;
                path.pop_back();
            }
        }
    }
    return Status::ok();
}

uint64_t hash_mix(uint64_t h, uint64_t value) {
    h ^= value + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

uint64_t rules_fingerprint(const std::vector<Rule>& rules, RuleId root) {
    uint64_t h = hash_mix(rules.size(), root);
    for (const Rule& rule : rules) {
        h = hash_mix(h, rule.alternatives.size());
        for (const Sequence& alt : rule.alternatives) {
            h = hash_mix(h, alt.size());
            for (const Element& e : alt) {
                if (e.kind == Element::Kind::kRule) {
                    h = hash_mix(h, 0x100000000ull | e.rule);
                } else {
                    for (uint64_t word : e.bytes.bits) h = hash_mix(h, word);
                }
            }
        }
    }
    return h;
}

}  // namespace

bool Grammar::same_rules_as(const Grammar& other) const {
    if (fingerprint_ != other.fingerprint_ || root_ != other.root_ ||
        rules_.size() != other.rules_.size()) {
        return false;
    }
    for (size_t r = 0; r < rules_.size(); ++r) {
        const auto& mine = rules_[r].alternatives;
        const auto& theirs = other.rules_[r].alternatives;
        if (mine.size() != theirs.size()) return false;
        for (size_t a = 0; a < mine.size(); ++a) {
            if (mine[a].size() != theirs[a].size()) return false;
            for (size_t i = 0; i < mine[a].size(); ++i) {
                const Element& x = mine[a][i];
                const Element& y = theirs[a][i];
                if (x.kind != y.kind) return false;
                if (x.kind == Element::Kind::kRule ? x.rule != y.rule
                                                   : x.bytes.bits != y.bytes.bits)
                    return false;
            }
        }
    }
    return true;
}

std::string Grammar::to_string() const {
    std::string out;
    for (size_t r = 0; r < rules_.size(); ++r) {
        out += rules_[r].name + " ::=";
        bool first = true;
        for (const Sequence& alt : rules_[r].alternatives) {
            if (!first) out += " |";
            first = false;
            if (alt.empty()) out += " ()";
            for (const Element& e : alt) {
                out.push_back(' ');
                out += e.kind == Element::Kind::kRule ? rules_[e.rule].name
                                                      : describe_byte_set(e.bytes);
            }
        }
        out.push_back('\n');
    }
    return out;
}

RuleId GrammarBuilder::declare(std::string name) {
    rules_.push_back(Rule{std::move(name), {}});
    return static_cast<RuleId>(rules_.size() - 1);
}

void GrammarBuilder::add_alternative(RuleId rule, Sequence sequence) {
    assert(rule < rules_.size());
    element_count_ += sequence.size() + 1;
    rules_[rule].alternatives.push_back(std::move(sequence));
}

RuleId GrammarBuilder::define(std::string name, std::vector<Sequence> alternatives) {
    const RuleId id = declare(std::move(name));
    for (Sequence& alt : alternatives) add_alternative(id, std::move(alt));
    return id;
}

RuleId GrammarBuilder::literal_choice(std::string name, std::vector<LiteralBranch> branches) {
    std::stable_sort(
        branches.begin(), branches.end(),
        [](const LiteralBranch& a, const LiteralBranch& b) { return a.text < b.text; });
    // A trie node: the branches [begin, end), all sharing their first `depth` bytes.
    struct Node {
        RuleId rule;
        size_t begin, end, depth;
    };
    const RuleId root = declare(name);
    std::vector<Node> pending = {{root, 0, branches.size(), 0}};
    size_t children = 0;
    while (!pending.empty()) {
        const Node node = pending.back();
        pending.pop_back();
        size_t i = node.begin;
        // Texts that end here, each continuing with its own sequence (equal ones once).
        for (; i < node.end && branches[i].text.size() == node.depth; ++i) {
            const bool repeated =
                i > node.begin && branches[i - 1].text.size() == node.depth &&
                branches[i - 1].continuation.size() == branches[i].continuation.size() &&
                std::equal(
                    branches[i].continuation.begin(), branches[i].continuation.end(),
                    branches[i - 1].continuation.begin(), [](const Element& a, const Element& b) {
                        return a.kind == b.kind && a.rule == b.rule && a.bytes.bits == b.bytes.bits;
                    });
            if (!repeated) add_alternative(node.rule, branches[i].continuation);
        }
        // Then one alternative per next byte: the bytes the group shares, and either the one
        // text's continuation or a child node for the group.
        while (i < node.end) {
            const char byte = branches[i].text[node.depth];
            size_t group_end = i + 1;
            while (group_end < node.end && branches[group_end].text[node.depth] == byte) {
                ++group_end;
            }
            // The group's common prefix: that of its first and last text (they are sorted).
            const std::string& first = branches[i].text;
            const std::string& last = branches[group_end - 1].text;
            size_t shared = node.depth + 1;
            while (shared < first.size() && shared < last.size() && first[shared] == last[shared]) {
                ++shared;
            }
            Sequence alternative =
                literal(std::string_view(first).substr(node.depth, shared - node.depth));
            const bool alone =
                group_end == i + 1 ||
                (first == last &&
                 std::all_of(branches.begin() + static_cast<long>(i),
                             branches.begin() + static_cast<long>(group_end),
                             [&](const LiteralBranch& b) { return b.continuation.empty(); }));
            if (alone) {
                append(alternative, branches[i].continuation);
            } else {
                const RuleId child = declare(name + "-" + std::to_string(++children));
                alternative.push_back(Element::ref(child));
                pending.push_back({child, i, group_end, shared});
            }
            add_alternative(node.rule, std::move(alternative));
            i = group_end;
        }
    }
    return root;
}

RuleId GrammarBuilder::repeat(std::string name, const Sequence& item, uint32_t min_count,
                              std::optional<uint32_t> max_count, const Sequence& separator) {
    // A multi-element item is wrapped in its own rule so that copies cost one element each.
    Sequence unit = item;
    if (unit.size() > 1) unit = seq(Element::ref(define(name + "-item", {item})));
    Sequence sep_unit = concat({separator, unit});
    if (max_count && *max_count < min_count) max_count = min_count;

    if (!separator.empty()) {
        if (min_count == 0) {
            if (max_count && *max_count == 0) return define(name, {Sequence{}});
            const RuleId nonempty = repeat(name + "-1", item, 1, max_count, separator);
            return define(name, {Sequence{}, seq(Element::ref(nonempty))});
        }
        // item (sep item){min-1} then up to max-min more (sep item).
        Sequence head = unit;
        for (uint32_t i = 1; i < min_count; ++i) append(head, sep_unit);
        const std::optional<uint32_t> extra =
            max_count ? std::optional<uint32_t>(*max_count - min_count) : std::nullopt;
        const RuleId tail = repeat(name + "-tail", sep_unit, 0, extra);
        head.push_back(Element::ref(tail));
        return define(name, {head});
    }

    Sequence head;
    for (uint32_t i = 0; i < min_count; ++i) append(head, unit);
    if (!max_count) {
        // tail ::= unit tail | ()   (right recursion: the matcher keeps its stack flat)
        const RuleId tail = declare(name + "-star");
        add_alternative(tail, concat({unit, seq(Element::ref(tail))}));
        add_alternative(tail, {});
        head.push_back(Element::ref(tail));
    } else if (*max_count > min_count) {
        // opt_k ::= unit opt_{k-1} | ()  for k = 1 .. max-min
        RuleId previous = define(name + "-opt1", {unit, Sequence{}});
        for (uint32_t k = 2; k <= *max_count - min_count; ++k) {
            previous = define(name + "-opt" + std::to_string(k),
                              {concat({unit, seq(Element::ref(previous))}), Sequence{}});
            if (element_count_ > kMaxGrammarElements) break;  // build() reports it
        }
        head.push_back(Element::ref(previous));
    }
    return define(name, {head});
}

Expected<std::shared_ptr<const Grammar>> GrammarBuilder::build(RuleId root) const {
    if (element_count_ > kMaxGrammarElements) {
        return resource_exhausted("the grammar is too large (" + std::to_string(element_count_) +
                                  " elements, the limit is " + std::to_string(kMaxGrammarElements) +
                                  ")");
    }
    if (root >= rules_.size()) return invalid_argument("grammar root rule does not exist");
    for (const Rule& rule : rules_) {
        if (rule.alternatives.empty()) {
            return internal_error("grammar rule '" + rule.name + "' has no alternatives");
        }
        for (const Sequence& alt : rule.alternatives) {
            for (const Element& e : alt) {
                if (e.kind == Element::Kind::kRule && e.rule >= rules_.size()) {
                    return internal_error("grammar rule '" + rule.name +
                                          "' references a missing rule");
                }
                if (e.kind == Element::Kind::kBytes && e.bytes.empty()) {
                    return internal_error("grammar rule '" + rule.name + "' has an empty byte set");
                }
            }
        }
    }
    CRIA_RETURN_IF_ERROR(check_no_left_recursion(rules_));
    auto grammar = std::make_shared<Grammar>();
    grammar->rules_ = rules_;
    grammar->root_ = root;
    grammar->element_count_ = element_count_;
    grammar->fingerprint_ = rules_fingerprint(rules_, root);
    return std::shared_ptr<const Grammar>(std::move(grammar));
}

Sequence literal(std::string_view text) {
    Sequence out;
    out.reserve(text.size());
    for (char c : text) out.push_back(Element::byte(static_cast<uint8_t>(c)));
    return out;
}

void append(Sequence& to, const Sequence& from) {
    to.insert(to.end(), from.begin(), from.end());
}

Sequence concat(std::initializer_list<Sequence> parts) {
    Sequence out;
    for (const Sequence& part : parts) append(out, part);
    return out;
}

}  // namespace cria::grammar
