// The embedding endpoints' wire format: request parsing for OpenAI and Ollama (every input
// shape, each error naming its field), the base64 encoding, truncation to `dimensions`.
#include <gtest/gtest.h>

#include <cmath>

#include "server/embeddings.h"

namespace cria::server {
namespace {

TEST(OpenAiEmbeddingRequest, AcceptsEveryInputShape) {
    auto one = parse_openai_embedding_request(R"({"model":"m","input":"hello"})");
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one.value().inputs.size(), 1u);
    EXPECT_FALSE(one.value().inputs[0].is_tokens);
    EXPECT_EQ(one.value().inputs[0].text, "hello");
    EXPECT_FALSE(one.value().base64);
    EXPECT_FALSE(one.value().truncate);

    auto texts = parse_openai_embedding_request(R"({"model":"m","input":["a","b","c"]})");
    ASSERT_TRUE(texts.ok());
    EXPECT_EQ(texts.value().inputs.size(), 3u);

    auto ids = parse_openai_embedding_request(R"({"model":"m","input":[101,7,102]})");
    ASSERT_TRUE(ids.ok());
    ASSERT_EQ(ids.value().inputs.size(), 1u);
    EXPECT_TRUE(ids.value().inputs[0].is_tokens);
    EXPECT_EQ(ids.value().inputs[0].tokens, (std::vector<int32_t>{101, 7, 102}));

    auto nested = parse_openai_embedding_request(
        R"({"model":"m","input":[[1,2],[3]],"encoding_format":"base64","dimensions":8,"user":"u"})");
    ASSERT_TRUE(nested.ok());
    ASSERT_EQ(nested.value().inputs.size(), 2u);
    EXPECT_EQ(nested.value().inputs[1].tokens, (std::vector<int32_t>{3}));
    EXPECT_TRUE(nested.value().base64);
    EXPECT_EQ(nested.value().dimensions, 8);
}

TEST(OpenAiEmbeddingRequest, ErrorsNameTheField) {
    struct Case {
        const char* body;
        const char* param;
    };
    const Case cases[] = {
        {R"({"input":"x"})", "model"},
        {R"({"model":"m"})", "input"},
        {R"({"model":"m","input":5})", "input"},
        {R"({"model":"m","input":[]})", "input"},
        {R"({"model":"m","input":""})", "input"},
        {R"({"model":"m","input":["a",""]})", "input"},
        {R"({"model":"m","input":[[]]})", "input"},
        {R"({"model":"m","input":["a",3]})", "input"},
        {R"({"model":"m","input":[1,"a"]})", "input"},
        {R"({"model":"m","input":[-1]})", "input"},
        {R"({"model":"m","input":[1.5]})", "input"},
        {R"({"model":"m","input":[[1],{}]})", "input"},
        {R"({"model":"m","input":"x","encoding_format":"hex"})", "encoding_format"},
        {R"({"model":"m","input":"x","dimensions":0})", "dimensions"},
        {R"({"model":"m","input":"x","dimensions":"8"})", "dimensions"},
        {R"({"model":"m","input":"x","user":5})", "user"},
    };
    for (const Case& c : cases) {
        auto parsed = parse_openai_embedding_request(c.body);
        ASSERT_FALSE(parsed.ok()) << c.body;
        EXPECT_EQ(parsed.error().http_status, 400) << c.body;
        EXPECT_EQ(parsed.error().param.value_or(""), c.param) << c.body;
    }
    EXPECT_FALSE(parse_openai_embedding_request("not json").ok());
    std::string many = R"({"model":"m","input":[)";
    for (size_t i = 0; i <= kMaxEmbeddingInputs; ++i) many += (i ? ",\"a\"" : "\"a\"");
    many += "]}";
    EXPECT_FALSE(parse_openai_embedding_request(many).ok());
}

TEST(OllamaEmbeddingRequest, EmbedAndLegacy) {
    auto embed = parse_ollama_embedding_request(
        R"({"model":"m","input":["a","b"],"truncate":false,"keep_alive":"1m","options":{"num_ctx":256}})",
        false);
    ASSERT_TRUE(embed.ok());
    EXPECT_EQ(embed.value().inputs.size(), 2u);
    EXPECT_FALSE(embed.value().truncate);
    EXPECT_TRUE(embed.value().normalize);
    EXPECT_EQ(embed.value().num_ctx, 256);
    ASSERT_TRUE(embed.value().keep_alive.has_value());
    EXPECT_EQ(embed.value().keep_alive->count(), 60000);

    auto defaults = parse_ollama_embedding_request(R"({"model":"m","input":"a"})", false);
    ASSERT_TRUE(defaults.ok());
    EXPECT_TRUE(defaults.value().truncate);

    // No input, or an empty string, only loads the model.
    auto load_only = parse_ollama_embedding_request(R"({"model":"m"})", false);
    ASSERT_TRUE(load_only.ok());
    EXPECT_TRUE(load_only.value().inputs.empty());
    EXPECT_TRUE(parse_ollama_embedding_request(R"({"model":"m","input":""})", false).ok());

    auto legacy = parse_ollama_embedding_request(R"({"model":"m","prompt":"hi"})", true);
    ASSERT_TRUE(legacy.ok());
    ASSERT_EQ(legacy.value().inputs.size(), 1u);
    EXPECT_FALSE(legacy.value().normalize);

    for (const char* bad :
         {R"({"input":"a"})", R"({"model":"m","input":[]})", R"({"model":"m","input":7})",
          R"({"model":"m","input":["a",2]})", R"({"model":"m","input":["a",""]})",
          R"({"model":"m","input":"a","truncate":"yes"})",
          R"({"model":"m","input":"a","keep_alive":"soon"})",
          R"({"model":"m","input":"a","options":3})",
          R"({"model":"m","input":"a","dimensions":-2})"}) {
        auto parsed = parse_ollama_embedding_request(bad, false);
        ASSERT_FALSE(parsed.ok()) << bad;
        EXPECT_FALSE(parsed.error().message.empty());
    }
    EXPECT_FALSE(parse_ollama_embedding_request(R"({"model":"m","prompt":3})", true).ok());
}

TEST(EmbeddingOutput, DimensionsThenNormalize) {
    std::vector<float> v = {3.0f, 4.0f, 12.0f};
    finish_embedding(v, 2, true);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_FLOAT_EQ(v[0], 0.6f);
    EXPECT_FLOAT_EQ(v[1], 0.8f);
    std::vector<float> raw = {3.0f, 4.0f};
    finish_embedding(raw, std::nullopt, false);
    EXPECT_EQ(raw, (std::vector<float>{3.0f, 4.0f}));
}

TEST(EmbeddingOutput, Base64IsLittleEndianFloat32) {
    // 1.0f = 00 00 80 3f; -2.0f = 00 00 00 c0.
    EXPECT_EQ(embedding_base64({1.0f}), "AACAPw==");
    EXPECT_EQ(embedding_base64({1.0f, -2.0f}), "AACAPwAAAMA=");
    EXPECT_EQ(embedding_base64({}), "");
    const auto body = openai_embedding_response("m", {{1.0f}, {-2.0f}}, true, 5);
    EXPECT_EQ(body["object"], "list");
    EXPECT_EQ(body["data"][1]["index"], 1);
    EXPECT_EQ(body["data"][1]["embedding"], "AAAAwA==");
    EXPECT_EQ(body["usage"]["prompt_tokens"], 5);
    EXPECT_EQ(body["usage"]["total_tokens"], 5);
}

}  // namespace
}  // namespace cria::server
