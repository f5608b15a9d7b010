// Pulling models from an Ollama-compatible registry (registry.ollama.ai, or hf.co for GGUF
// repositories on Hugging Face, which serves the same protocol):
//
//   GET <base>/v2/<namespace>/<model>/manifests/<tag>
//   GET <base>/v2/<namespace>/<model>/blobs/<digest>     (may redirect to a CDN)
//
// Blobs download to blobs/sha256-<hex>-partial and resume from there with a Range request; each
// is verified against its digest before it is renamed into place, and the manifest is written
// only after every blob is present, so a failed pull never leaves a model behind.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "store/model_name.h"
#include "store/model_store.h"

namespace cria::store {

struct RegistryOptions {
    // Base URL used for names on the default registry (registry.ollama.ai); CRIA_REGISTRY by
    // default, e.g. "http://127.0.0.1:8080" for a local registry. Empty: https://<host>.
    std::string default_registry_url;
    // Use plain HTTP for names that carry their own host (`localhost:5000/ns/model`).
    bool insecure = false;

    // Options from the environment (CRIA_REGISTRY).
    static RegistryOptions from_environment();
};

// "https://registry.ollama.ai", "https://hf.co", or the override: where `name` is fetched from.
std::string registry_base_url(const ModelName& name, const RegistryOptions& options);

// Downloads `name` into the store. Progress reports "pulling manifest", then per blob
// (digest set) the bytes done of its size, then "verifying sha256 digest", "writing manifest",
// "success".
Status pull_model(ModelStore& store, std::string_view name, const RegistryOptions& options,
                  const ProgressFn& progress = {});

}  // namespace cria::store
