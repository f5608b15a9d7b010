// Every real chat template in ../shared/golden/templates, rendered for every conversation in
// cases.json, must equal what Hugging Face's apply_chat_template produced, byte for byte, or
// fail with the same message where Python raised.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "test_support.h"

namespace cria::chat {
namespace {

struct GoldenCase {
    std::string template_name;
    std::string case_name;
};

// Names the case in test listings (the default would print the struct's bytes).
void PrintTo(const GoldenCase& c, std::ostream* os) {
    *os << c.template_name << "__" << c.case_name;
}

std::filesystem::path templates_dir() {
    const std::filesystem::path shared = test::shared_dir();
    if (shared.empty()) return {};
    return shared / "golden" / "templates";
}

// All template x case pairs, or one placeholder when the shared data is absent (so the suite
// reports a skip rather than nothing).
std::vector<GoldenCase> golden_cases() {
    std::vector<GoldenCase> cases;
    const std::filesystem::path dir = templates_dir();
    std::error_code ec;
    if (dir.empty() || !std::filesystem::exists(dir / "cases.json", ec)) {
        return {{"absent", "absent"}};
    }
    const auto conversations = nlohmann::ordered_json::parse(test::read_file(dir / "cases.json"));
    std::vector<std::string> templates;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "templates")) {
        if (entry.path().extension() == ".jinja") templates.push_back(entry.path().stem().string());
    }
    std::sort(templates.begin(), templates.end());
    for (const std::string& name : templates) {
        for (const auto& conversation : conversations) {
            cases.push_back({name, conversation.at("name").get<std::string>()});
        }
    }
    return cases;
}

// bos/eos as the reference renderer set them per model family.
void add_special_tokens(const std::string& template_name, nlohmann::ordered_json& context) {
    auto has = [&](const char* part) { return template_name.find(part) != std::string::npos; };
    if (has("Llama-3")) {
        context["bos_token"] = "<|begin_of_text|>";
        context["eos_token"] = "<|eot_id|>";
    } else if (has("Qwen")) {
        context["bos_token"] = "";
        context["eos_token"] = "<|im_end|>";
    } else if (has("gemma")) {
        context["bos_token"] = "<bos>";
        context["eos_token"] = "<eos>";
    } else if (has("Phi")) {
        context["bos_token"] = "<s>";
        context["eos_token"] = "<|endoftext|>";
    } else {
        context["bos_token"] = "<s>";
        context["eos_token"] = "</s>";
    }
}

class GoldenTemplateTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTemplateTest, MatchesReference) {
    CRIA_REQUIRE_SHARED(shared);
    const GoldenCase& param = GetParam();
    const std::filesystem::path dir = shared / "golden" / "templates";
    const auto conversations = nlohmann::ordered_json::parse(test::read_file(dir / "cases.json"));
    nlohmann::ordered_json conversation;
    for (const auto& c : conversations) {
        if (c.at("name") == param.case_name) conversation = c;
    }
    ASSERT_TRUE(conversation.is_object()) << param.case_name;

    nlohmann::ordered_json context;
    context["messages"] = conversation.at("messages");
    if (conversation.contains("tools")) context["tools"] = conversation.at("tools");
    context["add_generation_prompt"] = conversation.value("add_generation_prompt", true);
    add_special_tokens(param.template_name, context);

    auto tmpl =
        ChatTemplate::parse(test::read_file(dir / "templates" / (param.template_name + ".jinja")));
    ASSERT_TRUE(tmpl.has_value()) << tmpl.status().message();
    RenderOptions options;
    options.now = DateTime{2026, 7, 26, 12, 0, 0, 0};
    auto rendered = tmpl->render(context, options);

    const std::string stem = param.template_name + "__" + param.case_name;
    const std::filesystem::path expected_text = dir / "expected" / (stem + ".txt");
    const std::filesystem::path expected_error = dir / "expected" / (stem + ".error");
    if (std::filesystem::exists(expected_error)) {
        std::string message = test::read_file(expected_error);
        while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
            message.pop_back();
        }
        ASSERT_FALSE(rendered.has_value()) << "expected failure: " << message;
        EXPECT_EQ(rendered.status().message(), message);
        return;
    }
    ASSERT_TRUE(std::filesystem::exists(expected_text)) << expected_text;
    ASSERT_TRUE(rendered.has_value()) << rendered.status().message();
    EXPECT_EQ(*rendered, test::read_file(expected_text));
}

std::string case_label(const ::testing::TestParamInfo<GoldenCase>& info) {
    std::string label = info.param.template_name + "__" + info.param.case_name;
    for (char& c : label) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return label;
}

INSTANTIATE_TEST_SUITE_P(Shared, GoldenTemplateTest, ::testing::ValuesIn(golden_cases()),
                         case_label);

}  // namespace
}  // namespace cria::chat
