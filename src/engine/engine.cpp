#include "engine/engine.h"

#include <algorithm>

namespace cria::engine {

Expected<std::unique_ptr<Engine>> Engine::load(const std::string& path,
                                               const EngineOptions& options) {
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model, model::Model::load(path));
    return create(std::move(model), options);
}

Expected<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<model::Model> model,
                                                 const EngineOptions& options) {
    if (options.n_threads < 0 || options.n_threads > 1024) {
        return Status(invalid_argument("thread count must be in [0, 1024]"));
    }
    if (options.context_length < 0 || options.max_batch < 0) {
        return Status(invalid_argument("context length and batch size must not be negative"));
    }
    std::unique_ptr<Engine> engine(new Engine());
    const model::HParams& hp = model->hparams();
    engine->context_length_ = options.context_length > 0 ? options.context_length
                                                         : std::min<int64_t>(hp.n_ctx_train, 4096);
    const int threads =
        options.n_threads > 0 ? options.n_threads : ThreadPool::default_thread_count();
    engine->pool_ = std::make_unique<ThreadPool>(threads);
    model::DecoderOptions decoder_options;
    decoder_options.max_batch = options.max_batch > 0 ? options.max_batch : 512;
    if (!model->has_lm_head() || hp.pooling != model::Pooling::kNone) {
        decoder_options.max_batch = std::max(decoder_options.max_batch, engine->context_length_);
    }
    decoder_options.context_length = engine->context_length_;
    engine->model_ = std::move(model);
    engine->decoder_ =
        std::make_unique<model::Decoder>(*engine->model_, *engine->pool_, decoder_options);
    return engine;
}

Expected<std::unique_ptr<Sequence>> Engine::create_sequence(const SequenceOptions& options) {
    const int64_t n_ctx = options.n_ctx > 0 ? options.n_ctx : context_length_;
    if (n_ctx > context_length_) {
        return Status(invalid_argument("sequence context " + std::to_string(n_ctx) +
                                       " exceeds the engine's context length " +
                                       std::to_string(context_length_)));
    }
    kv::KvCacheOptions cache_options;
    cache_options.capacity = n_ctx;
    cache_options.type = options.kv_type;
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<kv::KvCache> cache,
                          kv::KvCache::create(model_->hparams(), cache_options));
    return std::unique_ptr<Sequence>(new Sequence(std::move(cache)));
}

Status Engine::decode(Sequence& sequence, std::span<const int32_t> tokens, LogitsMode mode,
                      std::vector<float>& logits) {
    const auto n_tokens = static_cast<int64_t>(tokens.size());
    const int64_t n_vocab = model_->hparams().n_vocab;
    switch (mode) {
        case LogitsMode::kAll:
            logits.resize(static_cast<size_t>(n_tokens * n_vocab));
            break;
        case LogitsMode::kLast:
            logits.resize(static_cast<size_t>(n_vocab));
            break;
        case LogitsMode::kNone:
            logits.clear();
            break;
        case LogitsMode::kEmbedding:
            return invalid_argument("embeddings are computed by embed()");
    }
    std::lock_guard<std::mutex> lock(forward_mutex_);
    kv::KvCache& cache = *sequence.cache_;
    CRIA_RETURN_IF_ERROR(
        decoder_->forward(tokens, cache.n_past(), cache.view(), mode, logits.data()));
    return cache.advance(n_tokens);
}

Status Engine::decode_batch(std::span<const SequenceStep> steps) {
    std::vector<model::BatchSegment> segments;
    segments.reserve(steps.size());
    for (const SequenceStep& step : steps) {
        if (step.sequence == nullptr) return invalid_argument("a batch step names no sequence");
        const kv::KvCache& cache = *step.sequence->cache_;
        if (step.mode == LogitsMode::kEmbedding) {
            return invalid_argument("embeddings are computed by embed()");
        }
        segments.push_back({step.tokens, cache.n_past(), &cache.view(), step.mode, step.logits});
    }
    std::lock_guard<std::mutex> lock(forward_mutex_);
    CRIA_RETURN_IF_ERROR(decoder_->forward(segments));
    for (const SequenceStep& step : steps) {
        CRIA_RETURN_IF_ERROR(
            step.sequence->cache_->advance(static_cast<int64_t>(step.tokens.size())));
    }
    return Status::ok();
}

Status Engine::embed(std::span<const std::span<const int32_t>> inputs,
                     std::span<float* const> outputs) {
    if (inputs.size() != outputs.size()) {
        return invalid_argument("embed() needs one output per input");
    }
    const int64_t limit = max_embedding_tokens();
    for (const std::span<const int32_t>& input : inputs) {
        const auto n = static_cast<int64_t>(input.size());
        if (n < 1 || n > limit) {
            return invalid_argument("an input to embed must hold 1 to " + std::to_string(limit) +
                                    " tokens, not " + std::to_string(n));
        }
    }
    std::lock_guard<std::mutex> lock(forward_mutex_);
    // Inputs are packed into passes of at most max_batch() tokens, in order. Each gets a cache
    // of its own length, in F32: an input is decoded once, so nothing is worth rounding.
    size_t next = 0;
    while (next < inputs.size()) {
        std::vector<std::unique_ptr<kv::KvCache>> caches;
        std::vector<model::BatchSegment> segments;
        int64_t tokens = 0;
        while (next < inputs.size() &&
               tokens + static_cast<int64_t>(inputs[next].size()) <= max_batch()) {
            kv::KvCacheOptions cache_options;
            cache_options.capacity = static_cast<int64_t>(inputs[next].size());
            cache_options.type = gguf::TensorType::kF32;
            CRIA_ASSIGN_OR_RETURN(std::unique_ptr<kv::KvCache> cache,
                                  kv::KvCache::create(model_->hparams(), cache_options));
            segments.push_back(
                {inputs[next], 0, &cache->view(), LogitsMode::kEmbedding, outputs[next]});
            caches.push_back(std::move(cache));
            tokens += static_cast<int64_t>(inputs[next].size());
            ++next;
        }
        CRIA_RETURN_IF_ERROR(decoder_->forward(segments));
    }
    return Status::ok();
}

}  // namespace cria::engine
