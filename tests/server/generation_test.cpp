// The demo vocabulary through the real tokenizer and chat template, and the generation service
// on a tiny random-weight model made with it: limits, stop strings, logprobs and seeds.
#include "server/generation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "chat/chat_template.h"
#include "engine/scheduler.h"
#include "gguf/reader.h"
#include "model/demo_model.h"
#include "model/demo_vocab.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

TEST(DemoVocabulary, TokenizesRoundTripsAndRendersChats) {
    const model::DemoVocabulary vocab = model::build_demo_vocabulary();
    EXPECT_GT(vocab.merges.size(), 50u);
    gguf::Writer writer;
    model::write_demo_vocabulary(vocab, writer);
    const std::vector<uint8_t> image = writer.to_bytes();
    auto file = gguf::File::parse(image.data(), image.size());
    ASSERT_TRUE(file.has_value()) << file.status().message();
    auto tok = tokenizer::Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tok.has_value()) << tok.status().message();
    for (const char* text : {"Hello! How can I help you today?", "naïve café ✓ 123", "\x01\xff"}) {
        std::vector<int32_t> ids = (*tok)->encode(text, false, false);
        EXPECT_EQ((*tok)->decode(ids), text);
    }
    // Learned merges make common words shorter than their bytes.
    EXPECT_LT((*tok)->encode(" the", false, false).size(), 4u);
    EXPECT_TRUE((*tok)->is_eog(vocab.eot_id));

    auto tmpl = chat::ChatTemplate::parse(vocab.chat_template);
    ASSERT_TRUE(tmpl.has_value()) << tmpl.status().message();
    json context = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                    {"add_generation_prompt", true},
                    {"bos_token", "<|begin_of_text|>"},
                    {"eos_token", "<|eot_id|>"}};
    auto text = tmpl->render(context);
    ASSERT_TRUE(text.has_value()) << text.status().message();
    EXPECT_EQ(*text,
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    std::vector<int32_t> ids = (*tok)->encode(*text, false, true);
    EXPECT_EQ(ids.front(), vocab.bos_id);
}

class GenerationTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        auto path = model::ensure_default_model(test::temp_dir() / "default");
        ASSERT_TRUE(path.has_value()) << path.status().message();
        ServeOptions options;
        options.context_length = 256;
        options.threads = 2;
        auto loaded = ServedModel::load(model::kDefaultModelName, *path, options);
        ASSERT_TRUE(loaded.has_value()) << loaded.status().message();
        model_ = std::move(loaded).value().release();
    }
    static void TearDownTestSuite() { delete model_; }

    static std::vector<int32_t> prompt() {
        ChatCompletionRequest request;
        request.messages = json::array({{{"role", "user"}, {"content", "Hello"}}});
        auto tokens = model_->chat_prompt(request);
        EXPECT_TRUE(tokens.ok());
        return tokens.ok() ? tokens.value() : std::vector<int32_t>{};
    }

    // Generates one choice with the given index; the streamed text goes to `streamed`.
    static ChoiceResult run(const GenerationRequest& request, std::string* streamed = nullptr,
                            int index = 0) {
        GenerationEvents events;
        events.on_piece = [streamed](int, const std::string& text, std::vector<TokenLogprob>&&) {
            if (streamed != nullptr) *streamed += text;
            return true;
        };
        ChoiceResult outcome;
        events.on_finish = [&outcome](const ChoiceResult& finished) {
            outcome = finished;
            return true;
        };
        const Status status = model_->generate({prompt()}, {{0, index}}, request, events, nullptr);
        EXPECT_TRUE(status.is_ok()) << status.message();
        return outcome;
    }

    static inline ServedModel* model_ = nullptr;
};

TEST_F(GenerationTest, ForcedTokensAndTheTokenLimit) {
    GenerationRequest request;
    request.sampling.logit_bias = {{'A', 100.0f}};
    request.max_tokens = 5;
    std::string streamed;
    ChoiceResult outcome = run(request, &streamed);
    EXPECT_EQ(outcome.text, "AAAAA");
    EXPECT_EQ(streamed, "AAAAA");
    EXPECT_EQ(outcome.finish_reason, "length");
    EXPECT_EQ(outcome.completion_tokens, 5);
}

TEST_F(GenerationTest, StopStringAcrossTokensIsCutAndNeverStreamed) {
    GenerationRequest request;
    request.sampling.logit_bias = {{'a', 100.0f}, {'b', 100.0f}};
    request.sampling.seed = 3;
    request.stop = {"ab"};
    request.max_tokens = 100;
    std::string streamed;
    ChoiceResult outcome = run(request, &streamed);
    EXPECT_EQ(outcome.finish_reason, "stop");
    EXPECT_EQ(streamed, outcome.text);
    EXPECT_EQ(outcome.text.find("ab"), std::string::npos);
    EXPECT_EQ(outcome.text.find_first_not_of("ab"), std::string::npos);
}

TEST_F(GenerationTest, LogprobsFollowTheText) {
    GenerationRequest request;
    request.sampling.logprobs = true;
    request.sampling.top_logprobs = 3;
    request.sampling.seed = 5;
    request.max_tokens = 12;
    ChoiceResult outcome = run(request);
    // One entry per generated token that is text (the end-of-turn token has none).
    const int64_t text_tokens =
        outcome.completion_tokens - (outcome.finish_reason == "stop" ? 1 : 0);
    EXPECT_EQ(static_cast<int64_t>(outcome.logprobs.size()), text_tokens);
    // Bytes that are not UTF-8 become U+FFFD in the text; ASCII tokens appear as they are.
    size_t at = 0;
    for (const TokenLogprob& entry : outcome.logprobs) {
        EXPECT_LE(entry.logprob, 0.0f);
        EXPECT_EQ(entry.top.size(), 3u);
        const bool ascii = std::all_of(entry.bytes.begin(), entry.bytes.end(),
                                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
        if (!ascii) continue;
        at = outcome.text.find(entry.bytes, at);
        ASSERT_NE(at, std::string::npos) << entry.bytes;
        at += entry.bytes.size();
    }
}

TEST_F(GenerationTest, SeedRepeatsAndChoicesDiffer) {
    GenerationRequest request;
    request.sampling.seed = 77;
    request.max_tokens = 16;
    const ChoiceResult first = run(request);
    const ChoiceResult again = run(request);
    EXPECT_EQ(first.text, again.text);
    const ChoiceResult other = run(request, nullptr, 1);
    EXPECT_NE(other.text, first.text);
}

TEST_F(GenerationTest, ContextEndIsLength) {
    GenerationRequest request;
    request.sampling.logit_bias = {{'Z', 100.0f}};
    ChoiceResult outcome = run(request);  // no max_tokens: runs to the end of the context
    EXPECT_EQ(outcome.finish_reason, "length");
    EXPECT_EQ(outcome.completion_tokens + static_cast<int64_t>(prompt().size()),
              model_->context_length());
}

TEST_F(GenerationTest, CancelStopsGeneration) {
    GenerationRequest request;
    request.sampling.logit_bias = {{'Q', 100.0f}};
    int pieces = 0;
    GenerationEvents events;
    events.on_piece = [&pieces](int, const std::string&, std::vector<TokenLogprob>&&) {
        return ++pieces < 3;
    };
    bool finished = false;
    events.on_finish = [&finished](const ChoiceResult&) { return finished = true; };
    const Status status = model_->generate({prompt()}, {{0, 0}}, request, events, nullptr);
    EXPECT_EQ(status.code(), ErrorCode::kCancelled);
    EXPECT_EQ(pieces, 3);
    EXPECT_FALSE(finished);
}

// The scheduler's behaviour seen through the model's public API: concurrent requests batched
// together, prompt caching, the queue limit and cancellation.
class SchedulingTest : public ::testing::Test {
  protected:
    // A fresh model per test, so that its slots start empty. `parallel` sequences at once.
    void load(int parallel, int max_queue = 512, int64_t context_length = 256) {
        auto path = model::ensure_default_model(test::temp_dir() / "default");
        ASSERT_TRUE(path.has_value()) << path.status().message();
        ServeOptions options;
        options.context_length = context_length;
        options.threads = 2;
        options.num_parallel = parallel;
        options.max_queue = max_queue;
        options.on_request_done = [this](const engine::RequestReport& report) {
            std::lock_guard<std::mutex> lock(mutex_);
            reports_.push_back(report);
        };
        auto loaded = ServedModel::load(model::kDefaultModelName, *path, options);
        ASSERT_TRUE(loaded.has_value()) << loaded.status().message();
        model_ = std::move(loaded).value();
    }

    std::vector<int32_t> chat(const std::string& text) {
        ChatCompletionRequest request;
        request.messages = json::array({{{"role", "user"}, {"content", text}}});
        auto tokens = model_->chat_prompt(request);
        EXPECT_TRUE(tokens.ok());
        return tokens.ok() ? tokens.value() : std::vector<int32_t>{};
    }

    // Runs one request's choices to the end; texts by choice index.
    std::vector<std::string> run(const std::vector<int32_t>& prompt,
                                 const GenerationRequest& request, int n = 1) {
        std::vector<std::string> texts(static_cast<size_t>(n));
        std::vector<ChoiceSpec> choices;
        for (int i = 0; i < n; ++i) choices.push_back({0, i});
        GenerationEvents events;
        events.on_finish = [&texts](const ChoiceResult& outcome) {
            texts[static_cast<size_t>(outcome.index)] = outcome.text;
            return true;
        };
        const Status status = model_->generate({prompt}, choices, request, events, nullptr);
        EXPECT_TRUE(status.is_ok()) << status.message();
        return texts;
    }

    std::vector<engine::RequestReport> reports() {
        std::lock_guard<std::mutex> lock(mutex_);
        return reports_;
    }

    std::mutex mutex_;
    std::vector<engine::RequestReport> reports_;
    // Declared last, so destroyed first: its scheduler thread reports into reports_ until then.
    std::unique_ptr<ServedModel> model_;
};

GenerationRequest greedy(int64_t max_tokens) {
    GenerationRequest request;
    request.sampling.temperature = 0.0f;
    request.max_tokens = max_tokens;
    return request;
}

TEST_F(SchedulingTest, ConcurrentRequestsAnswerAsTheyDoAlone) {
    load(4);
    const std::vector<std::string> questions = {"Hello", "What is the capital of France?",
                                                "Tell me a story about a cat", "2+2?", "Why?"};
    std::vector<std::string> alone;
    for (const std::string& q : questions) alone.push_back(run(chat(q), greedy(24))[0]);

    // Five at once on four slots: batched steps, and one request waits for a free slot.
    std::vector<std::string> together(questions.size());
    std::vector<std::thread> clients;
    for (size_t i = 0; i < questions.size(); ++i) {
        clients.emplace_back([&, i] { together[i] = run(chat(questions[i]), greedy(24))[0]; });
    }
    for (std::thread& client : clients) client.join();
    EXPECT_EQ(together, alone);
}

TEST_F(SchedulingTest, ChoicesOfOneRequestDecodeTogetherAndRepeat) {
    load(4);
    GenerationRequest request;
    request.sampling.seed = 11;
    request.max_tokens = 16;
    const std::vector<int32_t> prompt = chat("Name three colours");
    const std::vector<std::string> texts = run(prompt, request, 3);
    // Each choice equals the same choice generated on its own (its seed is seed + index).
    for (int i = 0; i < 3; ++i) {
        GenerationRequest single = request;
        single.sampling.seed = 11 + static_cast<uint64_t>(i);
        EXPECT_EQ(run(prompt, single)[0], texts[static_cast<size_t>(i)]) << "choice " << i;
    }
    EXPECT_NE(texts[0], texts[1]);
}

TEST_F(SchedulingTest, NextTurnReusesTheCachedConversation) {
    load(2);
    const std::vector<int32_t> first = chat("Hello there, how are you today?");
    run(first, greedy(8));
    // The next turn's prompt starts with the previous one.
    std::vector<int32_t> next = first;
    const std::vector<int32_t> more = chat("And tomorrow?");
    next.insert(next.end(), more.begin() + 1, more.end());
    run(next, greedy(8));
    const std::vector<engine::RequestReport> seen = reports();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].cached_prompt_tokens, 0);
    EXPECT_GE(seen[1].cached_prompt_tokens, static_cast<int64_t>(first.size()) - 1);
    EXPECT_EQ(seen[1].prompt_tokens, static_cast<int64_t>(next.size()));
    EXPECT_GE(seen[1].time_to_first_token_seconds, 0.0);
}

// Waits until the model runs `n` choices (the scheduler admits requests on its own thread).
void await_running(const ServedModel& model, int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (model.running_choices() != n && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(model.running_choices(), n);
}

// A request that runs for seconds: one token forced, as many as a long context holds.
GenerationRequest endless() {
    GenerationRequest request;
    request.sampling.logit_bias = {{'Q', 100.0f}};
    return request;
}

TEST_F(SchedulingTest, FullQueueRefusesAtOnceAndCancelFreesTheSlot) {
    load(1, 1, 8192);
    const std::vector<int32_t> prompt = chat("Hello");
    auto running = model_->start({prompt}, {{0, 0}}, endless());
    ASSERT_TRUE(running.has_value());
    await_running(*model_, 1);
    auto waiting = model_->start({prompt}, {{0, 0}}, greedy(4));
    ASSERT_TRUE(waiting.has_value());
    auto refused = model_->start({prompt}, {{0, 0}}, greedy(4));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.status().code(), ErrorCode::kResourceExhausted);

    // Dropping the running request frees its slot: the waiting one gets it well within 1 s.
    const auto cancelled_at = std::chrono::steady_clock::now();
    running->reset();
    std::string text;
    GenerationEvents events;
    events.on_finish = [&text](const ChoiceResult& outcome) {
        text = outcome.text;
        return true;
    };
    ASSERT_TRUE((*waiting)->wait(events, nullptr).is_ok());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - cancelled_at).count();
    EXPECT_LT(seconds, 1.0);
    EXPECT_FALSE(text.empty());
}

TEST_F(SchedulingTest, CancelCheckStopsAWaitingRequest) {
    load(1, 512, 8192);
    const std::vector<int32_t> prompt = chat("Hello");
    auto running = model_->start({prompt}, {{0, 0}}, endless());
    ASSERT_TRUE(running.has_value());
    await_running(*model_, 1);
    int polls = 0;
    const Status status =
        model_->generate({prompt}, {{0, 0}}, greedy(4), {}, [&polls] { return ++polls > 3; });
    EXPECT_EQ(status.code(), ErrorCode::kCancelled);
    const Status stopped = (*running)->wait({}, [] { return true; });
    EXPECT_EQ(stopped.code(), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace cria::server
