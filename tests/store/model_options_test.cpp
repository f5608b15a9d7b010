#include "store/model_options.h"

#include <gtest/gtest.h>

#include "sampling/sampling_params.h"

namespace cria::store {
namespace {

TEST(ModelOptions, ParsesParametersByKind) {
    nlohmann::json options = nlohmann::json::object();
    ASSERT_TRUE(add_parameter(options, "num_ctx", "8192"));
    ASSERT_TRUE(add_parameter(options, "temperature", "0.25"));
    ASSERT_TRUE(add_parameter(options, "stop", "<|eot|>"));
    ASSERT_TRUE(add_parameter(options, "stop", "User:"));
    ASSERT_TRUE(add_parameter(options, "use_mmap", "false"));
    EXPECT_EQ(options["num_ctx"], 8192);
    EXPECT_TRUE(options["num_ctx"].is_number_integer());
    EXPECT_DOUBLE_EQ(options["temperature"].get<double>(), 0.25);
    EXPECT_EQ(options["stop"], nlohmann::json::array({"<|eot|>", "User:"}));
    EXPECT_EQ(options["use_mmap"], false);
}

// Modelfile PARAMETER lines and request options follow the sampling library's one table of
// ranges, edge values included.
TEST(ModelOptions, SamplingParametersFollowTheSamplingRangeTable) {
    int checked = 0;
    for (const sampling::ParamRange& range : sampling::kParamRanges) {
        if (!option_kind(range.name)) continue;  // not an Ollama option (top_logprobs)
        const std::string name(range.name);
        auto text = [&](double v) {
            return range.integer ? std::to_string(static_cast<int64_t>(v)) : std::to_string(v);
        };
        EXPECT_TRUE(parse_parameter_value(name, text(range.max)).has_value()) << name;
        EXPECT_FALSE(parse_parameter_value(name, text(range.max + 1)).has_value()) << name;
        EXPECT_FALSE(parse_parameter_value(name, text(range.min - 1)).has_value()) << name;
        EXPECT_EQ(parse_parameter_value(name, text(range.min)).has_value(), !range.min_excluded)
            << name;
        const auto normalized = normalize_options({{name, range.max + 1}});
        EXPECT_FALSE(normalized.has_value()) << name;
        ++checked;
    }
    EXPECT_EQ(checked, 12);
    // A value every request would refuse is refused when the model is made.
    auto hot = parse_parameter_value("temperature", "3");
    ASSERT_FALSE(hot.has_value());
    EXPECT_NE(hot.status().message().find("temperature must be between 0 and 2"), std::string::npos)
        << hot.status().message();
}

TEST(ModelOptions, RejectsBadParameters) {
    nlohmann::json options = nlohmann::json::object();
    auto unknown = add_parameter(options, "num_ctxx", "1");
    EXPECT_FALSE(unknown);
    EXPECT_NE(unknown.message().find("num_ctxx"), std::string::npos);
    EXPECT_FALSE(add_parameter(options, "num_ctx", "8k"));
    EXPECT_FALSE(add_parameter(options, "num_ctx", "0"));
    EXPECT_FALSE(add_parameter(options, "num_ctx", "1.5"));
    EXPECT_FALSE(add_parameter(options, "temperature", "-1"));
    EXPECT_FALSE(add_parameter(options, "top_p", "1.5"));
    EXPECT_FALSE(add_parameter(options, "temperature", "nan"));
    EXPECT_FALSE(add_parameter(options, "use_mmap", "maybe"));
    EXPECT_TRUE(options.empty());
}

TEST(ModelOptions, NormalizesRequestOptions) {
    auto normalized = normalize_options(
        {{"num_ctx", 4096.0}, {"stop", "x"}, {"unknown_key", 1}, {"top_k", nullptr}});
    ASSERT_TRUE(normalized) << normalized.status().message();
    EXPECT_EQ((*normalized)["num_ctx"], 4096);
    EXPECT_EQ((*normalized)["stop"], nlohmann::json::array({"x"}));
    EXPECT_FALSE(normalized->contains("unknown_key"));
    EXPECT_FALSE(normalized->contains("top_k"));
    EXPECT_FALSE(normalize_options({{"num_ctx", "big"}}));
    EXPECT_FALSE(normalize_options({{"num_ctx", 10.5}}));
    EXPECT_FALSE(normalize_options({{"stop", {1, 2}}}));
    EXPECT_FALSE(normalize_options(nlohmann::json::array()));
    EXPECT_TRUE(normalize_options(nullptr));
}

TEST(ModelOptions, RequestOverridesModelfileKeyByKey) {
    const nlohmann::json modelfile = {{"temperature", 0.2}, {"num_ctx", 8192}, {"stop", {"a"}}};
    const nlohmann::json request = {{"temperature", 0.9}};
    const auto merged = merge_options(modelfile, request);
    EXPECT_DOUBLE_EQ(merged["temperature"].get<double>(), 0.9);
    EXPECT_EQ(merged["num_ctx"], 8192);
    const ModelOptions typed = ModelOptions::from_json(merged);
    EXPECT_EQ(typed.num_ctx, 8192);
    EXPECT_EQ(typed.stop, std::vector<std::string>{"a"});
    EXPECT_FALSE(typed.top_p.has_value());
}

}  // namespace
}  // namespace cria::store
