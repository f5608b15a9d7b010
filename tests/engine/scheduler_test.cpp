// engine::Scheduler driven directly, on a tiny random-weight Llama model with cria's demo
// vocabulary: prompt caching across requests, the queue limit, cancellation (queued and running
// requests) and grammar-constrained choices. The scheduler thread is held still where a test
// needs a deterministic queue: on_request_done runs on it, so blocking there freezes admission.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_constraint.h"
#include "model/demo_vocab.h"
#include "model/test_models.h"
#include "tokenizer/tokenizer.h"

namespace cria::engine {
namespace {

using Clock = std::chrono::steady_clock;

// Holds the scheduler thread inside on_request_done once armed, until opened (or 10 s pass, so
// that a failing test cannot hang the destructor's join).
class Gate {
  public:
    void arm() {
        std::lock_guard<std::mutex> lock(mutex_);
        armed_ = true;
    }
    // On the scheduler thread.
    void pass() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!armed_) return;
        armed_ = false;
        held_ = true;
        changed_.notify_all();
        changed_.wait_for(lock, std::chrono::seconds(10), [&] { return open_; });
        held_ = false;
    }
    bool wait_until_held() {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return held_; });
    }
    void open() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            open_ = true;
        }
        changed_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool armed_ = false;
    bool held_ = false;
    bool open_ = false;
};

struct Outcome {
    Status status;
    std::vector<ChoiceResult> results;  // by finish order
    int pieces = 0;
};

class SchedulerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const model::DemoVocabulary demo = model::build_demo_vocabulary();
        gguf::Writer vocab_writer;
        model::write_demo_vocabulary(demo, vocab_writer);
        vocab_image_ = vocab_writer.to_bytes();
        auto vocab = gguf::File::parse(vocab_image_.data(), vocab_image_.size());
        ASSERT_TRUE(vocab.has_value()) << vocab.status().message();
        vocab_file_ = std::move(vocab).value();

        model::RandomModelSpec spec = test::tiny_spec("llama");
        spec.vocabulary = vocab_file_.get();
        spec.n_vocab = static_cast<int64_t>(demo.tokens.size());  // make_model_file does this
        spec.seed = 11;
        auto built = test::build(spec);
        ASSERT_TRUE(built.has_value()) << built.status().message();
        model_bytes_ = std::move(built->bytes);
        auto tok = tokenizer::Tokenizer::from_gguf(built->model->file());
        ASSERT_TRUE(tok.has_value()) << tok.status().message();
        tokenizer_ = std::move(tok).value();
        ASSERT_FALSE(tokenizer_->eog_ids().empty());

        EngineOptions options;
        options.n_threads = 2;
        options.context_length = 256;
        auto engine = Engine::create(std::move(built->model), options);
        ASSERT_TRUE(engine.has_value()) << engine.status().message();
        engine_ = std::move(engine).value();
    }

    void TearDown() override {
        gate_.open();
        scheduler_.reset();
    }

    // A fresh scheduler (its slots start empty) with `parallel` slots and room for `max_queue`
    // waiting requests.
    void start(int parallel, int max_queue = 512) {
        scheduler_.reset();
        SchedulerOptions options;
        options.num_parallel = parallel;
        options.max_queue = max_queue;
        options.kv_type = gguf::TensorType::kF32;
        options.on_request_done = [this](const RequestReport& report) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                reports_.push_back(report);
            }
            gate_.pass();
        };
        auto scheduler = Scheduler::create(*engine_, *tokenizer_, tokenizer_->eog_ids(), options);
        ASSERT_TRUE(scheduler.has_value()) << scheduler.status().message();
        scheduler_ = std::move(scheduler).value();
    }

    std::shared_ptr<const std::vector<int32_t>> prompt(const std::string& text) const {
        return std::make_shared<const std::vector<int32_t>>(tokenizer_->encode(text, false, false));
    }

    // Greedy, `max_tokens` at most; with `no_end` the end-of-turn tokens are banned, so that
    // exactly max_tokens come.
    static ChoiceRequest greedy(std::shared_ptr<const std::vector<int32_t>> tokens,
                                int64_t max_tokens, bool no_end = false,
                                const tokenizer::Tokenizer* tok = nullptr) {
        ChoiceRequest request;
        request.prompt = std::move(tokens);
        request.sampling.temperature = 0.0f;
        request.sampling.seed = 1;
        request.max_tokens = max_tokens;
        if (no_end && tok != nullptr) {
            for (int32_t id : tok->eog_ids()) {
                request.sampling.logit_bias.push_back({id, sampling::kBanBias});
            }
        }
        return request;
    }
    ChoiceRequest long_request(std::shared_ptr<const std::vector<int32_t>> tokens,
                               int64_t max_tokens) const {
        return greedy(std::move(tokens), max_tokens, true, tokenizer_.get());
    }

    // Waits for a submission; `stop_after_pieces` > 0 makes on_piece cancel at that piece.
    static Outcome wait(Submission& submission, int stop_after_pieces = 0,
                        const std::function<bool()>& cancelled = nullptr) {
        Outcome outcome;
        RequestEvents events;
        events.on_piece = [&](int, const std::string&, std::vector<TokenLogprob>&&) {
            ++outcome.pieces;
            return stop_after_pieces == 0 || outcome.pieces < stop_after_pieces;
        };
        events.on_finish = [&](const ChoiceResult& result) {
            outcome.results.push_back(result);
            return true;
        };
        outcome.status = submission.wait(events, cancelled);
        return outcome;
    }

    Outcome run(std::vector<ChoiceRequest> choices) {
        auto submission = scheduler_->submit(std::move(choices));
        if (!submission.has_value()) return Outcome{submission.status(), {}, 0};
        return wait(**submission);
    }

    std::vector<RequestReport> reports() {
        std::lock_guard<std::mutex> lock(mutex_);
        return reports_;
    }

    std::vector<uint8_t> vocab_image_;
    std::unique_ptr<gguf::File> vocab_file_;
    std::vector<uint8_t> model_bytes_;  // the model's File points into these
    std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
    std::unique_ptr<Engine> engine_;
    Gate gate_;
    std::mutex mutex_;
    std::vector<RequestReport> reports_;
    std::unique_ptr<Scheduler> scheduler_;  // last: stopped before what it uses goes away
};

const char* const kStory = "Once upon a time there was a small cat who lived by the sea.";

TEST_F(SchedulerTest, ExtendedPromptReusesTheCachedPrefix) {
    start(1);
    const auto first = prompt(kStory);
    const auto extended = prompt(std::string(kStory) + " Every morning she watched the boats.");
    ASSERT_GT(first->size(), 8u);
    ASSERT_TRUE(std::equal(first->begin(), first->end(), extended->begin()));

    Outcome a = run({greedy(first, 4)});
    ASSERT_TRUE(a.status.is_ok()) << a.status.message();
    ASSERT_EQ(a.results.size(), 1u);
    EXPECT_EQ(a.results[0].cached_prompt_tokens, 0);

    // The slot still holds the first prompt (and what was generated after it).
    Outcome b = run({greedy(extended, 6)});
    ASSERT_TRUE(b.status.is_ok()) << b.status.message();
    ASSERT_EQ(b.results.size(), 1u);
    EXPECT_GE(b.results[0].cached_prompt_tokens, static_cast<int64_t>(first->size()));
    EXPECT_LT(b.results[0].cached_prompt_tokens, static_cast<int64_t>(extended->size()));

    // The same prompt again: all but its last token, whose logits start the answer.
    Outcome c = run({greedy(extended, 6)});
    ASSERT_TRUE(c.status.is_ok()) << c.status.message();
    ASSERT_EQ(c.results.size(), 1u);
    EXPECT_EQ(c.results[0].cached_prompt_tokens, static_cast<int64_t>(extended->size()) - 1);
    EXPECT_EQ(c.results[0].tokens, b.results[0].tokens);

    // A prompt that starts differently reuses nothing.
    Outcome d = run({greedy(prompt("Zebras rarely sleep."), 2)});
    ASSERT_TRUE(d.status.is_ok()) << d.status.message();
    ASSERT_EQ(d.results.size(), 1u);
    EXPECT_EQ(d.results[0].cached_prompt_tokens, 0);

    // The reports agree with the results.
    const std::vector<RequestReport> done = reports();
    ASSERT_EQ(done.size(), 4u);
    EXPECT_EQ(done[1].prompt_tokens, static_cast<int64_t>(extended->size()));
    EXPECT_EQ(done[1].cached_prompt_tokens, b.results[0].cached_prompt_tokens);
    EXPECT_EQ(done[2].cached_prompt_tokens, c.results[0].cached_prompt_tokens);

    // A fresh scheduler decodes the whole extended prompt and (F32 cache, greedy) answers the
    // same as the one that reused the prefix.
    start(1);
    Outcome fresh = run({greedy(extended, 6)});
    ASSERT_TRUE(fresh.status.is_ok()) << fresh.status.message();
    ASSERT_EQ(fresh.results.size(), 1u);
    EXPECT_EQ(fresh.results[0].cached_prompt_tokens, 0);
    EXPECT_EQ(fresh.results[0].tokens, b.results[0].tokens);
}

TEST_F(SchedulerTest, FullQueueRefusesWithoutQueuing) {
    start(1, /*max_queue=*/2);
    // Hold the scheduler thread at the end of a first request: nothing is admitted meanwhile.
    gate_.arm();
    auto holder = scheduler_->submit({greedy(prompt("Hello"), 1)});
    ASSERT_TRUE(holder.has_value()) << holder.status().message();
    ASSERT_TRUE(gate_.wait_until_held());

    auto a = scheduler_->submit({greedy(prompt("First in line"), 2)});
    auto b = scheduler_->submit({greedy(prompt("Second in line"), 2), greedy(prompt("x"), 2)});
    ASSERT_TRUE(a.has_value()) << a.status().message();
    ASSERT_TRUE(b.has_value()) << b.status().message();
    EXPECT_EQ(scheduler_->load().queued_requests, 2);
    EXPECT_EQ(scheduler_->load().num_parallel, 1);

    auto refused = scheduler_->submit({greedy(prompt("One too many"), 2)});
    EXPECT_EQ(refused.status().code(), ErrorCode::kResourceExhausted);
    EXPECT_EQ(scheduler_->load().queued_requests, 2);

    gate_.open();
    for (auto* submission : {&*holder, &*a, &*b}) {
        Outcome outcome = wait(**submission);
        EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.message();
    }
    EXPECT_EQ(scheduler_->load().queued_requests, 0);
    // Room again once the queue drained; the refused request was never run.
    Outcome later = run({greedy(prompt("Now there is room"), 2)});
    EXPECT_TRUE(later.status.is_ok()) << later.status.message();
    EXPECT_EQ(reports().size(), 4u);  // holder, a, b, later
}

TEST_F(SchedulerTest, CancelledRunningRequestFreesItsSlot) {
    start(1);
    auto running = scheduler_->submit({long_request(prompt(kStory), 200)});
    ASSERT_TRUE(running.has_value()) << running.status().message();
    // The caller gives up at the second piece of text.
    Outcome cancelled = wait(**running, /*stop_after_pieces=*/2);
    EXPECT_EQ(cancelled.status.code(), ErrorCode::kCancelled);
    EXPECT_EQ(cancelled.pieces, 2);
    EXPECT_TRUE(cancelled.results.empty());

    // The only slot serves the next request.
    Outcome next = run({long_request(prompt("Hello there"), 5)});
    ASSERT_TRUE(next.status.is_ok()) << next.status.message();
    ASSERT_EQ(next.results.size(), 1u);
    EXPECT_EQ(next.results[0].completion_tokens, 5);
    EXPECT_EQ(next.results[0].finish_reason, "length");

    const std::vector<RequestReport> done = reports();
    ASSERT_EQ(done.size(), 2u);
    // The scheduler runs ahead of the caller, which reads the pieces from a queue: on a busy
    // machine the tiny model can write all 200 tokens before the caller reads its second piece
    // and cancels. Then the request ended on its own; otherwise the cancellation stopped it.
    if (done[0].generated_tokens < 200) {
        EXPECT_TRUE(done[0].cancelled);
    } else {
        EXPECT_FALSE(done[0].cancelled);
    }
    EXPECT_FALSE(done[1].cancelled);
    EXPECT_EQ(done[1].generated_tokens, 5);
    // The loop records its load after the step that finished the request: poll for it.
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
    while (scheduler_->load().running != 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(scheduler_->load().running, 0);
}

TEST_F(SchedulerTest, CancelledQueuedRequestIsDropped) {
    start(1);
    gate_.arm();
    auto holder = scheduler_->submit({greedy(prompt("Hello"), 1)});
    ASSERT_TRUE(holder.has_value()) << holder.status().message();
    ASSERT_TRUE(gate_.wait_until_held());

    // Still queued (the scheduler is held): the caller's cancellation ends the wait.
    auto queued = scheduler_->submit({greedy(prompt(kStory), 8)});
    ASSERT_TRUE(queued.has_value()) << queued.status().message();
    const Clock::time_point start_wait = Clock::now();
    Outcome cancelled = wait(**queued, 0, [] { return true; });
    EXPECT_EQ(cancelled.status.code(), ErrorCode::kCancelled);
    EXPECT_TRUE(cancelled.results.empty());
    EXPECT_LT(Clock::now() - start_wait, std::chrono::seconds(5));

    // A submission dropped without waiting is cancelled as well.
    auto abandoned = scheduler_->submit({long_request(prompt("Abandoned"), 100)});
    ASSERT_TRUE(abandoned.has_value()) << abandoned.status().message();
    abandoned->reset();

    gate_.open();
    Outcome first = wait(**holder);
    EXPECT_TRUE(first.status.is_ok()) << first.status.message();
    Outcome next = run({greedy(prompt("Next please"), 3)});
    ASSERT_TRUE(next.status.is_ok()) << next.status.message();
    ASSERT_EQ(next.results.size(), 1u);
    EXPECT_GE(next.results[0].completion_tokens, 1);

    const std::vector<RequestReport> done = reports();
    ASSERT_EQ(done.size(), 4u);  // holder, queued, abandoned, next
    EXPECT_FALSE(done[0].cancelled);
    EXPECT_TRUE(done[1].cancelled);
    EXPECT_TRUE(done[2].cancelled);
    EXPECT_EQ(done[1].generated_tokens + done[2].generated_tokens, 0);
    EXPECT_FALSE(done[3].cancelled);
}

// Leading whitespace is allowed before a JSON value; the value itself is what is checked.
std::string trim_leading_space(const std::string& text) {
    const size_t begin = text.find_first_not_of(" \t\r\n");
    return begin == std::string::npos ? std::string() : text.substr(begin);
}

// `grammar` as the scheduler's token constraint, over the model's vocabulary (as the server
// builds it).
std::shared_ptr<const sampling::TokenConstraintFactory> grammar_constraint(
    const tokenizer::Tokenizer& tok, std::shared_ptr<const grammar::Grammar> grammar) {
    std::vector<std::string> pieces(static_cast<size_t>(tok.n_vocab()));
    std::vector<bool> never_text(pieces.size());
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        never_text[static_cast<size_t>(id)] = tok.is_control(id);
        if (!tok.is_control(id)) pieces[static_cast<size_t>(id)] = tok.token_piece(id);
    }
    auto vocabulary =
        grammar::TokenVocabulary::create(std::move(pieces), never_text, tok.eog_ids());
    EXPECT_TRUE(vocabulary.has_value()) << vocabulary.status().message();
    return grammar::make_token_constraint(std::move(grammar), std::move(vocabulary).value());
}

// Sampled (not greedy) choices of several seeds, all constrained by `constraint`.
std::vector<ChoiceRequest> sampled_choices(
    const std::shared_ptr<const sampling::TokenConstraintFactory>& constraint,
    std::shared_ptr<const std::vector<int32_t>> tokens) {
    std::vector<ChoiceRequest> choices;
    for (int i = 0; i < 4; ++i) {
        ChoiceRequest choice;
        choice.prompt = tokens;
        choice.index = i;
        choice.sampling.temperature = 1.0f;
        choice.sampling.top_k = 0;
        choice.sampling.top_p = 1.0f;
        choice.sampling.seed = static_cast<uint64_t>(100 + i);
        choice.constraint = constraint;
        choice.max_tokens = 48;
        choices.push_back(std::move(choice));
    }
    return choices;
}

TEST_F(SchedulerTest, GrammarChoicesProduceOnlyAcceptedText) {
    start(2);
    const auto tokens = prompt("Pick a colour:");

    auto colours =
        grammar::compile_json_schema(nlohmann::ordered_json{{"enum", {"red", "green", "blue"}}});
    ASSERT_TRUE(colours.has_value()) << colours.status().message();
    Outcome picked = run(sampled_choices(grammar_constraint(*tokenizer_, *colours), tokens));
    ASSERT_TRUE(picked.status.is_ok()) << picked.status.message();
    ASSERT_EQ(picked.results.size(), 4u);
    for (const ChoiceResult& result : picked.results) {
        SCOPED_TRACE(result.text);
        const std::string value = trim_leading_space(result.text);
        EXPECT_TRUE(value == "\"red\"" || value == "\"green\"" || value == "\"blue\"");
        // A complete enum value cannot be extended: the grammar ends the choice.
        EXPECT_EQ(result.finish_reason, "stop");
    }

    // Strings of one to four digits.
    auto digits = grammar::compile_json_schema(
        nlohmann::ordered_json{{"type", "string"}, {"pattern", "^[0-9]{1,4}$"}});
    ASSERT_TRUE(digits.has_value()) << digits.status().message();
    Outcome numbers = run(sampled_choices(grammar_constraint(*tokenizer_, *digits), tokens));
    ASSERT_TRUE(numbers.status.is_ok()) << numbers.status.message();
    ASSERT_EQ(numbers.results.size(), 4u);
    for (const ChoiceResult& result : numbers.results) {
        SCOPED_TRACE(result.text);
        const std::string value = trim_leading_space(result.text);
        ASSERT_GE(value.size(), 3u);
        ASSERT_LE(value.size(), 6u);
        EXPECT_EQ(value.front(), '"');
        EXPECT_EQ(value.back(), '"');
        for (size_t i = 1; i + 1 < value.size(); ++i) {
            EXPECT_TRUE(value[i] >= '0' && value[i] <= '9') << "byte " << i;
        }
        EXPECT_EQ(result.finish_reason, "stop");
        // The grammar itself accepts the text as a complete output.
        grammar::Matcher matcher(*digits, nullptr);
        EXPECT_TRUE(matcher.accept_bytes(result.text).is_ok());
        EXPECT_TRUE(matcher.is_accepting());
    }
}

}  // namespace
}  // namespace cria::engine
