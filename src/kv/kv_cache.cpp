#include "kv/kv_cache.h"

#include <algorithm>
#include <limits>
#include <string>

#include "kernels/ops.h"

namespace cria::kv {

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
    const size_t per_layer = (k_row + v_row);
    if (per_layer != 0 && capacity > std::numeric_limits<size_t>::max() / 2 / per_layer /
                                         std::max<size_t>(1, n_layer)) {
        return Status(resource_exhausted("key/value cache of " + std::to_string(options.capacity) +
                                         " positions is too large"));
    }
    std::unique_ptr<KvCache> cache(new KvCache());
    cache->type_ = options.type;
    cache->capacity_ = options.capacity;
    cache->storage_.resize(per_layer * capacity * n_layer);
    cache->layers_.resize(n_layer);
    uint8_t* base = cache->storage_.data();
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

}  // namespace cria::kv
