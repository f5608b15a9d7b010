// Tool calls in model output: which syntax a model family uses (detected from its chat
// template), and parsing generated text into content and calls, incrementally for streaming.
//
// Formats:
//   kHermes   Hermes 2 Pro, Qwen 2.5/3, QwQ: <tool_call>\n{"name": ..., "arguments":
//   {...}}\n</tool_call>
//             repeated for several calls; text around the blocks is content.
//   kLlama3   Llama 3.1-3.3: the whole answer is {"name": ..., "parameters": {...}}, optionally
//             after <|python_tag|>, several separated by ';' or newlines; built-in tools as
//             <|python_tag|>name.call(key="value", ...).
//   kMistral  Mistral / Nemo: [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...] after any
//             content.
//   kGeneric  every other template: an answer that is exactly {"tool_calls": [{"name": ...,
//             "arguments": {...}}, ...]} or one {"name": ..., "arguments": {...}} object
//             (optionally in a ```json fence).
// A call whose JSON does not parse, lacks a name, or has non-object arguments is not a call:
// its text is returned as content, never dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cria::chat {

enum class ToolCallFormat { kGeneric, kHermes, kLlama3, kMistral };

const char* tool_call_format_name(ToolCallFormat format);

// Detects the family from the template source (the markers its tool-call rendering uses).
ToolCallFormat detect_tool_call_format(std::string_view template_source);

// The literal text a format wraps calls in, for building grammars that force calls. Each call
// is the JSON object {"<name_key>": "<name>", "<arguments_key>": {...}}.
struct ToolCallMarkers {
    std::string calls_open;
    std::string call_open;
    std::string call_close;
    std::string call_separator;
    std::string calls_close;
    std::string name_key = "name";
    std::string arguments_key = "arguments";
};
ToolCallMarkers tool_call_markers(ToolCallFormat format);

struct ParsedToolCall {
    std::string name;
    std::string arguments;  // compact JSON text of an object
    std::string id;         // when the model wrote one (Mistral); usually empty
};

// What one step of parsing produced: content to show and calls completed during the step.
struct ToolCallParseStep {
    std::string content;
    std::vector<ParsedToolCall> calls;
};

// Streaming parser: feed generated text as it arrives; content that cannot belong to a call is
// released at once, text that may be a call is held until the call is complete (or shown not
// to be one). finish() releases everything left. Parsing all text with one feed() and
// finish() gives the same result as feeding it piecewise.
class ToolCallParser {
  public:
    explicit ToolCallParser(ToolCallFormat format) : format_(format) {}

    ToolCallParseStep feed(std::string_view text);
    ToolCallParseStep finish();

  private:
    void process(bool at_end, ToolCallParseStep& out);
    void process_hermes(bool at_end, ToolCallParseStep& out);
    void process_mistral(bool at_end, ToolCallParseStep& out);
    void process_whole_answer(bool at_end, ToolCallParseStep& out);

    ToolCallFormat format_;
    std::string buffer_;
    bool holding_answer_ = false;  // kLlama3/kGeneric: the answer looks like a call so far
    bool decided_ = false;         // kLlama3/kGeneric: whether the answer starts like a call
    bool in_mistral_calls_ = false;
    bool saw_call_ = false;
    bool after_call_ = false;
    // Whitespace after the last content, held until it is known whether a call follows.
    std::string pending_whitespace_;
};

// All at once.
ToolCallParseStep parse_tool_calls(ToolCallFormat format, std::string_view text);

// An id for a generated call: "call_" + 24 alphanumerics, or 9 alphanumerics for kMistral,
// whose templates require exactly nine. `random` supplies the entropy (two 64-bit words).
std::string make_tool_call_id(ToolCallFormat format, uint64_t random_high, uint64_t random_low);

}  // namespace cria::chat
