// Ollama's native model-management API over the model store:
//
//   GET    /api/tags                 models in the store
//   POST   /api/show                 a model's Modelfile, parameters, template, system, details
//   POST   /api/copy                 {source, destination}
//   DELETE /api/delete               {model}
//   HEAD   /api/blobs/:digest        200 when the blob is present
//   POST   /api/blobs/:digest        uploads a blob, verified against its digest (201), streamed
//                                     to disk under a size cap
//   POST   /api/create               {model, from | files, template, system, parameters,
//                                     messages, license, stream}: NDJSON progress
//   POST   /api/pull                 {model, insecure, stream}: NDJSON progress
//   GET    /api/ps                   the models the server has loaded
//   POST   /api/chat, /api/generate  see ollama_chat.h
//
// Errors are Ollama's: {"error": "..."} with 400 for bad requests and 404 for unknown models.
// The JSON builders are pure functions so that the shapes are unit-tested without a socket.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/model_manager.h"
#include "server/router.h"
#include "store/model_store.h"
#include "store/registry_client.h"

namespace cria::server {

// {"name","model","modified_at","size","digest","details"} as /api/tags lists a model.
nlohmann::ordered_json ollama_model_json(const store::ModelEntry& entry,
                                         const nlohmann::json& config);
// "2026-11-24T23:52:43Z"
std::string rfc3339_utc(int64_t unix_seconds);

// What /api/create accepts, turned into a recipe; an error message (400) when malformed.
struct CreateRequest {
    std::string name;
    store::ModelRecipe recipe;
    bool stream = true;
};
ApiResult<CreateRequest> parse_create_request(const nlohmann::json& body);

// {"name","model","modified_at","size","digest","details"} for a --model file of the server.
nlohmann::ordered_json ollama_file_model_json(const ModelSource& source);

// What /api/ps lists for a loaded model: name, model, size (the memory estimate), digest,
// details, expires_at (Ollama's zero time for never), size_vram, context_length.
nlohmann::ordered_json loaded_model_json(const LoadedModelInfo& info);
inline constexpr uint64_t kDefaultMaxBlobBytes = uint64_t{512} << 30;

// Ollama's zero time, shown for models that never expire.
inline constexpr const char* kNeverExpires = "0001-01-01T00:00:00Z";

// Registers the routes above and /api/chat and /api/generate (ollama_chat.h). `store` and
// `models` must outlive the server.
// Uploads to /api/blobs are streamed to disk, hashed as they arrive and capped at
// `max_blob_bytes` (413), and refused up front when the disk lacks the space (507). The HTTP
// layer's body cap applies to them too.
void register_ollama_routes(Router& router, ModelManager& models, store::ModelStore& store,
                            const store::RegistryOptions& registry,
                            uint64_t max_blob_bytes = kDefaultMaxBlobBytes);

}  // namespace cria::server
