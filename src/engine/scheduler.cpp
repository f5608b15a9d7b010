#include "engine/scheduler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <span>

#include "core/log.h"
#include "sampling/sampler.h"
#include "sampling/stop_matcher.h"
#include "sampling/token_bitmask.h"
#include "tokenizer/tokenizer.h"

namespace cria::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

// One event for a caller: a piece of a choice's text, or its end.
struct Event {
    int index = 0;
    bool finished = false;
    std::string text;
    std::vector<TokenLogprob> logprobs;
    ChoiceResult result;
};

// A request as both threads see it: the caller drains `events`; the scheduler fills them.
struct Request {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Event> events;       // guarded by mutex
    int choices_finished = 0;       // guarded by mutex
    std::optional<Status> failure;  // guarded by mutex
    std::atomic<bool> cancelled{false};

    // Scheduler thread only.
    int choices_open = 0;        // not yet finished, failed or dropped
    int choices_unadmitted = 0;  // still waiting for a slot
    Clock::time_point submitted;
    std::optional<Clock::time_point> first_slot;
    std::optional<Clock::time_point> first_token;
    Clock::time_point last_token;
    RequestReport report;

    void push(Event&& event) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (event.finished) ++choices_finished;
            events.push_back(std::move(event));
        }
        wake.notify_all();
    }
    void fail(const Status& status) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (!failure) failure = status;
        }
        wake.notify_all();
    }
};

struct Slot;

// A choice from admission to its end.
struct Choice {
    enum class Phase {
        kAwaitPrompt,  // copies its prompt from `source` once that one has decoded it
        kPrompt,       // decoding its prompt in chunks
        kSample,       // has fresh logits: the next token is to be sampled
        kDecode,       // `pending` is sampled and waits to be decoded
    };

    std::shared_ptr<Request> request;
    ChoiceRequest spec;
    Slot* slot = nullptr;
    Choice* source = nullptr;  // kAwaitPrompt: the choice decoding the same prompt
    Phase phase = Phase::kPrompt;
    int64_t prompt_done = 0;  // prompt tokens in the cache
    int32_t pending = 0;
    int64_t limit = 0;          // generated tokens allowed
    std::vector<float> logits;  // [n_vocab]
    std::optional<sampling::Sampler> sampler;
    std::optional<sampling::StopMatcher> stop;
    std::optional<tokenizer::StreamingDecoder> text_decoder;
    std::unique_ptr<sampling::TokenConstraint> constraint;  // set for constrained choices
    std::optional<sampling::TokenBitmask> allowed;
    ChoiceResult result;
    // Logprob entries wait until the text that holds their first byte is handed out, so that a
    // token held back (a possible stop string, half a character) is reported with its text and
    // one that turns out to be part of a stop string never is.
    std::deque<std::pair<TokenLogprob, size_t>> pending_logprobs;
    size_t decoded_bytes = 0;  // text the streaming decoder has produced
    size_t emitted_bytes = 0;  // text handed to the caller
};

struct Slot {
    std::unique_ptr<Sequence> sequence;
    std::vector<int32_t> cached;  // the tokens whose keys/values the sequence holds
    Clock::time_point last_used;
    Choice* choice = nullptr;  // null while free

    // Keeps the first `n` cached tokens; nothing when the sequence cannot be cut there.
    void keep(size_t n) {
        if (sequence->truncate(static_cast<int64_t>(n)).is_ok()) {
            cached.resize(n);
        } else {
            sequence->reset();
            cached.clear();
        }
    }
};

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

}  // namespace

struct Scheduler::State {
    Engine& engine;
    const tokenizer::Tokenizer& tokenizer;
    std::vector<int32_t> end_tokens;  // sorted
    SchedulerOptions options;
    int64_t n_vocab = 0;

    mutable std::mutex mutex;  // guards queue, queued_requests, stopping, running
    std::condition_variable work;
    std::deque<std::unique_ptr<Choice>> queue;
    int queued_requests = 0;
    int running = 0;
    bool stopping = false;

    // Scheduler thread only.
    std::vector<Slot> slots;
    std::list<std::unique_ptr<Choice>> active;
    int64_t prompt_budget = 64;  // prompt tokens per step, adapted to the measured speed

    State(Engine& e, const tokenizer::Tokenizer& t) : engine(e), tokenizer(t) {}

    bool is_end(int32_t token) const {
        return std::binary_search(end_tokens.begin(), end_tokens.end(), token);
    }

    void loop();
    void admit_locked(Clock::time_point now);
    void start_prompt(Choice& choice, size_t cached_prefix);
    void drop_cancelled();
    bool step();
    void after_decode(Choice& choice);
    void sample(Choice& choice);
    void emit(Choice& choice, const std::string& text, bool flush_all);
    void finish(Choice& choice, const std::string& reason, bool stopped_by_string);
    void fail(Choice& choice, const Status& status);
    void release(Choice& choice);
};

Scheduler::Scheduler(std::shared_ptr<State> state) : state_(std::move(state)) {}

Expected<std::unique_ptr<Scheduler>> Scheduler::create(Engine& engine,
                                                       const tokenizer::Tokenizer& tokenizer,
                                                       std::vector<int32_t> end_tokens,
                                                       const SchedulerOptions& options) {
    if (options.num_parallel < 1 || options.num_parallel > engine.max_batch()) {
        return Status(invalid_argument("parallel sequences must be in [1, " +
                                       std::to_string(engine.max_batch()) + "]"));
    }
    if (options.max_queue < 0) return Status(invalid_argument("the queue limit is negative"));
    auto state = std::make_shared<State>(engine, tokenizer);
    state->options = options;
    if (state->options.target_step_seconds <= 0.0) state->options.target_step_seconds = 0.25;
    std::sort(end_tokens.begin(), end_tokens.end());
    state->end_tokens = std::move(end_tokens);
    state->n_vocab = engine.n_vocab();
    state->slots.resize(static_cast<size_t>(options.num_parallel));
    for (Slot& slot : state->slots) {
        CRIA_ASSIGN_OR_RETURN(slot.sequence, engine.create_sequence({0, options.kv_type}));
    }
    std::unique_ptr<Scheduler> scheduler(new Scheduler(std::move(state)));
    State* raw = scheduler->state_.get();
    scheduler->thread_ = std::thread([raw] { raw->loop(); });
    return scheduler;
}

Scheduler::~Scheduler() {
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->stopping = true;
    }
    state_->work.notify_all();
    if (thread_.joinable()) thread_.join();
}

int64_t Scheduler::context_length() const {
    return state_->slots.front().sequence->n_ctx();
}

SchedulerLoad Scheduler::load() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return SchedulerLoad{state_->running, state_->queued_requests, state_->options.num_parallel};
}

// What a Submission needs once the scheduler has the request: the request and a way to wake
// the scheduler when the caller gives up.
struct Submission::Shared {
    std::shared_ptr<Request> request;
    int total = 0;
    std::function<void()> wake_scheduler;
    bool over = false;  // wait() has returned its final status
};

Submission::~Submission() {
    if (shared_ && !shared_->over) {
        shared_->request->cancelled = true;
        shared_->wake_scheduler();
    }
}

Expected<std::unique_ptr<Submission>> Scheduler::submit(std::vector<ChoiceRequest> choices) {
    State& s = *state_;
    if (choices.empty()) return Status(invalid_argument("a request needs at least one choice"));
    const int64_t n_ctx = context_length();
    auto request = std::make_shared<Request>();
    std::vector<std::unique_ptr<Choice>> prepared;
    for (ChoiceRequest& spec : choices) {
        const auto prompt_size =
            spec.prompt ? static_cast<int64_t>(spec.prompt->size()) : int64_t{0};
        if (prompt_size == 0 || prompt_size >= n_ctx) {
            return Status(invalid_argument("the prompt must hold 1 to " +
                                           std::to_string(n_ctx - 1) + " tokens"));
        }
        auto choice = std::make_unique<Choice>();
        choice->request = request;
        CRIA_ASSIGN_OR_RETURN(choice->sampler, sampling::Sampler::create(
                                                   spec.sampling, static_cast<int32_t>(s.n_vocab)));
        CRIA_RETURN_IF_ERROR(choice->sampler->accept_prompt(*spec.prompt));
        CRIA_ASSIGN_OR_RETURN(choice->stop, sampling::StopMatcher::create(spec.stop));
        choice->text_decoder.emplace(s.tokenizer, /*at_text_start=*/false);
        if (spec.constraint) {
            CRIA_ASSIGN_OR_RETURN(choice->constraint, spec.constraint->make());
            choice->allowed.emplace(static_cast<int32_t>(s.n_vocab), false);
        }
        const int64_t room = n_ctx - prompt_size;
        choice->limit = std::min(spec.max_tokens.value_or(room), room);
        if (choice->limit < 1) return Status(invalid_argument("max_tokens must be at least 1"));
        choice->result.index = spec.index;
        choice->logits.resize(static_cast<size_t>(s.n_vocab));
        choice->spec = std::move(spec);
        prepared.push_back(std::move(choice));
    }
    const int total = static_cast<int>(prepared.size());
    request->choices_open = total;
    request->choices_unadmitted = total;
    request->submitted = Clock::now();
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        if (s.stopping) return Status(unavailable("the model is unloading"));
        if (s.queued_requests >= s.options.max_queue) {
            return Status(
                resource_exhausted("the server is busy: " + std::to_string(s.queued_requests) +
                                   " requests are waiting for the model; retry later"));
        }
        ++s.queued_requests;
        for (auto& choice : prepared) s.queue.push_back(std::move(choice));
    }
    s.work.notify_all();
    auto shared = std::make_shared<Submission::Shared>();
    shared->request = std::move(request);
    shared->total = total;
    // Weak: a submission kept past the model's unloading must not touch freed state.
    shared->wake_scheduler = [weak = std::weak_ptr<State>(state_)] {
        if (std::shared_ptr<State> state = weak.lock()) state->work.notify_all();
    };
    return std::unique_ptr<Submission>(new Submission(std::move(shared)));
}

Status Scheduler::run(std::vector<ChoiceRequest> choices, const RequestEvents& events,
                      const std::function<bool()>& cancelled) {
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<Submission> submission, submit(std::move(choices)));
    return submission->wait(events, cancelled);
}

Status Submission::wait(const RequestEvents& events, const std::function<bool()>& cancelled) {
    Request& request = *shared_->request;
    auto end = [this](Status status) {
        if (!status.is_ok()) {
            // The scheduler drops the other choices at its next step.
            shared_->request->cancelled = true;
            shared_->wake_scheduler();
        }
        shared_->over = true;
        return status;
    };
    for (;;) {
        std::deque<Event> ready;
        std::optional<Status> failure;
        int finished = 0;
        {
            std::unique_lock<std::mutex> lock(request.mutex);
            request.wake.wait_for(lock, std::chrono::milliseconds(50), [&] {
                return !request.events.empty() || request.failure.has_value();
            });
            ready.swap(request.events);
            failure = request.failure;
            finished = request.choices_finished;
        }
        for (Event& event : ready) {
            bool keep_going = true;
            if (event.finished) {
                if (events.on_finish) keep_going = events.on_finish(event.result);
            } else if (events.on_piece) {
                keep_going = events.on_piece(event.index, event.text, std::move(event.logprobs));
            }
            if (!keep_going) return end(cria::cancelled("the request was cancelled"));
        }
        if (failure) return end(*failure);
        if (finished == shared_->total) return end(Status::ok());
        if (cancelled && cancelled()) return end(cria::cancelled("the request was cancelled"));
    }
}

void Scheduler::State::loop() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
        work.wait(lock, [&] { return stopping || !queue.empty() || !active.empty(); });
        if (stopping) break;
        admit_locked(Clock::now());
        running = static_cast<int>(active.size());
        lock.unlock();
        drop_cancelled();
        const bool worked = step();
        lock.lock();
        running = static_cast<int>(active.size());
        // Nothing could run (every choice waits on a failed source): wait for news.
        if (!worked && queue.empty()) work.wait_for(lock, std::chrono::milliseconds(20));
    }
    // Unloading: everyone still here hears that their request ended.
    for (auto& choice : queue) choice->request->fail(unavailable("the model was unloaded"));
    queue.clear();
    lock.unlock();
    for (auto& choice : active) choice->request->fail(unavailable("the model was unloaded"));
    active.clear();
}

void Scheduler::State::admit_locked(Clock::time_point now) {
    while (!queue.empty()) {
        Choice& next = *queue.front();
        Request& request = *next.request;
        if (request.cancelled) {
            if (--request.choices_unadmitted == 0) --queued_requests;
            if (--request.choices_open == 0) {
                request.report.cancelled = true;
                if (options.on_request_done) options.on_request_done(request.report);
            }
            queue.pop_front();
            continue;
        }
        // The free slot whose cache shares the longest prefix with the prompt; among equals the
        // one unused the longest.
        const std::vector<int32_t>& prompt = *next.spec.prompt;
        Slot* best = nullptr;
        size_t best_prefix = 0;
        for (Slot& slot : slots) {
            if (slot.choice != nullptr) continue;
            const size_t prefix = common_prefix(slot.cached, prompt);
            if (best == nullptr || prefix > best_prefix ||
                (prefix == best_prefix && slot.last_used < best->last_used)) {
                best = &slot;
                best_prefix = prefix;
            }
        }
        if (best == nullptr) return;  // every slot is busy

        std::unique_ptr<Choice> choice = std::move(queue.front());
        queue.pop_front();
        if (--request.choices_unadmitted == 0) --queued_requests;
        if (!request.first_slot) {
            request.first_slot = now;
            request.report.queue_seconds = seconds_between(request.submitted, now);
        }
        choice->slot = best;
        best->choice = choice.get();
        // A sibling decoding the very same prompt lends its cache once it is done.
        for (auto& other : active) {
            if (other->request == choice->request && other->spec.prompt == choice->spec.prompt &&
                other->phase == Choice::Phase::kPrompt) {
                choice->source = other.get();
                choice->phase = Choice::Phase::kAwaitPrompt;
                break;
            }
        }
        if (choice->phase == Choice::Phase::kPrompt) {
            start_prompt(*choice, best_prefix);
            request.report.cached_prompt_tokens += choice->prompt_done;
            choice->result.cached_prompt_tokens = choice->prompt_done;
        }
        request.report.prompt_tokens += static_cast<int64_t>(prompt.size());
        active.push_back(std::move(choice));
    }
}

// Starts decoding a choice's prompt in its slot after the first `cached_prefix` tokens, which
// the slot's cache already holds. At least the last prompt token is decoded again: its logits
// start the answer.
void Scheduler::State::start_prompt(Choice& choice, size_t cached_prefix) {
    Slot& slot = *choice.slot;
    slot.keep(std::min(cached_prefix, choice.spec.prompt->size() - 1));
    choice.prompt_done = static_cast<int64_t>(slot.cached.size());
}

void Scheduler::State::drop_cancelled() {
    for (auto it = active.begin(); it != active.end();) {
        Choice& choice = **it;
        if (!choice.request->cancelled) {
            ++it;
            continue;
        }
        choice.request->report.cancelled = true;
        release(choice);
        it = active.erase(it);
    }
}

void Scheduler::State::release(Choice& choice) {
    Request& request = *choice.request;
    if (choice.slot != nullptr) {
        choice.slot->choice = nullptr;
        choice.slot->last_used = Clock::now();
        choice.slot = nullptr;
    }
    // Choices waiting to copy this one's prompt decode it themselves instead.
    for (auto& other : active) {
        if (other->source == &choice) {
            other->source = nullptr;
            other->phase = Choice::Phase::kPrompt;
            start_prompt(*other, common_prefix(other->slot->cached, *other->spec.prompt));
        }
    }
    if (--request.choices_open == 0) {
        if (request.first_token) {
            request.report.generation_seconds =
                seconds_between(*request.first_token, request.last_token);
        }
        if (options.on_request_done) options.on_request_done(request.report);
    }
}

bool Scheduler::State::step() {
    std::vector<SequenceStep> steps;
    std::vector<Choice*> stepped;
    int64_t tokens = 0;
    // Every generating choice advances by its sampled token...
    for (auto& choice : active) {
        if (choice->phase != Choice::Phase::kDecode) continue;
        steps.push_back({choice->slot->sequence.get(),
                         std::span<const int32_t>(&choice->pending, 1), LogitsMode::kLast,
                         choice->logits.data()});
        stepped.push_back(choice.get());
        ++tokens;
    }
    // ...and prompts fill the rest of the step's budget, oldest first.
    const int64_t prompt_limit = std::min(prompt_budget, engine.max_batch() - tokens);
    int64_t prompt_tokens = 0;
    for (auto& choice : active) {
        if (choice->phase != Choice::Phase::kPrompt) continue;
        const auto size = static_cast<int64_t>(choice->spec.prompt->size());
        const int64_t chunk = std::min(size - choice->prompt_done, prompt_limit - prompt_tokens);
        if (chunk <= 0) break;
        const bool last = choice->prompt_done + chunk == size;
        steps.push_back(
            {choice->slot->sequence.get(),
             std::span<const int32_t>(*choice->spec.prompt)
                 .subspan(static_cast<size_t>(choice->prompt_done), static_cast<size_t>(chunk)),
             last ? LogitsMode::kLast : LogitsMode::kNone, choice->logits.data()});
        stepped.push_back(choice.get());
        tokens += chunk;
        prompt_tokens += chunk;
    }
    if (steps.empty()) return false;

    const Clock::time_point start = Clock::now();
    const Status status = engine.decode_batch(steps);
    const double seconds = seconds_between(start, Clock::now());
    if (!status.is_ok()) {
        CRIA_LOG_ERROR("a batched decode of %lld tokens failed: %s", static_cast<long long>(tokens),
                       status.message().c_str());
        for (Choice* choice : stepped) fail(*choice, status);
    } else {
        for (size_t i = 0; i < stepped.size(); ++i) {
            Slot& slot = *stepped[i]->slot;
            slot.cached.insert(slot.cached.end(), steps[i].tokens.begin(), steps[i].tokens.end());
            after_decode(*stepped[i]);
        }
        if (prompt_tokens > 0 && seconds > 0.0) {
            // Tokens per second of this mix, smoothed; the next prompt chunks aim at the target.
            const double rate = static_cast<double>(tokens) / seconds;
            const auto wanted = static_cast<int64_t>(rate * options.target_step_seconds);
            prompt_budget =
                std::clamp<int64_t>((prompt_budget + wanted) / 2, 16, engine.max_batch());
        }
    }
    // Copies for siblings whose prompt is now decoded, then one token for everyone ready.
    for (auto& choice : active) {
        if (choice->phase != Choice::Phase::kAwaitPrompt || choice->source == nullptr) continue;
        Choice& source = *choice->source;
        if (source.phase == Choice::Phase::kPrompt || source.phase == Choice::Phase::kAwaitPrompt)
            continue;
        const auto size = static_cast<int64_t>(choice->spec.prompt->size());
        Slot& slot = *choice->slot;
        const Status copied = slot.sequence->copy_prefix(*source.slot->sequence, size);
        if (!copied.is_ok()) {
            fail(*choice, copied);
            continue;
        }
        slot.cached = *choice->spec.prompt;
        choice->prompt_done = size;
        choice->logits = source.logits;
        choice->source = nullptr;
        choice->phase = Choice::Phase::kSample;
    }
    for (auto it = active.begin(); it != active.end();) {
        Choice& choice = **it;
        if (choice.phase == Choice::Phase::kSample && !choice.request->cancelled) sample(choice);
        if (choice.slot == nullptr) {
            it = active.erase(it);  // finished or failed: released already
        } else {
            ++it;
        }
    }
    return true;
}

void Scheduler::State::after_decode(Choice& choice) {
    if (choice.slot == nullptr) return;
    if (choice.phase == Choice::Phase::kDecode) {
        choice.phase = Choice::Phase::kSample;
        return;
    }
    if (choice.phase == Choice::Phase::kPrompt) {
        choice.prompt_done = static_cast<int64_t>(choice.slot->cached.size());
        if (choice.prompt_done == static_cast<int64_t>(choice.spec.prompt->size())) {
            choice.phase = Choice::Phase::kSample;
        }
    }
}

void Scheduler::State::sample(Choice& choice) {
    Request& request = *choice.request;
    if (choice.constraint) {
        // A complete answer that nothing can extend ends here (also without end tokens).
        if (!choice.constraint->can_continue()) return finish(choice, "stop", false);
        const Status masked = choice.constraint->fill_mask(choice.allowed->words());
        if (!masked.is_ok()) return fail(choice, masked);
    }
    Expected<sampling::SampledToken> sampled =
        choice.sampler->sample(choice.logits, choice.constraint ? &*choice.allowed : nullptr);
    if (!sampled.has_value()) return fail(choice, sampled.status());
    const int32_t token = sampled->token;
    if (choice.constraint) {
        const Status accepted = choice.constraint->accept_token(token);
        if (!accepted.is_ok()) return fail(choice, accepted);
    }
    const Clock::time_point now = Clock::now();
    if (!request.first_token) {
        request.first_token = now;
        request.report.time_to_first_token_seconds = seconds_between(request.submitted, now);
    }
    request.last_token = now;
    ++choice.result.completion_tokens;
    ++request.report.generated_tokens;
    if (is_end(token)) return finish(choice, "stop", false);
    choice.result.tokens.push_back(token);
    if (choice.spec.sampling.logprobs) {
        TokenLogprob entry{tokenizer.token_piece(token), sampled->logprob, {}};
        for (const sampling::TokenLogprob& alt : sampled->top_logprobs) {
            entry.top.push_back({tokenizer.token_piece(alt.token), alt.logprob});
        }
        choice.pending_logprobs.emplace_back(std::move(entry), choice.decoded_bytes);
    }
    const std::string piece = choice.text_decoder->push(token);
    choice.decoded_bytes += piece.size();
    sampling::StopScan scan = choice.stop->feed(piece);
    emit(choice, scan.text, false);
    if (scan.stopped) return finish(choice, "stop", true);
    if (choice.result.completion_tokens >= choice.limit) return finish(choice, "length", false);
    choice.pending = token;
    choice.phase = Choice::Phase::kDecode;
}

void Scheduler::State::emit(Choice& choice, const std::string& text, bool flush_all) {
    choice.emitted_bytes += text.size();
    std::vector<TokenLogprob> ready;
    while (!choice.pending_logprobs.empty() &&
           (flush_all || choice.pending_logprobs.front().second < choice.emitted_bytes)) {
        ready.push_back(std::move(choice.pending_logprobs.front().first));
        choice.pending_logprobs.pop_front();
    }
    if (text.empty() && ready.empty()) return;
    choice.result.text += text;
    for (const TokenLogprob& entry : ready) choice.result.logprobs.push_back(entry);
    Event event;
    event.index = choice.spec.index;
    event.text = text;
    event.logprobs = std::move(ready);
    choice.request->push(std::move(event));
}

void Scheduler::State::finish(Choice& choice, const std::string& reason, bool stopped_by_string) {
    choice.result.finish_reason = reason;
    if (!stopped_by_string) {
        // Text still held back: half a character at the end, or a possible stop string start.
        sampling::StopScan scan = choice.stop->feed(choice.text_decoder->flush());
        if (scan.stopped) {
            choice.result.finish_reason = "stop";
            emit(choice, scan.text, false);
        } else {
            emit(choice, scan.text + choice.stop->finish(), true);
        }
    }
    Event event;
    event.index = choice.spec.index;
    event.finished = true;
    event.result = choice.result;
    // Released (and reported) before the caller hears the end, so that what it does next
    // already finds the slot free and the figures recorded.
    std::shared_ptr<Request> request = choice.request;
    release(choice);
    request->push(std::move(event));
}

void Scheduler::State::fail(Choice& choice, const Status& status) {
    choice.request->fail(status);
    // Its cache may hold keys/values past what `cached` records; keep only what is known.
    if (choice.slot != nullptr) choice.slot->keep(choice.slot->cached.size());
    release(choice);
}

}  // namespace cria::engine
