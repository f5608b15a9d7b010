// The key/value cache on its own: what create() refuses, the size of each storage type, the
// bounds of advance/truncate, and copy_prefix copying exactly the prefix's bytes of every layer.
#include "kv/kv_cache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>

namespace cria::kv {
namespace {

using gguf::TensorType;

// 3 layers, 2 KV heads, key heads of 32 and value heads of 64 elements: a position holds 64
// key and 128 value elements per layer (different sizes, so that a swap would show).
model::HParams tiny_hparams() {
    model::HParams hp;
    hp.arch = "llama";
    hp.n_vocab = 32;
    hp.n_embd = 64;
    hp.n_layer = 3;
    hp.n_ff = 128;
    hp.n_head = 4;
    hp.n_head_kv = 2;
    hp.head_dim_k = 32;
    hp.head_dim_v = 64;
    hp.n_rot = 32;
    return hp;
}

std::unique_ptr<KvCache> make_cache(const model::HParams& hp, TensorType type, int64_t capacity) {
    KvCacheOptions options;
    options.type = type;
    options.capacity = capacity;
    auto cache = KvCache::create(hp, options);
    EXPECT_TRUE(cache.has_value()) << cache.status().message();
    return cache.has_value() ? std::move(cache).value() : nullptr;
}

// Fills every layer's K and V rows with bytes that depend on the layer, the row and the byte.
void fill_pattern(const KvCache& cache, uint8_t salt) {
    const model::KvCacheView& view = cache.view();
    const auto capacity = static_cast<size_t>(view.capacity);
    for (size_t il = 0; il < 3; ++il) {
        for (size_t i = 0; i < capacity * view.k_row_bytes; ++i) {
            view.layers[il].k[i] = static_cast<uint8_t>(salt + 31 * il + 7 * i);
        }
        for (size_t i = 0; i < capacity * view.v_row_bytes; ++i) {
            view.layers[il].v[i] = static_cast<uint8_t>(salt + 17 * il + 13 * i + 1);
        }
    }
}

void fill_bytes(const KvCache& cache, uint8_t value) {
    const model::KvCacheView& view = cache.view();
    const auto capacity = static_cast<size_t>(view.capacity);
    for (size_t il = 0; il < 3; ++il) {
        std::memset(view.layers[il].k, value, capacity * view.k_row_bytes);
        std::memset(view.layers[il].v, value, capacity * view.v_row_bytes);
    }
}

TEST(KvCache, BytesPerPositionOfEachType) {
    const model::HParams hp = tiny_hparams();
    struct Case {
        TensorType type;
        size_t k_row, v_row;
    };
    // F32: 4 bytes an element; F16: 2; Q8_0: 34 bytes per block of 32 elements.
    for (const Case& c :
         {Case{TensorType::kF32, 64 * 4, 128 * 4}, Case{TensorType::kF16, 64 * 2, 128 * 2},
          Case{TensorType::kQ8_0, 2 * 34, 4 * 34}}) {
        SCOPED_TRACE(gguf::tensor_type_name(c.type));
        auto cache = make_cache(hp, c.type, 10);
        ASSERT_NE(cache, nullptr);
        EXPECT_EQ(cache->type(), c.type);
        EXPECT_EQ(cache->capacity(), 10);
        EXPECT_EQ(cache->n_past(), 0);
        EXPECT_EQ(cache->bytes(), 10 * 3 * (c.k_row + c.v_row));
        const model::KvCacheView& view = cache->view();
        EXPECT_EQ(view.type, c.type);
        EXPECT_EQ(view.capacity, 10);
        EXPECT_EQ(view.k_row_bytes, c.k_row);
        EXPECT_EQ(view.v_row_bytes, c.v_row);
        ASSERT_NE(view.layers, nullptr);
        // The layers' K and V regions tile the storage without overlapping.
        for (int il = 0; il < 3; ++il) {
            EXPECT_EQ(view.layers[il].v, view.layers[il].k + 10 * c.k_row);
            if (il > 0) {
                EXPECT_EQ(view.layers[il].k, view.layers[il - 1].v + 10 * c.v_row);
            }
        }
    }
}

TEST(KvCache, CreateRefusesHeadsTheTypeCannotHold) {
    model::HParams hp = tiny_hparams();
    KvCacheOptions options;
    options.capacity = 8;
    options.type = TensorType::kQ8_0;
    hp.head_dim_k = 16;  // half a Q8_0 block
    EXPECT_EQ(KvCache::create(hp, options).status().code(), ErrorCode::kUnsupported);
    hp = tiny_hparams();
    hp.head_dim_v = 48;  // one and a half blocks
    EXPECT_EQ(KvCache::create(hp, options).status().code(), ErrorCode::kUnsupported);
    // F16 and F32 hold any head size.
    for (TensorType type : {TensorType::kF16, TensorType::kF32}) {
        options.type = type;
        EXPECT_TRUE(KvCache::create(hp, options).has_value());
    }
    // Only F32, F16 and Q8_0 caches exist.
    options.type = TensorType::kQ4_0;
    EXPECT_EQ(KvCache::create(tiny_hparams(), options).status().code(), ErrorCode::kUnsupported);
}

TEST(KvCache, CreateRefusesBadCapacityAndTooManyBytes) {
    const model::HParams hp = tiny_hparams();
    KvCacheOptions options;
    options.type = TensorType::kF32;
    options.capacity = 0;
    EXPECT_EQ(KvCache::create(hp, options).status().code(), ErrorCode::kInvalidArgument);
    options.capacity = -4;
    EXPECT_EQ(KvCache::create(hp, options).status().code(), ErrorCode::kInvalidArgument);

    // 10 F32 positions take 10 * 3 * (256 + 512) = 23040 bytes: allowed up to that exact cap.
    options.capacity = 10;
    options.max_bytes = 23040;
    auto fits = KvCache::create(hp, options);
    ASSERT_TRUE(fits.has_value()) << fits.status().message();
    EXPECT_EQ((*fits)->bytes(), 23040u);
    options.max_bytes = 23039;
    EXPECT_EQ(KvCache::create(hp, options).status().code(), ErrorCode::kResourceExhausted);
    // A capacity whose size would overflow is refused, not allocated.
    options.capacity = int64_t{1} << 60;
    options.max_bytes = 0;  // the machine's memory
    EXPECT_EQ(KvCache::create(hp, options).status().code(), ErrorCode::kResourceExhausted);
}

TEST(KvCache, AdvanceAndTruncateStayWithinBounds) {
    auto cache = make_cache(tiny_hparams(), TensorType::kF16, 8);
    ASSERT_NE(cache, nullptr);
    EXPECT_EQ(cache->advance(-1).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(cache->advance(9).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(cache->n_past(), 0);
    EXPECT_TRUE(cache->advance(0).is_ok());
    EXPECT_TRUE(cache->advance(5).is_ok());
    EXPECT_EQ(cache->n_past(), 5);
    // Past the capacity: refused, nothing recorded.
    EXPECT_EQ(cache->advance(4).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(cache->n_past(), 5);
    EXPECT_TRUE(cache->advance(3).is_ok());
    EXPECT_EQ(cache->n_past(), 8);
    EXPECT_EQ(cache->advance(1).code(), ErrorCode::kOutOfRange);

    EXPECT_EQ(cache->truncate(9).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(cache->truncate(-1).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(cache->n_past(), 8);
    EXPECT_TRUE(cache->truncate(8).is_ok());
    EXPECT_TRUE(cache->truncate(3).is_ok());
    EXPECT_EQ(cache->n_past(), 3);
    // Truncation only forgets: it cannot grow the sequence back.
    EXPECT_EQ(cache->truncate(4).code(), ErrorCode::kOutOfRange);
    EXPECT_TRUE(cache->advance(2).is_ok());
    EXPECT_EQ(cache->n_past(), 5);

    cache->clear();
    EXPECT_EQ(cache->n_past(), 0);
    EXPECT_EQ(cache->truncate(1).code(), ErrorCode::kOutOfRange);
    EXPECT_TRUE(cache->truncate(0).is_ok());
    EXPECT_TRUE(cache->advance(8).is_ok());
}

TEST(KvCache, CopyPrefixCopiesExactlyThePrefixOfEveryLayer) {
    for (TensorType type : {TensorType::kF16, TensorType::kF32, TensorType::kQ8_0}) {
        SCOPED_TRACE(gguf::tensor_type_name(type));
        const model::HParams hp = tiny_hparams();
        auto from = make_cache(hp, type, 9);
        auto to = make_cache(hp, type, 9);
        ASSERT_NE(from, nullptr);
        ASSERT_NE(to, nullptr);
        fill_pattern(*from, 3);
        fill_bytes(*to, 0xAB);
        ASSERT_TRUE(from->advance(6).is_ok());
        ASSERT_TRUE(to->advance(8).is_ok());  // its own longer contents are replaced

        ASSERT_TRUE(to->copy_prefix(*from, 4).is_ok());
        EXPECT_EQ(to->n_past(), 4);
        EXPECT_EQ(from->n_past(), 6);
        const model::KvCacheView& a = from->view();
        const model::KvCacheView& b = to->view();
        const size_t k_prefix = 4 * a.k_row_bytes, v_prefix = 4 * a.v_row_bytes;
        const size_t k_all = 9 * a.k_row_bytes, v_all = 9 * a.v_row_bytes;
        for (int il = 0; il < 3; ++il) {
            SCOPED_TRACE(il);
            EXPECT_EQ(std::memcmp(b.layers[il].k, a.layers[il].k, k_prefix), 0);
            EXPECT_EQ(std::memcmp(b.layers[il].v, a.layers[il].v, v_prefix), 0);
            // Rows from 4 on are untouched.
            size_t changed = 0;
            for (size_t i = k_prefix; i < k_all; ++i) changed += b.layers[il].k[i] != 0xAB;
            for (size_t i = v_prefix; i < v_all; ++i) changed += b.layers[il].v[i] != 0xAB;
            EXPECT_EQ(changed, 0u);
        }
        // The whole held prefix, and the empty one.
        ASSERT_TRUE(to->copy_prefix(*from, 6).is_ok());
        EXPECT_EQ(to->n_past(), 6);
        for (int il = 0; il < 3; ++il) {
            EXPECT_EQ(std::memcmp(b.layers[il].k, a.layers[il].k, 6 * a.k_row_bytes), 0);
            EXPECT_EQ(std::memcmp(b.layers[il].v, a.layers[il].v, 6 * a.v_row_bytes), 0);
        }
        ASSERT_TRUE(to->copy_prefix(*from, 0).is_ok());
        EXPECT_EQ(to->n_past(), 0);
    }
}

TEST(KvCache, CopyPrefixFromItselfTruncates) {
    auto cache = make_cache(tiny_hparams(), TensorType::kF16, 8);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->advance(5).is_ok());
    EXPECT_TRUE(cache->copy_prefix(*cache, 2).is_ok());
    EXPECT_EQ(cache->n_past(), 2);
    EXPECT_EQ(cache->copy_prefix(*cache, 3).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(cache->n_past(), 2);
}

TEST(KvCache, CopyPrefixRefusesMismatchedCachesAndLongPrefixes) {
    const model::HParams hp = tiny_hparams();
    auto from = make_cache(hp, TensorType::kF16, 8);
    ASSERT_NE(from, nullptr);
    fill_pattern(*from, 9);
    ASSERT_TRUE(from->advance(5).is_ok());

    model::HParams more_layers = hp;
    more_layers.n_layer = 4;
    model::HParams wider_heads = hp;
    wider_heads.head_dim_v = 32;
    struct Case {
        const char* what;
        std::unique_ptr<KvCache> cache;
    };
    Case mismatched[] = {
        {"another type", make_cache(hp, TensorType::kF32, 8)},
        {"another capacity", make_cache(hp, TensorType::kF16, 9)},
        {"another layer count", make_cache(more_layers, TensorType::kF16, 8)},
        {"other head sizes", make_cache(wider_heads, TensorType::kF16, 8)},
    };
    for (Case& c : mismatched) {
        SCOPED_TRACE(c.what);
        ASSERT_NE(c.cache, nullptr);
        ASSERT_TRUE(c.cache->advance(2).is_ok());
        EXPECT_EQ(c.cache->copy_prefix(*from, 3).code(), ErrorCode::kInvalidArgument);
        EXPECT_EQ(c.cache->n_past(), 2);
    }

    auto to = make_cache(hp, TensorType::kF16, 8);
    ASSERT_NE(to, nullptr);
    fill_bytes(*to, 0x5A);
    ASSERT_TRUE(to->advance(1).is_ok());
    EXPECT_EQ(to->copy_prefix(*from, 6).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(to->copy_prefix(*from, -1).code(), ErrorCode::kOutOfRange);
    EXPECT_EQ(to->n_past(), 1);
    // Nothing was written by the refused copies.
    const model::KvCacheView& view = to->view();
    size_t changed = 0;
    for (int il = 0; il < 3; ++il) {
        for (size_t i = 0; i < 8 * view.k_row_bytes; ++i) changed += view.layers[il].k[i] != 0x5A;
        for (size_t i = 0; i < 8 * view.v_row_bytes; ++i) changed += view.layers[il].v[i] != 0x5A;
    }
    EXPECT_EQ(changed, 0u);
}

}  // namespace
}  // namespace cria::kv
