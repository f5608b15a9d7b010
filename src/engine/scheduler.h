// The continuous-batching scheduler: many requests, each with one or more choices, generate at
// once on one Engine. Every choice gets a sequence slot of its own; one scheduler thread runs a
// step loop in which every generating choice contributes its next token and waiting prompts
// contribute chunks, all in one batched forward pass (Engine::decode_batch). New requests join
// between steps and finished ones leave, so nobody waits for another request to end.
//
// Prompt caching: a slot keeps the tokens it holds after its choice ends; a new choice takes the
// free slot whose tokens share the longest prefix with its prompt and decodes only the rest.
// Choices of one request that share a prompt decode it once and copy it.
//
// Callers block in run() on their own thread, which receives their events (so a slow client
// never holds up the step loop) and polls their cancellation; a cancelled request's slots are
// free by the next step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/choice.h"
#include "engine/engine.h"
#include "sampling/sampling_params.h"
#include "sampling/token_constraint.h"

namespace cria::tokenizer {
class Tokenizer;
}

namespace cria::engine {

// One choice to generate.
struct ChoiceRequest {
    std::shared_ptr<const std::vector<int32_t>> prompt;  // shared by the choices of a prompt
    int index = 0;                                       // the choice's index in the response
    sampling::SamplingParams sampling;                   // the seed already varied per choice
    std::vector<std::string> stop;
    // Limits the tokens drawn when set (a grammar, for structured output): each choice gets
    // its own constraint from the factory.
    std::shared_ptr<const sampling::TokenConstraintFactory> constraint;
    std::optional<int64_t> max_tokens;  // absent: until the context is full
};

// Figures of one request once it is over, for metrics.
struct RequestReport {
    int64_t prompt_tokens = 0;         // per choice, as decoded or reused
    int64_t cached_prompt_tokens = 0;  // of those, reused from a slot's cache
    int64_t generated_tokens = 0;
    double queue_seconds = 0.0;                 // from submission to the first slot
    double time_to_first_token_seconds = -1.0;  // from submission; negative when none came
    double generation_seconds = 0.0;            // from the first token to the last
    bool cancelled = false;
};

struct SchedulerOptions {
    int num_parallel = 4;  // sequence slots: choices generating at once
    int max_queue = 512;   // requests waiting for a slot; more are refused at once
    // Prompt chunks are sized so that one step takes about this long, which bounds both the
    // stall that running streams see and how long a cancelled request holds its slot.
    double target_step_seconds = 0.25;
    gguf::TensorType kv_type = gguf::TensorType::kF16;
    std::function<void(const RequestReport&)> on_request_done;  // on the scheduler thread
};

struct SchedulerLoad {
    int running = 0;          // choices holding a slot
    int queued_requests = 0;  // requests with a choice still waiting for a slot
    int num_parallel = 0;
};

class Scheduler;

// A request handed to the scheduler: it is queued (and may already be generating) until wait()
// has heard its end. Destroying it before then cancels it.
class Submission {
  public:
    ~Submission();
    Submission(const Submission&) = delete;
    Submission& operator=(const Submission&) = delete;

    // Delivers the request's events on this thread until every choice is finished. Errors:
    // kCancelled (`cancelled` turned true or a callback returned false), or the engine's error.
    Status wait(const RequestEvents& events, const std::function<bool()>& cancelled);

    struct Shared;  // opaque outside scheduler.cpp

  private:
    friend class Scheduler;
    explicit Submission(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
    std::shared_ptr<Shared> shared_;
};

class Scheduler {
  public:
    // `engine` and `tokenizer` must outlive the scheduler. `end_tokens`: ids that end a turn.
    static Expected<std::unique_ptr<Scheduler>> create(Engine& engine,
                                                       const tokenizer::Tokenizer& tokenizer,
                                                       std::vector<int32_t> end_tokens,
                                                       const SchedulerOptions& options);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Queues the choices. Errors: kResourceExhausted (the queue is full: nothing was queued,
    // retry later), kInvalidArgument (a prompt is empty or leaves no room in the context, or
    // the sampling parameters are invalid), kUnavailable (the scheduler is stopping).
    Expected<std::unique_ptr<Submission>> submit(std::vector<ChoiceRequest> choices);

    // submit() then wait(): generates the choices and returns when all are finished.
    Status run(std::vector<ChoiceRequest> choices, const RequestEvents& events,
               const std::function<bool()>& cancelled);

    SchedulerLoad load() const;
    int64_t context_length() const;

    struct State;  // opaque outside scheduler.cpp

  private:
    explicit Scheduler(std::shared_ptr<State> state);
    std::shared_ptr<State> state_;  // shared (weakly) with submissions that outlive a call
    std::thread thread_;
};

}  // namespace cria::engine
