// The tool calls of an answer cut off by the token limit in the middle of a call: the text the
// tool-call parser gives back as content because the call never closed. The calls are recovered
// as OpenAI streams them before the cut (a call's name once it is complete, then its arguments
// as far as they were generated), so that the call's markup never shows as content.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_calls.h"

namespace cria::server {

struct CutToolCalls {
    std::string content;                      // the text before the first call
    std::vector<chat::ParsedToolCall> calls;  // complete ones, then the cut one when it has a name
};

// nullopt when `text` does not end in an open call of the format (it is then content).
std::optional<CutToolCalls> recover_cut_tool_calls(chat::ToolCallFormat format,
                                                   std::string_view text);

}  // namespace cria::server
