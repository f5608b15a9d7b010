// The generation service: one served model (weights, tokenizer, chat template) and the loop that
// turns a prompt into choices. It speaks tokens and text only; the HTTP routes sit above it and
// the engine, tokenizer, chat template and sampler below it.
//
// One request generates at a time per model (acquire() hands out the model as a Lease). The
// per-token loop lives in generate() and keeps its state in a ChoiceState-like set of locals so
// that a batching scheduler can later drive several sequences without changing the API above.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/api.h"

namespace cria::server {

struct ServeOptions {
    int64_t context_length = 4096;  // capped by the model's own training context
    int threads = 0;                // 0: one per core
};

// Receives a choice's text as it is produced, in whole UTF-8 characters, with the logprobs of
// the tokens behind it (empty unless requested). Returning false stops the generation.
using PieceCallback =
    std::function<bool(const std::string& text, std::vector<TokenLogprob>&& logprobs)>;
// Polled between tokens; true stops the generation (the client went away).
using CancelCheck = std::function<bool()>;

struct ChoiceOutcome {
    std::string text;
    std::string finish_reason;  // "stop" or "length"
    int64_t completion_tokens = 0;
    std::vector<TokenLogprob> logprobs;  // filled when the request asked for logprobs
    bool cancelled = false;
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
    int32_t n_vocab() const;
    // Identifies the weights and runtime, for `system_fingerprint`.
    const std::string& fingerprint() const;

    // The chat rendered by the model's template (with the request's tools) and tokenized.
    ApiResult<std::vector<int32_t>> chat_prompt(const ChatCompletionRequest& request) const;
    // A legacy prompt: text tokenized as the model's tokenizer does, or ids checked.
    ApiResult<std::vector<int32_t>> completion_prompt(const PromptInput& prompt) const;
    std::string detokenize(const std::vector<int32_t>& tokens) const;
    // The chat template's source; empty when the model has none.
    const std::string& chat_template_source() const;

    // Exclusive use of the model for one request's choices.
    class Lease {
      public:
        explicit Lease(std::unique_lock<std::timed_mutex> lock) : lock_(std::move(lock)) {}

      private:
        std::unique_lock<std::timed_mutex> lock_;
    };
    // Waits until no other request generates; nullopt when `cancelled` turns true first.
    std::optional<Lease> acquire(const CancelCheck& cancelled);

    // Generates one choice for `prompt` (which must leave room in the context). `choice_index`
    // varies the seed so that the choices of one seeded request differ but repeat.
    Expected<ChoiceOutcome> generate(Lease& lease, const std::vector<int32_t>& prompt,
                                     const GenerationRequest& request, int choice_index,
                                     const PieceCallback& on_piece, const CancelCheck& cancelled);

  private:
    struct Impl;
    explicit ServedModel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    std::timed_mutex generation_mutex_;
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
