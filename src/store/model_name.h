// Model names as Ollama users type them: `llama3.2`, `llama3.2:1b`, `user/model:tag`,
// `hf.co/user/repo:Q4_K_M`, `host:port/namespace/model:tag`. Missing parts take Ollama's
// defaults (registry.ollama.ai, library, latest). Every part is checked against a strict
// alphabet so that a name can become a path under manifests/ without escaping it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cria::store {

inline constexpr std::string_view kDefaultRegistry = "registry.ollama.ai";
inline constexpr std::string_view kDefaultNamespace = "library";
inline constexpr std::string_view kDefaultTag = "latest";

struct ModelName {
    std::string host;
    std::string name_space;  // "namespace" is a keyword
    std::string model;
    std::string tag;

    static Expected<ModelName> parse(std::string_view text);

    // The shortest spelling that parses back to this name: defaults are left out, except the
    // tag, which is always shown (as `ollama list` does): "llama3.2:latest", "user/m:tag".
    std::string display() const;
    // manifests/<host>/<namespace>/<model>/<tag>, relative to the store root.
    std::filesystem::path manifest_path() const;
    // "<namespace>/<model>": the repository part of registry URLs.
    std::string repository() const { return name_space + "/" + model; }

    bool operator==(const ModelName& other) const = default;
    bool operator<(const ModelName& other) const { return display() < other.display(); }
};

}  // namespace cria::store
