// The one generic decoder: runs a batch of tokens through any supported architecture, appending
// their keys and values to their sequences' caches, and produces logits. A batch may hold
// several sequences: every weight matrix then multiplies all their rows at once (one read of the
// weights serves them all) while attention runs per sequence on its own cache. It owns reusable
// scratch buffers sized for its maximum batch, so decoding allocates nothing per token; one
// Decoder serves one forward pass at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/cpu_features.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace cria::model {

// Where one sequence's keys and values live (the storage belongs to the kv module). Position p
// of layer il is row p of layers[il].k / .v; rows hold every key/value head of a position.
struct KvLayerStorage {
    uint8_t* k = nullptr;  // [capacity][k_row_bytes]
    uint8_t* v = nullptr;  // [capacity][v_row_bytes]
};
struct KvCacheView {
    gguf::TensorType type = gguf::TensorType::kF16;  // kF32, kF16 or kQ8_0
    int64_t capacity = 0;                            // positions each layer can hold
    size_t k_row_bytes = 0;                          // row_bytes(type, n_head_kv*head_dim_k)
    size_t v_row_bytes = 0;                          // row_bytes(type, n_head_kv*head_dim_v)
    const KvLayerStorage* layers = nullptr;          // [n_layer]
};

enum class LogitsMode {
    kAll,   // logits for every token: [n_tokens][n_vocab]
    kLast,  // the last token's only: [n_vocab]
    kNone,  // only fill the cache
    // The pooled embedding of the whole input, [Model::embedding_width()] floats, not
    // normalized: the segment must hold the entire input from position 0 (an encoder's
    // tokens attend to each other in both directions, so they are decoded together).
    kEmbedding,
};

// One sequence's part of a batched forward pass.
struct BatchSegment {
    std::span<const int32_t> tokens;
    int64_t pos0 = 0;  // position of tokens[0]; the cache holds positions [0, pos0)
    const KvCacheView* kv = nullptr;
    LogitsMode mode = LogitsMode::kNone;
    float* logits = nullptr;  // kAll: [n_tokens][n_vocab], kLast: [n_vocab], kEmbedding: [width]
};

struct DecoderOptions {
    // Tokens per internal forward pass; lowered so that the scratch buffers stay within
    // kMaxScratchBytes even for models with very wide layers.
    int64_t max_batch = 512;
    int64_t context_length = 0;  // the longest context it will serve (picks LongRoPE factors)
};

class Decoder {
  public:
    static constexpr size_t kMaxScratchBytes = size_t{1} << 30;

    Decoder(const Model& model, ThreadPool& pool, DecoderOptions options = {});

    // Runs `tokens` at positions pos0, pos0 + 1, ... (the cache must hold positions [0, pos0)
    // of the same sequence) and writes their keys/values to the cache. `logits` receives
    // n_tokens * n_vocab floats for kAll, n_vocab for kLast, nothing for kNone.
    Status forward(std::span<const int32_t> tokens, int64_t pos0, const KvCacheView& kv,
                   LogitsMode mode, float* logits);

    // Runs several sequences' tokens in one pass. The segments must name distinct caches and
    // hold at most max_batch() tokens in all; each gets the logits it would get alone.
    Status forward(std::span<const BatchSegment> segments);

    int64_t max_batch() const { return max_batch_; }

    const Model& model() const { return model_; }

  private:
    struct RopeTable {
        kernels::RopeConfig config;
        std::vector<float> cos_sin;  // [max_batch][n_rot]
    };

    Status check_segment(const BatchSegment& segment) const;
    // Runs validated segments holding at most max_batch_ tokens in all.
    void forward_batch(std::span<const BatchSegment> segments);
    void attention_block(const LayerWeights& layer, int64_t il,
                         std::span<const BatchSegment> segments, int64_t n);
    void ffn_block(const LayerWeights& layer, int64_t n);
    // Writes the keys/values of batch rows [row0, row0 + n) to positions pos0... of `kv`.
    void store_kv(const KvCacheView& kv, int64_t il, int64_t row0, int64_t n, int64_t pos0);
    void compute_logits(std::span<const BatchSegment> segments);
    void compute_embeddings(std::span<const BatchSegment> segments);
    // Normalizes rows of n_embd with the model's norm kind (bias only for LayerNorm).
    void normalize(const float* x, const float* weight, const float* bias, float* y,
                   int64_t n_rows);
    void matmul(const kernels::Matrix& w, const float* x, int64_t n, float* y);
    void add_bias(float* y, const float* bias, int64_t n_rows, int64_t width);
    // Calls fn(row) for each row in [0, n_rows), on the pool when there are several rows.
    template <typename Fn>
    void for_rows(int64_t n_rows, Fn&& fn);

    const Model& model_;
    const HParams& hp_;
    ThreadPool& pool_;
    const Isa isa_;
    const int64_t max_batch_;

    RopeTable rope_global_;
    RopeTable rope_window_;
    kernels::AttentionScratch attention_scratch_;

    // Scratch, reused by every call. Widths per token row:
    std::vector<int32_t> batch_tokens_;     // [max_batch] token ids of the batch rows
    std::vector<int64_t> batch_positions_;  // [max_batch] positions of the batch rows
    std::vector<float> x_;                  // [max_batch][n_embd] the residual stream
    std::vector<float> normed_;             // [max_batch][n_embd] normalized input of a block
    std::vector<float> qkv_;                // [max_batch][n_q + n_k + n_v] fused projection output
    std::vector<float> q_;                  // [max_batch][n_q]
    std::vector<float> k_;                  // [max_batch][n_k]
    std::vector<float> v_;                  // [max_batch][n_v]
    std::vector<float> attn_;               // [max_batch][n_head*head_dim_v]
    std::vector<float> proj_;  // [max_batch][n_embd] block output before the residual add
    std::vector<float> gate_;  // [max_batch][n_ff] (fused: [max_batch][2*n_ff] = gate | up)
    std::vector<float> up_;    // [max_batch][n_ff]
    // Logits of the kLast rows when several segments want them: [rows][n_vocab], grown on use.
    std::vector<float> last_logits_;
    // Pooled embeddings of the kEmbedding segments, [segments][n_embd], then through each
    // projection [segments][its n_out] (the two buffers swap per projection); grown on use.
    std::vector<float> pooled_;
    std::vector<float> projected_;
};

}  // namespace cria::model
