// Reading the embedding goldens of ../shared/golden/embeddings and comparing vectors.
#pragma once

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace cria::test {

inline std::vector<std::vector<int32_t>> read_embedding_inputs(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<std::vector<int32_t>> inputs;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::vector<int32_t> ids;
        int32_t id = 0;
        while (fields >> id) ids.push_back(id);
        if (!ids.empty()) inputs.push_back(std::move(ids));
    }
    return inputs;
}

inline std::vector<float> read_f32(const std::filesystem::path& path) {
    const std::string bytes = read_file(path);
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    return values;
}

// sum((a - b)^2) / sum(b^2) over n values.
inline double nmse(const float* a, const float* b, size_t n) {
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        err += d * d;
        norm += static_cast<double>(b[i]) * b[i];
    }
    return norm > 0.0 ? err / norm : err;
}

// The embedding models of the shared goldens (every NAME.gguf there), or {"absent"}.
inline std::vector<std::string> embedding_golden_names() {
    std::vector<std::string> names;
    const std::filesystem::path dir = shared_dir() / "golden" / "embeddings";
    std::error_code ec;
    if (!shared_dir().empty() && std::filesystem::is_directory(dir, ec)) {
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
            if (entry.path().extension() == ".gguf") names.push_back(entry.path().stem().string());
        }
    }
    std::sort(names.begin(), names.end());
    if (names.empty()) names.push_back("absent");
    return names;
}

inline std::string test_name_of(std::string name) {
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

}  // namespace cria::test
