#include "chat/reasoning.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace cria::chat {
namespace {

ReasoningStep split(const std::string& text, bool starts_in_reasoning, size_t chunk) {
    ReasoningSplitter splitter(starts_in_reasoning);
    ReasoningStep all;
    for (size_t i = 0; i < text.size(); i += chunk) {
        ReasoningStep s = splitter.feed(text.substr(i, chunk));
        all.reasoning += s.reasoning;
        all.content += s.content;
    }
    ReasoningStep s = splitter.finish();
    all.reasoning += s.reasoning;
    all.content += s.content;
    return all;
}

void expect_split(const std::string& text, bool starts_in_reasoning, const std::string& reasoning,
                  const std::string& content) {
    for (size_t chunk : {1, 3, 1000}) {
        const ReasoningStep s = split(text, starts_in_reasoning, chunk);
        EXPECT_EQ(s.reasoning, reasoning) << "chunk " << chunk << ": " << text;
        EXPECT_EQ(s.content, content) << "chunk " << chunk << ": " << text;
    }
}

TEST(ReasoningSplitter, Qwen3Output) {
    expect_split("<think>\nThe user greets me.\nI greet back.\n</think>\n\nHello!", false,
                 "The user greets me.\nI greet back.", "Hello!");
}

TEST(ReasoningSplitter, PromptOpenedThinkBlock) {
    // QwQ / R1 distills: the prompt ends with "<think>\n".
    expect_split("Compute 2+2 = 4.\n</think>\n\nThe answer is 4.", true, "Compute 2+2 = 4.",
                 "The answer is 4.");
}

TEST(ReasoningSplitter, NoReasoning) {
    expect_split("Just an answer with <think> in the middle.", false, "",
                 "Just an answer with <think> in the middle.");
    expect_split("<thin", false, "", "<thin");
    expect_split("", false, "", "");
}

TEST(ReasoningSplitter, EmptyOrUnfinishedReasoning) {
    // think: false on Qwen3 renders an empty block into the prompt; the model may also emit one.
    expect_split("<think>\n\n</think>\n\nHi", false, "", "Hi");
    // Cut off by the token limit inside the reasoning: everything is reasoning.
    expect_split("<think>\nstill thinking </thi", false, "still thinking </thi", "");
}

TEST(ReasoningTemplates, DetectsThinkingTemplates) {
    CRIA_REQUIRE_SHARED(shared);
    const auto dir = shared / "golden/templates/templates";
    for (const char* name : {"Qwen-Qwen3-0.6B.jinja", "Qwen-QwQ-32B.jinja",
                             "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"}) {
        EXPECT_TRUE(template_has_reasoning(test::read_file(dir / name))) << name;
        EXPECT_TRUE(template_can_disable_reasoning(test::read_file(dir / name))) << name;
    }
    EXPECT_FALSE(template_has_reasoning(test::read_file(dir / "Qwen-Qwen2.5-7B-Instruct.jinja")));
    EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
    EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
}

}  // namespace
}  // namespace cria::chat
