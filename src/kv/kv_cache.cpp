#include "kv/kv_cache.h"

#include <cstring>
#include <new>
#include <string>

#include "core/system_memory.h"
#include "kernels/ops.h"

namespace cria::kv {
namespace {

// The cap when the caller sets none: the machine's memory (1 TiB when it cannot be read).
uint64_t default_max_bytes() {
    return physical_memory_bytes().value_or(uint64_t{1} << 40);
}

}  // namespace

Expected<std::unique_ptr<KvCache>> KvCache::create(const model::HParams& hp,
                                                   const KvCacheOptions& options) {
    if (options.capacity <= 0) return Status(invalid_argument("cache capacity must be positive"));
    if (!kernels::attention_supports(options.type, static_cast<int>(hp.head_dim_k),
                                     static_cast<int>(hp.head_dim_v))) {
        return Status(unsupported("a " + std::string(gguf::tensor_type_name(options.type)) +
                                  " key/value cache cannot hold heads of " +
                                  std::to_string(hp.head_dim_k) + "/" +
                                  std::to_string(hp.head_dim_v) + " elements"));
    }
    const size_t k_row = gguf::row_bytes(options.type, hp.n_k());
    const size_t v_row = gguf::row_bytes(options.type, hp.n_v());
    const auto capacity = static_cast<size_t>(options.capacity);
    const auto n_layer = static_cast<size_t>(hp.n_layer);
    const size_t per_position = (k_row + v_row) * n_layer;
    const uint64_t max_bytes = options.max_bytes > 0 ? options.max_bytes : default_max_bytes();
    if (per_position != 0 && capacity > max_bytes / per_position) {
        return Status(resource_exhausted(
            "a key/value cache of " + std::to_string(options.capacity) + " positions needs " +
            std::to_string(per_position / 1024) + " KiB per position, more than the " +
            std::to_string(max_bytes >> 20) + " MiB allowed"));
    }
    std::unique_ptr<KvCache> cache(new KvCache());
    cache->type_ = options.type;
    cache->capacity_ = options.capacity;
    cache->bytes_ = per_position * capacity;
    cache->storage_.reset(new (std::nothrow) uint8_t[cache->bytes_]);
    if (cache->storage_ == nullptr) {
        return Status(resource_exhausted("cannot allocate " + std::to_string(cache->bytes_ >> 20) +
                                         " MiB for the key/value cache"));
    }
    cache->layers_.resize(n_layer);
    uint8_t* base = cache->storage_.get();
    for (size_t il = 0; il < n_layer; ++il) {
        cache->layers_[il].k = base;
        base += k_row * capacity;
        cache->layers_[il].v = base;
        base += v_row * capacity;
    }
    cache->view_.type = options.type;
    cache->view_.capacity = options.capacity;
    cache->view_.k_row_bytes = k_row;
    cache->view_.v_row_bytes = v_row;
    cache->view_.layers = cache->layers_.data();
    return cache;
}

Status KvCache::advance(int64_t n) {
    if (n < 0 || n_past_ + n > capacity_) {
        return out_of_range("cannot advance the cache by " + std::to_string(n) + " positions");
    }
    n_past_ += n;
    return Status::ok();
}

Status KvCache::truncate(int64_t n) {
    if (n < 0 || n > n_past_) {
        return out_of_range("cannot truncate a cache of " + std::to_string(n_past_) +
                            " positions to " + std::to_string(n));
    }
    n_past_ = n;
    return Status::ok();
}

Status KvCache::copy_prefix(const KvCache& from, int64_t n) {
    if (&from == this) return truncate(n);
    if (from.type_ != type_ || from.capacity_ != capacity_ ||
        from.layers_.size() != layers_.size() || from.view_.k_row_bytes != view_.k_row_bytes ||
        from.view_.v_row_bytes != view_.v_row_bytes) {
        return invalid_argument("the caches have different shapes");
    }
    if (n < 0 || n > from.n_past_) {
        return out_of_range("cannot copy " + std::to_string(n) + " positions from a cache of " +
                            std::to_string(from.n_past_));
    }
    const auto rows = static_cast<size_t>(n);
    for (size_t il = 0; il < layers_.size(); ++il) {
        std::memcpy(layers_[il].k, from.layers_[il].k, rows * view_.k_row_bytes);
        std::memcpy(layers_[il].v, from.layers_[il].v, rows * view_.v_row_bytes);
    }
    n_past_ = n;
    return Status::ok();
}

}  // namespace cria::kv
