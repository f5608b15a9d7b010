#include "server/structured_output.h"

#include <gtest/gtest.h>

#include "grammar/grammar_cache.h"
#include "grammar/matcher.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

const char* kHermesTemplate =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if tools %}<tools>{{ tools | tojson }}</tools> answer in <tool_call></tool_call>{% endif %}"
    "{% if '</think>' in x %}{% endif %}";

ChatCompletionRequest request_with(json fields) {
    ChatCompletionRequest r;
    r.messages = json::array({{{"role", "user"}, {"content", "hi"}}});
    if (fields.contains("tools")) r.tools = fields["tools"];
    if (fields.contains("tool_choice")) r.tool_choice = fields["tool_choice"];
    if (fields.contains("response_format")) r.response_format = fields["response_format"];
    if (fields.contains("parallel_tool_calls")) {
        r.parallel_tool_calls = fields["parallel_tool_calls"].get<bool>();
    }
    return r;
}

json tools() {
    return json::parse(R"([{"type": "function", "function": {"name": "add", "parameters":
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}},
        {"type": "function", "function": {"name": "now"}}])");
}

TEST(PlanChatOutput, ResponseFormats) {
    auto r = request_with({{"response_format", {{"type", "json_object"}}}});
    auto plan = plan_chat_output(r, kHermesTemplate);
    ASSERT_TRUE(plan.ok());
    ASSERT_NE(plan.value().grammar, nullptr);
    grammar::Matcher m(plan.value().grammar, nullptr);
    EXPECT_TRUE(m.accept_bytes("{\"k\": [1]}").is_ok());
    EXPECT_TRUE(m.is_accepting());

    auto bad = request_with(json::parse(R"({"response_format": {"type": "json_schema",
        "json_schema": {"name": "x", "schema": {"type": "object", "minProperties": 1}}}})"));
    auto error = plan_chat_output(bad, kHermesTemplate);
    ASSERT_FALSE(error.ok());
    EXPECT_NE(error.error().message.find("'minProperties'"), std::string::npos);
    EXPECT_EQ(error.error().param, "response_format.json_schema.schema");

    auto text = request_with({{"response_format", {{"type", "text"}}}});
    auto plain = plan_chat_output(text, kHermesTemplate);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain.value().grammar, nullptr);
}

// The request body's key order reaches the grammar: properties come out as the schema lists
// them (zeta, alpha, mid), in JSON Schema answers and in forced tool-call arguments alike.
TEST(PlanChatOutput, PropertiesKeepTheRequestOrder) {
    const char* schema = R"({"type": "object", "properties": {"zeta": {"type": "integer"},
        "alpha": {"type": "integer"}, "mid": {"type": "integer"}},
        "required": ["zeta", "alpha", "mid"], "additionalProperties": false})";
    auto parsed = parse_chat_completion_request(
        std::string(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": )") +
        schema + "}}}");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    auto plan = plan_chat_output(parsed.value(), kHermesTemplate);
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    grammar::Matcher in_order(plan.value().grammar, nullptr);
    EXPECT_TRUE(in_order.accept_bytes(R"({"zeta": 1, "alpha": 2, "mid": 3})").is_ok());
    EXPECT_TRUE(in_order.is_accepting());
    grammar::Matcher sorted(plan.value().grammar, nullptr);
    EXPECT_FALSE(sorted.accept_bytes(R"({"alpha": 2, "mid": 3, "zeta": 1})").is_ok());

    auto with_tool = parse_chat_completion_request(
        std::string(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f",
        "parameters": )") +
        schema + "}}]}");
    ASSERT_TRUE(with_tool.ok()) << with_tool.error().message;
    auto tool_plan = plan_chat_output(with_tool.value(), kHermesTemplate);
    ASSERT_TRUE(tool_plan.ok()) << tool_plan.error().message;
    grammar::Matcher call(tool_plan.value().grammar, nullptr);
    EXPECT_TRUE(call.accept_bytes("<tool_call>\n{\"name\": \"f\", \"arguments\": "
                                  "{\"zeta\": 1, \"alpha\": 2, \"mid\": 3}}\n</tool_call>")
                    .is_ok());
    EXPECT_TRUE(call.is_accepting());
}

TEST(PlanChatOutput, OverlappingOneOfIsA400NamingIt) {
    auto r = request_with(json::parse(R"({"response_format": {"type": "json_schema",
        "json_schema": {"name": "x", "schema": {"oneOf": [{"type": "string"},
        {"type": "string", "maxLength": 3}]}}}})"));
    auto error = plan_chat_output(r, kHermesTemplate);
    ASSERT_FALSE(error.ok());
    EXPECT_EQ(error.error().http_status, 400);
    EXPECT_NE(error.error().message.find("'oneOf'"), std::string::npos) << error.error().message;
    EXPECT_EQ(error.error().param, "response_format.json_schema.schema");
}

TEST(PlanChatOutput, ToolChoices) {
    auto none = request_with({{"tools", tools()}, {"tool_choice", "none"}});
    auto p_none = plan_chat_output(none, kHermesTemplate);
    ASSERT_TRUE(p_none.ok());
    EXPECT_FALSE(p_none.value().parse_tool_calls);
    EXPECT_TRUE(none.tools.is_null());  // the template is rendered without tools

    auto autop = request_with({{"tools", tools()}});
    auto p_auto = plan_chat_output(autop, kHermesTemplate);
    ASSERT_TRUE(p_auto.ok());
    EXPECT_TRUE(p_auto.value().parse_tool_calls);
    EXPECT_EQ(p_auto.value().grammar, nullptr);
    EXPECT_EQ(p_auto.value().tool_format, chat::ToolCallFormat::kHermes);

    auto named =
        request_with({{"tools", tools()},
                      {"tool_choice", {{"type", "function"}, {"function", {{"name", "add"}}}}}});
    auto p_named = plan_chat_output(named, kHermesTemplate);
    ASSERT_TRUE(p_named.ok());
    grammar::Matcher m(p_named.value().grammar, nullptr);
    EXPECT_FALSE(m.accept_bytes("<tool_call>\n{\"name\": \"now\"").is_ok());
    EXPECT_TRUE(
        m.accept_bytes("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>")
            .is_ok());
    EXPECT_TRUE(m.is_accepting());
    EXPECT_FALSE(m.can_continue());  // a named function is called once

    auto missing =
        request_with({{"tools", tools()},
                      {"tool_choice", {{"type", "function"}, {"function", {{"name", "x"}}}}}});
    EXPECT_FALSE(plan_chat_output(missing, kHermesTemplate).ok());
    auto no_tools = request_with({{"tool_choice", "required"}});
    EXPECT_FALSE(plan_chat_output(no_tools, kHermesTemplate).ok());
}

// A cache hands requests with the same schema (or the same tools, forced the same way) one
// grammar; anything that changes the grammar gets its own.
TEST(PlanChatOutput, GrammarsComeFromTheCache) {
    grammar::GrammarCache cache;
    auto grammar_of = [&](json fields) {
        auto r = request_with(std::move(fields));
        auto plan = plan_chat_output(r, kHermesTemplate, &cache);
        EXPECT_TRUE(plan.ok());
        return plan.ok() ? plan.value().grammar : nullptr;
    };
    const json schema_a = json::parse(R"({"type": "json_schema", "json_schema": {"name": "a",
        "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}})");
    const json schema_b = json::parse(R"({"type": "json_schema", "json_schema": {"name": "a",
        "schema": {"type": "object", "properties": {"x": {"type": "string"}}}}})");
    const auto a1 = grammar_of({{"response_format", schema_a}});
    const auto a2 = grammar_of({{"response_format", schema_a}});
    const auto b = grammar_of({{"response_format", schema_b}});
    EXPECT_EQ(a1, a2);
    EXPECT_NE(a1, b);
    const auto required1 = grammar_of({{"tools", tools()}, {"tool_choice", "required"}});
    const auto required2 = grammar_of({{"tools", tools()}, {"tool_choice", "required"}});
    const auto one_call = grammar_of(
        {{"tools", tools()}, {"tool_choice", "required"}, {"parallel_tool_calls", false}});
    const auto named =
        grammar_of({{"tools", tools()},
                    {"tool_choice", {{"type", "function"}, {"function", {{"name", "add"}}}}}});
    EXPECT_EQ(required1, required2);
    EXPECT_NE(required1, one_call);
    EXPECT_NE(required1, named);
    EXPECT_EQ(cache.size(), 5u);
    EXPECT_EQ(cache.hits(), 2u);
}

TEST(ChatOutputShaper, StreamsCallsWithIndexIdAndArguments) {
    auto r = request_with({{"tools", tools()}});
    auto plan = plan_chat_output(r, kHermesTemplate);
    ASSERT_TRUE(plan.ok());
    ChatOutputShaper shaper(plan.value());
    const std::string text =
        "Sure.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>\n"
        "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
    std::vector<json> deltas;
    for (size_t i = 0; i < text.size(); i += 5) {
        for (json& d : shaper.feed(text.substr(i, 5))) deltas.push_back(std::move(d));
    }
    std::string finish = "stop";
    for (json& d : shaper.finish(finish)) deltas.push_back(std::move(d));
    EXPECT_EQ(finish, "tool_calls");
    std::string content;
    std::vector<json> call_deltas;
    for (const json& d : deltas) {
        if (d.contains("content")) content += d["content"].get<std::string>();
        if (d.contains("tool_calls")) call_deltas.push_back(d["tool_calls"][0]);
    }
    EXPECT_EQ(content, "Sure.");
    ASSERT_EQ(call_deltas.size(), 4u);
    EXPECT_EQ(call_deltas[0]["index"], 0);
    EXPECT_EQ(call_deltas[0]["type"], "function");
    EXPECT_EQ(call_deltas[0]["function"]["name"], "add");
    EXPECT_EQ(call_deltas[0]["function"]["arguments"], "");
    EXPECT_EQ(call_deltas[1]["index"], 0);
    EXPECT_FALSE(call_deltas[1].contains("id"));
    EXPECT_EQ(call_deltas[1]["function"]["arguments"], "{\"a\":1}");
    EXPECT_EQ(call_deltas[2]["index"], 1);
    EXPECT_NE(call_deltas[0]["id"], call_deltas[2]["id"]);

    json message = json::object();
    shaper.fill_message(message);
    EXPECT_EQ(message["content"], "Sure.");
    ASSERT_EQ(message["tool_calls"].size(), 2u);
    EXPECT_EQ(message["tool_calls"][1]["function"]["name"], "now");
}

TEST(ChatOutputShaper, ParallelCallsOffKeepsOneAndLengthStaysLength) {
    auto r = request_with({{"tools", tools()}, {"parallel_tool_calls", false}});
    auto plan = plan_chat_output(r, kHermesTemplate);
    ASSERT_TRUE(plan.ok());
    ChatOutputShaper shaper(plan.value());
    shaper.feed(
        "<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": 1}}</tool_call>"
        "<tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call>");
    std::string finish = "length";
    shaper.finish(finish);
    EXPECT_EQ(finish, "length");
    json message = json::object();
    shaper.fill_message(message);
    EXPECT_EQ(message["tool_calls"].size(), 1u);
    EXPECT_TRUE(message["content"].is_null());
}

// Shapes `text` as one answer that ended with `finish`; returns the message and the deltas.
json shape_whole(const OutputPlan& plan, const std::string& text, std::string& finish,
                 std::vector<json>* deltas = nullptr) {
    ChatOutputShaper shaper(plan);
    std::vector<json> all;
    // Piece by piece, as generation feeds it.
    for (size_t i = 0; i < text.size(); i += 3) {
        for (json& d : shaper.feed(text.substr(i, 3))) all.push_back(std::move(d));
    }
    for (json& d : shaper.finish(finish)) all.push_back(std::move(d));
    if (deltas != nullptr) *deltas = std::move(all);
    json message = json::object();
    shaper.fill_message(message);
    return message;
}

TEST(ChatOutputShaper, CallCutByTheLimitIsAPartialCallNotContent) {
    auto r = request_with({{"tools", tools()}});
    auto plan = plan_chat_output(r, kHermesTemplate);
    ASSERT_TRUE(plan.ok());
    const std::string cut = "Sure.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1";
    std::string finish = "length";
    std::vector<json> deltas;
    json message = shape_whole(plan.value(), cut, finish, &deltas);
    EXPECT_EQ(finish, "length");
    EXPECT_EQ(message["content"], "Sure.");
    ASSERT_EQ(message["tool_calls"].size(), 1u) << message.dump();
    EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "add");
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{\"a\": 1");
    // The stream carries the same: no markup in any content delta, then the call.
    std::string content;
    std::string arguments;
    for (const json& d : deltas) {
        if (d.contains("content")) content += d["content"].get<std::string>();
        if (d.contains("tool_calls")) {
            arguments += d["tool_calls"][0]["function"]["arguments"].get<std::string>();
        }
    }
    EXPECT_EQ(content, "Sure.");
    EXPECT_EQ(arguments, "{\"a\": 1");

    // Cut before the name is complete: no call, and still no markup.
    finish = "length";
    message = shape_whole(plan.value(), "<tool_call>\n{\"na", finish);
    EXPECT_EQ(message["content"], "");
    EXPECT_FALSE(message.contains("tool_calls"));
    // A call cut after its arguments: complete arguments, compact.
    finish = "length";
    message = shape_whole(plan.value(),
                          "<tool_call>\n{\"name\": \"now\", \"arguments\": {} }\n</tool", finish);
    ASSERT_EQ(message["tool_calls"].size(), 1u);
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{}");
    // An answer that stopped (not cut) with an unclosed block keeps it as content, as before.
    finish = "stop";
    message = shape_whole(plan.value(), "<tool_call>\n{\"name\": \"add\"", finish);
    EXPECT_EQ(finish, "stop");
    EXPECT_FALSE(message.contains("tool_calls"));
    EXPECT_EQ(message["content"], "<tool_call>\n{\"name\": \"add\"");
}

TEST(ChatOutputShaper, CutCallsInOtherFormats) {
    OutputPlan plan;
    plan.parse_tool_calls = true;
    plan.tool_format = chat::ToolCallFormat::kLlama3;
    std::string finish = "length";
    json message = shape_whole(plan, "{\"name\": \"add\", \"parameters\": {\"a\": 12", finish);
    ASSERT_EQ(message["tool_calls"].size(), 1u) << message.dump();
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{\"a\": 12");
    EXPECT_TRUE(message["content"].is_null());
    // Mistral: the calls of an unclosed array, complete ones whole.
    plan.tool_format = chat::ToolCallFormat::kMistral;
    finish = "length";
    message = shape_whole(plan,
                          "Ok[TOOL_CALLS][{\"name\": \"now\", \"arguments\": {}}, "
                          "{\"name\": \"add\", \"arguments\": {\"a",
                          finish);
    ASSERT_EQ(message["tool_calls"].size(), 2u) << message.dump();
    EXPECT_EQ(message["content"], "Ok");
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{}");
    EXPECT_EQ(message["tool_calls"][1]["function"]["name"], "add");
    EXPECT_EQ(message["tool_calls"][1]["function"]["arguments"], "{\"a");
    // Generic: inside the {"tool_calls": [...]} wrapper.
    plan.tool_format = chat::ToolCallFormat::kGeneric;
    finish = "length";
    message = shape_whole(plan, "{\"tool_calls\": [{\"name\": \"add\", \"arguments\": {", finish);
    ASSERT_EQ(message["tool_calls"].size(), 1u) << message.dump();
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{");
}

TEST(ChatOutputShaper, ReasoningGoesToReasoningContent) {
    OutputPlan plan;
    plan.split_reasoning = true;
    ChatOutputShaper shaper(plan);
    std::string reasoning, content;
    for (const json& d : shaper.feed("<think>\nplan it\n</think>\n\nAnswer")) {
        if (d.contains("reasoning_content")) reasoning += d["reasoning_content"].get<std::string>();
        if (d.contains("content")) content += d["content"].get<std::string>();
    }
    std::string finish = "stop";
    for (const json& d : shaper.finish(finish)) {
        if (d.contains("content")) content += d["content"].get<std::string>();
    }
    EXPECT_EQ(reasoning, "plan it");
    EXPECT_EQ(content, "Answer");
    json message = json::object();
    shaper.fill_message(message);
    EXPECT_EQ(message["reasoning_content"], "plan it");
    EXPECT_EQ(message["content"], "Answer");
}

}  // namespace
}  // namespace cria::server
