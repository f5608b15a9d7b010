// Ollama's /api/chat and /api/generate as pure functions: request parsing, the JSON builders,
// keep_alive durations, and the Modelfile defaults applied to both APIs.
#include "server/ollama_chat.h"

#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "server/model_defaults.h"

namespace cria::server {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using std::chrono::milliseconds;

TEST(KeepAlive, DurationsNumbersAndForever) {
    EXPECT_EQ(*parse_keep_alive(json("5m")), milliseconds(300000));
    EXPECT_EQ(*parse_keep_alive(json("10s")), milliseconds(10000));
    EXPECT_EQ(*parse_keep_alive(json("1h30m")), milliseconds(5400000));
    EXPECT_EQ(*parse_keep_alive(json("1.5s")), milliseconds(1500));
    EXPECT_EQ(*parse_keep_alive(json("250ms")), milliseconds(250));
    EXPECT_EQ(*parse_keep_alive(json("0")), milliseconds(0));
    EXPECT_EQ(*parse_keep_alive(json(0)), milliseconds(0));
    EXPECT_EQ(*parse_keep_alive(json(30)), milliseconds(30000));
    EXPECT_EQ(*parse_keep_alive(json("30")), milliseconds(30000));
    EXPECT_LT(parse_keep_alive(json(-1))->count(), 0);
    EXPECT_LT(parse_keep_alive(json("-1m"))->count(), 0);
    for (const char* bad : {"soon", "5x", "", "m", "1..5s", "-"}) {
        EXPECT_FALSE(parse_keep_alive(json(bad)).has_value()) << bad;
    }
    EXPECT_FALSE(parse_keep_alive(json::array()).has_value());
    EXPECT_FALSE(parse_keep_alive(json(true)).has_value());
}

TEST(OllamaChatRequest, FormatSchemaKeepsItsPropertyOrder) {
    auto parsed = parse_ollama_chat_request(ojson::parse(R"({
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "format": {"type": "object", "properties": {"zeta": {"type": "integer"},
                   "alpha": {"type": "string"}, "mid": {"type": "boolean"}},
                   "required": ["zeta", "alpha", "mid"]}})"));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    const ojson& format = parsed.value().chat.response_format;
    EXPECT_EQ(format["type"], "json_schema");
    std::vector<std::string> order;
    for (const auto& [key, value] : format["json_schema"]["schema"]["properties"].items()) {
        order.push_back(key);
    }
    EXPECT_EQ(order, (std::vector<std::string>{"zeta", "alpha", "mid"}));
}

TEST(OllamaChatRequest, ParsesMessagesOptionsAndFormat) {
    auto parsed = parse_ollama_chat_request(ojson::parse(R"({
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "hi", "images": []},
                     {"role": "assistant", "content": "",
                      "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
                     {"role": "tool", "content": "42", "tool_name": "f"}],
        "options": {"temperature": 0.5, "num_ctx": 2048, "stop": "END", "unknown": 1},
        "keep_alive": "10s", "stream": false, "format": "json", "think": false})"));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    const OllamaGenerationRequest& r = parsed.value();
    EXPECT_TRUE(r.is_chat);
    EXPECT_FALSE(r.load_only);
    EXPECT_FALSE(r.stream);
    EXPECT_EQ(r.model, "llama3.2");
    EXPECT_EQ(r.keep_alive, milliseconds(10000));
    EXPECT_EQ(r.think, false);
    EXPECT_EQ(r.chat.enable_thinking, false);
    EXPECT_EQ(r.options["num_ctx"], 2048);
    EXPECT_EQ(r.options["stop"], json::array({"END"}));
    EXPECT_FALSE(r.options.contains("unknown"));
    EXPECT_EQ(r.chat.response_format["type"], "json_object");
    ASSERT_EQ(r.chat.messages.size(), 3u);
    EXPECT_FALSE(r.chat.messages[0].contains("images"));
    EXPECT_EQ(r.chat.messages[1]["tool_calls"][0]["function"]["arguments"]["a"], 1);
    EXPECT_EQ(r.chat.messages[2]["name"], "f");
}

TEST(OllamaChatRequest, SchemaFormatToolsAndLoadOnly) {
    auto parsed = parse_ollama_chat_request(ojson::parse(R"({
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "format": {"type": "object", "properties": {"a": {"type": "integer"}}},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]})"));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_TRUE(parsed.value().stream);
    EXPECT_EQ(parsed.value().chat.response_format["type"], "json_schema");
    EXPECT_EQ(parsed.value().chat.response_format["json_schema"]["schema"]["type"], "object");
    EXPECT_EQ(parsed.value().chat.tools.size(), 1u);

    auto load = parse_ollama_chat_request(ojson::parse(R"({"model": "m", "messages": []})"));
    ASSERT_TRUE(load.ok());
    EXPECT_TRUE(load.value().load_only);
    auto load2 = parse_ollama_chat_request(ojson::parse(R"({"model": "m"})"));
    ASSERT_TRUE(load2.ok());
    EXPECT_TRUE(load2.value().load_only);
}

TEST(OllamaChatRequest, RejectsBadFields) {
    const char* bad[] = {
        R"({"messages": [{"role": "user", "content": "hi"}]})",
        R"({"model": 3})",
        R"({"model": "m", "messages": "hi"})",
        R"({"model": "m", "messages": [{"role": "wizard", "content": "hi"}]})",
        R"({"model": "m", "messages": [{"role": "user", "content": "hi", "images": ["aGk="]}]})",
        R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "format": "yaml"})",
        R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "format": 3})",
        R"({"model": "m", "options": {"temperature": "hot"}})",
        R"({"model": "m", "options": {"num_ctx": 1.5}})",
        R"({"model": "m", "options": []})",
        R"({"model": "m", "keep_alive": "later"})",
        R"({"model": "m", "stream": "yes"})",
        R"({"model": "m", "think": "maybe"})",
    };
    for (const char* body : bad) {
        auto parsed = parse_ollama_chat_request(ojson::parse(body));
        EXPECT_FALSE(parsed.ok()) << body;
        if (!parsed.ok()) {
            EXPECT_EQ(parsed.error().http_status, 400) << body;
            EXPECT_FALSE(parsed.error().message.empty());
        }
    }
}

TEST(OllamaGenerateRequest, PromptSystemContextRaw) {
    auto parsed = parse_ollama_generate_request(ojson::parse(R"({
        "model": "m", "prompt": "Why?", "system": "Be brief.", "context": [1, 2, 3],
        "raw": false, "keep_alive": -1})"));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    const OllamaGenerationRequest& r = parsed.value();
    EXPECT_FALSE(r.is_chat);
    EXPECT_EQ(r.prompt, "Why?");
    EXPECT_EQ(r.system, "Be brief.");
    EXPECT_EQ(r.context, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_LT(r.keep_alive->count(), 0);
    ASSERT_EQ(r.chat.messages.size(), 2u);
    EXPECT_EQ(r.chat.messages[0]["role"], "system");
    EXPECT_EQ(r.chat.messages[1]["content"], "Why?");

    auto load = parse_ollama_generate_request(ojson::parse(R"({"model": "m", "keep_alive": 0})"));
    ASSERT_TRUE(load.ok());
    EXPECT_TRUE(load.value().load_only);
    EXPECT_EQ(load.value().keep_alive, milliseconds(0));
}

TEST(OllamaGenerateRequest, RejectsUnsupportedAndMalformedFields) {
    const char* bad[] = {
        R"({"model": "m", "prompt": "a", "template": "{{ if .Prompt }}unclosed"})",
        R"({"model": "m", "prompt": "a", "raw": true, "suffix": "b"})",
        R"({"model": "m", "prompt": "a", "raw": true, "template": "{{ .Prompt }}"})",
        R"({"model": "m", "prompt": "a", "images": ["aGk="]})",
        R"({"model": "m", "prompt": "a", "context": [1, -2]})",
        R"({"model": "m", "prompt": "a", "context": "1,2"})",
        R"({"model": "m", "prompt": "a", "context": [1.5]})",
        R"({"model": "m", "prompt": 7})",
        R"({"model": "m", "prompt": "a", "raw": 1})",
        R"({"model": "m", "prompt": "a", "system": 1})",
    };
    for (const char* body : bad) {
        auto parsed = parse_ollama_generate_request(ojson::parse(body));
        EXPECT_FALSE(parsed.ok()) << body;
    }
    // A template of the request's own (either syntax) and a suffix for fill-in-the-middle.
    auto fim = parse_ollama_generate_request(ojson::parse(
        R"({"model": "m", "prompt": "a", "suffix": "b", "template": "{{ .Prompt }}|{{ .Suffix }}"})"));
    ASSERT_TRUE(fim.ok()) << fim.error().message;
    ASSERT_NE(fim.value().chat.template_override, nullptr);
    EXPECT_EQ(fim.value().chat.template_override->syntax(), chat::TemplateSyntax::kGo);
    EXPECT_EQ(fim.value().chat.fill_prompt, "a");
    EXPECT_EQ(fim.value().chat.fill_suffix, "b");
    // Empty suffix and template are what some clients always send.
    EXPECT_TRUE(parse_ollama_generate_request(
                    json::parse(R"({"model": "m", "prompt": "a", "suffix": "", "template": ""})"))
                    .ok());
}

TEST(OllamaJson, ChunksAndFinalObjects) {
    const ojson chunk = ollama_chat_chunk("m", "T", ollama_message("Hi", "", ojson::array()));
    EXPECT_EQ(chunk.dump(),
              R"({"model":"m","created_at":"T","message":{"role":"assistant","content":"Hi"},)"
              R"("done":false})");
    OllamaStats stats;
    stats.total = std::chrono::nanoseconds(100);
    stats.load = std::chrono::nanoseconds(10);
    stats.prompt_eval_count = 7;
    stats.prompt_eval = std::chrono::nanoseconds(20);
    stats.eval_count = 3;
    stats.eval = std::chrono::nanoseconds(60);
    const ojson final_chat =
        ollama_final(ollama_chat_chunk("m", "T", ollama_message("", "", ojson::array())), "stop",
                     stats, nullptr);
    EXPECT_EQ(final_chat.dump(),
              R"({"model":"m","created_at":"T","message":{"role":"assistant","content":""},)"
              R"("done":true,"done_reason":"stop","total_duration":100,"load_duration":10,)"
              R"("prompt_eval_count":7,"prompt_eval_duration":20,"eval_count":3,)"
              R"("eval_duration":60})");
    const std::vector<int32_t> context = {1, 2};
    const ojson final_generate =
        ollama_final(ollama_generate_chunk("m", "T", "ok", "hmm"), "length", stats, &context);
    EXPECT_EQ(final_generate["response"], "ok");
    EXPECT_EQ(final_generate["thinking"], "hmm");
    EXPECT_EQ(final_generate["done_reason"], "length");
    EXPECT_EQ(final_generate["context"], ojson::array({1, 2}));
    EXPECT_EQ(ollama_generate_chunk("m", "T", "x", "").dump(),
              R"({"model":"m","created_at":"T","response":"x","done":false})");
}

TEST(OllamaJson, ToolCallsCarryObjectArguments) {
    const ojson openai = ojson::parse(R"([
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "broken", "arguments": "{"}}])");
    const ojson calls = ollama_tool_calls(openai);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].dump(),
              R"({"function":{"name":"get_weather","arguments":{"city":"Paris"}}})");
    EXPECT_EQ(calls[1]["function"]["arguments"], "{");  // kept as sent when it does not parse
    const ojson message = ollama_message("", "thought", calls);
    EXPECT_EQ(message["thinking"], "thought");
    EXPECT_EQ(message["tool_calls"].size(), 2u);
}

TEST(OllamaJson, TimestampsHaveNanoseconds) {
    const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1764039879)) +
                      std::chrono::nanoseconds(123456789);
    const std::string text =
        ollama_timestamp(std::chrono::time_point_cast<std::chrono::system_clock::duration>(when));
    EXPECT_EQ(text.substr(0, 20), "2025-11-25T03:04:39.");
    EXPECT_EQ(text.back(), 'Z');
    EXPECT_EQ(text.size(), 30u);
}

TEST(ModelDefaults, OllamaOptionsSetSampling) {
    GenerationRequest g;
    g.sampling = sampling::SamplingParams{};
    apply_options(g, json::parse(R"({"temperature": 0.2, "top_k": 5, "top_p": 0.5, "min_p": 0.1,
        "seed": 42, "num_predict": 10, "stop": ["a", "b"], "repeat_penalty": 1.3,
        "repeat_last_n": 8, "presence_penalty": 0.5, "frequency_penalty": 0.25, "num_ctx": 9,
        "typical_p": 0.6, "mirostat": 1, "mirostat_tau": 3.5, "mirostat_eta": 0.2})"));
    EXPECT_FLOAT_EQ(g.sampling.typical_p, 0.6f);
    EXPECT_EQ(g.sampling.mirostat, 1);
    EXPECT_FLOAT_EQ(g.sampling.mirostat_tau, 3.5f);
    EXPECT_FLOAT_EQ(g.sampling.mirostat_eta, 0.2f);
    EXPECT_FLOAT_EQ(g.sampling.temperature, 0.2f);
    EXPECT_EQ(g.sampling.top_k, 5);
    EXPECT_FLOAT_EQ(g.sampling.top_p, 0.5f);
    EXPECT_FLOAT_EQ(g.sampling.min_p, 0.1f);
    EXPECT_EQ(g.sampling.seed, 42u);
    EXPECT_EQ(g.max_tokens, 10);
    EXPECT_EQ(g.stop, (std::vector<std::string>{"a", "b"}));
    EXPECT_FLOAT_EQ(g.sampling.repeat_penalty, 1.3f);
    EXPECT_EQ(g.sampling.repeat_last_n, 8);
    EXPECT_FLOAT_EQ(g.sampling.presence_penalty, 0.5f);
    EXPECT_FLOAT_EQ(g.sampling.frequency_penalty, 0.25f);

    apply_options(g, json::parse(R"({"num_predict": -1, "seed": -1})"));
    EXPECT_FALSE(g.max_tokens.has_value());
    EXPECT_FALSE(g.sampling.seed.has_value());
}

TEST(ModelDefaults, OpenAiRequestKeepsWhatItSentAndTakesTheRest) {
    const json parameters = json::parse(
        R"({"temperature": 0.0, "top_p": 0.5, "num_predict": 7, "stop": ["X"], "seed": 3,
            "num_ctx": 4096})");
    // A request that set temperature and max_tokens only.
    GenerationRequest g;  // OpenAI defaults
    g.sampling.temperature = 1.5f;
    g.max_tokens = 20;
    apply_model_parameters(g, parameters, json::parse(R"({"temperature": 1.5, "max_tokens": 20})"));
    EXPECT_FLOAT_EQ(g.sampling.temperature, 1.5f);
    EXPECT_EQ(g.max_tokens, 20);
    EXPECT_FLOAT_EQ(g.sampling.top_p, 0.5f);
    EXPECT_EQ(g.stop, (std::vector<std::string>{"X"}));
    EXPECT_EQ(g.sampling.seed, 3u);

    // max_completion_tokens counts as max_tokens; a null field counts as absent.
    GenerationRequest h;
    h.max_tokens = 9;
    apply_model_parameters(h, parameters,
                           json::parse(R"({"max_completion_tokens": 9, "temperature": null})"));
    EXPECT_EQ(h.max_tokens, 9);
    EXPECT_FLOAT_EQ(h.sampling.temperature, 0.0f);

    // Nothing in the Modelfile: the OpenAI defaults stay.
    GenerationRequest k;
    const float default_top_p = k.sampling.top_p;
    apply_model_parameters(k, json::object(), json::object());
    EXPECT_FLOAT_EQ(k.sampling.top_p, default_top_p);
    EXPECT_FALSE(k.max_tokens.has_value());
}

TEST(ModelDefaults, SystemAndMessagesFromTheRecipe) {
    store::ModelRecipe recipe;
    recipe.system = "Be terse.";
    recipe.messages = {{"user", "Hi"}, {"assistant", "Hello."}};
    ojson messages = ojson::parse(R"([{"role": "user", "content": "Q"}])");
    apply_recipe_messages(messages, recipe);
    ASSERT_EQ(messages.size(), 4u);
    EXPECT_EQ(messages[0]["role"], "system");
    EXPECT_EQ(messages[0]["content"], "Be terse.");
    EXPECT_EQ(messages[1]["content"], "Hi");
    EXPECT_EQ(messages[2]["content"], "Hello.");
    EXPECT_EQ(messages[3]["content"], "Q");

    // The conversation's own system message wins and stays first.
    ojson own =
        ojson::parse(R"([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}])");
    apply_recipe_messages(own, recipe);
    ASSERT_EQ(own.size(), 4u);
    EXPECT_EQ(own[0]["content"], "S");
    EXPECT_EQ(own[3]["content"], "Q");

    ojson untouched = ojson::parse(R"([{"role": "user", "content": "Q"}])");
    apply_recipe_messages(untouched, store::ModelRecipe{});
    EXPECT_EQ(untouched.size(), 1u);
}

}  // namespace
}  // namespace cria::server
