// Loading refuses what it cannot run, naming the problem: unknown architectures, tensor types the
// kernels cannot compute, missing, unexpected or misshapen tensors, and bad hyperparameters.
#include <gtest/gtest.h>

#include <string>

#include "engine/engine.h"
#include "model/model.h"
#include "test_models.h"
#include "test_support.h"

namespace cria {
namespace {

using model::TensorPlan;

void expect_error(const Expected<test::BuiltModel>& result, ErrorCode code,
                  const std::vector<std::string>& fragments) {
    ASSERT_FALSE(result.has_value()) << "the model was accepted";
    EXPECT_EQ(result.status().code(), code) << result.status().message();
    for (const std::string& fragment : fragments) {
        EXPECT_NE(result.status().message().find(fragment), std::string::npos)
            << "'" << result.status().message() << "' does not mention '" << fragment << "'";
    }
}

TEST(ModelLoad, EveryArchitectureLoadsWithItsHyperparameters) {
    for (const std::string& arch : test::generation_arch_names()) {
        SCOPED_TRACE(arch);
        auto built = test::build(test::tiny_spec(arch));
        ASSERT_TRUE(built.has_value()) << built.status().message();
        const model::HParams& hp = built->model->hparams();
        EXPECT_EQ(hp.arch, arch);
        EXPECT_EQ(hp.n_embd, 64);
        EXPECT_EQ(hp.n_vocab, 96);
        EXPECT_EQ(static_cast<int64_t>(built->model->layers().size()), hp.n_layer);
    }
}

TEST(ModelLoad, ArchitectureSpecificHyperparameters) {
    auto qwen3 = test::build(test::tiny_spec("qwen3"));
    ASSERT_TRUE(qwen3.has_value()) << qwen3.status().message();
    EXPECT_EQ(qwen3->model->hparams().head_dim_k, 32);
    EXPECT_EQ(qwen3->model->hparams().n_q(), 128);

    auto gemma3 = test::build(test::tiny_spec("gemma3"));
    ASSERT_TRUE(gemma3.has_value()) << gemma3.status().message();
    const model::HParams& g3 = gemma3->model->hparams();
    EXPECT_EQ(g3.sliding_window, 3);
    // Five windowed layers, then a global one.
    EXPECT_EQ(g3.layer_uses_window, (std::vector<uint8_t>{1, 1, 1, 1, 1, 0}));
    EXPECT_FLOAT_EQ(g3.rope_freq_base_swa, 10000.0f);
    EXPECT_FLOAT_EQ(g3.embedding_scale, 8.0f);
    EXPECT_FLOAT_EQ(g3.attention_scale, 1.0f / 4.0f);  // 1/sqrt(head size 16)
    EXPECT_TRUE(gemma3->model->output_is_tied());

    auto gemma2 = test::build(test::tiny_spec("gemma2"));
    ASSERT_TRUE(gemma2.has_value()) << gemma2.status().message();
    const model::HParams& g2 = gemma2->model->hparams();
    EXPECT_EQ(g2.layer_uses_window, (std::vector<uint8_t>{1, 0}));
    EXPECT_FLOAT_EQ(g2.attn_softcap, 50.0f);
    EXPECT_FLOAT_EQ(g2.final_softcap, 30.0f);

    auto llama = test::build(test::tiny_spec("llama"));
    ASSERT_TRUE(llama.has_value());
    EXPECT_TRUE(llama->model->output_is_tied());
    auto qwen2 = test::build(test::tiny_spec("qwen2"));
    ASSERT_TRUE(qwen2.has_value());
    EXPECT_FALSE(qwen2->model->output_is_tied());
    EXPECT_NE(qwen2->model->layers()[0].bq, nullptr);
}

TEST(ModelLoad, RopeScalingKeys) {
    auto built = test::build(
        test::tiny_spec("llama"), [](std::vector<TensorPlan>&) {},
        [](gguf::Writer& w) {
            w.set("llama.rope.scaling.type", gguf::Value::string("yarn"));
            w.set("llama.rope.scaling.factor", gguf::Value::f32(4.0f));
            w.set("llama.rope.scaling.original_context_length", gguf::Value::u32(1024));
        });
    ASSERT_TRUE(built.has_value()) << built.status().message();
    const model::HParams& hp = built->model->hparams();
    EXPECT_EQ(hp.rope_scaling, model::RopeScaling::kYarn);
    EXPECT_FLOAT_EQ(hp.rope_freq_scale, 0.25f);
    EXPECT_FLOAT_EQ(hp.yarn_ext_factor, 1.0f);
    EXPECT_EQ(hp.n_ctx_orig, 1024);

    auto bad = test::build(
        test::tiny_spec("llama"), [](std::vector<TensorPlan>&) {},
        [](gguf::Writer& w) { w.set("llama.rope.scaling.type", gguf::Value::string("spiral")); });
    expect_error(bad, ErrorCode::kUnsupported, {"spiral"});
}

TEST(ModelLoad, RefusesUnknownArchitecture) {
    auto result = test::build(
        test::tiny_spec("llama"), [](std::vector<TensorPlan>&) {},
        [](gguf::Writer& w) { w.set("general.architecture", gguf::Value::string("mamba")); });
    expect_error(result, ErrorCode::kUnsupported, {"mamba", "not supported"});
}

TEST(ModelLoad, RefusesUncomputableTensorType) {
    model::RandomModelSpec spec = test::tiny_spec("llama");
    spec.n_embd = 256;
    auto result = test::build(
        spec,
        [](std::vector<TensorPlan>& plan) {
            for (TensorPlan& t : plan) {
                if (t.name == "blk.1.attn_q.weight") t.type = gguf::TensorType::kIQ2_XXS;
            }
        },
        [](gguf::Writer&) {});
    expect_error(result, ErrorCode::kUnsupported, {"blk.1.attn_q.weight", "IQ2_XXS"});
}

TEST(ModelLoad, RefusesMisshapenTensor) {
    auto result = test::build(
        test::tiny_spec("llama"),
        [](std::vector<TensorPlan>& plan) {
            for (TensorPlan& t : plan) {
                if (t.name == "blk.0.attn_k.weight") t.dims = {64, 64};  // expected [64, 32]
            }
        },
        [](gguf::Writer&) {});
    expect_error(result, ErrorCode::kCorrupt, {"blk.0.attn_k.weight", "[64, 32]"});

    auto norm = test::build(
        test::tiny_spec("qwen3"),
        [](std::vector<TensorPlan>& plan) {
            for (TensorPlan& t : plan) {
                if (t.name == "blk.1.attn_q_norm.weight") t.dims = {16};
            }
        },
        [](gguf::Writer&) {});
    expect_error(norm, ErrorCode::kCorrupt, {"blk.1.attn_q_norm.weight"});
}

TEST(ModelLoad, RefusesMissingAndUnexpectedTensors) {
    auto missing = test::build(
        test::tiny_spec("llama"),
        [](std::vector<TensorPlan>& plan) {
            std::erase_if(plan,
                          [](const TensorPlan& t) { return t.name == "blk.1.ffn_down.weight"; });
        },
        [](gguf::Writer&) {});
    expect_error(missing, ErrorCode::kNotFound, {"blk.1.ffn_down.weight"});

    auto extra = test::build(
        test::tiny_spec("llama"),
        [](std::vector<TensorPlan>& plan) {
            plan.push_back({"blk.0.mystery.weight", {64}, gguf::TensorType::kF32});
        },
        [](gguf::Writer&) {});
    expect_error(extra, ErrorCode::kCorrupt, {"blk.0.mystery.weight"});

    // Gemma's output projection is always the embedding table: a separate one is foreign.
    auto gemma_output = test::build(
        test::tiny_spec("gemma3"),
        [](std::vector<TensorPlan>& plan) {
            plan.push_back({"output.weight", {64, 96}, gguf::TensorType::kF32});
        },
        [](gguf::Writer&) {});
    expect_error(gemma_output, ErrorCode::kCorrupt, {"output.weight"});

    auto biasless_qwen2 = test::build(
        test::tiny_spec("qwen2"),
        [](std::vector<TensorPlan>& plan) {
            std::erase_if(plan, [](const TensorPlan& t) { return t.name == "blk.0.attn_k.bias"; });
        },
        [](gguf::Writer&) {});
    expect_error(biasless_qwen2, ErrorCode::kNotFound, {"blk.0.attn_k.bias"});
}

TEST(ModelLoad, RefusesNonF32NormWeights) {
    auto result = test::build(
        test::tiny_spec("llama"),
        [](std::vector<TensorPlan>& plan) {
            for (TensorPlan& t : plan) {
                if (t.name == "output_norm.weight") t.type = gguf::TensorType::kF16;
            }
        },
        [](gguf::Writer&) {});
    expect_error(result, ErrorCode::kUnsupported, {"output_norm.weight", "F16"});
}

TEST(ModelLoad, RefusesBadHyperparameters) {
    struct Case {
        const char* key;
        gguf::Value value;
        ErrorCode code;
        const char* fragment;
    };
    const Case cases[] = {
        {"llama.embedding_length", gguf::Value::string("wide"), ErrorCode::kCorrupt,
         "llama.embedding_length"},
        {"llama.block_count", gguf::Value::u32(0), ErrorCode::kOutOfRange, "block count"},
        {"llama.block_count", gguf::Value::u64(1ull << 40), ErrorCode::kCorrupt, "block_count"},
        {"llama.attention.head_count", gguf::Value::u32(100000), ErrorCode::kOutOfRange,
         "head count"},
        {"llama.attention.head_count_kv", gguf::Value::u32(3), ErrorCode::kUnsupported, "multiple"},
        {"llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(-1.0f), ErrorCode::kOutOfRange,
         "epsilon"},
        {"llama.rope.dimension_count", gguf::Value::u32(8), ErrorCode::kUnsupported,
         "rope dimension"},
        {"llama.attention.key_length", gguf::Value::u32(0), ErrorCode::kOutOfRange, "key head"},
        {"llama.feed_forward_length", gguf::Value::i32_array({128, 256}), ErrorCode::kUnsupported,
         "per-layer"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.key);
        auto result = test::build(
            test::tiny_spec("llama"), [](std::vector<TensorPlan>&) {},
            [&c](gguf::Writer& w) { w.set(c.key, c.value); });
        expect_error(result, c.code, {c.fragment});
    }
    auto no_embd = test::build(
        test::tiny_spec("gemma3"), [](std::vector<TensorPlan>&) {},
        [](gguf::Writer& w) {
            w.set("gemma3.attention.sliding_window", gguf::Value::string("x"));
        });
    expect_error(no_embd, ErrorCode::kCorrupt, {"sliding_window"});
}

TEST(ModelLoad, RefusesFileWithoutArchitecture) {
    gguf::Writer writer;
    writer.set("general.name", gguf::Value::string("nothing"));
    std::vector<uint8_t> bytes;
    auto file = test::parse_writer(writer, bytes);
    ASSERT_NE(file, nullptr);
    auto model = model::Model::from_file(std::move(file));
    ASSERT_FALSE(model.has_value());
    EXPECT_NE(model.status().message().find("general.architecture"), std::string::npos);
}

TEST(ModelMaker, Llama32OneBillionShapeQ4KM) {
    auto spec = model::model_shape("llama3.2-1b");
    ASSERT_TRUE(spec.has_value());
    spec->quantization = "Q4_K_M";
    auto plan = model::plan_tensors(*spec);
    ASSERT_TRUE(plan.has_value()) << plan.status().message();
    int q6_v = 0, q6_down = 0, q6_other = 0;
    for (const TensorPlan& t : *plan) {
        if (t.name == "token_embd.weight") {
            EXPECT_EQ(t.type, gguf::TensorType::kQ6_K);
            EXPECT_EQ(t.dims, (std::vector<int64_t>{2048, 128256}));
        }
        EXPECT_NE(t.name, "output.weight");  // tied
        if (t.type != gguf::TensorType::kQ6_K) continue;
        if (t.name.find("attn_v") != std::string::npos) {
            ++q6_v;
        } else if (t.name.find("ffn_down") != std::string::npos) {
            ++q6_down;
        } else if (t.name != "token_embd.weight") {
            ++q6_other;
        }
    }
    EXPECT_EQ(q6_v, 8);
    EXPECT_EQ(q6_down, 8);
    EXPECT_EQ(q6_other, 0);
}

TEST(ModelMaker, CopiesVocabularyAndTemplate) {
    CRIA_REQUIRE_SHARED(shared);
    const auto vocab_path = shared / "golden" / "vocab" / "ggml-vocab-llama-bpe.gguf";
    if (!std::filesystem::exists(vocab_path)) GTEST_SKIP() << vocab_path << " is absent";
    auto vocabulary = gguf::File::open(vocab_path.string());
    ASSERT_TRUE(vocabulary.has_value()) << vocabulary.status().message();

    model::RandomModelSpec spec = test::tiny_spec("llama");
    spec.n_layer = 1;
    spec.quantization = "Q8_0";
    spec.vocabulary = vocabulary->get();
    const std::filesystem::path path = test::temp_dir() / "tiny-llama-bpe.gguf";
    ThreadPool pool(2);
    ASSERT_TRUE(model::make_model_file(spec, path.string(), pool).is_ok());

    auto engine = engine::Engine::load(path.string(), {1, 16, 16});
    ASSERT_TRUE(engine.has_value()) << engine.status().message();
    const gguf::File& file = (*engine)->model().file();
    EXPECT_EQ((*engine)->n_vocab(), 128256);
    EXPECT_EQ(file.get_string("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(file.get_string("tokenizer.chat_template"),
              (*vocabulary)->get_string("tokenizer.chat_template"));
    auto sequence = (*engine)->create_sequence();
    ASSERT_TRUE(sequence.has_value());
    std::vector<float> logits;
    const std::vector<int32_t> tokens = {128000, 9906, 1917};
    ASSERT_TRUE((*engine)->decode(**sequence, tokens, engine::LogitsMode::kLast, logits).is_ok());
    EXPECT_EQ(logits.size(), 128256u);
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace cria
