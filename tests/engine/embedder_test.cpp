// The Embedder: inputs of one call and of concurrent calls share forward passes, results equal
// those of inputs embedded alone, bad inputs are refused, and a caller can give up. Runs on a
// tiny random generation model (which pools its last token), so it needs no shared data.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

#include "engine/embedder.h"
#include "engine/engine.h"
#include "model/model_maker.h"

namespace cria::engine {
namespace {

std::unique_ptr<Engine> tiny_engine() {
    model::RandomModelSpec spec;
    spec.arch = "llama";
    spec.n_vocab = 96;
    spec.seed = 3;
    // ctest runs each test as its own process, several at once: one file per process.
    const std::string path =
        ::testing::TempDir() + "/embedder-test-" + std::to_string(::getpid()) + ".gguf";
    ThreadPool pool(2);
    const Status made = model::make_model_file(spec, path, pool);
    EXPECT_TRUE(made.is_ok()) << made.message();
    EngineOptions options;
    options.n_threads = 2;
    options.context_length = 64;
    auto engine = Engine::load(path, options);
    std::filesystem::remove(path);  // the mapping keeps the bytes
    EXPECT_TRUE(engine.has_value()) << engine.status().message();
    return std::move(engine).value();
}

std::vector<int32_t> input_of(int length, int seed) {
    std::vector<int32_t> ids;
    for (int i = 0; i < length; ++i) ids.push_back((seed * 31 + i * 7) % 96);
    return ids;
}

TEST(Embedder, BatchedInputsEqualInputsAlone) {
    auto engine = tiny_engine();
    Embedder embedder(*engine);
    EXPECT_FALSE(engine->is_embedding_model());
    EXPECT_EQ(embedder.width(), engine->model().hparams().n_embd);
    std::vector<std::vector<int32_t>> inputs;
    for (int i = 0; i < 9; ++i) inputs.push_back(input_of(1 + i * 5, i));
    auto together = embedder.embed(inputs, nullptr);
    ASSERT_TRUE(together.has_value()) << together.status().message();
    ASSERT_EQ(together->size(), inputs.size());
    const Embedder::Counters counters = embedder.counters();
    EXPECT_LT(counters.passes, static_cast<int64_t>(inputs.size())) << "inputs were not batched";
    for (size_t i = 0; i < inputs.size(); ++i) {
        auto alone = embedder.embed({inputs[i]}, nullptr);
        ASSERT_TRUE(alone.has_value());
        ASSERT_EQ((*alone)[0].size(), (*together)[i].size());
        for (size_t d = 0; d < (*alone)[0].size(); ++d) {
            ASSERT_NEAR((*alone)[0][d], (*together)[i][d], 1e-5f) << "input " << i;
        }
    }
    // Different inputs give different vectors.
    EXPECT_NE((*together)[0], (*together)[1]);
}

TEST(Embedder, ConcurrentCallersShareForwardPasses) {
    auto engine = tiny_engine();
    Embedder embedder(*engine);
    constexpr int kCallers = 8;
    constexpr int kInputsEach = 16;
    std::vector<std::thread> callers;
    std::atomic<int> failures{0};
    for (int c = 0; c < kCallers; ++c) {
        callers.emplace_back([&, c] {
            std::vector<std::vector<int32_t>> inputs;
            for (int i = 0; i < kInputsEach; ++i) inputs.push_back(input_of(20, c * 100 + i));
            auto result = embedder.embed(inputs, nullptr);
            if (!result.has_value() || result->size() != inputs.size()) ++failures;
        });
    }
    for (std::thread& t : callers) t.join();
    EXPECT_EQ(failures.load(), 0);
    const Embedder::Counters counters = embedder.counters();
    EXPECT_EQ(counters.inputs, kCallers * kInputsEach);
    // 128 inputs of 20 tokens fit 25 to a 512-token pass: far fewer passes than inputs.
    EXPECT_LE(counters.passes, kCallers * kInputsEach / 4);
}

TEST(Embedder, RefusesEmptyAndOverlongInputs) {
    auto engine = tiny_engine();
    Embedder embedder(*engine);
    auto empty = embedder.embed({{}}, nullptr);
    ASSERT_FALSE(empty.has_value());
    EXPECT_EQ(empty.status().code(), ErrorCode::kInvalidArgument);
    auto too_long =
        embedder.embed({input_of(static_cast<int>(embedder.max_input_tokens()) + 1, 1)}, nullptr);
    ASSERT_FALSE(too_long.has_value());
    EXPECT_EQ(too_long.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(too_long.status().message().find("input 0"), std::string::npos);
    auto bad_token = embedder.embed({{5, 96}}, nullptr);
    ASSERT_FALSE(bad_token.has_value());
    EXPECT_EQ(bad_token.status().code(), ErrorCode::kOutOfRange);
    auto none = embedder.embed({}, nullptr);
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->empty());
}

TEST(Embedder, CallerCanGiveUp) {
    auto engine = tiny_engine();
    Embedder embedder(*engine);
    std::vector<std::vector<int32_t>> inputs(512, input_of(60, 9));
    auto result = embedder.embed(inputs, [] { return true; });
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.status().code(), ErrorCode::kCancelled);
    EXPECT_LT(embedder.counters().inputs, 512);
    // The embedder still serves others afterwards.
    EXPECT_TRUE(embedder.embed({input_of(3, 1)}, nullptr).has_value());
}

// Every encoder architecture, made by the model maker: it loads, embeds (batched as alone),
// and refuses to compute logits.
TEST(Embedder, EncoderArchitecturesFromTheModelMaker) {
    for (const char* arch : {"bert", "nomic-bert", "gemma-embedding"}) {
        SCOPED_TRACE(arch);
        model::RandomModelSpec spec;
        spec.arch = arch;
        spec.n_vocab = 96;
        spec.n_ctx = 128;
        spec.n_head_kv = std::string(arch) == "gemma-embedding" ? 1 : 4;
        spec.n_layer = std::string(arch) == "gemma-embedding" ? 6 : 2;
        spec.sliding_window = 4;
        const std::string path =
            ::testing::TempDir() + "/encoder-" + arch + "-" + std::to_string(::getpid()) + ".gguf";
        ThreadPool pool(2);
        ASSERT_TRUE(model::make_model_file(spec, path, pool).is_ok());
        EngineOptions options;
        options.n_threads = 2;
        auto engine = Engine::load(path, options);
        std::filesystem::remove(path);
        ASSERT_TRUE(engine.has_value()) << engine.status().message();
        EXPECT_TRUE((*engine)->is_embedding_model());
        EXPECT_EQ((*engine)->max_embedding_tokens(), 128);
        Embedder embedder(**engine);
        const std::vector<std::vector<int32_t>> inputs = {input_of(3, 1), input_of(17, 2),
                                                          input_of(128, 3)};
        auto together = embedder.embed(inputs, nullptr);
        ASSERT_TRUE(together.has_value()) << together.status().message();
        for (size_t i = 0; i < inputs.size(); ++i) {
            auto alone = embedder.embed({inputs[i]}, nullptr);
            ASSERT_TRUE(alone.has_value());
            for (size_t d = 0; d < (*alone)[0].size(); ++d) {
                ASSERT_NEAR((*alone)[0][d], (*together)[i][d], 1e-4f) << "input " << i;
                ASSERT_TRUE(std::isfinite((*alone)[0][d]));
            }
        }
        auto sequence = (*engine)->create_sequence();
        ASSERT_TRUE(sequence.has_value());
        std::vector<float> logits;
        const Status refused = (*engine)->decode(**sequence, inputs[0], LogitsMode::kLast, logits);
        EXPECT_EQ(refused.code(), ErrorCode::kInvalidArgument);
    }
}

TEST(L2Normalize, UnitLengthAndZeroVector) {
    std::vector<float> v = {3.0f, 4.0f};
    l2_normalize(v);
    EXPECT_FLOAT_EQ(v[0], 0.6f);
    EXPECT_FLOAT_EQ(v[1], 0.8f);
    std::vector<float> zero = {0.0f, 0.0f};
    l2_normalize(zero);
    EXPECT_EQ(zero[0], 0.0f);
}

}  // namespace
}  // namespace cria::engine
