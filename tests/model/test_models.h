// Tiny random models for the model and engine tests, built in memory with the model maker.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/reader.h"
#include "model/arch.h"
#include "model/model.h"
#include "model/model_maker.h"

namespace cria::test {

// A GGUF image kept alive together with the model parsed from it.
struct BuiltModel {
    std::vector<uint8_t> bytes;
    std::unique_ptr<model::Model> model;
};

// Every generation (decoder) architecture in the registry, so that a new arch_<name>.cpp gets
// the loader, reference-decoder and batching tests without a test edit. Encoders (a default
// pooling) have tests of their own.
inline std::vector<std::string> generation_arch_names() {
    std::vector<std::string> names;
    for (std::string_view name : model::supported_arch_names()) {
        const model::ArchSpec* spec = model::find_arch(name);
        if (spec != nullptr && spec->causal && spec->default_pooling == model::Pooling::kNone) {
            names.emplace_back(name);
        }
    }
    return names;
}

// A tiny spec of an architecture: 64 embd, 2 layers (6 for Gemma 3, to have a global layer),
// 4 heads, 2 KV heads (1 for Gemma), F32 weights.
inline model::RandomModelSpec tiny_spec(const std::string& arch) {
    model::RandomModelSpec spec;
    spec.arch = arch;
    spec.n_vocab = 96;
    spec.seed = 7;
    if (arch == "gemma2" || arch == "gemma3") {
        spec.n_head_kv = 1;
        spec.sliding_window = 3;
        spec.n_layer = arch == "gemma3" ? 6 : 2;
    }
    if (arch == "qwen3") spec.head_dim = 32;  // head size != n_embd / n_head
    if (arch == "llama") spec.tied_output = true;
    return spec;
}

// Serializes a writer and parses the result; the returned File points into `bytes`.
inline std::unique_ptr<gguf::File> parse_writer(const gguf::Writer& writer,
                                                std::vector<uint8_t>& bytes) {
    bytes = writer.to_bytes();
    auto file = gguf::File::parse(bytes.data(), bytes.size());
    EXPECT_TRUE(file.has_value()) << file.status().message();
    return file.has_value() ? std::move(file).value() : nullptr;
}

// Builds the spec (with an optionally edited plan and writer) and loads it.
template <typename EditPlan, typename EditWriter>
Expected<BuiltModel> build(const model::RandomModelSpec& spec, EditPlan&& edit_plan,
                           EditWriter&& edit_writer) {
    ThreadPool pool(1);
    CRIA_ASSIGN_OR_RETURN(std::vector<model::TensorPlan> plan, model::plan_tensors(spec));
    edit_plan(plan);
    CRIA_ASSIGN_OR_RETURN(gguf::Writer writer, model::build_model(spec, plan, pool));
    edit_writer(writer);
    BuiltModel built;
    built.bytes = writer.to_bytes();
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<gguf::File> file,
                          gguf::File::parse(built.bytes.data(), built.bytes.size()));
    CRIA_ASSIGN_OR_RETURN(built.model, model::Model::from_file(std::move(file)));
    return built;
}

inline Expected<BuiltModel> build(const model::RandomModelSpec& spec) {
    return build(
        spec, [](std::vector<model::TensorPlan>&) {}, [](gguf::Writer&) {});
}

}  // namespace cria::test
