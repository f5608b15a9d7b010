#include "store/manifest.h"

namespace cria::store {
namespace {

Expected<Layer> parse_layer(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) return corrupt("manifest " + where + " is not an object");
    const auto type = j.find("mediaType");
    const auto digest = j.find("digest");
    const auto size = j.find("size");
    if (type == j.end() || !type->is_string()) {
        return corrupt("manifest " + where + " has no mediaType");
    }
    if (digest == j.end() || !digest->is_string()) {
        return corrupt("manifest " + where + " has no digest");
    }
    if (size == j.end() || !size->is_number_unsigned()) {
        return corrupt("manifest " + where + " has no valid size");
    }
    auto parsed = Digest::parse(digest->get<std::string>());
    if (!parsed) return corrupt("manifest " + where + ": " + parsed.status().message());
    return Layer{type->get<std::string>(), *parsed, size->get<uint64_t>()};
}

nlohmann::json layer_json(const Layer& layer) {
    return {{"mediaType", layer.media_type}, {"digest", layer.digest.str()}, {"size", layer.size}};
}

}  // namespace

Expected<Manifest> Manifest::parse(std::string_view json_text) {
    if (json_text.size() > kMaxManifestBytes) return corrupt("manifest larger than 4 MiB");
    const nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return corrupt("manifest is not a JSON object");
    const auto version = j.find("schemaVersion");
    if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 2) {
        return corrupt("manifest schemaVersion is not 2");
    }
    const auto config = j.find("config");
    if (config == j.end()) return corrupt("manifest has no config");
    CRIA_ASSIGN_OR_RETURN(Layer config_layer, parse_layer(*config, "config"));
    const auto layers = j.find("layers");
    if (layers == j.end() || !layers->is_array()) return corrupt("manifest has no layers array");
    if (layers->size() > kMaxLayers) return corrupt("manifest has more than 256 layers");
    Manifest manifest{config_layer, {}};
    for (size_t i = 0; i < layers->size(); ++i) {
        CRIA_ASSIGN_OR_RETURN(Layer layer, parse_layer((*layers)[i], "layer " + std::to_string(i)));
        manifest.layers.push_back(std::move(layer));
    }
    return manifest;
}

nlohmann::json Manifest::to_json() const {
    nlohmann::json out;
    out["schemaVersion"] = 2;
    out["mediaType"] = media_type::kManifest;
    out["config"] = layer_json(config);
    out["layers"] = nlohmann::json::array();
    for (const auto& layer : layers) out["layers"].push_back(layer_json(layer));
    return out;
}

const Layer* Manifest::find(std::string_view type) const {
    for (const auto& layer : layers) {
        if (layer.media_type == type) return &layer;
    }
    return nullptr;
}

std::vector<Digest> Manifest::all_digests() const {
    std::vector<Digest> out{config.digest};
    for (const auto& layer : layers) out.push_back(layer.digest);
    return out;
}

uint64_t Manifest::total_size() const {
    uint64_t total = config.size;
    for (const auto& layer : layers) total += layer.size;
    return total;
}

}  // namespace cria::store
