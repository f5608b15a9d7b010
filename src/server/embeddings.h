// The embedding endpoints: OpenAI's POST /v1/embeddings and Ollama's POST /api/embed and the
// legacy POST /api/embeddings. Request parsing and response building are pure functions (unit
// tested); register_embedding_routes() ties them to the model manager.
//
//   /v1/embeddings   {model, input: string | [string] | [int] | [[int]], encoding_format
//                     ("float" | "base64"), dimensions, user} -> {object: "list", data: [{object:
//                     "embedding", index, embedding}], model, usage}
//   /api/embed       {model, input: string | [string], truncate (default true), dimensions,
//                     keep_alive, options} -> {model, embeddings, total_duration,
//                     load_duration, prompt_eval_count}
//   /api/embeddings  {model, prompt, keep_alive, options} -> {embedding} (not normalized, as
//                     Ollama's legacy endpoint)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "server/model_manager.h"
#include "server/router.h"

namespace cria::server {

// One input: a text, or token ids given directly.
struct EmbeddingInput {
    bool is_tokens = false;
    std::string text;
    std::vector<int32_t> tokens;
};

struct EmbeddingRequest {
    std::string model;
    std::vector<EmbeddingInput> inputs;
    std::optional<int64_t> dimensions;  // keep the first N values, then re-normalize
    bool base64 = false;                // OpenAI encoding_format "base64"
    bool truncate = false;              // cut inputs to the context instead of refusing them
    bool normalize = true;              // false for Ollama's legacy /api/embeddings
    std::optional<KeepAlive> keep_alive;
    std::optional<int64_t> num_ctx;  // Ollama options.num_ctx
};

// Caps that keep one request from asking for unbounded work.
inline constexpr size_t kMaxEmbeddingInputs = 2048;  // OpenAI's limit for one request

ApiResult<EmbeddingRequest> parse_openai_embedding_request(std::string_view body);
// Ollama's /api/embed (legacy = false) or /api/embeddings (legacy = true); errors carry the
// message for Ollama's {"error": "..."} shape.
ApiResult<EmbeddingRequest> parse_ollama_embedding_request(std::string_view body, bool legacy);

// Keeps the first `dimensions` values (when set) and scales to unit length when asked.
void finish_embedding(std::vector<float>& v, std::optional<int64_t> dimensions, bool normalize);

// Little-endian float32 bytes in base64 (OpenAI's encoding_format "base64").
std::string embedding_base64(const std::vector<float>& v);

nlohmann::ordered_json openai_embedding_response(const std::string& model,
                                                 const std::vector<std::vector<float>>& vectors,
                                                 bool base64, int64_t prompt_tokens);

// Registers the three routes. `models` must outlive the server.
void register_embedding_routes(Router& router, ModelManager& models);

}  // namespace cria::server
