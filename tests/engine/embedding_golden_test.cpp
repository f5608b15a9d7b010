// The engine's embeddings against llama.cpp's for the random-weight embedding models in
// ../shared/golden/embeddings (one per family: BERT, nomic-bert, Qwen3 with last-token pooling,
// EmbeddingGemma). Every input is checked pooled (raw) and normalized, decoded alone and in one
// batch with the others; the cases follow the directory, so a new model there is tested too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "embedding_test_support.h"
#include "engine/embedder.h"
#include "engine/engine.h"
#include "gguf/reader.h"

namespace cria {
namespace {

namespace fs = std::filesystem;

// llama.cpp rounds activations to F16 or 8 bits inside its matrix products: F16 and F32 files
// match closely, quantized ones within that rounding.
double threshold_for(const gguf::File& file) {
    const uint64_t file_type = file.get_u64("general.file_type", 0);
    return file_type <= 1 ? 1e-4 : 3e-3;
}

class EmbeddingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(EmbeddingGolden, PooledAndNormalizedMatchReference) {
    CRIA_REQUIRE_SHARED(shared);
    const std::string name = GetParam();
    const fs::path dir = shared / "golden" / "embeddings";
    if (name == "absent") GTEST_SKIP() << dir << " holds no models";
    const auto inputs = test::read_embedding_inputs(dir / (name + ".inputs"));
    const auto normalized = test::read_f32(dir / (name + ".embeddings.f32"));
    const auto pooled = test::read_f32(dir / (name + ".pooled.f32"));
    ASSERT_FALSE(inputs.empty());

    engine::EngineOptions options;
    options.n_threads = 2;
    auto engine = engine::Engine::load((dir / (name + ".gguf")).string(), options);
    ASSERT_TRUE(engine.has_value()) << engine.status().message();
    const double limit = threshold_for((*engine)->model().file());
    const auto width = static_cast<size_t>((*engine)->embedding_width());
    ASSERT_EQ(normalized.size(), inputs.size() * width);
    ASSERT_EQ(pooled.size(), inputs.size() * width);
    EXPECT_TRUE((*engine)->is_embedding_model());

    // All inputs in one call (packed into shared forward passes) and each alone.
    std::vector<std::vector<float>> together(inputs.size(), std::vector<float>(width));
    {
        std::vector<std::span<const int32_t>> spans(inputs.begin(), inputs.end());
        std::vector<float*> outs;
        for (auto& v : together) outs.push_back(v.data());
        const Status status = (*engine)->embed(spans, outs);
        ASSERT_TRUE(status.is_ok()) << status.message();
    }
    double worst = 0.0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<float> alone(width);
        const std::span<const int32_t> one(inputs[i]);
        float* out = alone.data();
        const Status status = (*engine)->embed(std::span(&one, 1), std::span(&out, 1));
        ASSERT_TRUE(status.is_ok()) << status.message();
        const double batch_vs_alone = test::nmse(together[i].data(), alone.data(), width);
        EXPECT_LE(batch_vs_alone, 1e-10) << "input " << i << ": batched differs from alone";

        const double raw = test::nmse(alone.data(), pooled.data() + i * width, width);
        std::vector<float> unit = alone;
        engine::l2_normalize(unit);
        const double unit_err = test::nmse(unit.data(), normalized.data() + i * width, width);
        EXPECT_LE(raw, limit) << "pooled, input " << i << " (" << inputs[i].size() << " tokens)";
        EXPECT_LE(unit_err, limit) << "normalized, input " << i;
        worst = std::max({worst, raw, unit_err});
    }
    std::printf("[ %s ] worst NMSE %.3e (limit %.0e)\n", name.c_str(), worst, limit);
}

INSTANTIATE_TEST_SUITE_P(Models, EmbeddingGolden,
                         ::testing::ValuesIn(test::embedding_golden_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return test::test_name_of(info.param);
                         });

}  // namespace
}  // namespace cria
