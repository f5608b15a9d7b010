// A flat (open addressing, linear probing) hash map from byte strings to small values, for the
// tokenizer's hot look-ups: several times faster than std::unordered_map on short keys because a
// probe touches one contiguous slot array. Keys are views: the bytes they point to must outlive
// the map. Hashes are seeded so that a crafted vocabulary or input cannot force collisions.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace cria::tokenizer {

uint64_t hash_bytes(std::string_view bytes, uint64_t seed);

// Equality of two byte ranges of length n, inlined: keys here are a few bytes long, where a call
// to memcmp costs more than the comparison.
inline bool bytes_equal(const char* a, const char* b, size_t n) {
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            uint64_t x, y;
            std::memcpy(&x, a + i, 8);
            std::memcpy(&y, b + i, 8);
            if (x != y) return false;
        }
        uint64_t x, y;  // the last 8 bytes, overlapping the blocks above
        std::memcpy(&x, a + n - 8, 8);
        std::memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        std::memcpy(&x0, a, 4);
        std::memcpy(&y0, b, 4);
        std::memcpy(&x1, a + n - 4, 4);
        std::memcpy(&y1, b + n - 4, 4);
        return x0 == y0 && x1 == y1;
    }
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
    }
    return true;
}

// A set of nonzero 64-bit keys, open addressing.
class FlatU64Set {
  public:
    explicit FlatU64Set(uint64_t seed = 0) : seed_(seed) {}

    void insert(uint64_t key) {
        if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
        size_t slot = slot_of(key);
        while (slots_[slot] != 0) {
            if (slots_[slot] == key) return;
            slot = (slot + 1) & mask_;
        }
        slots_[slot] = key;
        ++size_;
    }

    bool contains(uint64_t key) const {
        if (size_ == 0) return false;
        for (size_t slot = slot_of(key);; slot = (slot + 1) & mask_) {
            if (slots_[slot] == key) return true;
            if (slots_[slot] == 0) return false;
        }
    }

  private:
    size_t slot_of(uint64_t key) const {
        const __uint128_t product = static_cast<__uint128_t>(key ^ seed_) * 0x9E3779B97F4A7C15ull;
        return static_cast<size_t>(static_cast<uint64_t>(product) ^
                                   static_cast<uint64_t>(product >> 64)) &
               mask_;
    }

    void rehash(size_t capacity) {
        std::vector<uint64_t> old = std::move(slots_);
        slots_.assign(capacity, 0);
        mask_ = capacity - 1;
        size_ = 0;
        for (const uint64_t key : old) {
            if (key != 0) insert(key);
        }
    }

    uint64_t seed_;
    std::vector<uint64_t> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
};

template <typename Value>
class FlatStringMap {
  public:
    // max_probe > 0 bounds the slots one operation may visit; an insert that would need more is
    // refused. That keeps a cache O(1) per operation whatever the keys; maps that must hold every
    // key use 0 (unbounded).
    explicit FlatStringMap(uint64_t seed = 0, size_t max_probe = 0)
        : seed_(seed), max_probe_(max_probe) {}

    void reserve(size_t n) {
        size_t capacity = 16;
        while (capacity < n * 2) capacity *= 2;
        if (capacity > slots_.size()) rehash(capacity);
    }

    // Inserts `key` -> `value` unless the key is present. Returns the stored value (the existing
    // one when present) and whether it was inserted; {nullptr, false} when a bounded probe ran out.
    std::pair<Value*, bool> try_emplace(std::string_view key, const Value& value) {
        if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
        const uint64_t hash = hash_bytes(key, seed_) | 1;  // 0 marks an empty slot
        size_t slot = home_slot(hash);
        for (size_t probes = 0;; ++probes) {
            if (max_probe_ != 0 && probes >= max_probe_) return {nullptr, false};
            Slot& s = slots_[slot];
            if (s.hash == 0) {
                s = Slot{hash, key.data(), static_cast<uint32_t>(key.size()), value};
                ++size_;
                return {&s.value, true};
            }
            if (s.hash == hash && s.length == key.size() &&
                bytes_equal(s.data, key.data(), key.size())) {
                return {&s.value, false};
            }
            slot = (slot + 1) & mask_;
        }
    }

    const Value* find(std::string_view key) const {
        if (size_ == 0) return nullptr;
        const uint64_t hash = hash_bytes(key, seed_) | 1;
        size_t slot = home_slot(hash);
        for (size_t probes = 0; max_probe_ == 0 || probes < max_probe_; ++probes) {
            const Slot& s = slots_[slot];
            if (s.hash == 0) return nullptr;
            if (s.hash == hash && s.length == key.size() &&
                bytes_equal(s.data, key.data(), key.size())) {
                return &s.value;
            }
            slot = (slot + 1) & mask_;
        }
        return nullptr;
    }

    size_t size() const { return size_; }

  private:
    struct Slot {
        uint64_t hash = 0;
        const char* data = nullptr;
        uint32_t length = 0;
        Value value{};
    };

    // Bit 0 of a stored hash is always set, so the slot comes from the bits above it.
    size_t home_slot(uint64_t hash) const { return static_cast<size_t>(hash >> 1) & mask_; }

    void rehash(size_t capacity) {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(capacity, Slot{});
        mask_ = capacity - 1;
        size_ = 0;
        for (const Slot& s : old) {
            if (s.hash == 0) continue;
            size_t slot = home_slot(s.hash);
            // Re-inserting into a table twice as large needs no probe bound: keys that fitted
            // before still fit, and a refused key is simply absent.
            while (slots_[slot].hash != 0) slot = (slot + 1) & mask_;
            slots_[slot] = s;
            ++size_;
        }
    }

    uint64_t seed_;
    size_t max_probe_;
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
};

}  // namespace cria::tokenizer
