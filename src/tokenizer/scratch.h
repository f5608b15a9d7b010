// Working memory of one encode() call, shared by the model-specific encoders. Internal header.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/string_map.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {

// A possible BPE merge of the symbol at `left` with its right neighbour. It is stale, and
// skipped, once either symbol has changed: ids only ever grow into longer tokens, so equal ids
// mean unchanged symbols.
struct BpeCandidate {
    int32_t rank;
    int32_t left;
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
};

// A possible SentencePiece merge of the symbol at `left` with its right neighbour, covering
// `bytes` bytes; stale once either symbol has changed length.
struct SpmCandidate {
    float score;
    int32_t left;
    uint32_t bytes;
};

// Ids already computed for a word (kBpe) or chunk (kSpm) during this call: real text repeats its
// words, and a cache hit replaces a whole merge run by one look-up. Keys view the input text,
// which outlives the call. Bounded in entries, key length and probe length, so that it costs
// O(1) per word whatever the input.
class WordCache {
  public:
    static constexpr size_t kMaxKeyBytes = 64;
    static constexpr size_t kMaxEntries = size_t{1} << 16;

    explicit WordCache(uint64_t seed) : map_(seed, /*max_probe=*/16) {}

    // Appends the cached ids of `key` to `out`; false when absent.
    bool append(std::string_view key, std::vector<int32_t>& out) const {
        const Span* span = map_.find(key);
        if (span == nullptr) return false;
        out.insert(out.end(), ids_.begin() + span->offset,
                   ids_.begin() + span->offset + span->count);
        return true;
    }

    // Remembers ids[from, end) as the result for `key`.
    void store(std::string_view key, const std::vector<int32_t>& ids, size_t from) {
        if (key.size() > kMaxKeyBytes || map_.size() >= kMaxEntries) return;
        const Span span{static_cast<uint32_t>(ids_.size()),
                        static_cast<uint32_t>(ids.size() - from)};
        if (map_.try_emplace(key, span).second)
            ids_.insert(ids_.end(), ids.begin() + from, ids.end());
    }

  private:
    struct Span {
        uint32_t offset = 0;
        uint32_t count = 0;
    };
    FlatStringMap<Span> map_;
    std::vector<int32_t> ids_;  // [total cached ids]
};

struct Tokenizer::Scratch {
    explicit Scratch(uint64_t seed) : cache(seed) {}

    WordCache cache;
    unicode::CodepointText text;
    std::vector<WordSpan> words;
    std::vector<WordSpan> words_spare;

    // Symbol chain of one word or chunk, indexed by symbol position.
    std::vector<int32_t> symbol_id;       // kBpe: current token id (-2 once merged away)
    std::vector<uint32_t> symbol_start;   // kSpm: first byte
    std::vector<uint32_t> symbol_length;  // kSpm: byte length (0 once merged away)
    std::vector<int32_t> prev;
    std::vector<int32_t> next;
    std::vector<BpeCandidate> bpe_queue;
    std::vector<SpmCandidate> spm_queue;

    // kSpm escaped fragments; the cache's keys view them, so they live until the call ends
    // (a deque never moves its elements).
    std::deque<std::string> escaped;
    std::string buffer;                // kWpm normalized word
    std::vector<uint32_t> codepoints;  // kWpm decomposition output
};

}  // namespace cria::tokenizer
