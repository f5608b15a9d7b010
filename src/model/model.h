// A loaded model: its GGUF file (memory-mapped), hyperparameters, and a view of every weight,
// validated against the shapes its architecture expects. The matrices that every token streams
// through are copied at load into one buffer of huge pages (core/large_buffer.h) in the order a
// forward pass reads them, those whose type the matmul kernels read faster in the row-group
// layout (kernels/row_groups.h) repacked on the way; norms, biases and the embedding table are
// used in place. Immutable after loading, so any number of sequences and threads may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/large_buffer.h"
#include "core/status.h"
#include "gguf/reader.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/hparams.h"

namespace cria::model {

// A Matrix maps n_in inputs to n_out outputs: GGUF dims [n_in, n_out], stored as n_out rows.
struct LayerWeights {
    // Pre-norm: before attention. Post-norm (NormPlacement::kPost): after the attention
    // residual (BERT's attn_output_norm).
    const float* attn_norm = nullptr;       // [n_embd]
    const float* attn_norm_bias = nullptr;  // [n_embd] LayerNorm bias, or null

    kernels::Matrix wq;             // [n_embd -> n_head*head_dim_k]
    kernels::Matrix wk;             // [n_embd -> n_head_kv*head_dim_k]
    kernels::Matrix wv;             // [n_embd -> n_head_kv*head_dim_v]
    kernels::Matrix wqkv;           // fused [n_embd -> n_q + n_k + n_v] (then wq/wk/wv empty)
    const float* bq = nullptr;      // [n_head*head_dim_k] or null
    const float* bk = nullptr;      // [n_head_kv*head_dim_k] or null
    const float* bv = nullptr;      // [n_head_kv*head_dim_v] or null
    const float* q_norm = nullptr;  // [head_dim_k] or null
    const float* k_norm = nullptr;  // [head_dim_k] or null
    kernels::Matrix wo;             // [n_head*head_dim_v -> n_embd]
    const float* bo = nullptr;      // [n_embd] or null
    const float* post_attn_norm = nullptr;  // [n_embd] or null

    // Pre-norm: before the FFN. Post-norm: after the FFN residual (BERT's layer_output_norm).
    const float* ffn_norm = nullptr;       // [n_embd]
    const float* ffn_norm_bias = nullptr;  // [n_embd] LayerNorm bias, or null

    kernels::Matrix w_gate;         // [n_embd -> n_ff] (empty when fused into w_up or a plain FFN)
    kernels::Matrix w_up;           // [n_embd -> n_ff], or fused [n_embd -> 2*n_ff] = gate | up
    const float* b_up = nullptr;    // [n_ff] or null
    kernels::Matrix w_down;         // [n_ff -> n_embd]
    const float* b_down = nullptr;  // [n_embd] or null
    const float* post_ffn_norm = nullptr;  // [n_embd] or null
};

class Model {
  public:
    // Opens, parses, and validates a GGUF model. Every failure names what is wrong: an
    // unsupported architecture or tensor type, a missing, unexpected, or misshapen tensor.
    static Expected<std::unique_ptr<Model>> load(const std::string& path);
    // The same from an already parsed file (tests build files in memory).
    static Expected<std::unique_ptr<Model>> from_file(std::unique_ptr<gguf::File> file);

    const gguf::File& file() const { return *file_; }
    const ArchSpec& arch() const { return *arch_; }
    const HParams& hparams() const { return hparams_; }

    // The embedding table, always in the GGUF layout (rows are looked up one at a time).
    const kernels::Matrix& token_embd() const { return token_embd_; }  // [n_embd -> n_vocab] rows
    // Empty (data null) for an encoder, which has no language-model head.
    const kernels::Matrix& output() const { return output_; }  // [n_embd -> n_vocab]
    bool has_lm_head() const { return output_.data != nullptr; }
    bool output_is_tied() const { return output_tied_; }
    const float* output_norm() const { return output_norm_; }  // [n_embd] or null (encoders)
    // Learned positions and token types (BERT), rows looked up like token_embd; empty if absent.
    const kernels::Matrix& position_embd() const { return position_embd_; }  // [n_embd -> n_ctx]
    const kernels::Matrix& token_types() const { return token_types_; }      // [n_embd -> n_types]
    // LayerNorm of the input sum (BERT): [n_embd] each, or null.
    const float* embedding_norm() const { return embedding_norm_; }
    const float* embedding_norm_bias() const { return embedding_norm_bias_; }
    // Projections applied to a pooled embedding, in order (EmbeddingGemma's dense_2, dense_3);
    // empty when absent.
    const std::vector<kernels::Matrix>& pooled_projections() const { return pooled_projections_; }
    // Floats of one pooled embedding: n_embd, or the last projection's output width.
    int64_t embedding_width() const;
    const std::vector<LayerWeights>& layers() const { return layers_; }
    const float* rope_freqs() const { return rope_freqs_; }                  // [n_rot/2] or null
    const float* rope_factors_short() const { return rope_factors_short_; }  // [n_rot/2] or null
    const float* rope_factors_long() const { return rope_factors_long_; }    // [n_rot/2] or null

    // Bytes of all tensor data, and of the weights read to decode one token (all but the
    // embedding table, which is read one row at a time unless it is also the output).
    uint64_t tensor_bytes() const { return tensor_bytes_; }
    uint64_t bytes_per_token() const;

  private:
    Model() = default;
    Status bind_weights();
    // Moves the matrices into weights_, repacking those that matmul reads faster in the
    // row-group layout on `isa`.
    Status take_weights(Isa isa);

    std::unique_ptr<gguf::File> file_;
    const ArchSpec* arch_ = nullptr;
    HParams hparams_;
    kernels::Matrix token_embd_;
    kernels::Matrix output_;
    bool output_tied_ = false;
    const float* output_norm_ = nullptr;
    kernels::Matrix position_embd_;
    kernels::Matrix token_types_;
    const float* embedding_norm_ = nullptr;
    const float* embedding_norm_bias_ = nullptr;
    std::vector<kernels::Matrix> pooled_projections_;
    std::vector<LayerWeights> layers_;
    const float* rope_freqs_ = nullptr;
    const float* rope_factors_short_ = nullptr;
    const float* rope_factors_long_ = nullptr;
    uint64_t tensor_bytes_ = 0;
    LargeBuffer weights_;  // the matrices, in forward-pass order
};

}  // namespace cria::model
