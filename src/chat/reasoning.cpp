#include "chat/reasoning.h"

#include <algorithm>

namespace cria::chat {

namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

size_t partial_marker_suffix(std::string_view text, std::string_view marker) {
    for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
        if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
    }
    return 0;
}

}  // namespace

bool template_has_reasoning(std::string_view source) {
    return source.find(kClose) != std::string_view::npos;
}

bool template_can_disable_reasoning(std::string_view source) {
    return source.find("enable_thinking") != std::string_view::npos;
}

bool prompt_opens_reasoning(std::string_view prompt) {
    const size_t open = prompt.rfind(kOpen);
    if (open == std::string_view::npos) return false;
    return prompt.find(kClose, open) == std::string_view::npos;
}

ReasoningSplitter::ReasoningSplitter(bool starts_in_reasoning)
    : phase_(starts_in_reasoning ? Phase::kReasoning : Phase::kStart) {}

ReasoningStep ReasoningSplitter::feed(std::string_view text) {
    buffer_.append(text);
    ReasoningStep out;
    process(false, out);
    return out;
}

ReasoningStep ReasoningSplitter::finish() {
    ReasoningStep out;
    process(true, out);
    return out;
}

// Reasoning is released without its leading whitespace, and with trailing whitespace held
// until more reasoning follows (it is dropped when </think> comes next).
void ReasoningSplitter::emit_reasoning(std::string_view text, ReasoningStep& out) {
    if (!reasoning_started_) {
        size_t skip = 0;
        while (skip < text.size() && is_space(text[skip])) ++skip;
        text.remove_prefix(skip);
        if (text.empty()) return;
        reasoning_started_ = true;
    }
    size_t keep = text.size();
    while (keep > 0 && is_space(text[keep - 1])) --keep;
    if (keep > 0) {
        out.reasoning += pending_whitespace_;
        pending_whitespace_.clear();
        out.reasoning.append(text.substr(0, keep));
    }
    pending_whitespace_.append(text.substr(keep));
}

void ReasoningSplitter::process(bool at_end, ReasoningStep& out) {
    while (true) {
        switch (phase_) {
            case Phase::kStart: {
                // Reasoning only counts at the very start of the answer (after whitespace).
                size_t skip = 0;
                while (skip < buffer_.size() && is_space(buffer_[skip])) ++skip;
                const std::string_view rest = std::string_view(buffer_).substr(skip);
                const size_t n = std::min(rest.size(), kOpen.size());
                if (rest.substr(0, n) == kOpen.substr(0, n)) {
                    if (rest.size() < kOpen.size()) {
                        if (!at_end) return;
                        phase_ = Phase::kContent;
                        continue;
                    }
                    buffer_.erase(0, skip + kOpen.size());
                    phase_ = Phase::kReasoning;
                    continue;
                }
                phase_ = Phase::kContent;
                continue;
            }
            case Phase::kReasoning: {
                const size_t close = buffer_.find(kClose);
                const size_t hold = close != std::string::npos ? 0
                                    : at_end                   ? 0
                                             : partial_marker_suffix(buffer_, kClose);
                const size_t take = close != std::string::npos ? close : buffer_.size() - hold;
                emit_reasoning(std::string_view(buffer_).substr(0, take), out);
                if (close == std::string::npos) {
                    buffer_.erase(0, take);
                    return;
                }
                // Whitespace before </think> is layout.
                pending_whitespace_.clear();
                buffer_.erase(0, close + kClose.size());
                phase_ = Phase::kAfterReasoning;
                continue;
            }
            case Phase::kAfterReasoning: {
                // The blank lines between </think> and the answer are layout.
                size_t skip = 0;
                while (skip < buffer_.size() && is_space(buffer_[skip])) ++skip;
                buffer_.erase(0, skip);
                if (buffer_.empty()) return;
                phase_ = Phase::kContent;
                continue;
            }
            case Phase::kContent:
                out.content += buffer_;
                buffer_.clear();
                return;
        }
    }
}

}  // namespace cria::chat
