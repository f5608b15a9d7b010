// The demo vocabulary through the real tokenizer and chat template, and the generation service
// on a tiny random-weight model made with it: limits, stop strings, logprobs and seeds.
#include "server/generation.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "chat/chat_template.h"
#include "gguf/reader.h"
#include "server/default_model.h"
#include "server/demo_vocab.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

TEST(DemoVocabulary, TokenizesRoundTripsAndRendersChats) {
    const DemoVocabulary vocab = build_demo_vocabulary();
    EXPECT_GT(vocab.merges.size(), 50u);
    gguf::Writer writer;
    write_demo_vocabulary(vocab, writer);
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
        auto path = ensure_default_model(test::temp_dir() / "default");
        ASSERT_TRUE(path.has_value()) << path.status().message();
        ServeOptions options;
        options.context_length = 256;
        options.threads = 2;
        auto loaded = ServedModel::load(kDefaultModelName, *path, options);
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
    static ChoiceOutcome run(const GenerationRequest& request, std::string* streamed = nullptr,
                             int index = 0) {
        GenerationEvents events;
        events.on_piece = [streamed](int, const std::string& text, std::vector<TokenLogprob>&&) {
            if (streamed != nullptr) *streamed += text;
            return true;
        };
        ChoiceOutcome outcome;
        events.on_finish = [&outcome](const ChoiceOutcome& finished) {
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
    ChoiceOutcome outcome = run(request, &streamed);
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
    ChoiceOutcome outcome = run(request, &streamed);
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
    ChoiceOutcome outcome = run(request);
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
    const ChoiceOutcome first = run(request);
    const ChoiceOutcome again = run(request);
    EXPECT_EQ(first.text, again.text);
    const ChoiceOutcome other = run(request, nullptr, 1);
    EXPECT_NE(other.text, first.text);
}

TEST_F(GenerationTest, ContextEndIsLength) {
    GenerationRequest request;
    request.sampling.logit_bias = {{'Z', 100.0f}};
    ChoiceOutcome outcome = run(request);  // no max_tokens: runs to the end of the context
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
    events.on_finish = [&finished](const ChoiceOutcome&) { return finished = true; };
    const Status status = model_->generate({prompt()}, {{0, 0}}, request, events, nullptr);
    EXPECT_EQ(status.code(), ErrorCode::kCancelled);
    EXPECT_EQ(pieces, 3);
    EXPECT_FALSE(finished);
}

}  // namespace
}  // namespace cria::server
