// The set of tokens an external constraint (a grammar for structured outputs) allows at one step.
// Stored as one bit per token, the layout grammar engines produce: token t is allowed when bit
// (t % 32) of word t / 32 is set.
#pragma once

#include <cassert>
#include <cstdint>
#include <span>
#include <vector>

namespace cria::sampling {

class TokenBitmask {
  public:
    // Every token starts allowed (`allowed` = true) or banned.
    explicit TokenBitmask(int32_t n_vocab, bool allowed = true)
        : n_vocab_(n_vocab), words_((static_cast<size_t>(n_vocab) + 31) / 32, allowed ? ~0u : 0u) {
        assert(n_vocab >= 0);
        clear_padding_bits();
    }

    int32_t n_vocab() const { return n_vocab_; }

    bool allowed(int32_t token) const {
        assert(token >= 0 && token < n_vocab_);
        return (words_[static_cast<size_t>(token) / 32] >> (token % 32)) & 1u;
    }
    void set(int32_t token, bool allowed) {
        assert(token >= 0 && token < n_vocab_);
        const uint32_t bit = 1u << (token % 32);
        uint32_t& word = words_[static_cast<size_t>(token) / 32];
        word = allowed ? (word | bit) : (word & ~bit);
    }
    void allow(int32_t token) { set(token, true); }
    void ban(int32_t token) { set(token, false); }
    void fill(bool allowed) {
        for (uint32_t& word : words_) word = allowed ? ~0u : 0u;
        clear_padding_bits();
    }

    // [ceil(n_vocab / 32)] for engines that fill the words directly.
    std::span<uint32_t> words() { return words_; }
    std::span<const uint32_t> words() const { return words_; }

  private:
    // Bits past n_vocab stay zero so that counting allowed tokens never sees phantom ids.
    void clear_padding_bits() {
        const int used = n_vocab_ % 32;
        if (used != 0 && !words_.empty()) words_.back() &= (1u << used) - 1u;
    }

    int32_t n_vocab_;
    std::vector<uint32_t> words_;  // [ceil(n_vocab / 32)]
};

}  // namespace cria::sampling
