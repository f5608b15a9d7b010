// The inference engine's session API: load a model once, create sequences (each with its own
// key/value cache), and decode batches of tokens into logits. One Engine runs one forward pass
// at a time on its thread pool; a scheduler serving many sequences hands their next tokens to
// decode_batch() together, so that one read of the weights serves every sequence.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kv/kv_cache.h"
#include "model/decoder.h"
#include "model/model.h"

namespace cria::engine {

using model::LogitsMode;

struct EngineOptions {
    int n_threads = 0;           // 0: one per hardware thread
    int64_t context_length = 0;  // longest sequence served; 0: min(training context, 4096)
    // Tokens per internal forward pass. An embedding model (an encoder, or a file with a
    // pooling type) gets at least its context length: each input is decoded in one pass.
    int64_t max_batch = 512;
};

struct SequenceOptions {
    int64_t n_ctx = 0;                                  // positions; 0: the engine's context length
    gguf::TensorType kv_type = gguf::TensorType::kF16;  // kF16, kF32 or kQ8_0
};

// One conversation's state: the positions decoded so far and their keys/values.
class Sequence {
  public:
    int64_t n_past() const { return cache_->n_past(); }
    int64_t n_ctx() const { return cache_->capacity(); }
    const kv::KvCache& cache() const { return *cache_; }
    // Forgets everything, or everything from position n on.
    void reset() { cache_->clear(); }
    Status truncate(int64_t n) { return cache_->truncate(n); }
    // Takes positions [0, n) of another sequence of the same engine.
    Status copy_prefix(const Sequence& from, int64_t n) {
        return cache_->copy_prefix(*from.cache_, n);
    }

  private:
    friend class Engine;
    explicit Sequence(std::unique_ptr<kv::KvCache> cache) : cache_(std::move(cache)) {}
    std::unique_ptr<kv::KvCache> cache_;
};

// One sequence's tokens in a batched decode.
struct SequenceStep {
    Sequence* sequence = nullptr;
    std::span<const int32_t> tokens;
    LogitsMode mode = LogitsMode::kLast;
    float* logits = nullptr;  // kLast: [n_vocab]; kAll: [n_tokens][n_vocab]; kNone: unused
};

class Engine {
  public:
    static Expected<std::unique_ptr<Engine>> load(const std::string& path,
                                                  const EngineOptions& options = {});
    static Expected<std::unique_ptr<Engine>> create(std::unique_ptr<model::Model> model,
                                                    const EngineOptions& options = {});

    const model::Model& model() const { return *model_; }
    int n_threads() const { return pool_->size(); }
    int64_t context_length() const { return context_length_; }
    int64_t n_vocab() const { return model_->hparams().n_vocab; }

    Expected<std::unique_ptr<Sequence>> create_sequence(const SequenceOptions& options = {});

    // Appends `tokens` to the sequence and computes their logits: n_tokens * n_vocab floats for
    // kAll, n_vocab for kLast, none for kNone (logits is resized accordingly). On failure the
    // sequence is left as it was.
    Status decode(Sequence& sequence, std::span<const int32_t> tokens, LogitsMode mode,
                  std::vector<float>& logits);

    // Appends each step's tokens to its sequence in one forward pass. The sequences must be
    // distinct and the tokens at most max_batch() in all; each step's logits are those that
    // decode() would give it alone. On failure every sequence is left as it was.
    Status decode_batch(std::span<const SequenceStep> steps);
    int64_t max_batch() const { return decoder_->max_batch(); }

    // Pooled embeddings of whole inputs (not normalized), decoded together in as few forward
    // passes as max_batch() allows: outputs[i] receives embedding_width() floats. Each input
    // holds 1 to max_embedding_tokens() ids. Generation models pool their last token.
    Status embed(std::span<const std::span<const int32_t>> inputs, std::span<float* const> outputs);
    int64_t embedding_width() const { return model_->embedding_width(); }
    int64_t max_embedding_tokens() const { return std::min(context_length_, max_batch()); }
    // True for models made to embed (an encoder, or a file that names its pooling): they are
    // not for generation.
    bool is_embedding_model() const {
        return !model_->has_lm_head() || model_->hparams().pooling != model::Pooling::kNone;
    }

  private:
    Engine() = default;

    std::unique_ptr<model::Model> model_;
    std::unique_ptr<ThreadPool> pool_;
    std::unique_ptr<model::Decoder> decoder_;
    int64_t context_length_ = 0;
    // One forward pass at a time: the decoder's scratch serves every caller (the scheduler's
    // steps and embedding batches alike).
    std::mutex forward_mutex_;
};

}  // namespace cria::engine
