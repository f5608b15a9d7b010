// Synthetic models: random weights in the exact layout of a real architecture, written as GGUF.
// They serve benchmarks (a model with the shape of Llama 3.2 1B in any quantization), tests (tiny
// models, deliberately broken variants), and the server's default model (a tiny model with a
// real vocabulary and chat template copied from another GGUF).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/reader.h"
#include "gguf/tensor_type.h"
#include "gguf/writer.h"

namespace cria::model {

struct RandomModelSpec {
    std::string arch = "llama";  // any supported architecture
    std::string name = "random";
    int64_t n_embd = 64;
    int64_t n_layer = 2;
    int64_t n_head = 4;
    int64_t n_head_kv = 2;
    int64_t head_dim = 0;  // 0: n_embd / n_head
    int64_t n_rot = 0;     // rotated dimensions per head; 0: the head size
    int64_t n_ff = 128;
    int64_t n_vocab = 256;  // replaced by the vocabulary's size when one is copied
    int64_t n_ctx = 2048;
    bool tied_output = false;  // Gemma is always tied
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
    int64_t sliding_window = 0;        // Gemma only; 0: the architecture's default
    bool llama3_rope_scaling = false;  // add Llama 3.1's rope_freqs.weight (llama only)
    // "F32", "F16", "BF16", any quantized type name ("Q8_0", "Q4_0", "Q6_K", "IQ4_XS", ...), or
    // the mixture "Q4_K_M". As llama.cpp's quantizer does, a quantized model stores its output
    // projection (or the tied embedding) in Q6_K unless `pure` is set or the type is Q8_0.
    std::string quantization = "F32";
    bool pure = false;
    uint64_t seed = 1;
    // Copy every tokenizer.* key (vocabulary, merges, special tokens, chat template) from this
    // file; null: a byte-level placeholder vocabulary of n_vocab tokens.
    const gguf::File* vocabulary = nullptr;
};

// Named shapes: "llama3.2-1b" (2048 embd, 16 layers, 32 heads, 8 KV heads, 8192 ffn, 128256
// vocab, tied, rope base 5e5) and "tiny" (64 embd, 2 layers, 4 heads, 2 KV heads, 128 ffn).
Expected<RandomModelSpec> model_shape(std::string_view name);

// One tensor of the file to make.
struct TensorPlan {
    std::string name;
    std::vector<int64_t> dims;  // GGUF order: dims[0] is the row length
    gguf::TensorType type = gguf::TensorType::kF32;
};

// The tensors a spec calls for, with their types; callers may edit the plan before building
// (tests make wrong shapes, unknown tensors, or unsupported types this way).
Expected<std::vector<TensorPlan>> plan_tensors(const RandomModelSpec& spec);

// Metadata and random tensor data for a plan. Types the quantizer cannot write are filled with
// zero bytes (only useful for files meant to be refused). Row generation runs on `pool`.
Expected<gguf::Writer> build_model(const RandomModelSpec& spec, const std::vector<TensorPlan>& plan,
                                   ThreadPool& pool);

// plan_tensors + build_model + write (atomically, through a temporary file).
Status make_model_file(const RandomModelSpec& spec, const std::string& path, ThreadPool& pool);

}  // namespace cria::model
