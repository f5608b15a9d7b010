// The Responses API's wire format without a network: request parsing and validation (every
// error names its field), the mapping of input items onto chat messages, the response built
// from shaped deltas with its stream events, and input item pages.
#include "server/responses_api.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

ResponsesRequest parse_ok(const json& body) {
    ApiResult<ResponsesRequest> parsed = parse_responses_request(body.dump());
    EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
    return parsed.ok() ? parsed.value() : ResponsesRequest{};
}

ApiError parse_error(const json& body) {
    ApiResult<ResponsesRequest> parsed = parse_responses_request(body.dump());
    EXPECT_FALSE(parsed.ok());
    return parsed.ok() ? ApiError{} : parsed.error();
}

TEST(ResponsesRequest, StringInputIsOneUserMessage) {
    const ResponsesRequest r = parse_ok({{"model", "m"}, {"input", "hello"}});
    EXPECT_EQ(r.model, "m");
    ASSERT_EQ(r.input_items.size(), 1u);
    const json& item = r.input_items[0];
    EXPECT_EQ(item["type"], "message");
    EXPECT_EQ(item["role"], "user");
    EXPECT_EQ(item["content"], json::parse(R"([{"type":"input_text","text":"hello"}])"));
    EXPECT_EQ(item["id"].get<std::string>().rfind("msg_", 0), 0u);
    EXPECT_TRUE(r.store);  // as OpenAI's default
    EXPECT_FALSE(r.stream);
    EXPECT_EQ(r.echo["tool_choice"], "auto");
    EXPECT_EQ(r.echo["text"]["format"]["type"], "text");
    EXPECT_EQ(r.echo["temperature"], 1.0);
}

TEST(ResponsesRequest, ItemsAreNormalized) {
    const ResponsesRequest r = parse_ok(json::parse(R"({"model": "m", "input": [
        {"role": "developer", "content": "be brief"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"},
                                                        {"type": "input_text", "text": "b"}]},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"}]})"));
    ASSERT_EQ(r.input_items.size(), 4u);
    EXPECT_EQ(r.input_items[0]["role"], "developer");
    EXPECT_EQ(r.input_items[1]["content"].size(), 2u);
    EXPECT_EQ(r.input_items[2]["type"], "function_call");
    EXPECT_EQ(r.input_items[2]["id"].get<std::string>().rfind("fc_", 0), 0u);
    EXPECT_EQ(r.input_items[3]["output"], "42");
}

TEST(ResponsesRequest, FieldsMapOntoChat) {
    const ResponsesRequest r = parse_ok(json::parse(R"({"model": "m", "input": "x",
        "instructions": "sys", "max_output_tokens": 32, "temperature": 0.5, "top_p": 0.9,
        "tools": [{"type": "function", "name": "get", "description": "d",
                   "parameters": {"type": "object"}, "strict": true}],
        "tool_choice": {"type": "function", "name": "get"}, "parallel_tool_calls": false,
        "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"},
                            "strict": true}},
        "reasoning": {"effort": "none"}, "store": false, "stream": true,
        "metadata": {"k": "v"}, "user": "u", "seed": 7})"));
    EXPECT_EQ(r.instructions, "sys");
    EXPECT_FALSE(r.store);
    EXPECT_TRUE(r.stream);
    const json& chat = r.chat_fields;
    EXPECT_EQ(chat["max_tokens"], 32);
    EXPECT_EQ(chat["temperature"], 0.5);
    EXPECT_EQ(chat["top_p"], 0.9);
    EXPECT_EQ(chat["tools"][0]["function"]["name"], "get");
    EXPECT_EQ(chat["tools"][0]["function"]["parameters"]["type"], "object");
    EXPECT_EQ(chat["tool_choice"]["function"]["name"], "get");
    EXPECT_EQ(chat["parallel_tool_calls"], false);
    EXPECT_EQ(chat["response_format"]["type"], "json_schema");
    EXPECT_EQ(chat["response_format"]["json_schema"]["name"], "s");
    EXPECT_EQ(chat["reasoning_effort"], "none");
    EXPECT_EQ(chat["user"], "u");
    EXPECT_EQ(chat["seed"], 7);
    EXPECT_EQ(r.echo["max_output_tokens"], 32);
    EXPECT_EQ(r.echo["metadata"]["k"], "v");
    EXPECT_EQ(r.echo["reasoning"]["effort"], "none");
    EXPECT_EQ(r.echo["tools"][0]["name"], "get");
}

TEST(ResponsesRequest, ErrorsNameTheField) {
    EXPECT_EQ(parse_error({{"input", "x"}}).param, "model");
    EXPECT_EQ(parse_error({{"model", "m"}}).param, "input");
    EXPECT_EQ(parse_error({{"model", "m"}, {"input", 3}}).param, "input");
    EXPECT_EQ(parse_error({{"model", "m"}, {"input", "x"}, {"max_output_tokens", 0}}).param,
              "max_output_tokens");
    EXPECT_EQ(parse_error({{"model", "m"}, {"input", "x"}, {"store", "yes"}}).param, "store");
    EXPECT_EQ(parse_error(json::parse(R"({"model": "m", "input": "x",
                  "tools": [{"type": "web_search"}]})"))
                  .param,
              "tools[0].type");
    EXPECT_EQ(parse_error(json::parse(R"({"model": "m", "input": "x",
                  "tool_choice": {"type": "file_search"}})"))
                  .param,
              "tool_choice.type");
    EXPECT_EQ(parse_error(json::parse(R"({"model": "m", "input": [{"role": "user",
                  "content": [{"type": "input_image", "image_url": "data:,"}]}]})"))
                  .param,
              "input[0].content[0].type");
    EXPECT_EQ(parse_error(json::parse(R"({"model": "m", "input": [{"role": "robot",
                  "content": "x"}]})"))
                  .param,
              "input[0].role");
    EXPECT_EQ(parse_error(json::parse(R"({"model": "m", "input": [{"type": "function_call",
                  "name": "f", "arguments": "{}"}]})"))
                  .param,
              "input[0].call_id");
    EXPECT_EQ(parse_error(json::parse(R"({"model": "m", "input": "x",
                  "text": {"format": {"type": "yaml"}}})"))
                  .param,
              "text.format.type");
    EXPECT_EQ(parse_error(json::parse(R"({"model": "m", "input": "x",
                  "reasoning": {"effort": "max"}})"))
                  .param,
              "reasoning.effort");
    EXPECT_EQ(parse_error({{"model", "m"}, {"input", "x"}, {"background", true}}).param,
              "background");
    json many = json::object();
    for (int i = 0; i < 17; ++i) many[std::string(1, static_cast<char>('a' + i))] = "v";
    EXPECT_EQ(parse_error({{"model", "m"}, {"input", "x"}, {"metadata", many}}).param, "metadata");
    EXPECT_EQ(parse_error(json("not an object")).code, "invalid_json");
}

TEST(ResponsesRequest, PreviousResponseAloneIsEnough) {
    const ResponsesRequest r =
        parse_ok({{"model", "m"}, {"previous_response_id", "resp_1"}, {"input", json::array()}});
    EXPECT_EQ(r.previous_response_id, "resp_1");
    EXPECT_TRUE(r.input_items.empty());
}

TEST(ResponsesItems, BecomeChatMessages) {
    const ResponsesRequest r = parse_ok(json::parse(R"({"model": "m", "input": [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Let me look."},
        {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_2", "name": "time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "reasoning", "summary": []}]})"));
    json messages = json::array();
    append_item_messages(r.input_items, messages);
    ASSERT_EQ(messages.size(), 4u);
    EXPECT_EQ(messages[0], json::parse(R"({"role": "system", "content": "be brief"})"));
    EXPECT_EQ(messages[1]["content"], "weather?");
    // Calls join the assistant message before them.
    EXPECT_EQ(messages[2]["content"], "Let me look.");
    ASSERT_EQ(messages[2]["tool_calls"].size(), 2u);
    EXPECT_EQ(messages[2]["tool_calls"][1]["id"], "call_2");
    EXPECT_EQ(messages[2]["tool_calls"][1]["function"]["name"], "time");
    EXPECT_EQ(messages[3], json::parse(R"({"role": "tool", "tool_call_id": "call_1",
                                            "content": "sunny", "name": "weather"})"));
}

std::vector<std::string> types_of(const std::vector<json>& events) {
    std::vector<std::string> types;
    for (const json& event : events) types.push_back(event["type"]);
    return types;
}

TEST(ResponseBuilder, ReasoningTextAndCallsAsEvents) {
    const ResponsesRequest r = parse_ok({{"model", "m"}, {"input", "x"}});
    ResponseBuilder builder(response_skeleton("resp_1", 100, "m", r));
    std::vector<json> events = builder.start();
    auto take = [&events](std::vector<json> more) {
        for (json& event : more) events.push_back(std::move(event));
    };
    take(builder.add({{"reasoning_content", "hmm"}}));
    take(builder.add({{"reasoning_content", " ok"}}));
    take(builder.add({{"content", "\n\n"}}));  // blank: no message of its own yet
    take(builder.add({{"content", "Hi"}}));
    take(builder.add(json::parse(R"({"tool_calls": [{"index": 0, "id": "call_9", "type":
        "function", "function": {"name": "f", "arguments": ""}}]})")));
    take(builder.add(
        json::parse(R"({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]})")));
    take(builder.finish("tool_calls", {10, 4, 6, 2}));
    const std::vector<std::string> expected = {
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    };
    EXPECT_EQ(types_of(events), expected);
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["sequence_number"], i);
    EXPECT_EQ(events[0]["response"]["status"], "in_progress");
    // The blank text held back reaches the message with the text after it.
    EXPECT_EQ(events[11]["delta"], "\n\nHi");

    const json& response = builder.response();
    EXPECT_EQ(response["status"], "completed");
    ASSERT_EQ(response["output"].size(), 3u);
    EXPECT_EQ(response["output"][0]["type"], "reasoning");
    EXPECT_EQ(response["output"][0]["content"][0]["text"], "hmm ok");
    EXPECT_EQ(response["output"][1]["content"][0]["text"], "\n\nHi");
    EXPECT_EQ(response["output"][1]["status"], "completed");
    const json& call = response["output"][2];
    EXPECT_EQ(call["call_id"], "call_9");
    EXPECT_EQ(call["name"], "f");
    EXPECT_EQ(call["arguments"], "{\"a\":1}");
    EXPECT_EQ(response["output_text"], "\n\nHi");
    EXPECT_EQ(response["usage"]["input_tokens"], 10);
    EXPECT_EQ(response["usage"]["input_tokens_details"]["cached_tokens"], 4);
    EXPECT_EQ(response["usage"]["output_tokens"], 6);
    EXPECT_EQ(response["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
    EXPECT_EQ(response["usage"]["total_tokens"], 16);
    EXPECT_EQ(events.back()["response"], response);
}

TEST(ResponseBuilder, BlankTextBeforeCallsMakesNoMessage) {
    ResponseBuilder builder(
        response_skeleton("resp_1", 1, "m", parse_ok({{"model", "m"}, {"input", "x"}})));
    builder.start();
    builder.add({{"content", "\n"}});
    builder.add(json::parse(R"({"tool_calls": [{"index": 0, "id": "c", "type": "function",
        "function": {"name": "f", "arguments": "{}"}}]})"));
    builder.finish("tool_calls", {});
    ASSERT_EQ(builder.response()["output"].size(), 1u);
    EXPECT_EQ(builder.response()["output"][0]["type"], "function_call");
    EXPECT_EQ(builder.response()["output"][0]["arguments"], "{}");
}

TEST(ResponseBuilder, LengthIsIncomplete) {
    ResponseBuilder builder(
        response_skeleton("resp_1", 1, "m", parse_ok({{"model", "m"}, {"input", "x"}})));
    builder.start();
    builder.add({{"content", "cut"}});
    const std::vector<json> events = builder.finish("length", {3, 0, 16});
    EXPECT_EQ(events.back()["type"], "response.incomplete");
    const json& response = builder.response();
    EXPECT_EQ(response["status"], "incomplete");
    EXPECT_EQ(response["incomplete_details"]["reason"], "max_output_tokens");
    EXPECT_EQ(response["output"][0]["status"], "incomplete");
}

TEST(ResponseBuilder, FailureIsAnErrorEventThenFailed) {
    ResponseBuilder builder(
        response_skeleton("resp_1", 1, "m", parse_ok({{"model", "m"}, {"input", "x"}})));
    const std::vector<json> first = builder.start();
    const std::vector<json> events = builder.fail("boom");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0]["type"], "error");
    EXPECT_EQ(events[0]["message"], "boom");
    EXPECT_EQ(events[0]["sequence_number"], 2);
    EXPECT_EQ(events[1]["type"], "response.failed");
    EXPECT_EQ(events[1]["response"]["status"], "failed");
    EXPECT_EQ(events[1]["response"]["error"]["message"], "boom");
}

TEST(InputItemsPage, PaginatesAsOpenAI) {
    json items = json::array();
    for (const char* id : {"i0", "i1", "i2", "i3", "i4"}) items.push_back({{"id", id}});
    ApiResult<json> page = input_items_page(items, "2", std::nullopt, std::nullopt);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page.value()["object"], "list");
    EXPECT_EQ(page.value()["first_id"], "i4");  // newest first by default
    EXPECT_EQ(page.value()["last_id"], "i3");
    EXPECT_EQ(page.value()["has_more"], true);
    page = input_items_page(items, "2", "desc", "i3");
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page.value()["first_id"], "i2");
    page = input_items_page(items, std::nullopt, "asc", "i2");
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page.value()["data"].size(), 2u);
    EXPECT_EQ(page.value()["has_more"], false);
    EXPECT_FALSE(input_items_page(items, "0", std::nullopt, std::nullopt).ok());
    EXPECT_FALSE(input_items_page(items, "101", std::nullopt, std::nullopt).ok());
    EXPECT_FALSE(input_items_page(items, "2x", std::nullopt, std::nullopt).ok());
    EXPECT_EQ(input_items_page(items, std::nullopt, "up", std::nullopt).error().param, "order");
    EXPECT_EQ(input_items_page(items, std::nullopt, std::nullopt, "nope").error().param, "after");
}

}  // namespace
}  // namespace cria::server
