// The Docker-style image manifest Ollama stores per model name: a config blob and an ordered list
// of layers (model weights, template, system prompt, parameters, messages, licenses), each named
// by its media type and digest.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/digest.h"

namespace cria::store {

namespace media_type {
inline constexpr std::string_view kManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kModel = "application/vnd.ollama.image.model";
inline constexpr std::string_view kAdapter = "application/vnd.ollama.image.adapter";
inline constexpr std::string_view kProjector = "application/vnd.ollama.image.projector";
inline constexpr std::string_view kTemplate = "application/vnd.ollama.image.template";
inline constexpr std::string_view kSystem = "application/vnd.ollama.image.system";
inline constexpr std::string_view kParams = "application/vnd.ollama.image.params";
inline constexpr std::string_view kMessages = "application/vnd.ollama.image.messages";
inline constexpr std::string_view kLicense = "application/vnd.ollama.image.license";
}  // namespace media_type

struct Layer {
    std::string media_type;
    Digest digest;
    uint64_t size = 0;
};

// Caps on what a manifest from a registry may ask for.
inline constexpr size_t kMaxManifestBytes = 4u << 20;
inline constexpr size_t kMaxLayers = 256;

struct Manifest {
    Layer config;
    std::vector<Layer> layers;

    // Parses and validates: schema version 2, every digest well-formed, sizes present.
    static Expected<Manifest> parse(std::string_view json_text);
    nlohmann::json to_json() const;

    // The first layer of `type`, or null.
    const Layer* find(std::string_view type) const;
    // Every digest the manifest references (config included), for garbage collection.
    std::vector<Digest> all_digests() const;
    // Total bytes of config and layers, as `ollama list` reports a model's size.
    uint64_t total_size() const;
};

}  // namespace cria::store
