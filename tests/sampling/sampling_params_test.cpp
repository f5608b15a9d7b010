#include "sampling/sampling_params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

namespace cria::sampling {
namespace {

constexpr int32_t kVocab = 1000;

TEST(SamplingParams, DefaultsFollowOllamaAndLlamaCpp) {
    const SamplingParams params;
    EXPECT_FLOAT_EQ(params.temperature, 0.8f);
    EXPECT_EQ(params.top_k, 40);
    EXPECT_FLOAT_EQ(params.top_p, 0.9f);
    EXPECT_FLOAT_EQ(params.min_p, 0.0f);
    EXPECT_FLOAT_EQ(params.repeat_penalty, 1.1f);
    EXPECT_EQ(params.repeat_last_n, 64);
    EXPECT_FLOAT_EQ(params.presence_penalty, 0.0f);
    EXPECT_FLOAT_EQ(params.frequency_penalty, 0.0f);
    EXPECT_TRUE(params.logit_bias.empty());
    EXPECT_FALSE(params.seed.has_value());
    EXPECT_FALSE(params.logprobs);
    EXPECT_EQ(params.top_logprobs, 0);
    EXPECT_TRUE(validate_sampling_params(params, kVocab).is_ok());
}

TEST(SamplingParams, EdgeValuesAreAccepted) {
    SamplingParams params;
    params.temperature = 0.0f;
    params.top_k = 0;
    params.top_p = 0.0f;
    params.min_p = 1.0f;
    params.repeat_penalty = 10.0f;
    params.repeat_last_n = -1;
    params.presence_penalty = -2.0f;
    params.frequency_penalty = 2.0f;
    params.logprobs = true;
    params.top_logprobs = 20;
    params.logit_bias = {{0, -100.0f}, {kVocab - 1, 100.0f}};
    EXPECT_TRUE(validate_sampling_params(params, kVocab).is_ok());
    params.temperature = 2.0f;
    params.top_p = 1.0f;
    params.min_p = 0.0f;
    params.top_k = 1 << 30;
    EXPECT_TRUE(validate_sampling_params(params, kVocab).is_ok());
}

struct BadCase {
    const char* field;
    std::function<void(SamplingParams&)> corrupt;
};

TEST(SamplingParams, OutOfRangeValuesNameTheField) {
    constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
    const BadCase cases[] = {
        {"temperature", [](SamplingParams& p) { p.temperature = -0.1f; }},
        {"temperature", [](SamplingParams& p) { p.temperature = 2.01f; }},
        {"temperature", [&](SamplingParams& p) { p.temperature = kNaN; }},
        {"top_k", [](SamplingParams& p) { p.top_k = -1; }},
        {"top_p", [](SamplingParams& p) { p.top_p = 1.5f; }},
        {"top_p", [](SamplingParams& p) { p.top_p = -0.5f; }},
        {"min_p", [](SamplingParams& p) { p.min_p = 1.01f; }},
        {"min_p", [&](SamplingParams& p) { p.min_p = kNaN; }},
        {"repeat_penalty", [](SamplingParams& p) { p.repeat_penalty = 0.0f; }},
        {"repeat_penalty", [](SamplingParams& p) { p.repeat_penalty = 11.0f; }},
        {"repeat_last_n", [](SamplingParams& p) { p.repeat_last_n = -2; }},
        {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = 2.5f; }},
        {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = -2.5f; }},
        {"top_logprobs",
         [](SamplingParams& p) {
             p.logprobs = true;
             p.top_logprobs = 21;
         }},
        {"top_logprobs", [](SamplingParams& p) { p.top_logprobs = 3; }},  // logprobs is false
        {"logit_bias",
         [](SamplingParams& p) {
             p.logit_bias = {{5, 100.5f}};
         }},
        {"logit_bias",
         [&](SamplingParams& p) {
             p.logit_bias = {{5, kNaN}};
         }},
    };
    for (const BadCase& bad : cases) {
        SamplingParams params;
        bad.corrupt(params);
        const Status status = validate_sampling_params(params, kVocab);
        ASSERT_FALSE(status.is_ok()) << bad.field;
        EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(status.message().find(bad.field), std::string::npos) << status.message();
    }
}

TEST(SamplingParams, LogitBiasNamesTheBadTokenId) {
    SamplingParams params;
    params.logit_bias = {{3, 1.0f}, {kVocab, 5.0f}};
    Status status = validate_sampling_params(params, kVocab);
    ASSERT_FALSE(status.is_ok());
    EXPECT_NE(status.message().find("logit_bias"), std::string::npos);
    EXPECT_NE(status.message().find("1000"), std::string::npos) << status.message();

    params.logit_bias = {{-7, 1.0f}};
    status = validate_logit_bias(params.logit_bias, kVocab);
    ASSERT_FALSE(status.is_ok());
    EXPECT_NE(status.message().find("-7"), std::string::npos) << status.message();

    params.logit_bias = {{12, 1.0f}, {4, 2.0f}, {12, -3.0f}};
    status = validate_logit_bias(params.logit_bias, kVocab);
    ASSERT_FALSE(status.is_ok());
    EXPECT_NE(status.message().find("12"), std::string::npos) << status.message();
}

TEST(SamplingParams, NonPositiveVocabularyIsRejected) {
    EXPECT_FALSE(validate_sampling_params(SamplingParams{}, 0).is_ok());
    EXPECT_FALSE(validate_sampling_params(SamplingParams{}, -5).is_ok());
}

TEST(SamplingParams, ParseLogitBiasKey) {
    Expected<int32_t> id = parse_logit_bias_key("50256");
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(*id, 50256);
    ASSERT_TRUE(parse_logit_bias_key("0").has_value());
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "12a", "abc", "1.5", "99999999999"}) {
        const Expected<int32_t> parsed = parse_logit_bias_key(bad);
        EXPECT_FALSE(parsed.has_value()) << "'" << bad << "'";
    }
    const std::string huge(10000, 'x');
    const Expected<int32_t> parsed = parse_logit_bias_key(huge);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_LT(parsed.status().message().size(), 200u);  // the key is not echoed whole
}

}  // namespace
}  // namespace cria::sampling
