// The model manager on cria's tiny demo model: loading on first use, name resolution, leases
// that keep a model loaded, keep_alive expiry, the loaded-model limit (least recently used
// first, never one in use) and reloads when the context size changes.
#include "server/model_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/system_memory.h"
#include "model/demo_model.h"
#include "test_support.h"

namespace cria::server {
namespace {

using namespace std::chrono_literals;

class ModelManagerTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        auto path = model::ensure_default_model(test::temp_dir() / "model-manager-demo");
        ASSERT_TRUE(path.has_value()) << path.status().message();
        demo_path_ = new std::string(*path);
    }
    static void TearDownTestSuite() { delete demo_path_; }

    ModelManagerOptions options(int max_loaded = 3) {
        ModelManagerOptions o;
        o.serve.context_length = 128;
        o.serve.threads = 1;
        o.max_loaded_models = max_loaded;
        o.check_memory = false;
        return o;
    }
    std::vector<std::pair<std::string, std::string>> files() {
        return {{"a", *demo_path_}, {"b", *demo_path_}};
    }
    static std::vector<std::string> names(const ModelManager& m) {
        std::vector<std::string> out;
        for (const LoadedModelInfo& info : m.loaded()) out.push_back(info.source.name);
        return out;
    }

    static std::string* demo_path_;
};
std::string* ModelManagerTest::demo_path_ = nullptr;

TEST_F(ModelManagerTest, ResolvesNamesAndLoadsOnFirstUse) {
    ModelManager m(options(), nullptr, files());
    EXPECT_TRUE(m.loaded().empty());
    ASSERT_EQ(m.servable().size(), 2u);
    EXPECT_EQ(m.resolve("a:latest")->name, "a");
    Expected<ModelSource> missing = m.resolve("nope");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(missing.status().message(), "model \"nope\" not found, try pulling it first");
    {
        Expected<ModelLease> lease = m.acquire("a");
        ASSERT_TRUE(lease.has_value()) << lease.status().message();
        EXPECT_GT(lease->load_duration().count(), 0);
        EXPECT_EQ(lease->model().context_length(), 128);
        Expected<ModelLease> again = m.acquire("a:latest");
        ASSERT_TRUE(again.has_value());
        EXPECT_EQ(&again->model(), &lease->model());  // shared, not loaded twice
        EXPECT_EQ(again->load_duration().count(), 0);
        ASSERT_EQ(m.loaded().size(), 1u);
        EXPECT_EQ(m.loaded()[0].in_use, 2);
        // /api/ps shows a --model file with its digest, family and parameter size.
        const ModelSource source = m.loaded()[0].source;
        EXPECT_TRUE(source.is_file);
        EXPECT_EQ(source.digest.size(), 64u);
        EXPECT_FALSE(source.config.value("model_family", "").empty());
        EXPECT_FALSE(source.config.value("model_type", "").empty());
        EXPECT_GT(source.modified_unix, 0);
    }
    ASSERT_EQ(m.loaded().size(), 1u);  // the default keep-alive holds it
    EXPECT_EQ(m.loaded()[0].in_use, 0);
    ASSERT_TRUE(m.loaded()[0].expires_at.has_value());
    EXPECT_TRUE(m.unload("a"));
    EXPECT_TRUE(m.loaded().empty());
    EXPECT_FALSE(m.unload("a"));
}

TEST_F(ModelManagerTest, KeepAliveZeroExpiryAndForever) {
    ModelManager m(options(), nullptr, files());
    { ASSERT_TRUE(m.acquire("a", std::nullopt, KeepAlive(0)).has_value()); }
    EXPECT_TRUE(m.loaded().empty());
    { ASSERT_TRUE(m.acquire("a", std::nullopt, KeepAlive(100)).has_value()); }
    EXPECT_EQ(m.loaded().size(), 1u);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!m.loaded().empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(m.loaded().empty());
    { ASSERT_TRUE(m.acquire("b", std::nullopt, KeepAlive(-1)).has_value()); }
    ASSERT_EQ(m.loaded().size(), 1u);
    EXPECT_FALSE(m.loaded()[0].expires_at.has_value());
}

TEST_F(ModelManagerTest, LimitUnloadsTheLeastRecentlyUsedIdleModel) {
    ModelManager m(options(1), nullptr, files());
    { ASSERT_TRUE(m.acquire("a").has_value()); }
    { ASSERT_TRUE(m.acquire("b").has_value()); }
    EXPECT_EQ(names(m), std::vector<std::string>{"b"});
    // A model in use is never unloaded: both stay while `a` is held.
    Expected<ModelLease> held = m.acquire("a");
    ASSERT_TRUE(held.has_value());
    EXPECT_EQ(names(m), std::vector<std::string>{"a"});
    Expected<ModelLease> other = m.acquire("b");
    ASSERT_TRUE(other.has_value());
    EXPECT_EQ(names(m), (std::vector<std::string>{"a", "b"}));
    held = ModelLease();
    other = ModelLease();
    { ASSERT_TRUE(m.acquire("a").has_value()); }
    EXPECT_EQ(names(m), std::vector<std::string>{"a"});
}

TEST_F(ModelManagerTest, ContextChangeReloads) {
    ModelManager m(options(), nullptr, files());
    Expected<ModelLease> small = m.acquire("a", 64);
    ASSERT_TRUE(small.has_value());
    EXPECT_EQ(small->model().context_length(), 64);
    // A different num_ctx loads a fresh copy; the one in use finishes undisturbed.
    Expected<ModelLease> large = m.acquire("a", 96);
    ASSERT_TRUE(large.has_value());
    EXPECT_EQ(large->model().context_length(), 96);
    EXPECT_EQ(small->model().context_length(), 64);
    ASSERT_EQ(m.loaded().size(), 1u);
    EXPECT_EQ(m.loaded()[0].context_length, 96);
}

TEST_F(ModelManagerTest, ConcurrentAcquiresShareOneLoad) {
    ModelManager m(options(), nullptr, files());
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            Expected<ModelLease> lease = m.acquire(i % 2 == 0 ? "a" : "b");
            if (lease.has_value()) ++ok;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 4);
    EXPECT_EQ(m.loaded().size(), 2u);
}

TEST(ModelMemory, EstimateCountsWeightsAndKvCache) {
    auto path = model::ensure_default_model(test::temp_dir() / "model-manager-demo");
    ASSERT_TRUE(path.has_value());
    const uint64_t small = estimate_model_bytes(*path, 16);
    const uint64_t large = estimate_model_bytes(*path, 4096);
    EXPECT_GT(large, small);
    EXPECT_GE(small, std::filesystem::file_size(*path));
    EXPECT_TRUE(available_memory_bytes().has_value());
}

}  // namespace
}  // namespace cria::server
