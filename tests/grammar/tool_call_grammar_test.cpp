#include "grammar/tool_call_grammar.h"

#include <gtest/gtest.h>

#include "grammar/matcher.h"
#include "schema_validator.h"
#include "walk.h"

namespace cria::grammar {
namespace {

using nlohmann::json;

const json kWeatherParams = json::parse(R"({"type": "object", "properties": {
    "city": {"type": "string", "maxLength": 10}, "unit": {"enum": ["c", "f"]}},
    "required": ["city"], "additionalProperties": false})");
const json kAddParams = json::parse(R"({"type": "object", "properties": {
    "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]})");

ToolCallSyntax hermes() {
    ToolCallSyntax s;
    s.call_open = "<tool_call>\n";
    s.call_close = "\n</tool_call>";
    s.call_separator = "\n";
    return s;
}

TEST(ToolCallGrammar, AcceptsTheFamilySyntax) {
    auto g = compile_tool_call_grammar(
        hermes(), {{"get_weather", kWeatherParams}, {"add", kAddParams}}, true);
    ASSERT_TRUE(g.has_value()) << g.status().message();
    auto accepts = [&](const std::string& text) {
        Matcher m(*g, nullptr);
        return m.accept_bytes(text).is_ok() && m.is_accepting();
    };
    EXPECT_TRUE(accepts(
        "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>"));
    EXPECT_TRUE(accepts(
        "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>\n"
        "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}\n</tool_call>"));
    EXPECT_FALSE(accepts("<tool_call>\n{\"name\": \"sub\", \"arguments\": {}}\n</tool_call>"));
    EXPECT_FALSE(
        accepts("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>"));
    EXPECT_FALSE(accepts("hello"));

    ToolCallSyntax mistral;
    mistral.calls_open = "[TOOL_CALLS][";
    mistral.call_separator = ", ";
    mistral.calls_close = "]";
    auto single = compile_tool_call_grammar(mistral, {{"add", kAddParams}}, false);
    ASSERT_TRUE(single.has_value());
    Matcher m(*single, nullptr);
    EXPECT_TRUE(
        m.accept_bytes("[TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}")
            .is_ok());
    EXPECT_FALSE(m.accept_bytes(", ").is_ok());  // one call only
    EXPECT_TRUE(m.accept_bytes("]").is_ok());
    EXPECT_TRUE(m.is_accepting());
}

TEST(ToolCallGrammar, SchemaErrorsNameTheFunction) {
    auto g =
        compile_tool_call_grammar(hermes(), {{"f", json{{"type", "object"}, {"not", 1}}}}, false);
    ASSERT_FALSE(g.has_value());
    EXPECT_NE(g.status().message().find("'f'"), std::string::npos);
    EXPECT_NE(g.status().message().find("'not'"), std::string::npos);
    EXPECT_FALSE(compile_tool_call_grammar(hermes(), {}, false).has_value());
}

TEST(ToolCallGrammar, RandomWalksProduceValidCalls) {
    auto g = compile_tool_call_grammar(
        hermes(), {{"get_weather", kWeatherParams}, {"add", kAddParams}}, true);
    ASSERT_TRUE(g.has_value());
    const auto vocab = test::walk_vocabulary();
    for (uint64_t seed = 0; seed < 200; ++seed) {
        std::string text = test::random_walk(*g, vocab, seed, 60).text;
        // Split into calls and check each one.
        size_t calls = 0;
        for (size_t at = text.find("<tool_call>\n"); at != std::string::npos;
             at = text.find("<tool_call>\n", at + 1)) {
            const size_t end = text.find("\n</tool_call>", at);
            ASSERT_NE(end, std::string::npos) << text;
            const std::string body = text.substr(at + 12, end - at - 12);
            json call;
            ASSERT_NO_THROW(call = json::parse(body)) << body;
            ASSERT_TRUE(call.contains("name") && call.contains("arguments")) << body;
            const json& schema = call["name"] == "add" ? kAddParams : kWeatherParams;
            test::SchemaValidator validator(schema);
            EXPECT_EQ(validator.validate(call["arguments"]), "") << body;
            ++calls;
        }
        EXPECT_GE(calls, 1u) << text;
        EXPECT_LE(calls, kMaxParallelToolCalls) << text;
    }
}

}  // namespace
}  // namespace cria::grammar
