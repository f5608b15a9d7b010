#include "server/structured_output.h"

#include "grammar/grammar_cache.h"
#include "grammar/json_schema.h"
#include "grammar/tool_call_grammar.h"
#include "server/cut_tool_call.h"

namespace cria::server {

namespace {

Expected<std::shared_ptr<const grammar::Grammar>> compile_cached(
    grammar::GrammarCache* cache, const std::string& key,
    const grammar::GrammarCache::Compile& compile) {
    return cache != nullptr ? cache->get_or_compile(key, compile) : compile();
}

using json = nlohmann::ordered_json;

ApiError schema_error(const std::string& message, const std::string& param) {
    return invalid_request("Invalid schema: " + message, param, "invalid_value");
}

}  // namespace

grammar::ToolCallSyntax tool_call_syntax(chat::ToolCallFormat format) {
    const chat::ToolCallMarkers markers = chat::tool_call_markers(format);
    grammar::ToolCallSyntax syntax;
    syntax.calls_open = markers.calls_open;
    syntax.call_open = markers.call_open;
    syntax.call_close = markers.call_close;
    syntax.call_separator = markers.call_separator;
    syntax.calls_close = markers.calls_close;
    syntax.name_key = markers.name_key;
    syntax.arguments_key = markers.arguments_key;
    return syntax;
}

ApiResult<OutputPlan> plan_chat_output(ChatCompletionRequest& request,
                                       std::string_view template_source,
                                       grammar::GrammarCache* cache) {
    OutputPlan plan;
    plan.split_reasoning = chat::template_has_reasoning(template_source);

    // tool_choice
    std::string mode = "auto";
    std::string forced_name;
    const json& choice = request.tool_choice;
    if (choice.is_string()) {
        mode = choice.get<std::string>();
    } else if (choice.is_object()) {
        const json* function = choice.contains("function") ? &choice["function"] : nullptr;
        if (choice.value("type", "") != "function" || function == nullptr ||
            !function->is_object() || !function->contains("name") ||
            !(*function)["name"].is_string()) {
            return invalid_request(
                "'tool_choice' as an object must be {\"type\": \"function\", \"function\": "
                "{\"name\": ...}}.",
                "tool_choice", "invalid_value");
        }
        mode = "function";
        forced_name = (*function)["name"].get<std::string>();
    }
    const bool has_tools = request.tools.is_array() && !request.tools.empty();
    if ((mode == "required" || mode == "function") && !has_tools) {
        return invalid_request("'tool_choice' asks for a tool call but 'tools' is empty.",
                               "tool_choice", "invalid_value");
    }
    plan.tool_format = chat::detect_tool_call_format(template_source);
    plan.allow_multiple_calls = request.parallel_tool_calls;
    if (mode == "none") {
        request.tools = nullptr;
    } else if (has_tools) {
        plan.parse_tool_calls = true;
    }

    if (mode == "required" || mode == "function") {
        std::vector<grammar::ToolFunction> functions;
        for (const json& tool : request.tools) {
            const json& function = tool["function"];
            const std::string name = function["name"].get<std::string>();
            if (mode == "function" && name != forced_name) continue;
            // Schemas stay ordered_json: generated objects follow the order of `properties`.
            functions.push_back(
                {name, function.contains("parameters") ? function["parameters"] : json()});
        }
        if (functions.empty()) {
            return invalid_request("'tool_choice' names the function '" + forced_name +
                                       "', which 'tools' does not define.",
                                   "tool_choice", "invalid_value");
        }
        const grammar::ToolCallSyntax syntax = tool_call_syntax(plan.tool_format);
        const bool multiple = mode == "required" && plan.allow_multiple_calls;
        // Everything the grammar depends on, separated by a byte no JSON text holds unescaped.
        std::string key = "tools\x1f" + syntax.calls_open + "\x1f" + syntax.call_open + "\x1f" +
                          syntax.call_close + "\x1f" + syntax.call_separator + "\x1f" +
                          syntax.calls_close + "\x1f" + syntax.name_key + "\x1f" +
                          syntax.arguments_key + (multiple ? "\x1fmany" : "\x1fone");
        for (const grammar::ToolFunction& function : functions) {
            key += "\x1f" + function.name + "\x1f" + function.parameters.dump();
        }
        auto compiled = compile_cached(cache, key, [&] {
            return grammar::compile_tool_call_grammar(syntax, functions, multiple);
        });
        if (!compiled.has_value()) return schema_error(compiled.status().message(), "tools");
        plan.grammar = std::move(compiled).value();
        // A forced call is the whole answer: no room for a reasoning block first.
        plan.split_reasoning = false;
        return plan;
    }

    const json& format = request.response_format;
    if (format.is_object()) {
        const std::string type = format.value("type", "text");
        if (type == "json_object") {
            auto compiled = compile_cached(cache, "json_object",
                                           [] { return grammar::compile_json_object_grammar(); });
            if (!compiled.has_value()) return internal_fault(compiled.status().message());
            plan.grammar = std::move(compiled).value();
        } else if (type == "json_schema") {
            const json& spec = format["json_schema"];
            if (!spec.contains("schema")) {
                return invalid_request("'response_format.json_schema' needs a 'schema'.",
                                       "response_format.json_schema.schema", "missing_required");
            }
            const json& schema = spec["schema"];
            auto compiled = compile_cached(cache, "schema\x1f" + schema.dump(),
                                           [&] { return grammar::compile_json_schema(schema); });
            if (!compiled.has_value()) {
                return schema_error(compiled.status().message(),
                                    "response_format.json_schema.schema");
            }
            plan.grammar = std::move(compiled).value();
        }
        if (plan.grammar) {
            // The grammar decides the whole answer, from its first byte.
            plan.split_reasoning = false;
            plan.parse_tool_calls = false;
        }
    }
    return plan;
}

ChatOutputShaper::ChatOutputShaper(const OutputPlan& plan)
    : plan_(plan),
      reasoning_(plan.starts_in_reasoning),
      tool_parser_(plan.tool_format),
      id_rng_(std::random_device{}()) {}

void ChatOutputShaper::add_calls(std::vector<chat::ParsedToolCall>&& calls,
                                 std::vector<json>& deltas) {
    for (chat::ParsedToolCall& call : calls) {
        if (!plan_.allow_multiple_calls && !tool_calls_.empty()) {
            ++dropped_calls_;
            continue;
        }
        const int index = static_cast<int>(tool_calls_.size());
        const std::string id = chat::make_tool_call_id(plan_.tool_format, id_rng_(), id_rng_());
        tool_calls_.push_back({{"id", id},
                               {"type", "function"},
                               {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
        // One delta announcing the call, then its arguments.
        deltas.push_back(
            {{"tool_calls",
              json::array({{{"index", index},
                            {"id", id},
                            {"type", "function"},
                            {"function", {{"name", call.name}, {"arguments", ""}}}}})}});
        deltas.push_back(
            {{"tool_calls",
              json::array({{{"index", index}, {"function", {{"arguments", call.arguments}}}}})}});
    }
}

void ChatOutputShaper::shape_content(std::string_view text, bool at_end, bool cut,
                                     std::vector<json>& deltas) {
    if (!plan_.parse_tool_calls) {
        if (!text.empty()) {
            content_.append(text);
            deltas.push_back({{"content", std::string(text)}});
        }
        return;
    }
    chat::ToolCallParseStep step = tool_parser_.feed(text);
    if (at_end) {
        chat::ToolCallParseStep rest = tool_parser_.finish();
        if (cut) {
            // The text the parser gives back is the unclosed call, after any content.
            if (std::optional<CutToolCalls> open =
                    recover_cut_tool_calls(plan_.tool_format, rest.content)) {
                rest.content = std::move(open->content);
                for (auto& call : open->calls) rest.calls.push_back(std::move(call));
            }
        }
        step.content += rest.content;
        for (auto& call : rest.calls) step.calls.push_back(std::move(call));
    }
    if (!step.content.empty()) {
        content_ += step.content;
        deltas.push_back({{"content", step.content}});
    }
    add_calls(std::move(step.calls), deltas);
}

std::vector<json> ChatOutputShaper::feed(std::string_view text) {
    std::vector<json> deltas;
    if (!plan_.split_reasoning) {
        shape_content(text, false, false, deltas);
        return deltas;
    }
    chat::ReasoningStep step = reasoning_.feed(text);
    if (!step.reasoning.empty()) {
        reasoning_text_ += step.reasoning;
        deltas.push_back({{"reasoning_content", step.reasoning}});
    }
    shape_content(step.content, false, false, deltas);
    return deltas;
}

std::vector<json> ChatOutputShaper::finish(std::string& finish_reason) {
    std::vector<json> deltas;
    if (plan_.split_reasoning) {
        chat::ReasoningStep step = reasoning_.finish();
        if (!step.reasoning.empty()) {
            reasoning_text_ += step.reasoning;
            deltas.push_back({{"reasoning_content", step.reasoning}});
        }
        shape_content(step.content, true, finish_reason == "length", deltas);
    } else {
        shape_content("", true, finish_reason == "length", deltas);
    }
    // OpenAI reports "tool_calls" when the answer ended with calls; a cut answer stays "length".
    if (!tool_calls_.empty() && finish_reason == "stop") finish_reason = "tool_calls";
    return deltas;
}

void ChatOutputShaper::fill_message(json& message) const {
    message["content"] = content_.empty() && !tool_calls_.empty() ? json(nullptr) : json(content_);
    if (!reasoning_text_.empty()) message["reasoning_content"] = reasoning_text_;
    if (!tool_calls_.empty()) message["tool_calls"] = tool_calls_;
}

}  // namespace cria::server
