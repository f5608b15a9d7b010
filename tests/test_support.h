// Helpers shared by the unit tests: where ../shared lives, and temporary files.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace cria::test {

// The shared reference data directory, or an empty path when it is absent.
inline std::filesystem::path shared_dir() {
    const char* env = std::getenv("CRIA_SHARED");
    std::filesystem::path dir = env != nullptr ? env : CRIA_SHARED_DIR_DEFAULT;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return {};
    return std::filesystem::canonical(dir, ec);
}

// True when CRIA_REQUIRE_SHARED=1: tests that need ../shared fail instead of skipping without
// it (.ci/run sets it whenever ../shared exists, so that a moved or renamed file cannot turn a
// golden test into a silent skip).
inline bool shared_required() {
    const char* env = std::getenv("CRIA_REQUIRE_SHARED");
    return env != nullptr && std::string(env) == "1";
}

// Skips the current test with a message when the shared data is absent (fails instead when
// CRIA_REQUIRE_SHARED=1).
#define CRIA_REQUIRE_SHARED(dir_var)                                                           \
    const std::filesystem::path dir_var = ::cria::test::shared_dir();                          \
    if (dir_var.empty()) {                                                                     \
        if (::cria::test::shared_required()) {                                                 \
            FAIL() << "../shared is absent but CRIA_REQUIRE_SHARED=1 (set CRIA_SHARED to it)"; \
        }                                                                                      \
        GTEST_SKIP() << "../shared is absent (set CRIA_SHARED to point at it); skipped";       \
    }

inline std::filesystem::path temp_dir() {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("cria-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

}  // namespace cria::test
