// The OpenAI wire format without a network: request parsing and validation (every error names
// its field), and the exact shape of responses and stream chunks.
#include "server/api.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

std::string chat_body(const json& extra) {
    json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    for (const auto& [key, value] : extra.items()) body[key] = value;
    return body.dump();
}

ChatCompletionRequest parse_chat_ok(const json& extra) {
    auto result = parse_chat_completion_request(chat_body(extra));
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? result.value() : ChatCompletionRequest{};
}

// Parses a chat request that must fail; checks status and param, returns the error.
ApiError expect_chat_error(const std::string& body, const std::optional<std::string>& param,
                           int status = 400) {
    auto result = parse_chat_completion_request(body);
    EXPECT_FALSE(result.ok()) << body;
    if (result.ok()) return {};
    EXPECT_EQ(result.error().http_status, status) << body;
    EXPECT_EQ(result.error().param, param) << body << " -> " << result.error().message;
    EXPECT_FALSE(result.error().message.empty());
    return result.error();
}

TEST(ChatRequest, MinimalRequestGetsOpenAiDefaults) {
    ChatCompletionRequest r = parse_chat_ok(json::object());
    EXPECT_EQ(r.model, "m");
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0]["role"], "user");
    EXPECT_EQ(r.messages[0]["content"], "hi");
    EXPECT_FLOAT_EQ(r.generation.sampling.temperature, 1.0f);
    EXPECT_FLOAT_EQ(r.generation.sampling.top_p, 1.0f);
    EXPECT_EQ(r.generation.sampling.top_k, 0);
    EXPECT_FLOAT_EQ(r.generation.sampling.repeat_penalty, 1.0f);
    EXPECT_FALSE(r.generation.sampling.seed.has_value());
    EXPECT_FALSE(r.generation.max_tokens.has_value());
    EXPECT_EQ(r.generation.n, 1);
    EXPECT_FALSE(r.stream);
    EXPECT_FALSE(r.include_usage);
    EXPECT_TRUE(r.tools.is_null());
}

TEST(ChatRequest, ReadsEveryField) {
    ChatCompletionRequest r = parse_chat_ok({{"temperature", 0},
                                             {"top_p", 0.5},
                                             {"top_k", 7},
                                             {"min_p", 0.1},
                                             {"typical_p", 0.7},
                                             {"mirostat", 2},
                                             {"mirostat_tau", 4.5},
                                             {"mirostat_eta", 0.25},
                                             {"repeat_penalty", 1.2},
                                             {"repeat_last_n", 32},
                                             {"presence_penalty", -1.5},
                                             {"frequency_penalty", 2},
                                             {"seed", 1234},
                                             {"max_tokens", 9},
                                             {"stop", {"a", "bc"}},
                                             {"n", 3},
                                             {"logprobs", true},
                                             {"top_logprobs", 5},
                                             {"stream", true},
                                             {"stream_options", {{"include_usage", true}}},
                                             {"user", "u1"},
                                             {"logit_bias", {{"5", 100}, {"17", -100}}},
                                             {"response_format", {{"type", "json_object"}}},
                                             {"unknown_field", {1, 2, 3}}});
    const auto& s = r.generation.sampling;
    EXPECT_FLOAT_EQ(s.temperature, 0.0f);
    EXPECT_FLOAT_EQ(s.top_p, 0.5f);
    EXPECT_EQ(s.top_k, 7);
    EXPECT_FLOAT_EQ(s.min_p, 0.1f);
    EXPECT_FLOAT_EQ(s.typical_p, 0.7f);
    EXPECT_EQ(s.mirostat, 2);
    EXPECT_FLOAT_EQ(s.mirostat_tau, 4.5f);
    EXPECT_FLOAT_EQ(s.mirostat_eta, 0.25f);
    EXPECT_FLOAT_EQ(s.repeat_penalty, 1.2f);
    EXPECT_EQ(s.repeat_last_n, 32);
    EXPECT_FLOAT_EQ(s.presence_penalty, -1.5f);
    EXPECT_FLOAT_EQ(s.frequency_penalty, 2.0f);
    ASSERT_TRUE(s.seed.has_value());
    EXPECT_EQ(*s.seed, 1234u);
    EXPECT_EQ(r.generation.max_tokens, 9);
    EXPECT_EQ(r.generation.stop, (std::vector<std::string>{"a", "bc"}));
    EXPECT_EQ(r.generation.n, 3);
    EXPECT_TRUE(s.logprobs);
    EXPECT_EQ(s.top_logprobs, 5);
    EXPECT_TRUE(r.stream);
    EXPECT_TRUE(r.include_usage);
    EXPECT_EQ(r.user, "u1");
    ASSERT_EQ(s.logit_bias.size(), 2u);
    EXPECT_EQ(r.response_format["type"], "json_object");
}

TEST(ChatRequest, NullMeansNotGiven) {
    ChatCompletionRequest r = parse_chat_ok(
        {{"temperature", nullptr}, {"max_tokens", nullptr}, {"stop", nullptr}, {"seed", nullptr}});
    EXPECT_FLOAT_EQ(r.generation.sampling.temperature, 1.0f);
    EXPECT_FALSE(r.generation.max_tokens.has_value());
    EXPECT_TRUE(r.generation.stop.empty());
    EXPECT_FALSE(r.generation.sampling.seed.has_value());
}

TEST(ChatRequest, StopAsSingleString) {
    EXPECT_EQ(parse_chat_ok({{"stop", "END"}}).generation.stop, std::vector<std::string>{"END"});
}

TEST(ChatRequest, MaxCompletionTokensWinsOverMaxTokens) {
    EXPECT_EQ(parse_chat_ok({{"max_completion_tokens", 4}}).generation.max_tokens, 4);
    EXPECT_EQ(
        parse_chat_ok({{"max_tokens", 9}, {"max_completion_tokens", 4}}).generation.max_tokens, 4);
}

TEST(ChatRequest, IntegralFloatsCountAsIntegers) {
    EXPECT_EQ(parse_chat_ok({{"max_tokens", 3.0}}).generation.max_tokens, 3);
    expect_chat_error(chat_body({{"max_tokens", 3.5}}), "max_tokens");
}

TEST(ChatRequest, NegativeSeedIsAccepted) {
    EXPECT_TRUE(parse_chat_ok({{"seed", -1}}).generation.sampling.seed.has_value());
}

TEST(ChatRequest, ContentPartsAreJoined) {
    json body = {
        {"model", "m"},
        {"messages",
         {{{"role", "developer"}, {"content", "be brief"}},
          {{"role", "user"},
           {"content",
            {{{"type", "text"}, {"text", "Hello, "}}, {{"type", "text"}, {"text", "world"}}}}}}}};
    auto r = parse_chat_completion_request(body.dump());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().messages[0]["role"], "system");
    EXPECT_EQ(r.value().messages[1]["content"], "Hello, world");
}

TEST(ChatRequest, AssistantToolCallsKeepFieldsAndParseArguments) {
    json body = {
        {"model", "m"},
        {"messages",
         {{{"role", "user"}, {"content", "weather?"}},
          {{"role", "assistant"},
           {"content", nullptr},
           {"tool_calls",
            {{{"id", "call_1"},
              {"type", "function"},
              {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}}}}},
          {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "sunny"}}}},
        {"tools",
         {{{"type", "function"},
           {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}}}}}}}},
        {"tool_choice", "auto"}};
    auto r = parse_chat_completion_request(body.dump());
    ASSERT_TRUE(r.ok()) << r.error().message;
    const json& assistant = r.value().messages[1];
    EXPECT_TRUE(assistant["content"].is_null());
    EXPECT_EQ(assistant["tool_calls"][0]["function"]["arguments"]["city"], "Paris");
    EXPECT_EQ(r.value().messages[2]["tool_call_id"], "call_1");
    EXPECT_EQ(r.value().tools.size(), 1u);
    EXPECT_EQ(r.value().tool_choice, "auto");
}

TEST(ChatRequestErrors, MalformedBodies) {
    for (const char* body : {"", "{", "not json", "{\"model\": }", "[1,2]", "\"text\"", "42"}) {
        ApiError e = expect_chat_error(body, std::nullopt);
        EXPECT_EQ(e.type, "invalid_request_error");
    }
}

TEST(ChatRequestErrors, ModelAndMessages) {
    expect_chat_error(R"({"messages":[{"role":"user","content":"x"}]})", "model");
    expect_chat_error(R"({"model":5,"messages":[{"role":"user","content":"x"}]})", "model");
    expect_chat_error(R"({"model":"","messages":[{"role":"user","content":"x"}]})", "model");
    expect_chat_error(R"({"model":"m"})", "messages");
    expect_chat_error(R"({"model":"m","messages":{}})", "messages");
    expect_chat_error(R"({"model":"m","messages":[]})", "messages");
    expect_chat_error(R"({"model":"m","messages":["hi"]})", "messages[0]");
    expect_chat_error(R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role");
    expect_chat_error(R"({"model":"m","messages":[{"role":"boss","content":"x"}]})",
                      "messages[0].role");
    expect_chat_error(R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content");
    expect_chat_error(R"({"model":"m","messages":[{"role":"user","content":5}]})",
                      "messages[0].content");
    expect_chat_error(
        R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
        "messages[0].content[0].type");
    expect_chat_error(R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})",
                      "messages[0].content[0].text");
}

TEST(ChatRequestErrors, WrongTypesNameTheField) {
    const std::vector<std::pair<std::string, json>> cases = {{"temperature", "hot"},
                                                             {"top_p", true},
                                                             {"max_tokens", "10"},
                                                             {"n", 1.5},
                                                             {"seed", "7"},
                                                             {"stream", "yes"},
                                                             {"logprobs", 1},
                                                             {"stop", 5},
                                                             {"logit_bias", {1, 2}},
                                                             {"user", 7},
                                                             {"tools", "x"},
                                                             {"tool_choice", 3},
                                                             {"response_format", "x"},
                                                             {"stream_options", 1},
                                                             {"presence_penalty", "a"},
                                                             {"top_k", 2.5},
                                                             {"min_p", json::object()}};
    for (const auto& [field, value] : cases) {
        json extra = {{field, value}};
        if (field == "stream_options") extra["stream"] = true;
        expect_chat_error(chat_body(extra), field);
    }
    expect_chat_error(chat_body({{"stop", {"a", 3}}}), "stop[1]");
}

TEST(ChatRequestErrors, OutOfRangeValuesNameTheField) {
    const std::vector<std::pair<std::string, json>> cases = {{"temperature", 2.5},
                                                             {"temperature", -0.1},
                                                             {"top_p", 1.5},
                                                             {"top_k", -1},
                                                             {"min_p", 2},
                                                             {"typical_p", 1.5},
                                                             {"mirostat", 3},
                                                             {"mirostat_tau", -1},
                                                             {"mirostat_eta", 2},
                                                             {"repeat_penalty", 0},
                                                             {"repeat_penalty", 11},
                                                             {"repeat_last_n", -2},
                                                             {"presence_penalty", 3},
                                                             {"frequency_penalty", -2.5},
                                                             {"max_tokens", 0},
                                                             {"max_completion_tokens", -5},
                                                             {"n", 0},
                                                             {"n", kMaxChoices + 1},
                                                             {"stop", {"a", "b", "c", "d", "e"}},
                                                             {"logit_bias", {{"x", 1}}},
                                                             {"logit_bias", {{"5", 101}}},
                                                             {"logit_bias", {{"-3", 1}}}};
    for (const auto& [field, value] : cases) {
        expect_chat_error(chat_body({{field, value}}), field);
    }
}

TEST(ChatRequestErrors, LogprobRules) {
    expect_chat_error(chat_body({{"logprobs", true}, {"top_logprobs", 21}}), "top_logprobs");
    expect_chat_error(chat_body({{"top_logprobs", 2}}), "top_logprobs");
    EXPECT_EQ(
        parse_chat_ok({{"logprobs", true}, {"top_logprobs", 20}}).generation.sampling.top_logprobs,
        20);
}

TEST(ChatRequestErrors, StreamOptionsNeedStream) {
    expect_chat_error(chat_body({{"stream_options", {{"include_usage", true}}}}), "stream_options");
    expect_chat_error(chat_body({{"stream", true}, {"stream_options", {{"include_usage", 1}}}}),
                      "stream_options.include_usage");
}

TEST(ChatRequestErrors, ToolsAndResponseFormat) {
    expect_chat_error(chat_body({{"tools", {{{"type", "retrieval"}}}}}), "tools[0].type");
    expect_chat_error(chat_body({{"tools", {{{"type", "function"}}}}}), "tools[0].function");
    expect_chat_error(
        chat_body({{"tools", {{{"type", "function"}, {"function", json::object()}}}}}),
        "tools[0].function.name");
    expect_chat_error(chat_body({{"tool_choice", "sometimes"}}), "tool_choice");
    expect_chat_error(chat_body({{"response_format", {{"type", "yaml"}}}}), "response_format.type");
    expect_chat_error(chat_body({{"response_format", {{"type", "json_schema"}}}}),
                      "response_format.json_schema");
}

TEST(ChatRequest, ChatTemplateKwargsMustBeAnObject) {
    ChatCompletionRequest r =
        parse_chat_ok({{"chat_template_kwargs", {{"enable_thinking", false}}}});
    EXPECT_EQ(r.chat_template_kwargs, (json{{"enable_thinking", false}}));
    EXPECT_TRUE(parse_chat_ok({}).chat_template_kwargs.is_null());
    for (const json& bad : {json("x"), json::array({1}), json(true)}) {
        const ApiError error =
            expect_chat_error(chat_body({{"chat_template_kwargs", bad}}), "chat_template_kwargs");
        EXPECT_EQ(error.code, "invalid_type");
    }
    auto completion = parse_completion_request(
        R"({"model":"m","prompt":"a","chat_template_kwargs":{"enable_thinking":false}})");
    ASSERT_TRUE(completion.ok());
    EXPECT_TRUE(completion.value().chat_template_kwargs.is_object());
    auto bad = parse_completion_request(R"({"model":"m","prompt":"a","chat_template_kwargs":1})");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().param, "chat_template_kwargs");
}

TEST(ChatRequest, LegacyFunctionsBecomeTools) {
    const json functions = json::array({{{"name", "add"}, {"parameters", {{"type", "object"}}}}});
    ChatCompletionRequest r = parse_chat_ok({{"functions", functions}});
    ASSERT_EQ(r.tools.size(), 1u);
    EXPECT_EQ(r.tools[0], (json{{"type", "function"}, {"function", functions[0]}}));
    EXPECT_TRUE(r.tool_choice.is_null());
    r = parse_chat_ok({{"functions", functions}, {"function_call", "none"}});
    EXPECT_EQ(r.tool_choice, "none");
    r = parse_chat_ok({{"functions", functions}, {"function_call", "auto"}});
    EXPECT_EQ(r.tool_choice, "auto");
    r = parse_chat_ok({{"functions", functions}, {"function_call", {{"name", "add"}}}});
    EXPECT_EQ(r.tool_choice, (json{{"type", "function"}, {"function", {{"name", "add"}}}}));

    expect_chat_error(chat_body({{"functions", "add"}}), "functions");
    expect_chat_error(chat_body({{"functions", {json::object()}}}), "functions[0].name");
    expect_chat_error(chat_body({{"functions", functions}, {"function_call", "required"}}),
                      "function_call");
    expect_chat_error(chat_body({{"functions", functions}, {"function_call", json::object()}}),
                      "function_call.name");
    expect_chat_error(
        chat_body({{"functions", functions},
                   {"tools", {{{"type", "function"}, {"function", {{"name", "x"}}}}}}}),
        "functions");
    expect_chat_error(chat_body({{"function_call", "auto"}, {"tool_choice", "auto"}}),
                      "function_call");
}

TEST(ChatRequestErrors, LogitBiasAgainstVocabulary) {
    ChatCompletionRequest r = parse_chat_ok({{"logit_bias", {{"99", 5}}}});
    EXPECT_FALSE(validate_for_vocabulary(r.generation, 100).has_value());
    auto error = validate_for_vocabulary(r.generation, 99);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->param, "logit_bias");
    EXPECT_EQ(error->http_status, 400);
}

TEST(CompletionRequest, PromptShapes) {
    auto one = parse_completion_request(R"({"model":"m","prompt":"Once"})");
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one.value().prompts.size(), 1u);
    EXPECT_EQ(one.value().prompts[0].text, "Once");
    EXPECT_EQ(one.value().generation.max_tokens, 16);  // OpenAI's default for completions

    auto many = parse_completion_request(R"({"model":"m","prompt":["a","b",[1,2]]})");
    ASSERT_TRUE(many.ok());
    ASSERT_EQ(many.value().prompts.size(), 3u);
    EXPECT_TRUE(many.value().prompts[2].is_tokens);
    EXPECT_EQ(many.value().prompts[2].tokens, (std::vector<int32_t>{1, 2}));

    auto tokens = parse_completion_request(R"({"model":"m","prompt":[5,6,7],"echo":true})");
    ASSERT_TRUE(tokens.ok());
    ASSERT_EQ(tokens.value().prompts.size(), 1u);
    EXPECT_EQ(tokens.value().prompts[0].tokens.size(), 3u);
    EXPECT_TRUE(tokens.value().echo);

    auto logprobs = parse_completion_request(R"({"model":"m","prompt":"x","logprobs":3})");
    ASSERT_TRUE(logprobs.ok());
    EXPECT_TRUE(logprobs.value().generation.sampling.logprobs);
    EXPECT_EQ(logprobs.value().generation.sampling.top_logprobs, 3);
}

TEST(CompletionRequestErrors, EachNamesItsField) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"model":"m"})", "prompt"},
        {R"({"model":"m","prompt":5})", "prompt"},
        {R"({"model":"m","prompt":[]})", "prompt"},
        {R"({"model":"m","prompt":[1,-2]})", "prompt"},
        {R"({"model":"m","prompt":["a",{}]})", "prompt[1]"},
        {R"({"model":"m","prompt":"a","suffix":"b"})", "suffix"},
        {R"({"model":"m","prompt":"a","logprobs":6})", "logprobs"},
        {R"({"model":"m","prompt":"a","best_of":3})", "best_of"},
        {R"({"model":"m","prompt":"a","echo":"yes"})", "echo"},
    };
    for (const auto& [body, param] : cases) {
        auto result = parse_completion_request(body);
        ASSERT_FALSE(result.ok()) << body;
        EXPECT_EQ(result.error().param, param) << body;
        EXPECT_EQ(result.error().http_status, 400);
    }
    // An empty suffix asks for nothing unsupported.
    EXPECT_TRUE(parse_completion_request(R"({"model":"m","prompt":"a","suffix":""})").ok());
}

TEST(Errors, JsonShape) {
    json body = error_json(model_not_found("llama9"));
    ASSERT_TRUE(body.contains("error"));
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    EXPECT_EQ(body["error"]["param"], "model");
    EXPECT_EQ(body["error"]["code"], "model_not_found");
    EXPECT_NE(body["error"]["message"].get<std::string>().find("llama9"), std::string::npos);
    EXPECT_EQ(model_not_found("x").http_status, 404);

    json plain = error_json(invalid_request("bad"));
    EXPECT_TRUE(plain["error"]["param"].is_null());
    EXPECT_TRUE(plain["error"]["code"].is_null());

    ApiError context = context_length_exceeded(5000, 4096, "messages");
    EXPECT_EQ(context.http_status, 400);
    EXPECT_EQ(context.code, "context_length_exceeded");
    EXPECT_EQ(body_too_large(10).http_status, 413);
    EXPECT_EQ(internal_fault("x").http_status, 500);
    EXPECT_EQ(internal_fault("x").type, "server_error");
}

TEST(Ids, UniqueAndPrefixed) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        std::string id = new_response_id("chatcmpl-");
        EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u);
        EXPECT_EQ(id.size(), 9u + 24u);
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(TokenText, KeepsUtf8AndEscapesBrokenBytes) {
    EXPECT_EQ(token_display_text("hello"), "hello");
    EXPECT_EQ(token_display_text("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
    EXPECT_EQ(token_display_text("\xe2\x80"), "\\xe2\\x80");           // half of a character
    EXPECT_EQ(token_display_text("a\xff"), "a\\xff");                  // never valid
    EXPECT_EQ(token_display_text("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
    EXPECT_EQ(token_display_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
    EXPECT_EQ(token_display_text("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

ResponseMeta meta() {
    return {"chatcmpl-abc", 1700000000, "m", "fp_test"};
}

TEST(ChatResponse, NonStreamingShape) {
    ChoiceResult choice;
    choice.text = "Hi there";
    choice.finish_reason = "stop";
    json out = chat_completion_json(meta(), {choice}, false, {7, 2});
    EXPECT_EQ(out["id"], "chatcmpl-abc");
    EXPECT_EQ(out["object"], "chat.completion");
    EXPECT_EQ(out["created"], 1700000000);
    EXPECT_EQ(out["model"], "m");
    EXPECT_EQ(out["system_fingerprint"], "fp_test");
    ASSERT_EQ(out["choices"].size(), 1u);
    EXPECT_EQ(out["choices"][0]["index"], 0);
    EXPECT_EQ(out["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(out["choices"][0]["message"]["content"], "Hi there");
    EXPECT_TRUE(out["choices"][0]["logprobs"].is_null());
    EXPECT_EQ(out["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(out["usage"]["prompt_tokens"], 7);
    EXPECT_EQ(out["usage"]["completion_tokens"], 2);
    EXPECT_EQ(out["usage"]["total_tokens"], 9);
}

TEST(ChatResponse, Logprobs) {
    TokenLogprob token{"\xe2\x80", -0.5f, {{"\xe2\x80", -0.5f}, {"a", -1.5f}}};
    ChoiceResult choice;
    choice.text = "x";
    choice.finish_reason = "length";
    choice.logprobs = {token};
    json out = chat_completion_json(meta(), {choice}, true, {1, 1});
    const json& entry = out["choices"][0]["logprobs"]["content"][0];
    EXPECT_EQ(entry["token"], "\\xe2\\x80");
    EXPECT_FLOAT_EQ(entry["logprob"].get<float>(), -0.5f);
    EXPECT_EQ(entry["bytes"], json({0xe2, 0x80}));
    ASSERT_EQ(entry["top_logprobs"].size(), 2u);
    EXPECT_EQ(entry["top_logprobs"][1]["token"], "a");
    EXPECT_EQ(entry["top_logprobs"][1]["bytes"], json({97}));
}

TEST(ChatChunks, RoleContentFinishUsage) {
    json role = chat_chunk_role_json(meta(), 2, true);
    EXPECT_EQ(role["object"], "chat.completion.chunk");
    EXPECT_EQ(role["choices"][0]["index"], 2);
    EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
    EXPECT_TRUE(role["choices"][0]["finish_reason"].is_null());
    EXPECT_TRUE(role.contains("usage"));
    EXPECT_TRUE(role["usage"].is_null());

    json content = chat_chunk_content_json(meta(), 0, "Hel", nullptr, false);
    EXPECT_FALSE(content["choices"][0]["delta"].contains("role"));
    EXPECT_EQ(content["choices"][0]["delta"]["content"], "Hel");
    EXPECT_FALSE(content.contains("usage"));
    EXPECT_TRUE(content["choices"][0]["logprobs"].is_null());

    std::vector<TokenLogprob> lp = {{"Hel", -0.1f, {}}};
    json with_lp = chat_chunk_content_json(meta(), 0, "Hel", &lp, false);
    EXPECT_EQ(with_lp["choices"][0]["logprobs"]["content"][0]["token"], "Hel");

    json finish = chat_chunk_finish_json(meta(), 0, "length", true);
    EXPECT_TRUE(finish["choices"][0]["delta"].is_object());
    EXPECT_TRUE(finish["choices"][0]["delta"].empty());
    EXPECT_EQ(finish["choices"][0]["finish_reason"], "length");

    json usage = usage_chunk_json(meta(), "chat.completion.chunk", {3, 4});
    EXPECT_TRUE(usage["choices"].is_array());
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["total_tokens"], 7);
    EXPECT_EQ(usage["id"], role["id"]);
    EXPECT_EQ(usage["created"], role["created"]);
}

TEST(CompletionResponse, LegacyLogprobsShape) {
    std::vector<TokenLogprob> tokens = {{"Hel", -0.1f, {{"Hel", -0.1f}}}, {"lo", -0.2f, {}}};
    json lp = completion_logprobs_json(tokens, 5);
    EXPECT_EQ(lp["tokens"], json({"Hel", "lo"}));
    EXPECT_EQ(lp["text_offset"], json({5, 8}));
    EXPECT_FLOAT_EQ(lp["top_logprobs"][0]["Hel"].get<float>(), -0.1f);

    ChoiceResult choice;
    choice.text = "Hello";
    choice.finish_reason = "length";
    choice.logprobs = tokens;
    json out = completion_json(meta(), {choice}, true, {2, 2});
    EXPECT_EQ(out["object"], "text_completion");
    EXPECT_EQ(out["choices"][0]["text"], "Hello");
    EXPECT_EQ(out["choices"][0]["logprobs"]["text_offset"], json({0, 3}));

    json chunk = completion_chunk_json(meta(), 1, "lo", nullptr, 0, std::nullopt, true);
    EXPECT_EQ(chunk["object"], "text_completion");
    EXPECT_EQ(chunk["choices"][0]["index"], 1);
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
    EXPECT_TRUE(chunk["usage"].is_null());
}

TEST(Models, ListShape) {
    json list = model_list_json({{"a", 1}, {"b", 2}});
    EXPECT_EQ(list["object"], "list");
    ASSERT_EQ(list["data"].size(), 2u);
    EXPECT_EQ(list["data"][1]["id"], "b");
    EXPECT_EQ(list["data"][1]["object"], "model");
    EXPECT_EQ(list["data"][1]["owned_by"], "cria");
}

TEST(Sse, Framing) {
    EXPECT_EQ(sse_event(json{{"a", "x\ny"}}), "data: {\"a\":\"x\\ny\"}\n\n");
    EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
    // A broken UTF-8 tail is replaced, not thrown on.
    EXPECT_NO_THROW(sse_event(json{{"a", std::string("\xe2\x80")}}));
}

}  // namespace
}  // namespace cria::server
