#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "gguf/writer.h"
#include "test_support.h"

namespace cria::test {
namespace {

std::string write_sample_model() {
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::string("llama"));
    w.set("general.file_type", gguf::Value::u32(7));
    w.set("llama.context_length", gguf::Value::u32(4096));
    w.set("llama.embedding_length", gguf::Value::u32(64));
    w.set("llama.block_count", gguf::Value::u32(2));
    w.set("tokenizer.ggml.model", gguf::Value::string("gpt2"));
    w.set("tokenizer.ggml.tokens", gguf::Value::string_array({"a", "b", "c"}));
    w.set("tokenizer.chat_template", gguf::Value::string("{{ messages }}"));
    EXPECT_TRUE(
        w.add_f32_tensor("token_embd.weight", {64, 3}, std::vector<float>(192, 0.5f)).is_ok());
    EXPECT_TRUE(w.add_tensor("blk.0.attn_q.weight", gguf::TensorType::kQ8_0, {64, 64},
                             std::vector<uint8_t>(64 * 2 * 34, 0))
                    .is_ok());
    const std::string path = (temp_dir() / "show-sample.gguf").string();
    EXPECT_TRUE(w.write(path).is_ok());
    return path;
}

TEST(ShowCommand, PrintsJsonSummary) {
    const std::string path = write_sample_model();
    const CommandResult r = run_command(cria_binary() + " show --json " + path);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["architecture"], "llama");
    EXPECT_EQ(j["parameters"], 192 + 64 * 64);
    EXPECT_EQ(j["context_length"], 4096);
    EXPECT_EQ(j["embedding_length"], 64);
    EXPECT_EQ(j["block_count"], 2);
    EXPECT_EQ(j["file_type"], "Q8_0");
    EXPECT_EQ(j["tensor_types"]["F32"], 1);
    EXPECT_EQ(j["tensor_types"]["Q8_0"], 1);
    EXPECT_EQ(j["tokenizer_model"], "gpt2");
    EXPECT_EQ(j["vocab_size"], 3);
    EXPECT_EQ(j["has_chat_template"], true);
}

TEST(ShowCommand, PrintsTextSummary) {
    const std::string path = write_sample_model();
    const CommandResult r = run_command(cria_binary() + " show " + path);
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_NE(r.output.find("architecture         llama"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("quantization         Q8_0"), std::string::npos);
    EXPECT_NE(r.output.find("chat template        yes"), std::string::npos);
}

TEST(ShowCommand, MalformedFileExitsWithOneLine) {
    const auto path = temp_dir() / "bad.gguf";
    write_file(path, std::string("GGUF\x03\x00\x00\x00\x01", 9));
    const CommandResult r = run_command(cria_binary() + " show " + path.string() + " 2>&1");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// A FIFO given as a model is refused at once by `cria show` and `cria serve` (both used to wait
// for a writer for ever). `timeout` turns a hang into exit code 124.
TEST(ShowCommand, FifoIsRefusedWithoutBlocking) {
    const auto path = temp_dir() / "model.fifo.gguf";
    std::filesystem::remove(path);
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
    const CommandResult show =
        run_command("timeout 20 " + cria_binary() + " show " + path.string() + " 2>&1");
    EXPECT_EQ(show.exit_code, 1) << show.output;
    EXPECT_NE(show.output.find("not a regular file"), std::string::npos) << show.output;
    const CommandResult serve =
        run_command("CRIA_HOST=127.0.0.1:0 CRIA_MODELS=" + (temp_dir() / "fifo-store").string() +
                    " timeout 20 " + cria_binary() + " serve --model x=" + path.string() + " 2>&1");
    EXPECT_EQ(serve.exit_code, 1) << serve.output;
    EXPECT_NE(serve.output.find("not a regular file"), std::string::npos) << serve.output;
    std::filesystem::remove(path);
}

TEST(ShowCommand, MissingFileExitsWithOne) {
    const CommandResult r = run_command(cria_binary() + " show /nonexistent.gguf 2>&1");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace cria::test
