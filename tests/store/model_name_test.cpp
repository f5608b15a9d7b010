#include "store/model_name.h"

#include <gtest/gtest.h>

namespace cria::store {
namespace {

TEST(ModelName, AppliesOllamaDefaults) {
    auto name = ModelName::parse("llama3.2");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->host, "registry.ollama.ai");
    EXPECT_EQ(name->name_space, "library");
    EXPECT_EQ(name->model, "llama3.2");
    EXPECT_EQ(name->tag, "latest");
    EXPECT_EQ(name->display(), "llama3.2:latest");
    EXPECT_EQ(name->manifest_path(),
              std::filesystem::path("manifests/registry.ollama.ai/library/llama3.2/latest"));
    EXPECT_EQ(name->repository(), "library/llama3.2");
}

TEST(ModelName, ParsesTagsNamespacesAndHosts) {
    auto tagged = ModelName::parse("llama3.2:1b");
    ASSERT_TRUE(tagged);
    EXPECT_EQ(tagged->tag, "1b");
    auto user = ModelName::parse("user/model:tag");
    ASSERT_TRUE(user);
    EXPECT_EQ(user->name_space, "user");
    EXPECT_EQ(user->display(), "user/model:tag");
    auto hf = ModelName::parse("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M");
    ASSERT_TRUE(hf);
    EXPECT_EQ(hf->host, "hf.co");
    EXPECT_EQ(hf->name_space, "bartowski");
    EXPECT_EQ(hf->model, "Llama-3.2-1B-Instruct-GGUF");
    EXPECT_EQ(hf->tag, "Q4_K_M");
    EXPECT_EQ(hf->display(), "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M");
    // A port belongs to the host, not the tag.
    auto port = ModelName::parse("localhost:5000/ns/m");
    ASSERT_TRUE(port);
    EXPECT_EQ(port->host, "localhost:5000");
    EXPECT_EQ(port->tag, "latest");
    auto scheme = ModelName::parse("https://hf.co/a/b");
    ASSERT_TRUE(scheme);
    EXPECT_EQ(scheme->host, "hf.co");
    // Equal names whatever the spelling.
    EXPECT_EQ(*ModelName::parse("gpt-3.5-turbo"),
              *ModelName::parse("registry.ollama.ai/library/gpt-3.5-turbo:latest"));
}

TEST(ModelName, RejectsNamesThatCouldEscapeTheStore) {
    for (const char* bad : {"", "..", "../x", "a/../b", "x:..", "a/b/c/d", "/abs", "a//b",
                            "m:", ":tag", "bad name", "m:t/x", "ns/.hidden", "a\\b", "-dash"}) {
        EXPECT_FALSE(ModelName::parse(bad)) << bad;
    }
    EXPECT_FALSE(ModelName::parse(std::string(600, 'a')));
}

}  // namespace
}  // namespace cria::store
