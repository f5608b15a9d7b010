// Structured outputs for chat completions: what shape a request asks of the answer (JSON mode,
// JSON Schema, tool calls, reasoning), resolved against the model's chat template into a
// grammar for constrained decoding, and the shaping of the generated text into the message
// fields (content, reasoning_content, tool_calls), whole or as stream deltas.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/reasoning.h"
#include "chat/tool_calls.h"
#include "server/api.h"

namespace cria::grammar {
class Grammar;
class GrammarCache;
struct ToolCallSyntax;
}  // namespace cria::grammar

namespace cria::server {

// The call syntax of a template family, as the tool-call grammar takes it.
grammar::ToolCallSyntax tool_call_syntax(chat::ToolCallFormat format);

struct OutputPlan {
    // Constrains decoding when set (response_format, or tool_choice required / named).
    std::shared_ptr<const grammar::Grammar> grammar;
    // Parse tool calls out of the answer (tools given and tool_choice is not "none").
    bool parse_tool_calls = false;
    chat::ToolCallFormat tool_format = chat::ToolCallFormat::kGeneric;
    // parallel_tool_calls: false keeps at most one call.
    bool allow_multiple_calls = true;
    // Split <think> blocks into reasoning_content (templates that write them).
    bool split_reasoning = false;
    bool starts_in_reasoning = false;
};

// Resolves the request against the template source. Errors are 400s that name the parameter
// and, for schemas, the keyword. May clear `request.tools` (tool_choice "none": the template
// is then rendered without tools, so the model is not invited to call any). Grammars come
// from `cache` when an earlier request had the same schema or tools (null: always compiled).
ApiResult<OutputPlan> plan_chat_output(ChatCompletionRequest& request,
                                       std::string_view template_source,
                                       grammar::GrammarCache* cache = nullptr);

// Turns generated text into message fields. Feed text as it is generated; each call returns
// the deltas to stream (objects for `choices[].delta`). finish() returns the last ones and
// the final finish_reason ("tool_calls" when the answer carries calls). An answer cut by the
// token limit ("length") inside a tool call keeps that call (its name, and its arguments as far
// as they were generated, which may not parse) and no markup in the content; it stays "length".
class ChatOutputShaper {
  public:
    explicit ChatOutputShaper(const OutputPlan& plan);

    std::vector<nlohmann::ordered_json> feed(std::string_view text);
    std::vector<nlohmann::ordered_json> finish(std::string& finish_reason);

    // The whole message after finish(): content (null when there are calls and no text),
    // reasoning_content when any, tool_calls when any.
    void fill_message(nlohmann::ordered_json& message) const;

  private:
    // `cut`: the answer ended at the token limit, so a call left open is returned as far as it
    // got rather than as content.
    void shape_content(std::string_view text, bool at_end, bool cut,
                       std::vector<nlohmann::ordered_json>& deltas);
    void add_calls(std::vector<chat::ParsedToolCall>&& calls,
                   std::vector<nlohmann::ordered_json>& deltas);

    OutputPlan plan_;
    chat::ReasoningSplitter reasoning_;
    chat::ToolCallParser tool_parser_;
    std::mt19937_64 id_rng_;
    std::string content_;
    std::string reasoning_text_;
    nlohmann::ordered_json tool_calls_ = nlohmann::ordered_json::array();
    size_t dropped_calls_ = 0;  // beyond the first when parallel calls are off
};

}  // namespace cria::server
