// The key/value cache of one sequence: for every layer, the keys and values of positions
// [0, n_past), stored as F16 by default (or F32 / Q8_0), row p holding position p. Growing the
// sequence appends rows; truncating forgets the tail. Memory is allocated once, at creation.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "gguf/tensor_type.h"
#include "model/decoder.h"
#include "model/hparams.h"

namespace cria::kv {

struct KvCacheOptions {
    int64_t capacity = 4096;                         // positions; capped by the caller's policy
    gguf::TensorType type = gguf::TensorType::kF16;  // kF32, kF16 or kQ8_0
    uint64_t max_bytes = 0;  // refuse larger caches; 0: the machine's physical memory
};

class KvCache {
  public:
    // Fails when the type cannot hold this model's heads (Q8_0 needs head sizes that are
    // multiples of 32), or the cache would exceed max_bytes or cannot be allocated.
    static Expected<std::unique_ptr<KvCache>> create(const model::HParams& hparams,
                                                     const KvCacheOptions& options);

    int64_t capacity() const { return capacity_; }
    gguf::TensorType type() const { return type_; }
    // Positions currently held; the next token goes to position n_past().
    int64_t n_past() const { return n_past_; }
    size_t bytes() const { return bytes_; }

    // The decoder's view of the storage (valid while the cache lives).
    const model::KvCacheView& view() const { return view_; }

    // Records that positions [n_past, n_past + n) were written by a forward pass.
    Status advance(int64_t n);
    // Keeps positions [0, n) and forgets the rest (n <= n_past).
    Status truncate(int64_t n);
    void clear() { n_past_ = 0; }
    // Replaces this cache's contents with positions [0, n) of `from` (same model, type and
    // capacity): sequences that share a prompt decode it once.
    Status copy_prefix(const KvCache& from, int64_t n);

  private:
    KvCache() = default;

    gguf::TensorType type_ = gguf::TensorType::kF16;
    int64_t capacity_ = 0;
    int64_t n_past_ = 0;
    // Per layer: K [capacity][k_row_bytes], then V [capacity][v_row_bytes].
    std::unique_ptr<uint8_t[]> storage_;
    size_t bytes_ = 0;
    std::vector<model::KvLayerStorage> layers_;  // [n_layer] pointers into storage_
    model::KvCacheView view_;
};

}  // namespace cria::kv
