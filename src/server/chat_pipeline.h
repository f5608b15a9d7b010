// The chat pipeline every chat API shares. A front end (OpenAI chat completions, Ollama's
// /api/chat and /api/generate, the Responses API) converts its request into an OpenAI-shaped
// ChatCompletionRequest; the pipeline applies the model's recipe, plans the output (grammar,
// tool calls, reasoning), renders and tokenizes the prompt and checks it against the context
// (prepare_chat), queues it on the model (start_chat) and runs it (run_chat), handing shaped
// events to the front end's ChatSink, which writes them in its API's own format.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/api.h"
#include "server/generation.h"
#include "server/model_manager.h"
#include "server/structured_output.h"

namespace cria::server {

// Which of the Modelfile's conversation settings a front end takes.
enum class RecipeMessages {
    kSystemAndHistory,  // SYSTEM when the conversation has no system message, and MESSAGE
    kSystemOnly,        // /api/generate: SYSTEM only
    kNone,              // /api/generate with a system of its own
};

struct ChatInput {
    ChatCompletionRequest chat;  // parsed and validated; generation settings final
    RecipeMessages recipe = RecipeMessages::kSystemAndHistory;
    // A 400 when the model's template cannot reason (Ollama's think: true).
    bool require_reasoning = false;
    // The prompt as is: no template, no reasoning or tool-call parsing (`format` still applies).
    std::optional<std::string> raw_prompt;
    // Ids placed before the prompt (Ollama's `context`), checked against the vocabulary.
    std::vector<int32_t> prefix_tokens;
    // The request field a too-long prompt is blamed on.
    std::string prompt_param = "messages";
    // Ollama's handling of a prompt longer than the context: the oldest messages that are not
    // system messages are left out (the newest one always stays), and the oldest `prefix_tokens`
    // go before any message; only a prompt that still does not fit is an error.
    bool trim_to_context = false;
};

struct PreparedChat {
    ModelLease lease;            // keeps the model loaded until the last event is written
    ChatCompletionRequest chat;  // the conversation with the recipe applied
    OutputPlan plan;
    std::vector<int32_t> prompt;
    // What trim_to_context left out.
    int dropped_messages = 0;
    size_t dropped_prefix_tokens = 0;
    GenerationRequest generation;                // the request's, with the plan's grammar
    std::unique_ptr<PendingGeneration> pending;  // set by start_chat()

    ServedModel& model() { return lease.model(); }
};

// Errors are 400s naming the field (code "context_length_exceeded" for a prompt that leaves no
// room to generate).
ApiResult<std::unique_ptr<PreparedChat>> prepare_chat(ModelLease lease, ChatInput input);

// Queues the choices before any byte of the response is written, so that a full queue is
// answered with an error of the front end's own shape. Errors: kResourceExhausted and
// kUnavailable (retry later), kInvalidArgument.
Status start_chat(PreparedChat& chat);

// A finished choice as the pipeline shapes it.
struct ChatChoice {
    // The engine's result; finish_reason is "tool_calls" when the answer ended with calls.
    ChoiceResult result;
    // The OpenAI message fields: content (null when there are calls and no text),
    // reasoning_content when any, tool_calls (arguments as JSON text) when any.
    nlohmann::ordered_json message = nlohmann::ordered_json::object();
    // When the first generated text arrived (prompt processing ends there).
    std::optional<std::chrono::steady_clock::time_point> first_piece_at;
};

// Hears the choices of one run, on the thread blocked in run_chat(). Returning false cancels
// the run (the client went away).
class ChatSink {
  public:
    virtual ~ChatSink() = default;
    // Before generation starts, for every choice in index order.
    virtual bool on_start(int /*index*/) { return true; }
    // One shaped delta of a choice, as OpenAI streams them: {"content"}, {"reasoning_content"},
    // or {"tool_calls": [{"index", "id", "type", "function": {"name", "arguments"}}]} (a call
    // is announced with empty arguments, then its arguments follow). `logprobs` is set on the
    // first delta of a piece when the request asked for them.
    virtual bool on_delta(int /*index*/, nlohmann::ordered_json&& /*delta*/,
                          std::vector<TokenLogprob>* /*logprobs*/) {
        return true;
    }
    virtual bool on_finish(ChatChoice&& choice) = 0;
};

// Keeps every finished choice, by index: for answers written whole.
class ChoiceCollector : public ChatSink {
  public:
    explicit ChoiceCollector(int n) : choices(static_cast<size_t>(n)) {}
    bool on_finish(ChatChoice&& choice) override {
        choices.at(static_cast<size_t>(choice.result.index)) = std::move(choice);
        return true;
    }
    std::vector<ChatChoice> choices;
};

// Generates every choice (chat.generation.n of them) of a started chat. kCancelled when the
// sink or `cancelled` stopped it; otherwise the engine's error, if any.
Status run_chat(PreparedChat& chat, ChatSink& sink, const CancelCheck& cancelled);

}  // namespace cria::server
