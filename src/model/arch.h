// Architectures as data. One generic decoder runs every supported architecture; what differs
// between them (which tensors exist, rope style, activation, norms, sliding windows, ...) is
// described by an ArchSpec, one small file per architecture (arch_<name>.cpp), looked up by the
// GGUF key general.architecture.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kernels/ops.h"

namespace cria::model {

struct HParams;

enum class Activation { kSilu, kGeluTanh };

// How a block normalizes: RMS norm (weight only) or LayerNorm (mean removed, weight and bias).
enum class NormKind { kRms, kLayer };
// Where a block's norms sit. Pre-norm (decoders): x += sublayer(norm(x)). Post-norm (BERT):
// x = norm(x + sublayer(x)), with attn_norm after attention and ffn_norm after the FFN.
enum class NormPlacement { kPre, kPost };
// The feed-forward network: gated, down(act(gate(x)) * up(x)), or plain, down(act(up(x))).
enum class FfnKind { kGated, kPlain };
// How an embedding is taken from the final hidden states of an input (the GGUF key
// <arch>.pooling_type: 0 none, 1 mean, 2 CLS, 3 last).
enum class Pooling { kNone = 0, kMean = 1, kCls = 2, kLast = 3 };

struct ArchSpec {
    std::string_view name;
    kernels::RopeStyle rope_style = kernels::RopeStyle::kNormal;
    Activation activation = Activation::kSilu;
    NormKind norm = NormKind::kRms;
    NormPlacement norm_placement = NormPlacement::kPre;
    FfnKind ffn = FfnKind::kGated;
    bool rope = true;  // false: positions come from a learned table instead (BERT)
    // Attention masks later positions; <arch>.attention.causal overrides it.
    bool causal = true;
    // Pooling when <arch>.pooling_type is absent. kNone marks a generation model, which may
    // still be asked for embeddings: it then pools its last token, as Ollama does.
    Pooling default_pooling = Pooling::kNone;

    // Tensors.
    bool fused_qkv = false;           // attn_qkv [n_embd -> q | k | v] instead of attn_q/k/v
    bool fused_gate_up = false;       // ffn_up [n_embd -> gate | up], no ffn_gate
    bool qkv_bias = false;            // attn_q/k/v.bias are required
    bool optional_biases = false;     // attn_q/k/v/output.bias may be present
    bool qk_norm = false;             // attn_q_norm / attn_k_norm [head_dim], RMS per head
    bool post_norms = false;          // post_attention_norm and post_ffw_norm [n_embd]
    bool rope_freqs = false;          // optional rope_freqs.weight [n_rot/2] (Llama 3.1 scaling)
    bool longrope_factors = false;    // optional rope_factors_short/long.weight [n_rot/2]
    bool output_always_tied = false;  // the output projection is always token_embd
    bool output_norm = true;          // output_norm [n_embd] after the last block
    bool lm_head = true;              // false: an encoder, which computes embeddings only
    bool sublayer_biases = false;     // attn_output.bias, ffn_up.bias, ffn_down.bias required
    bool position_table = false;      // position_embd [n_embd, n_ctx_train]: learned positions
    bool token_types = false;         // token_types [n_embd, n_types]: type 0 added to inputs
    bool embedding_norm = false;      // token_embd_norm weight and bias after the input sum
    bool dense_projections = false;   // optional dense_2, dense_3 after pooling (Sentence-BERT)

    // Computation.
    bool scale_embeddings = false;      // token embeddings times sqrt(n_embd)
    bool rope_dims_equal_head = false;  // rope.dimension_count must equal the head size

    // Sliding-window attention: with swa_pattern n > 0, layer il uses the window when
    // il % n < n - 1 (so every n-th layer is global). The window comes from
    // <arch>.attention.sliding_window, or default_sliding_window when absent (0: required).
    int swa_pattern = 0;
    int64_t default_sliding_window = 0;
    // Rope base of the windowed layers when <arch>.rope.freq_base_swa is absent (0: the same as
    // the global layers); windowed layers then also ignore linear rope scaling.
    float swa_rope_base = 0.0f;

    // Soft-capping defaults when <arch>.attn_logit_softcapping / final_logit_softcapping are
    // absent (0: none).
    float default_attn_softcap = 0.0f;
    float default_final_softcap = 0.0f;

    // Architecture quirks applied after the generic keys are read (may be null).
    void (*finish_hparams)(HParams& hparams) = nullptr;
};

// nullptr when the architecture is not supported.
const ArchSpec* find_arch(std::string_view name);
std::vector<std::string_view> supported_arch_names();

}  // namespace cria::model
