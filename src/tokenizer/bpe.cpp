// Byte-level BPE: pre-tokenize, then merge the bytes of each word by merge rank.
#include <algorithm>

#include "tokenizer/scratch.h"
#include "tokenizer/tokenizer.h"

namespace cria::tokenizer {
namespace {

// Lowest rank first; among equal ranks the leftmost pair, as the reference implementations do.
struct LaterCandidate {
    bool operator()(const BpeCandidate& a, const BpeCandidate& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

void Tokenizer::encode_bpe(std::string_view text, Scratch& scratch,
                           std::vector<int32_t>& out) const {
    scratch.text.assign(text);
    pre_tokenize(pre_, scratch.text, scratch.words, scratch.words_spare);
    const std::vector<size_t>& offsets = scratch.text.offsets;
    for (const WordSpan& span : scratch.words) {
        const size_t begin = offsets[span.begin];
        const std::string_view word = text.substr(begin, offsets[span.end] - begin);
        if (scratch.cache.append(word, out)) continue;
        const size_t first = out.size();
        bpe_word(word, scratch, out);
        scratch.cache.store(word, out, first);
    }
}

void Tokenizer::bpe_word(std::string_view word, Scratch& scratch, std::vector<int32_t>& out) const {
    auto emit = [&](int32_t id) {
        if (id >= 0) {
            out.push_back(id);
        } else if (unk_id_ >= 0) {
            out.push_back(unk_id_);
        }
    };
    if (word.size() == 1) {
        emit(byte_tokens_[static_cast<uint8_t>(word[0])]);
        return;
    }
    if (ignore_merges_) {
        if (const int32_t* id = lookup_.find(word)) {
            out.push_back(*id);
            return;
        }
    }

    // One symbol per byte, chained; merges replace the left symbol's id and unlink the right.
    const auto n = static_cast<int32_t>(word.size());
    std::vector<int32_t>& ids = scratch.symbol_id;
    std::vector<int32_t>& next = scratch.next;
    std::vector<int32_t>& prev = scratch.prev;
    ids.resize(n);
    next.resize(n);
    prev.resize(n);
    for (int32_t i = 0; i < n; ++i) {
        ids[i] = byte_tokens_[static_cast<uint8_t>(word[i])];
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }

    std::vector<BpeCandidate>& queue = scratch.bpe_queue;
    queue.clear();
    auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = next[left];
        if (right < 0 || ids[left] < 0 || ids[right] < 0) return;
        const MergeSlot* merge = find_merge(ids[left], ids[right]);
        if (merge == nullptr) return;
        queue.push_back({merge->rank, left, ids[left], ids[right], merge->merged});
        std::push_heap(queue.begin(), queue.end(), LaterCandidate{});
    };
    for (int32_t i = 0; i + 1 < n; ++i) consider(i);

    while (!queue.empty()) {
        std::pop_heap(queue.begin(), queue.end(), LaterCandidate{});
        const BpeCandidate c = queue.back();
        queue.pop_back();
        const int32_t left = c.left;
        const int32_t right = next[left];
        if (ids[left] != c.left_id || right < 0 || ids[right] != c.right_id) continue;  // stale
        ids[left] = c.merged_id;
        ids[right] = -2;
        next[left] = next[right];
        if (next[right] >= 0) prev[next[right]] = left;
        consider(prev[left]);
        consider(left);
    }
    for (int32_t i = 0; i >= 0; i = next[i]) emit(ids[i]);
}

}  // namespace cria::tokenizer
