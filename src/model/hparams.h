// A model's hyperparameters, read from the GGUF keys "<arch>.*" and checked against caps so that
// a hostile file cannot make the engine allocate or index without bound.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/reader.h"
#include "model/arch.h"

namespace cria::model {

enum class RopeScaling { kNone, kLinear, kYarn, kLongRope };

struct HParams {
    std::string arch;
    int64_t n_vocab = 0;      // rows of token_embd
    int64_t n_ctx_train = 0;  // <arch>.context_length
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_ff = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim_k = 0;  // attention.key_length, default n_embd / n_head
    int64_t head_dim_v = 0;  // attention.value_length, default n_embd / n_head
    int n_rot = 0;           // rope.dimension_count, default head_dim_k
    float norm_eps = 1e-5f;  // attention.layer_norm_rms_epsilon, or layer_norm_epsilon
    bool causal = true;
    Pooling pooling = Pooling::kNone;

    // Rotary embedding of the global layers.
    RopeScaling rope_scaling = RopeScaling::kNone;
    float rope_freq_base = 10000.0f;
    float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor for linear and YaRN scaling
    float rope_attn_factor = 1.0f;
    float yarn_ext_factor = 0.0f;
    float yarn_beta_fast = 32.0f;
    float yarn_beta_slow = 1.0f;
    int64_t n_ctx_orig = 0;  // rope.scaling.original_context_length, default n_ctx_train
    // Rotary embedding of the sliding-window layers.
    float rope_freq_base_swa = 10000.0f;
    float rope_freq_scale_swa = 1.0f;

    int64_t sliding_window = 0;              // 0: no layer uses a window
    std::vector<uint8_t> layer_uses_window;  // [n_layer]
    float attn_softcap = 0.0f;               // 0: none
    float final_softcap = 0.0f;              // 0: none
    float attention_scale = 0.0f;            // multiplies q.k
    float embedding_scale = 1.0f;            // multiplies token embeddings

    int64_t n_q() const { return n_head * head_dim_k; }     // query width
    int64_t n_k() const { return n_head_kv * head_dim_k; }  // key width of one position
    int64_t n_v() const { return n_head_kv * head_dim_v; }  // value width of one position
};

// Reads and validates the hyperparameters. n_vocab comes from token_embd (and must agree with
// the tokenizer's list when the file has one).
Expected<HParams> read_hparams(const gguf::File& file, const ArchSpec& arch);

}  // namespace cria::model
