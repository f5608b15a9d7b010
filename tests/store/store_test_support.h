// Small GGUF files and scratch stores for the store tests.
#pragma once

#include <filesystem>
#include <string>

#include "gguf/writer.h"
#include "test_support.h"

namespace cria::test {

// A valid GGUF with a few metadata keys and one tensor; `salt` makes distinct contents.
inline std::filesystem::path write_tiny_gguf(const std::filesystem::path& path, float salt = 0) {
    gguf::Writer writer;
    writer.set("general.architecture", gguf::Value::string("llama"));
    writer.set("general.name", gguf::Value::string("tiny"));
    writer.set("llama.context_length", gguf::Value::u32(256));
    (void)writer.add_f32_tensor("token_embd.weight", {4, 2},
                                {salt, 1, 2, 3, 4, 5, 6, 7});  // [n_embd=4, n_vocab=2]
    const Status written = writer.write(path.string());
    (void)written;
    return path;
}

// A fresh directory per test, removed afterwards.
class ScratchDir {
  public:
    explicit ScratchDir(const std::string& name) {
        path_ = temp_dir() / name;
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace cria::test
