// The engine's sessions on tiny random models: several sequences decoded in one batch get the
// logits they get alone, truncation resumes where a fresh decode would, a Q8_0 cache stays close
// to F16, and bad batches and requests are refused without touching the sequences.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "engine/engine.h"
#include "kv/kv_cache.h"
#include "model/test_models.h"

namespace cria {
namespace {

using Vec = std::vector<double>;

std::vector<int32_t> test_tokens(int n, int64_t n_vocab) {
    std::mt19937 rng(11);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab - 1));
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int32_t& t : tokens) t = pick(rng);
    return tokens;
}

double nmse(const float* ours, const Vec& ref) {
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
        err += (ours[i] - ref[i]) * (ours[i] - ref[i]);
        norm += ref[i] * ref[i];
    }
    return err / norm;
}

std::unique_ptr<engine::Engine> make_engine(std::unique_ptr<model::Model> model,
                                            int64_t max_batch) {
    engine::EngineOptions options;
    options.n_threads = 2;
    options.context_length = 64;
    options.max_batch = max_batch;
    auto engine = engine::Engine::create(std::move(model), options);
    EXPECT_TRUE(engine.has_value()) << engine.status().message();
    return std::move(engine).value();
}

// Several sequences in one forward pass: each gets the logits it gets alone, and greedy
// decoding picks the same tokens, whether its step is a prompt chunk or a single token.
void expect_batched_equals_alone(const model::RandomModelSpec& spec, double tolerance) {
    auto built = test::build(spec);
    ASSERT_TRUE(built.has_value()) << built.status().message();
    auto engine = make_engine(std::move(built->model), 64);
    const int64_t n_vocab = engine->n_vocab();
    const std::vector<std::vector<int32_t>> prompts = {
        test_tokens(7, n_vocab), test_tokens(3, n_vocab), test_tokens(12, n_vocab)};
    constexpr int kSteps = 8;

    // Alone: each prompt decoded, then greedy tokens one at a time.
    std::vector<std::vector<int32_t>> alone_tokens(prompts.size());
    // Per sequence: [kSteps][n_vocab], the logits before each greedy step. (Sized after
    // construction: sized by the constructor, GCC 12 warns -Wfree-nonheap-object falsely here.)
    std::vector<std::vector<float>> alone_logits;
    alone_logits.resize(prompts.size());
    for (size_t s = 0; s < prompts.size(); ++s) {
        auto sequence = engine->create_sequence({0, gguf::TensorType::kF32});
        ASSERT_TRUE(sequence.has_value());
        std::vector<float> logits;
        ASSERT_TRUE(
            engine->decode(**sequence, prompts[s], engine::LogitsMode::kLast, logits).is_ok());
        for (int step = 0; step < kSteps; ++step) {
            alone_logits[s].insert(alone_logits[s].end(), logits.begin(), logits.end());
            const auto best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) -
                                                   logits.begin());
            alone_tokens[s].push_back(best);
            ASSERT_TRUE(engine
                            ->decode(**sequence, std::span<const int32_t>(&best, 1),
                                     engine::LogitsMode::kLast, logits)
                            .is_ok());
        }
    }

    // Together: sequence s starts s steps late, so prompt chunks and single tokens share
    // batches; every step decodes every started sequence at once.
    std::vector<std::unique_ptr<engine::Sequence>> sequences;
    for (size_t s = 0; s < prompts.size(); ++s) {
        auto sequence = engine->create_sequence({0, gguf::TensorType::kF32});
        ASSERT_TRUE(sequence.has_value());
        sequences.push_back(std::move(sequence).value());
    }
    std::vector<std::vector<float>> logits(prompts.size(),
                                           std::vector<float>(static_cast<size_t>(n_vocab)));
    std::vector<std::vector<int32_t>> together_tokens(prompts.size());
    std::vector<int32_t> next(prompts.size());
    for (int round = 0; round < kSteps + static_cast<int>(prompts.size()); ++round) {
        std::vector<engine::SequenceStep> steps;
        for (size_t s = 0; s < prompts.size(); ++s) {
            const int local = round - static_cast<int>(s);
            if (local < 0 || local > kSteps) continue;
            if (local > 0) {
                const std::vector<float>& previous = logits[s];
                for (size_t i = 0; i < previous.size(); ++i) {
                    const double diff =
                        previous[i] -
                        alone_logits[s][static_cast<size_t>(local - 1) * previous.size() + i];
                    ASSERT_LT(diff * diff, tolerance) << "sequence " << s << " step " << local;
                }
                next[s] = static_cast<int32_t>(std::max_element(previous.begin(), previous.end()) -
                                               previous.begin());
                together_tokens[s].push_back(next[s]);
                if (local == kSteps) continue;
            }
            std::span<const int32_t> input = local == 0 ? std::span<const int32_t>(prompts[s])
                                                        : std::span<const int32_t>(&next[s], 1);
            steps.push_back(
                {sequences[s].get(), input, engine::LogitsMode::kLast, logits[s].data()});
        }
        if (!steps.empty()) {
            ASSERT_TRUE(engine->decode_batch(steps).is_ok());
        }
    }
    for (size_t s = 0; s < prompts.size(); ++s) {
        EXPECT_EQ(together_tokens[s], alone_tokens[s]) << "sequence " << s;
    }
}

TEST(Engine, BatchedSequencesEqualAlone) {
    for (const char* arch : {"llama", "qwen3", "gemma2", "phi3"}) {
        SCOPED_TRACE(arch);
        expect_batched_equals_alone(test::tiny_spec(arch), 1e-8);
    }
}

TEST(Engine, BatchedSequencesEqualAloneQuantized) {
    for (const char* type : {"Q8_0", "Q4_0", "Q4_K_M"}) {
        SCOPED_TRACE(type);
        model::RandomModelSpec spec = test::tiny_spec("llama");
        spec.n_embd = 256;  // whole K-quant super-blocks
        spec.n_ff = 512;
        spec.quantization = type;
        // Activations are quantized per row in both paths; only summation order may differ.
        expect_batched_equals_alone(spec, 1e-6);
    }
}

TEST(Engine, BatchRefusesSharedCachesAndOversizedBatches) {
    auto built = test::build(test::tiny_spec("llama"));
    ASSERT_TRUE(built.has_value());
    auto engine = make_engine(std::move(built->model), 8);
    auto a = engine->create_sequence();
    ASSERT_TRUE(a.has_value());
    std::vector<float> la(static_cast<size_t>(engine->n_vocab())), lb = la;
    const std::vector<int32_t> two = {1, 2}, seven(7, 3);
    std::vector<engine::SequenceStep> shared = {
        {a->get(), two, engine::LogitsMode::kLast, la.data()},
        {a->get(), two, engine::LogitsMode::kLast, lb.data()}};
    EXPECT_EQ(engine->decode_batch(shared).code(), ErrorCode::kInvalidArgument);
    auto b = engine->create_sequence();
    ASSERT_TRUE(b.has_value());
    std::vector<engine::SequenceStep> too_many = {
        {a->get(), two, engine::LogitsMode::kLast, la.data()},
        {b->get(), seven, engine::LogitsMode::kLast, lb.data()}};
    EXPECT_EQ(engine->decode_batch(too_many).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ((*a)->n_past(), 0);
    EXPECT_EQ((*b)->n_past(), 0);
}

TEST(Engine, TruncateThenContinueEqualsFreshDecode) {
    auto built = test::build(test::tiny_spec("llama"));
    ASSERT_TRUE(built.has_value());
    auto engine = make_engine(std::move(built->model), 512);
    const std::vector<int32_t> a = {5, 17, 33, 2, 9};
    const std::vector<int32_t> b = {5, 17, 40, 41};
    auto sequence = engine->create_sequence();
    ASSERT_TRUE(sequence.has_value());
    std::vector<float> logits, fresh;
    ASSERT_TRUE(engine->decode(**sequence, a, engine::LogitsMode::kNone, logits).is_ok());
    ASSERT_TRUE((*sequence)->truncate(2).is_ok());
    ASSERT_TRUE(engine
                    ->decode(**sequence, std::span<const int32_t>(b).subspan(2),
                             engine::LogitsMode::kLast, logits)
                    .is_ok());
    (*sequence)->reset();
    ASSERT_TRUE(engine->decode(**sequence, b, engine::LogitsMode::kLast, fresh).is_ok());
    ASSERT_EQ(logits.size(), fresh.size());
    for (size_t i = 0; i < fresh.size(); ++i) EXPECT_NEAR(logits[i], fresh[i], 1e-5f);
    EXPECT_FALSE((*sequence)->truncate(10).is_ok());
}

TEST(Engine, Q8CacheStaysCloseToF16) {
    model::RandomModelSpec spec = test::tiny_spec("llama");
    spec.n_head = 2;
    spec.n_head_kv = 1;  // head size 32: whole Q8_0 blocks
    auto built = test::build(spec);
    ASSERT_TRUE(built.has_value());
    auto engine = make_engine(std::move(built->model), 512);
    const std::vector<int32_t> tokens = test_tokens(16, engine->n_vocab());
    std::vector<float> f16, q8;
    auto s16 = engine->create_sequence({0, gguf::TensorType::kF16});
    auto s8 = engine->create_sequence({0, gguf::TensorType::kQ8_0});
    ASSERT_TRUE(s16.has_value() && s8.has_value());
    ASSERT_TRUE(engine->decode(**s16, tokens, engine::LogitsMode::kAll, f16).is_ok());
    ASSERT_TRUE(engine->decode(**s8, tokens, engine::LogitsMode::kAll, q8).is_ok());
    Vec ref(f16.begin(), f16.end());
    EXPECT_LT(nmse(q8.data(), ref), 1e-3);
    EXPECT_GT(nmse(q8.data(), ref), 0.0);  // the cache really is quantized
}

TEST(Engine, RefusesBadRequests) {
    auto built = test::build(test::tiny_spec("llama"));
    ASSERT_TRUE(built.has_value());
    auto engine = make_engine(std::move(built->model), 512);
    auto sequence = engine->create_sequence({8, gguf::TensorType::kF16});
    ASSERT_TRUE(sequence.has_value());
    std::vector<float> logits;
    const std::vector<int32_t> bad_token = {1, 96};
    Status status = engine->decode(**sequence, bad_token, engine::LogitsMode::kLast, logits);
    EXPECT_EQ(status.code(), ErrorCode::kOutOfRange);
    EXPECT_EQ((*sequence)->n_past(), 0);
    const std::vector<int32_t> nine(9, 1);
    status = engine->decode(**sequence, nine, engine::LogitsMode::kLast, logits);
    EXPECT_EQ(status.code(), ErrorCode::kResourceExhausted);
    EXPECT_EQ((*sequence)->n_past(), 0);
    EXPECT_EQ(engine->decode(**sequence, {}, engine::LogitsMode::kLast, logits).code(),
              ErrorCode::kInvalidArgument);
    EXPECT_FALSE(engine->create_sequence({1000, gguf::TensorType::kF16}).has_value());
    // A cache larger than allowed is refused, not allocated.
    kv::KvCacheOptions huge;
    huge.capacity = 1 << 20;
    huge.max_bytes = 1 << 20;
    EXPECT_EQ(kv::KvCache::create(engine->model().hparams(), huge).status().code(),
              ErrorCode::kResourceExhausted);
    // Head size 16 cannot be stored in 32-element Q8_0 blocks.
    EXPECT_EQ(engine->create_sequence({0, gguf::TensorType::kQ8_0}).status().code(),
              ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace cria
