// Grammars that force a model to call tools (tool_choice "required" or a named function), in
// the textual syntax of its family, with arguments that validate against each function's
// `parameters` schema.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "grammar/grammar.h"

namespace cria::grammar {

// How a family writes its calls, e.g. Hermes/Qwen: call_open "<tool_call>\n", call_close
// "\n</tool_call>", call_separator "\n"; Mistral: calls_open "[TOOL_CALLS][", call_separator
// ", ", calls_close "]". Each call is the JSON object {"<name_key>": "<function>",
// "<arguments_key>": <arguments>}.
struct ToolCallSyntax {
    std::string calls_open;
    std::string call_open;
    std::string call_close;
    std::string call_separator;
    std::string calls_close;
    std::string name_key = "name";
    std::string arguments_key = "arguments";
};

struct ToolFunction {
    std::string name;
    nlohmann::ordered_json parameters;  // a JSON Schema (key order kept); null or empty: any object
};

inline constexpr uint32_t kMaxParallelToolCalls = 8;

// One call (allow_multiple false) or 1..kMaxParallelToolCalls calls, each to one of
// `functions`. A schema error names the function and the keyword.
Expected<std::shared_ptr<const Grammar>> compile_tool_call_grammar(
    const ToolCallSyntax& syntax, const std::vector<ToolFunction>& functions, bool allow_multiple);

}  // namespace cria::grammar
