#include "chat/tool_calls.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "test_support.h"

namespace cria::chat {
namespace {

using nlohmann::json;

// Feeds `text` in pieces of `chunk` bytes and joins the steps.
ToolCallParseStep parse_in_chunks(ToolCallFormat format, const std::string& text, size_t chunk) {
    ToolCallParser parser(format);
    ToolCallParseStep all;
    auto add = [&](ToolCallParseStep step) {
        all.content += step.content;
        for (auto& c : step.calls) all.calls.push_back(std::move(c));
    };
    for (size_t i = 0; i < text.size(); i += chunk) add(parser.feed(text.substr(i, chunk)));
    add(parser.finish());
    return all;
}

// The whole-text parse, checked to agree with byte-by-byte and 7-byte streaming.
ToolCallParseStep parse(ToolCallFormat format, const std::string& text) {
    ToolCallParseStep whole = parse_tool_calls(format, text);
    for (size_t chunk : {1, 7}) {
        ToolCallParseStep streamed = parse_in_chunks(format, text, chunk);
        EXPECT_EQ(streamed.content, whole.content) << "chunk " << chunk << ": " << text;
        EXPECT_EQ(streamed.calls.size(), whole.calls.size()) << "chunk " << chunk;
        for (size_t i = 0; i < std::min(streamed.calls.size(), whole.calls.size()); ++i) {
            EXPECT_EQ(streamed.calls[i].name, whole.calls[i].name);
            EXPECT_EQ(streamed.calls[i].arguments, whole.calls[i].arguments);
        }
    }
    return whole;
}

TEST(ToolCallFormatDetection, FromRealTemplates) {
    CRIA_REQUIRE_SHARED(shared);
    const auto dir = shared / "golden/templates/templates";
    const std::vector<std::pair<std::string, ToolCallFormat>> expected = {
        {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", ToolCallFormat::kHermes},
        {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolCallFormat::kHermes},
        {"Qwen-Qwen3-0.6B.jinja", ToolCallFormat::kHermes},
        {"Qwen-QwQ-32B.jinja", ToolCallFormat::kHermes},
        {"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolCallFormat::kLlama3},
        {"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolCallFormat::kLlama3},
        {"meta-llama-Llama-3.3-70B-Instruct.jinja", ToolCallFormat::kLlama3},
        {"mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolCallFormat::kMistral},
        {"google-gemma-2-2b-it.jinja", ToolCallFormat::kGeneric},
        {"microsoft-Phi-3.5-mini-instruct.jinja", ToolCallFormat::kGeneric},
    };
    for (const auto& [name, format] : expected) {
        const std::string source = test::read_file(dir / name);
        ASSERT_FALSE(source.empty()) << name;
        EXPECT_EQ(detect_tool_call_format(source), format) << name;
    }
}

TEST(HermesToolCalls, QwenStyleOutputs) {
    // A Qwen 2.5 answer with two calls and text before them.
    const std::string text =
        "Let me look both up.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
        "{\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>\n<tool_call>\n{\"name\": "
        "\"get_time\", \"arguments\": {\"tz\": \"Europe/Paris\"}}\n</tool_call>";
    const auto r = parse(ToolCallFormat::kHermes, text);
    EXPECT_EQ(r.content, "Let me look both up.");
    ASSERT_EQ(r.calls.size(), 2u);
    EXPECT_EQ(r.calls[0].name, "get_weather");
    EXPECT_EQ(json::parse(r.calls[0].arguments), json::parse(R"({"city":"Paris","unit":"c"})"));
    EXPECT_EQ(r.calls[1].name, "get_time");

    // Plain answer: untouched, including a stray '<' that starts no marker.
    const auto plain = parse(ToolCallFormat::kHermes, "2 < 3 and <b>bold</b>\n");
    EXPECT_EQ(plain.content, "2 < 3 and <b>bold</b>\n");
    EXPECT_TRUE(plain.calls.empty());

    // Arguments as a JSON string (some fine-tunes do this) and text after the call.
    const auto stringly =
        parse(ToolCallFormat::kHermes,
              "<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}\n"
              "</tool_call>\nDone.");
    ASSERT_EQ(stringly.calls.size(), 1u);
    EXPECT_EQ(stringly.calls[0].arguments, "{\"x\":1}");
    EXPECT_EQ(stringly.content, "Done.");
}

TEST(HermesToolCalls, MalformedCallsBecomeContent) {
    const std::string broken =
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>";
    const auto r = parse(ToolCallFormat::kHermes, broken);
    EXPECT_TRUE(r.calls.empty());
    EXPECT_EQ(r.content, broken);

    const auto no_name =
        parse(ToolCallFormat::kHermes, "<tool_call>{\"arguments\": {}}</tool_call>");
    EXPECT_TRUE(no_name.calls.empty());
    EXPECT_EQ(no_name.content, "<tool_call>{\"arguments\": {}}</tool_call>");

    // An unclosed block at the end: a complete call is still a call, a cut one is content.
    const auto unclosed =
        parse(ToolCallFormat::kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n");
    ASSERT_EQ(unclosed.calls.size(), 1u);
    const auto cut = parse(ToolCallFormat::kHermes, "ok <tool_call>\n{\"name\": \"f\", \"argu");
    EXPECT_TRUE(cut.calls.empty());
    EXPECT_EQ(cut.content, "ok <tool_call>\n{\"name\": \"f\", \"argu");

    // One good call and one bad one: the good one is kept, the bad one shown.
    const auto mixed = parse(ToolCallFormat::kHermes,
                             "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>"
                             "<tool_call>{\"name\": \"b\", \"arguments\": [1]}</tool_call>");
    ASSERT_EQ(mixed.calls.size(), 1u);
    EXPECT_EQ(mixed.calls[0].name, "a");
    EXPECT_EQ(mixed.content, "<tool_call>{\"name\": \"b\", \"arguments\": [1]}</tool_call>");
}

TEST(Llama3ToolCalls, JsonAnswersAndPythonTag) {
    const auto r = parse(ToolCallFormat::kLlama3,
                         "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].name, "get_weather");
    EXPECT_EQ(r.calls[0].arguments, "{\"city\":\"Oslo\"}");
    EXPECT_EQ(r.content, "");

    const auto tagged = parse(ToolCallFormat::kLlama3,
                              "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; "
                              "{\"name\": \"b\", \"parameters\": {\"n\": 2}}");
    ASSERT_EQ(tagged.calls.size(), 2u);
    EXPECT_EQ(tagged.calls[1].arguments, "{\"n\":2}");

    const auto builtin = parse(ToolCallFormat::kLlama3,
                               "<|python_tag|>brave_search.call(query=\"cria runtime\", count=3)");
    ASSERT_EQ(builtin.calls.size(), 1u);
    EXPECT_EQ(builtin.calls[0].name, "brave_search");
    EXPECT_EQ(json::parse(builtin.calls[0].arguments),
              json::parse(R"({"query": "cria runtime", "count": 3})"));

    const auto prose = parse(ToolCallFormat::kLlama3, "The weather in Oslo is {unknown}.");
    EXPECT_TRUE(prose.calls.empty());
    EXPECT_EQ(prose.content, "The weather in Oslo is {unknown}.");

    // JSON that is not a call stays content.
    const auto not_call = parse(ToolCallFormat::kLlama3, "{\"answer\": 42}");
    EXPECT_TRUE(not_call.calls.empty());
    EXPECT_EQ(not_call.content, "{\"answer\": 42}");
    const auto trailing =
        parse(ToolCallFormat::kLlama3, "{\"name\": \"a\", \"parameters\": {}} and more");
    EXPECT_TRUE(trailing.calls.empty());
}

TEST(MistralToolCalls, ArrayAfterMarker) {
    const auto r = parse(ToolCallFormat::kMistral,
                         "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                         "\"Rome\"}, \"id\": \"a1b2c3d4e\"}, {\"name\": \"get_time\", "
                         "\"arguments\": {}}]");
    ASSERT_EQ(r.calls.size(), 2u);
    EXPECT_EQ(r.calls[0].id, "a1b2c3d4e");
    EXPECT_EQ(r.calls[1].name, "get_time");
    EXPECT_EQ(r.calls[1].arguments, "{}");
    EXPECT_EQ(r.content, "");

    const auto with_text = parse(ToolCallFormat::kMistral,
                                 "Sure.[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {\"a\": [1, "
                                 "\"]\"]}}] ok");
    ASSERT_EQ(with_text.calls.size(), 1u);
    EXPECT_EQ(with_text.calls[0].arguments, "{\"a\":[1,\"]\"]}");
    EXPECT_EQ(with_text.content, "Sure.ok");  // whitespace around calls is layout

    const auto broken = parse(ToolCallFormat::kMistral, "[TOOL_CALLS][{\"name\": \"f\", \"arg");
    EXPECT_TRUE(broken.calls.empty());
    EXPECT_EQ(broken.content, "[TOOL_CALLS][{\"name\": \"f\", \"arg");
}

TEST(GenericToolCalls, ToolCallsObjectOrSingleCall) {
    const auto r = parse(ToolCallFormat::kGeneric,
                         "{\"tool_calls\": [{\"name\": \"a\", \"arguments\": {\"x\": 1}}, "
                         "{\"name\": \"b\", \"arguments\": {}}]}");
    ASSERT_EQ(r.calls.size(), 2u);
    EXPECT_EQ(r.calls[0].arguments, "{\"x\":1}");
    const auto fenced = parse(ToolCallFormat::kGeneric,
                              "```json\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n```");
    ASSERT_EQ(fenced.calls.size(), 1u);
    const auto text = parse(ToolCallFormat::kGeneric, "Hello there");
    EXPECT_EQ(text.content, "Hello there");
    EXPECT_TRUE(text.calls.empty());
    const auto other = parse(ToolCallFormat::kGeneric, "{\"tool_calls\": [{\"nom\": 1}]}");
    EXPECT_TRUE(other.calls.empty());
    EXPECT_EQ(other.content, "{\"tool_calls\": [{\"nom\": 1}]}");
}

TEST(ToolCallMarkers, RoundTripThroughTheParser) {
    // What a grammar built from the markers forces must parse back into the same calls.
    for (auto format : {ToolCallFormat::kHermes, ToolCallFormat::kLlama3, ToolCallFormat::kMistral,
                        ToolCallFormat::kGeneric}) {
        const ToolCallMarkers m = tool_call_markers(format);
        std::string text = m.calls_open;
        for (int i = 0; i < 2; ++i) {
            if (i > 0) text += m.call_separator;
            text += m.call_open + "{\"" + m.name_key + "\": \"f" + std::to_string(i) + "\", \"" +
                    m.arguments_key + "\": {\"i\": " + std::to_string(i) + "}}" + m.call_close;
        }
        text += m.calls_close;
        const auto r = parse(format, text);
        ASSERT_EQ(r.calls.size(), 2u) << tool_call_format_name(format) << ": " << text;
        EXPECT_EQ(r.calls[1].name, "f1");
        EXPECT_EQ(r.calls[1].arguments, "{\"i\":1}");
        EXPECT_EQ(r.content, "") << tool_call_format_name(format);
    }
}

TEST(ToolCallIds, UniqueAndShaped) {
    std::set<std::string> ids;
    for (uint64_t i = 0; i < 1000; ++i) {
        const std::string id = make_tool_call_id(ToolCallFormat::kHermes, i * 7919, i);
        EXPECT_EQ(id.size(), 29u);
        EXPECT_EQ(id.substr(0, 5), "call_");
        ids.insert(id);
        EXPECT_EQ(make_tool_call_id(ToolCallFormat::kMistral, i, ~i).size(), 9u);
    }
    EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace cria::chat
