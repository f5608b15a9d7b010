#include <gtest/gtest.h>

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

TEST(ShowCommand, MissingFileExitsWithOne) {
    const CommandResult r = run_command(cria_binary() + " show /nonexistent.gguf 2>&1");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace cria::test
