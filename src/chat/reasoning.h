// Reasoning ("thinking") text in model output: models such as Qwen3, QwQ and the DeepSeek-R1
// distills write their reasoning inside <think>...</think> before the answer. The splitter
// separates it from the content as text streams in; the templates of QwQ and the R1 distills
// open the <think> block in the prompt, so the output starts inside it.
#pragma once

#include <string>
#include <string_view>

namespace cria::chat {

// The template renders a thinking block at all (so reasoning can be split out).
bool template_has_reasoning(std::string_view template_source);
// The template reads `enable_thinking`, so reasoning can be turned off by rendering with
// enable_thinking = false.
bool template_can_disable_reasoning(std::string_view template_source);
// The rendered prompt ends inside an open <think> block: generation starts in reasoning.
bool prompt_opens_reasoning(std::string_view prompt);

struct ReasoningStep {
    std::string reasoning;
    std::string content;
};

class ReasoningSplitter {
  public:
    // `starts_in_reasoning`: the prompt already opened <think> (prompt_opens_reasoning).
    explicit ReasoningSplitter(bool starts_in_reasoning);

    ReasoningStep feed(std::string_view text);
    ReasoningStep finish();

  private:
    enum class Phase { kStart, kReasoning, kAfterReasoning, kContent };
    void process(bool at_end, ReasoningStep& out);
    void emit_reasoning(std::string_view text, ReasoningStep& out);

    Phase phase_;
    std::string buffer_;
    bool reasoning_started_ = false;
    std::string pending_whitespace_;
};

}  // namespace cria::chat
