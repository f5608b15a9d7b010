// `cria render-template`: exact stdout on success, the template's error and status 1 on
// failure. Skips when the cria executable has not been built in this build tree.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.h"

namespace cria::chat {
namespace {

struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

std::filesystem::path cria_binary() {
    return std::filesystem::path(CRIA_BINARY_DIR) / "cria";
}

CommandResult run_render(const std::string& template_text, const std::string& context,
                         const std::string& extra_args = "") {
    const std::filesystem::path dir = test::temp_dir() / "render-template";
    std::filesystem::create_directories(dir);
    test::write_file(dir / "t.jinja", template_text);
    test::write_file(dir / "ctx.json", context);
    auto quoted = [](const std::filesystem::path& path) {
        std::string text = "'";
        text += path.string();
        text += "'";
        return text;
    };
    std::string command = quoted(cria_binary());
    command += " render-template --template ";
    command += quoted(dir / "t.jinja");
    command += " --context ";
    command += quoted(dir / "ctx.json");
    command += " ";
    command += extra_args;
    command += " > ";
    command += quoted(dir / "out.txt");
    command += " 2> ";
    command += quoted(dir / "err.txt");
    CommandResult result;
    const int status = std::system(command.c_str());
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = test::read_file(dir / "out.txt");
    result.err = test::read_file(dir / "err.txt");
    std::error_code ignored;
    std::filesystem::remove_all(dir.parent_path(), ignored);
    return result;
}

#define REQUIRE_CRIA_BINARY()                                                     \
    if (!std::filesystem::exists(cria_binary())) {                                \
        GTEST_SKIP() << "the cria executable is not built in this tree; skipped"; \
    }

TEST(RenderTemplateCommandTest, PrintsTheRenderingExactly) {
    REQUIRE_CRIA_BINARY();
    const CommandResult result =
        run_render("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{{ x }}",
                   R"({"messages": [{"role": "user", "content": "héllo"}], "x": "end"})");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "user: héllo\nend");
    EXPECT_EQ(result.err, "");
}

TEST(RenderTemplateCommandTest, FixesTheDateWithNow) {
    REQUIRE_CRIA_BINARY();
    const CommandResult result =
        run_render("{{ strftime_now('%d %b %Y') }}", "{}", "--now 2026-07-26T12:00:00");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "26 Jul 2026");
}

TEST(RenderTemplateCommandTest, ReportsTemplateErrorsWithStatusOne) {
    REQUIRE_CRIA_BINARY();
    CommandResult result = run_render("{{ raise_exception('System role not supported') }}", "{}");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, "TemplateError: System role not supported\n");

    result = run_render("{% if %}", "{}");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err,
              "TemplateSyntaxError: expected an expression, got '%}' (line 1, column 7)\n");

    result = run_render("x", "not json");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("is not a JSON object"), std::string::npos);
}

// Every golden case through the command line, as the acceptance check runs it.
TEST(RenderTemplateCommandTest, RendersEveryGoldenCase) {
    REQUIRE_CRIA_BINARY();
    CRIA_REQUIRE_SHARED(shared);
    const std::filesystem::path dir = shared / "golden" / "templates";
    const auto conversations = nlohmann::ordered_json::parse(test::read_file(dir / "cases.json"));
    int checked = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "templates")) {
        const std::string name = entry.path().stem().string();
        std::string bos = "<s>";
        std::string eos = "</s>";
        if (name.find("Llama-3") != std::string::npos) {
            bos = "<|begin_of_text|>";
            eos = "<|eot_id|>";
        } else if (name.find("Qwen") != std::string::npos) {
            bos = "";
            eos = "<|im_end|>";
        } else if (name.find("gemma") != std::string::npos) {
            bos = "<bos>";
            eos = "<eos>";
        } else if (name.find("Phi") != std::string::npos) {
            eos = "<|endoftext|>";
        }
        const std::string source = test::read_file(entry.path());
        for (const auto& conversation : conversations) {
            nlohmann::ordered_json context;
            context["messages"] = conversation.at("messages");
            if (conversation.contains("tools")) context["tools"] = conversation.at("tools");
            context["add_generation_prompt"] = conversation.value("add_generation_prompt", true);
            context["bos_token"] = bos;
            context["eos_token"] = eos;
            const std::string stem = name + "__" + conversation.at("name").get<std::string>();
            const CommandResult result =
                run_render(source, context.dump(), "--now 2026-07-26T12:00:00");
            const std::filesystem::path error_file = dir / "expected" / (stem + ".error");
            if (std::filesystem::exists(error_file)) {
                EXPECT_EQ(result.exit_code, 1) << stem;
                EXPECT_EQ(result.err, test::read_file(error_file)) << stem;
            } else {
                EXPECT_EQ(result.exit_code, 0) << stem << ": " << result.err;
                EXPECT_EQ(result.out, test::read_file(dir / "expected" / (stem + ".txt"))) << stem;
            }
            ++checked;
        }
    }
    EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace cria::chat
