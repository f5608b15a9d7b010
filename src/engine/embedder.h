// Embedding requests on one Engine, batched: a worker thread packs the waiting inputs of every
// caller, oldest first, into forward passes of up to Engine::max_batch() tokens, so that many
// inputs of one request and the inputs of concurrent requests share the reads of the weights.
// Callers block in embed() on their own threads and may give up at any time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace cria::engine {

class Embedder {
  public:
    // `engine` must outlive the embedder.
    explicit Embedder(Engine& engine);
    ~Embedder();
    Embedder(const Embedder&) = delete;
    Embedder& operator=(const Embedder&) = delete;

    // The pooled embeddings of the inputs (each 1 to max_input_tokens() ids), not normalized:
    // [inputs.size()][width()]. Errors: kInvalidArgument (an input is empty or too long),
    // kCancelled (`cancelled` turned true), kUnavailable (the embedder is stopping), or the
    // engine's error.
    Expected<std::vector<std::vector<float>>> embed(std::vector<std::vector<int32_t>> inputs,
                                                    const std::function<bool()>& cancelled);

    int64_t max_input_tokens() const { return engine_.max_embedding_tokens(); }
    int64_t width() const { return engine_.embedding_width(); }

    // Forward passes run so far and inputs they held (tests and metrics read them).
    struct Counters {
        int64_t passes = 0;
        int64_t inputs = 0;
    };
    Counters counters() const;

    struct State;  // opaque outside embedder.cpp

  private:
    Engine& engine_;
    std::shared_ptr<State> state_;
    std::thread worker_;
};

// Scales v to unit Euclidean length (the sum of squares taken in double); a zero vector stays.
void l2_normalize(std::vector<float>& v);

}  // namespace cria::engine
