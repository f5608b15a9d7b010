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
    const float* attn_norm = nullptr;  // [n_embd]
    kernels::Matrix wq;                // [n_embd -> n_head*head_dim_k]
    kernels::Matrix wk;                // [n_embd -> n_head_kv*head_dim_k]
    kernels::Matrix wv;                // [n_embd -> n_head_kv*head_dim_v]
    kernels::Matrix wqkv;              // fused [n_embd -> n_q + n_k + n_v] (then wq/wk/wv empty)
    const float* bq = nullptr;         // [n_head*head_dim_k] or null
    const float* bk = nullptr;         // [n_head_kv*head_dim_k] or null
    const float* bv = nullptr;         // [n_head_kv*head_dim_v] or null
    const float* q_norm = nullptr;     // [head_dim_k] or null
    const float* k_norm = nullptr;     // [head_dim_k] or null
    kernels::Matrix wo;                // [n_head*head_dim_v -> n_embd]
    const float* bo = nullptr;         // [n_embd] or null
    const float* post_attn_norm = nullptr;  // [n_embd] or null

    const float* ffn_norm = nullptr;  // [n_embd]
    kernels::Matrix w_gate;           // [n_embd -> n_ff] (empty when fused into w_up)
    kernels::Matrix w_up;             // [n_embd -> n_ff], or fused [n_embd -> 2*n_ff] = gate | up
    kernels::Matrix w_down;           // [n_ff -> n_embd]
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
    const kernels::Matrix& output() const { return output_; }          // [n_embd -> n_vocab]
    bool output_is_tied() const { return output_tied_; }
    const float* output_norm() const { return output_norm_; }  // [n_embd]
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
    std::vector<LayerWeights> layers_;
    const float* rope_freqs_ = nullptr;
    const float* rope_factors_short_ = nullptr;
    const float* rope_factors_long_ = nullptr;
    uint64_t tensor_bytes_ = 0;
    LargeBuffer weights_;  // the matrices, in forward-pass order
};

}  // namespace cria::model
