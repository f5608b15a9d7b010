// Drives `cria create/cp/list/show/rm` against a scratch store, as a user would.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "gguf/writer.h"
#include "test_support.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

class ModelCommands : public ::testing::Test {
  protected:
    ModelCommands() {
        dir_ = temp_dir() /
               ("models-cli-" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        gguf::Writer w;
        w.set("general.architecture", gguf::Value::string("llama"));
        w.set("llama.context_length", gguf::Value::u32(2048));
        w.set("tokenizer.chat_template", gguf::Value::string("{{ gguf_template }}"));
        EXPECT_TRUE(w.add_f32_tensor("token_embd.weight", {4, 2}, std::vector<float>(8, 1.0f))
                        .is_ok());  // [n_embd=4, n_vocab=2]
        EXPECT_TRUE(w.write((dir_ / "tiny.gguf").string()).is_ok());
    }
    ~ModelCommands() override { fs::remove_all(dir_); }

    CommandResult cria(const std::string& args) {
        return run_command("cd " + dir_.string() + " && CRIA_MODELS=" + (dir_ / "store").string() +
                           " " + cria_binary() + " " + args + " 2>&1");
    }

    fs::path dir_;
};

TEST_F(ModelCommands, CreateCopyShowListRemove) {
    write_file(dir_ / "Modelfile",
               "FROM ./tiny.gguf\nPARAMETER num_ctx 8192\nPARAMETER temperature 0.2\n"
               "PARAMETER stop \"<|eot|>\"\nSYSTEM \"\"\"You are\nterse.\"\"\"\nLICENSE MIT\n");
    CommandResult r = cria("create mine -f Modelfile");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("success"), std::string::npos) << r.output;

    r = cria("cp mine gpt-3.5-turbo");
    ASSERT_EQ(r.exit_code, 0) << r.output;

    r = cria("list");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("gpt-3.5-turbo:latest"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("mine:latest"), std::string::npos) << r.output;

    r = cria("show gpt-3.5-turbo");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("architecture             llama"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("num_ctx                        8192"), std::string::npos);
    EXPECT_NE(r.output.find("    terse."), std::string::npos);

    r = cria("show mine --parameters");
    EXPECT_EQ(r.output,
              "num_ctx                        8192\n"
              "stop                           \"<|eot|>\"\n"
              "temperature                    0.2\n");
    EXPECT_EQ(cria("show mine --system").output, "You are\nterse.\n");
    EXPECT_EQ(cria("show mine --license").output, "MIT\n");
    // Without a TEMPLATE the GGUF's own template is the model's; its syntax is named on stderr.
    EXPECT_EQ(cria("show mine --template").output, "template syntax: jinja\n{{ gguf_template }}\n");

    // The printed Modelfile rebuilds the same model.
    r = cria("show mine --modelfile");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    write_file(dir_ / "Modelfile.again", r.output);
    ASSERT_EQ(cria("create again -f Modelfile.again").exit_code, 0);
    EXPECT_EQ(cria("show again --parameters").output, cria("show mine --parameters").output);
    EXPECT_EQ(cria("show again --system").output, "You are\nterse.\n");

    r = cria("show mine --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["options"]["num_ctx"], 8192);
    EXPECT_EQ(j["context_length"], 2048);

    ASSERT_EQ(cria("rm mine again").exit_code, 0);
    r = cria("list");
    EXPECT_EQ(r.output.find("mine:latest"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("gpt-3.5-turbo:latest"), std::string::npos) << r.output;
    ASSERT_EQ(cria("rm gpt-3.5-turbo").exit_code, 0);
    // The last model is gone, and so are all its blobs.
    EXPECT_TRUE(fs::is_empty(dir_ / "store" / "blobs"));
}

TEST_F(ModelCommands, ErrorsAreOneLineWithExitCodeOne) {
    CommandResult r = cria("show nosuchmodel");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.output, "cria show: model 'nosuchmodel:latest' not found\n");
    r = cria("rm nosuchmodel");
    EXPECT_EQ(r.exit_code, 1);
    r = cria("cp nosuchmodel other");
    EXPECT_EQ(r.exit_code, 1);

    write_file(dir_ / "Modelfile", "FROM ./tiny.gguf\nADAPTER ./lora.gguf\n");
    r = cria("create x -f Modelfile");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("line 2: ADAPTER is not supported"), std::string::npos) << r.output;
    write_file(dir_ / "Modelfile", "FROM ./tiny.gguf\nPARAMETER num_ctx big\n");
    r = cria("create x -f Modelfile");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("line 2"), std::string::npos) << r.output;
    EXPECT_EQ(cria("create x -f missing.Modelfile").exit_code, 1);
    EXPECT_EQ(cria("list").output.find("x:latest"), std::string::npos);
}

}  // namespace
}  // namespace cria::test
