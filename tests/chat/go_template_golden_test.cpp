// Every Ollama Go template in ../shared/golden/gotemplates, rendered for each of its contexts,
// must equal the text Ollama renders, byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "test_support.h"

namespace cria::chat {
namespace {

struct GoCase {
    std::string template_name;
    std::string case_name;
};

void PrintTo(const GoCase& c, std::ostream* os) {
    *os << c.template_name << "__" << c.case_name;
}

std::filesystem::path go_templates_dir() {
    const std::filesystem::path shared = test::shared_dir();
    if (shared.empty()) return {};
    return shared / "golden" / "gotemplates";
}

// Every NAME__CASE.json beside a NAME.gotmpl, or one placeholder when the data is absent.
std::vector<GoCase> go_cases() {
    const std::filesystem::path dir = go_templates_dir();
    std::error_code ec;
    if (dir.empty() || !std::filesystem::exists(dir, ec)) return {{"absent", "absent"}};
    std::vector<GoCase> cases;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string stem = entry.path().stem().string();
        const size_t split = stem.find("__");
        if (entry.path().extension() != ".json" || split == std::string::npos) continue;
        cases.push_back({stem.substr(0, split), stem.substr(split + 2)});
    }
    std::sort(cases.begin(), cases.end(), [](const GoCase& a, const GoCase& b) {
        return a.template_name + "__" + a.case_name < b.template_name + "__" + b.case_name;
    });
    return cases;
}

class GoTemplateGoldenTest : public ::testing::TestWithParam<GoCase> {};

TEST_P(GoTemplateGoldenTest, RendersAsOllamaDoes) {
    CRIA_REQUIRE_SHARED(shared);
    const GoCase& c = GetParam();
    const std::filesystem::path dir = go_templates_dir();
    const std::string source = test::read_file(dir / (c.template_name + ".gotmpl"));
    const auto context = nlohmann::ordered_json::parse(
        test::read_file(dir / (c.template_name + "__" + c.case_name + ".json")));
    const std::string expected =
        test::read_file(dir / (c.template_name + "__" + c.case_name + ".txt"));

    EXPECT_EQ(detect_template_syntax(source), TemplateSyntax::kGo);
    Expected<ChatTemplate> tmpl = ChatTemplate::parse(source);
    ASSERT_TRUE(tmpl.has_value()) << tmpl.status().message();
    EXPECT_EQ(tmpl->syntax(), TemplateSyntax::kGo);
    Expected<std::string> rendered = tmpl->render(context);
    ASSERT_TRUE(rendered.has_value()) << rendered.status().message();
    EXPECT_EQ(*rendered, expected);
}

INSTANTIATE_TEST_SUITE_P(Ollama, GoTemplateGoldenTest, ::testing::ValuesIn(go_cases()),
                         [](const ::testing::TestParamInfo<GoCase>& info) {
                             std::string name =
                                 info.param.template_name + "__" + info.param.case_name;
                             for (char& ch : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             }
                             return name;
                         });

}  // namespace
}  // namespace cria::chat
