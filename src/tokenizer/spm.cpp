// SentencePiece BPE: spaces become `▁`, then adjacent symbols merge by the score of the token
// they form, highest first; characters that never became a token fall back to `<0xNN>` bytes.
#include <algorithm>

#include "tokenizer/scratch.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 `▁`

// Highest score first; among equal scores the leftmost pair.
struct LaterCandidate {
    bool operator()(const SpmCandidate& a, const SpmCandidate& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

void Tokenizer::encode_spm(std::string_view text, bool add_prefix, Scratch& scratch,
                           std::vector<int32_t>& out) const {
    std::string& escaped = scratch.escaped.emplace_back();
    escaped.reserve(text.size() + text.size() / 2 + 3);
    if (add_prefix) escaped.append(kSpaceMarker);
    for (const char c : text) {
        if (c == ' ') {
            escaped.append(kSpaceMarker);
        } else {
            escaped.push_back(c);
        }
    }
    const std::string_view all(escaped);
    // Between two characters that no token has side by side no merge can ever happen, so the
    // stretches between such points merge on their own with the same result as the whole text:
    // short chunks instead of one long queue, and chunks repeat, which the cache exploits.
    size_t chunk_start = 0;
    uint32_t previous = 0;
    for (size_t pos = 0; pos < all.size();) {
        const unicode::Decoded d = unicode::decode_utf8(all.data() + pos, all.size() - pos);
        if (pos > chunk_start && !spm_joinable(previous, d.cp)) {
            spm_chunk(all.substr(chunk_start, pos - chunk_start), scratch, out);
            chunk_start = pos;
        }
        previous = d.cp;
        pos += d.length;
    }
    if (chunk_start < all.size()) spm_chunk(all.substr(chunk_start), scratch, out);
}

void Tokenizer::spm_chunk(std::string_view chunk, Scratch& scratch,
                          std::vector<int32_t>& out) const {
    if (scratch.cache.append(chunk, out)) return;
    const size_t first = out.size();
    spm_merge(chunk, scratch, out);
    scratch.cache.store(chunk, out, first);
}

void Tokenizer::spm_merge(std::string_view chunk, Scratch& scratch,
                          std::vector<int32_t>& out) const {
    std::vector<uint32_t>& start = scratch.symbol_start;
    std::vector<uint32_t>& length = scratch.symbol_length;
    std::vector<int32_t>& prev = scratch.prev;
    std::vector<int32_t>& next = scratch.next;
    start.clear();
    length.clear();
    for (size_t pos = 0; pos < chunk.size();) {
        const uint32_t n = unicode::decode_utf8(chunk.data() + pos, chunk.size() - pos).length;
        start.push_back(static_cast<uint32_t>(pos));
        length.push_back(n);
        pos += n;
    }
    const auto n_symbols = static_cast<int32_t>(start.size());
    prev.resize(n_symbols);
    next.resize(n_symbols);
    for (int32_t i = 0; i < n_symbols; ++i) {
        prev[i] = i - 1;
        next[i] = i + 1 < n_symbols ? i + 1 : -1;
    }

    std::vector<SpmCandidate>& queue = scratch.spm_queue;
    queue.clear();
    auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = next[left];
        if (right < 0) return;
        const uint32_t bytes = length[left] + length[right];
        const int32_t* id = lookup_.find(chunk.substr(start[left], bytes));
        if (id == nullptr) return;
        queue.push_back({scores_[*id], left, bytes});
        std::push_heap(queue.begin(), queue.end(), LaterCandidate{});
    };
    for (int32_t i = 0; i + 1 < n_symbols; ++i) consider(i);

    while (!queue.empty()) {
        std::pop_heap(queue.begin(), queue.end(), LaterCandidate{});
        const SpmCandidate c = queue.back();
        queue.pop_back();
        const int32_t left = c.left;
        const int32_t right = next[left];
        // Stale once either side changed: lengths only grow, so a changed pair has another sum.
        if (length[left] == 0 || right < 0 || length[left] + length[right] != c.bytes) continue;
        length[left] = c.bytes;
        length[right] = 0;
        next[left] = next[right];
        if (next[right] >= 0) prev[next[right]] = left;
        consider(prev[left]);
        consider(left);
    }

    for (int32_t i = 0; i >= 0 && n_symbols > 0; i = next[i]) {
        const std::string_view symbol = chunk.substr(start[i], length[i]);
        if (const int32_t* id = lookup_.find(symbol)) {
            out.push_back(*id);
            continue;
        }
        // A character that is not a token: its bytes.
        for (const char c : symbol) {
            const int32_t id = byte_tokens_[static_cast<uint8_t>(c)];
            if (id >= 0) {
                out.push_back(id);
            } else if (unk_id_ >= 0) {
                out.push_back(unk_id_);
            }
        }
    }
}

}  // namespace cria::tokenizer
