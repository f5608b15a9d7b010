// The generation service: one served model (weights, tokenizer, chat template) and the loop that
// turns a prompt into choices. It speaks tokens and text only; the HTTP routes sit above it and
// the engine, tokenizer, chat template and sampler below it.
//
// Requests run concurrently: each choice gets a sequence of its own, and the model's scheduler
// thread decodes every running sequence in one batched forward pass per step.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/api.h"

namespace cria::engine {
struct RequestReport;
class Submission;
}  // namespace cria::engine

namespace cria::grammar {
class GrammarCache;
}

namespace cria::server {

struct ServeOptions {
    int64_t context_length = 4096;  // per sequence; capped by the model's own training context
    int threads = 0;                // 0: one per core
    // A Jinja chat template that replaces the model file's own (a Modelfile's TEMPLATE).
    std::optional<std::string> chat_template;
    // Sequences decoded together (CRIA_NUM_PARALLEL); 0: sized to the machine's memory.
    int num_parallel = 0;
    // Requests allowed to wait for a free sequence (CRIA_MAX_QUEUE); more get kResourceExhausted.
    int max_queue = 512;
    // Hears each request's figures (tokens, cache reuse, time to first token) when it ends, on
    // the model's scheduler thread: it must be quick and must not call back into the model.
    std::function<void(const engine::RequestReport&)> on_request_done;
};

// Polled while a request waits or generates; true stops it (the client went away).
using CancelCheck = std::function<bool()>;

// One choice to generate: which of the request's prompts it continues, and its index in the
// response (choices of one seeded request get seed + index, so they differ but repeat).
struct ChoiceSpec {
    size_t prompt = 0;
    int index = 0;
};

// What a caller hears while its choices are generated. Events arrive on the caller's own thread
// (the one blocked in wait()), in order for each choice; choices interleave. A callback that
// returns false cancels the whole request.
using GenerationEvents = engine::RequestEvents;

// A request queued on a model by ServedModel::start(). Destroying it before wait() has returned
// cancels the request.
class PendingGeneration {
  public:
    ~PendingGeneration();
    PendingGeneration(const PendingGeneration&) = delete;
    PendingGeneration& operator=(const PendingGeneration&) = delete;

    // Delivers the events on this thread until every choice is finished. Errors: kCancelled
    // (`cancelled` turned true or a callback returned false), or the engine's error.
    Status wait(const GenerationEvents& events, const CancelCheck& cancelled);

  private:
    friend class ServedModel;
    explicit PendingGeneration(std::unique_ptr<engine::Submission> submission);
    std::unique_ptr<engine::Submission> submission_;
};

class ServedModel {
  public:
    static Expected<std::unique_ptr<ServedModel>> load(const std::string& name,
                                                       const std::string& path,
                                                       const ServeOptions& options);
    ~ServedModel();

    const std::string& name() const;
    int64_t created() const;
    int64_t context_length() const;
    // Sequences decoded together, and the requests running and waiting now.
    int num_parallel() const;
    int running_choices() const;
    int queued_requests() const;
    int32_t n_vocab() const;
    // Identifies the weights and runtime, for `system_fingerprint`.
    const std::string& fingerprint() const;

    // The chat rendered by the model's template (with the request's tools) and tokenized.
    ApiResult<std::vector<int32_t>> chat_prompt(const ChatCompletionRequest& request) const;
    // A legacy prompt: text tokenized as the model's tokenizer does, or ids checked.
    ApiResult<std::vector<int32_t>> completion_prompt(const PromptInput& prompt) const;
    std::string detokenize(const std::vector<int32_t>& tokens) const;
    // The length of a text in the model's tokens (no special tokens added).
    int64_t count_tokens(std::string_view text) const;
    // The chat template's source; empty when the model has none.
    const std::string& chat_template_source() const;
    // Grammars compiled for this model's requests, by schema and tools (thread-safe).
    grammar::GrammarCache& grammar_cache() const;

    // Embeddings. An embedding model (an encoder, or a file that names a pooling type) serves
    // only these; a generation model may embed too (its last token's final hidden state).
    bool is_embedding_model() const;
    int64_t embedding_width() const;
    // The longest input embed() takes.
    int64_t max_embedding_tokens() const;
    // A text as the model's embedding input: tokenized with its special tokens ([CLS] ...
    // [SEP], BOS) added, special-token text kept as text.
    std::vector<int32_t> embedding_tokens(const std::string& text) const;
    // Pooled embeddings of the inputs (1 to max_embedding_tokens() ids each), not normalized.
    // Inputs of concurrent requests share forward passes. Errors: kInvalidArgument,
    // kCancelled, kUnavailable (the model is unloading).
    Expected<std::vector<std::vector<float>>> embed(std::vector<std::vector<int32_t>> inputs,
                                                    const CancelCheck& cancelled);

    // Generates every choice of a request and returns when all are done (or the request
    // ends early). Thread-safe: concurrent requests decode together in the model's batches.
    // Errors: kCancelled when `cancelled` turned true or a callback returned false;
    // kResourceExhausted when the wait queue is full (retry later); kInvalidArgument when a
    // prompt does not leave room for one generated token.
    Status generate(const std::vector<std::vector<int32_t>>& prompts,
                    const std::vector<ChoiceSpec>& choices, const GenerationRequest& request,
                    const GenerationEvents& events, const CancelCheck& cancelled);

    // The first half of generate(): queues the request and returns at once, so that a route
    // can answer a full queue (kResourceExhausted) with an error before its response starts.
    Expected<std::unique_ptr<PendingGeneration>> start(
        const std::vector<std::vector<int32_t>>& prompts, const std::vector<ChoiceSpec>& choices,
        const GenerationRequest& request);

    struct Impl;  // the model's state, opaque outside generation.cpp

  private:
    explicit ServedModel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The models a server offers, by the name requests use.
class ModelRegistry {
  public:
    Status add(std::unique_ptr<ServedModel> model);
    ServedModel* find(const std::string& name) const;
    std::vector<ModelCard> cards() const;
    bool empty() const { return models_.empty(); }

  private:
    std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace cria::server
