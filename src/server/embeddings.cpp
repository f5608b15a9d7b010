#include "server/embeddings.h"

#include <chrono>
#include <cstring>

#include "core/log.h"
#include "engine/embedder.h"
#include "server/http.h"
#include "server/json_body.h"
#include "store/model_options.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

ApiResult<nlohmann::json> parse_object(std::string_view body) {
    nlohmann::json parsed = parse_json_body_as<nlohmann::json>(body);
    if (parsed.is_discarded() || !parsed.is_object()) {
        return invalid_request("The request body must be a JSON object.");
    }
    return parsed;
}

// A token id of an input given as ids (range-checked against the vocabulary later).
std::optional<int32_t> token_id(const nlohmann::json& value) {
    if (!value.is_number_integer()) return std::nullopt;
    const int64_t id = value.get<int64_t>();
    if (id < 0 || id > INT32_MAX) return std::nullopt;
    return static_cast<int32_t>(id);
}

ApiResult<std::vector<int32_t>> token_list(const nlohmann::json& array, const std::string& param) {
    std::vector<int32_t> ids;
    for (const nlohmann::json& item : array) {
        const std::optional<int32_t> id = token_id(item);
        if (!id) return invalid_request("'" + param + "' must hold non-negative token ids.", param);
        ids.push_back(*id);
    }
    return ids;
}

std::optional<ApiError> parse_dimensions(const nlohmann::json& body, EmbeddingRequest& out) {
    const auto it = body.find("dimensions");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
        return invalid_request("'dimensions' must be a positive integer.", "dimensions");
    }
    out.dimensions = it->get<int64_t>();
    return std::nullopt;
}

// Ollama's body fields shared by both endpoints: model, keep_alive, options.num_ctx.
std::optional<ApiError> parse_ollama_common(const nlohmann::json& body, EmbeddingRequest& out) {
    const auto model = body.find("model");
    if (model == body.end() || !model->is_string() || model->get<std::string>().empty()) {
        return invalid_request("model is required");
    }
    out.model = model->get<std::string>();
    if (const auto keep = body.find("keep_alive"); keep != body.end() && !keep->is_null()) {
        Expected<KeepAlive> keep_alive = parse_keep_alive(*keep);
        if (!keep_alive.has_value()) return invalid_request(keep_alive.status().message());
        out.keep_alive = *keep_alive;
    }
    if (const auto options = body.find("options"); options != body.end() && !options->is_null()) {
        if (!options->is_object()) return invalid_request("options must be an object");
        out.num_ctx = store::ModelOptions::from_json(*options).num_ctx;
    }
    return std::nullopt;
}

}  // namespace

ApiResult<EmbeddingRequest> parse_openai_embedding_request(std::string_view text) {
    ApiResult<nlohmann::json> parsed = parse_object(text);
    if (!parsed.ok()) return parsed.error();
    const nlohmann::json& body = parsed.value();
    EmbeddingRequest out;
    const auto model = body.find("model");
    if (model == body.end() || !model->is_string() || model->get<std::string>().empty()) {
        return invalid_request("'model' is required and must be a string.", "model");
    }
    out.model = model->get<std::string>();

    const auto input = body.find("input");
    if (input == body.end() || input->is_null()) {
        return invalid_request("'input' is required.", "input");
    }
    if (input->is_string()) {
        out.inputs.push_back({false, input->get<std::string>(), {}});
    } else if (input->is_array()) {
        if (input->empty()) return invalid_request("'input' must not be an empty array.", "input");
        if (input->size() > kMaxEmbeddingInputs) {
            return invalid_request("'input' holds " + std::to_string(input->size()) +
                                       " items; at most " + std::to_string(kMaxEmbeddingInputs) +
                                       " are allowed.",
                                   "input");
        }
        const nlohmann::json& first = (*input)[0];
        if (first.is_number()) {
            // One input given as token ids.
            ApiResult<std::vector<int32_t>> ids = token_list(*input, "input");
            if (!ids.ok()) return ids.error();
            out.inputs.push_back({true, {}, std::move(ids.value())});
        } else {
            for (size_t i = 0; i < input->size(); ++i) {
                const nlohmann::json& item = (*input)[i];
                const std::string param = "input[" + std::to_string(i) + "]";
                if (item.is_string()) {
                    out.inputs.push_back({false, item.get<std::string>(), {}});
                } else if (item.is_array()) {
                    ApiResult<std::vector<int32_t>> ids = token_list(item, param);
                    if (!ids.ok()) return ids.error();
                    out.inputs.push_back({true, {}, std::move(ids.value())});
                } else {
                    return invalid_request(
                        "'" + param + "' must be a string or an array of token ids.", "input");
                }
            }
        }
    } else {
        return invalid_request(
            "'input' must be a string, an array of strings, an array of token ids, or an array "
            "of arrays of token ids.",
            "input");
    }
    for (size_t i = 0; i < out.inputs.size(); ++i) {
        const EmbeddingInput& in = out.inputs[i];
        if (in.is_tokens ? in.tokens.empty() : in.text.empty()) {
            return invalid_request(
                "'input' must not contain an empty input (item " + std::to_string(i) + ").",
                "input");
        }
    }

    if (const auto format = body.find("encoding_format");
        format != body.end() && !format->is_null()) {
        if (!format->is_string() ||
            (format->get<std::string>() != "float" && format->get<std::string>() != "base64")) {
            return invalid_request("'encoding_format' must be 'float' or 'base64'.",
                                   "encoding_format");
        }
        out.base64 = format->get<std::string>() == "base64";
    }
    if (auto error = parse_dimensions(body, out)) return *error;
    if (const auto user = body.find("user"); user != body.end() && !user->is_null()) {
        if (!user->is_string()) return invalid_request("'user' must be a string.", "user");
    }
    return out;
}

ApiResult<EmbeddingRequest> parse_ollama_embedding_request(std::string_view text, bool legacy) {
    ApiResult<nlohmann::json> parsed = parse_object(text);
    if (!parsed.ok()) return invalid_request("the request body is not a JSON object");
    const nlohmann::json& body = parsed.value();
    EmbeddingRequest out;
    if (auto error = parse_ollama_common(body, out)) return *error;
    if (legacy) {
        // /api/embeddings: one prompt, the raw pooled vector.
        out.normalize = false;
        out.truncate = true;
        const auto prompt = body.find("prompt");
        if (prompt != body.end() && !prompt->is_null()) {
            if (!prompt->is_string()) return invalid_request("prompt must be a string");
            if (!prompt->get<std::string>().empty()) {
                out.inputs.push_back({false, prompt->get<std::string>(), {}});
            }
        }
        return out;
    }
    out.truncate = true;
    if (const auto truncate = body.find("truncate");
        truncate != body.end() && !truncate->is_null()) {
        if (!truncate->is_boolean()) return invalid_request("truncate must be a boolean");
        out.truncate = truncate->get<bool>();
    }
    if (auto error = parse_dimensions(body, out)) return invalid_request(error->message);
    const auto input = body.find("input");
    if (input == body.end() || input->is_null()) return out;  // loads the model only
    if (input->is_string()) {
        // An empty string, like no input, only loads the model (as Ollama does).
        if (!input->get<std::string>().empty()) {
            out.inputs.push_back({false, input->get<std::string>(), {}});
        }
        return out;
    }
    if (!input->is_array()) return invalid_request("input must be a string or an array of strings");
    if (input->empty()) return invalid_request("input must not be an empty array");
    if (input->size() > kMaxEmbeddingInputs) {
        return invalid_request("input holds more than " + std::to_string(kMaxEmbeddingInputs) +
                               " items");
    }
    for (size_t i = 0; i < input->size(); ++i) {
        const nlohmann::json& item = (*input)[i];
        if (!item.is_string()) {
            return invalid_request("input[" + std::to_string(i) + "] must be a string");
        }
        if (item.get<std::string>().empty()) {
            return invalid_request("input[" + std::to_string(i) + "] is empty");
        }
        out.inputs.push_back({false, item.get<std::string>(), {}});
    }
    return out;
}

void finish_embedding(std::vector<float>& v, std::optional<int64_t> dimensions, bool normalize) {
    if (dimensions && *dimensions < static_cast<int64_t>(v.size())) {
        v.resize(static_cast<size_t>(*dimensions));
    }
    if (normalize) engine::l2_normalize(v);
}

std::string embedding_base64(const std::vector<float>& v) {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes(v.size() * sizeof(float), '\0');
    // x86 and the other targets cria builds for are little-endian, as the format wants.
    // (An empty vector's data() may be null, which memcpy may not be given even for 0 bytes.)
    if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const auto b0 = static_cast<unsigned char>(bytes[i]);
        const auto b1 = i + 1 < bytes.size() ? static_cast<unsigned char>(bytes[i + 1]) : 0u;
        const auto b2 = i + 2 < bytes.size() ? static_cast<unsigned char>(bytes[i + 2]) : 0u;
        const unsigned triple = (b0 << 16) | (b1 << 8) | b2;
        out.push_back(kAlphabet[(triple >> 18) & 63]);
        out.push_back(kAlphabet[(triple >> 12) & 63]);
        out.push_back(i + 1 < bytes.size() ? kAlphabet[(triple >> 6) & 63] : '=');
        out.push_back(i + 2 < bytes.size() ? kAlphabet[triple & 63] : '=');
    }
    return out;
}

json openai_embedding_response(const std::string& model,
                               const std::vector<std::vector<float>>& vectors, bool base64,
                               int64_t prompt_tokens) {
    json data = json::array();
    for (size_t i = 0; i < vectors.size(); ++i) {
        json item = {{"object", "embedding"}, {"index", i}};
        if (base64) {
            item["embedding"] = embedding_base64(vectors[i]);
        } else {
            item["embedding"] = vectors[i];
        }
        data.push_back(std::move(item));
    }
    return json{{"object", "list"},
                {"data", std::move(data)},
                {"model", model},
                {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
}

namespace {

enum class Api { kOpenAi, kOllama, kOllamaLegacy };

void send_api_error(httplib::Response& res, Api api, const ApiError& error) {
    if (api == Api::kOpenAi) return send_error(res, error);
    send_json(res, error.http_status, json{{"error", error.message}});
}

ApiError error_for(const Status& status) {
    switch (status.code()) {
        case ErrorCode::kInvalidArgument:
        case ErrorCode::kOutOfRange:
            return invalid_request(status.message(), "input");
        case ErrorCode::kResourceExhausted:
        case ErrorCode::kUnavailable:
            return server_busy(status.message());
        default:
            return internal_fault(status.message());
    }
}

void handle_embeddings(ModelManager& models, Api api, const httplib::Request& req,
                       httplib::Response& res) {
    const auto started = Clock::now();
    ApiResult<EmbeddingRequest> parsed =
        api == Api::kOpenAi ? parse_openai_embedding_request(req.body)
                            : parse_ollama_embedding_request(req.body, api == Api::kOllamaLegacy);
    if (!parsed.ok()) return send_api_error(res, api, parsed.error());
    EmbeddingRequest& request = parsed.value();

    Expected<ModelLease> lease = models.acquire(request.model, request.num_ctx, request.keep_alive);
    if (!lease.has_value()) {
        const Status& status = lease.status();
        if (status.code() == ErrorCode::kNotFound) {
            ApiError error = api == Api::kOpenAi ? model_not_found(request.model)
                                                 : invalid_request(status.message());
            error.http_status = 404;
            return send_api_error(res, api, error);
        }
        ApiError error = internal_fault(status.message());
        if (status.code() == ErrorCode::kResourceExhausted) error.http_status = 503;
        return send_api_error(res, api, error);
    }
    ServedModel& model = lease->model();
    const int64_t width = model.embedding_width();
    if (request.dimensions && *request.dimensions > width) {
        return send_api_error(
            res, api,
            invalid_request("'dimensions' is " + std::to_string(*request.dimensions) +
                                ", more than the model's " + std::to_string(width),
                            "dimensions"));
    }

    // Token ids, checked, and cut to the context when the request allows it.
    const int64_t limit = model.max_embedding_tokens();
    std::vector<std::vector<int32_t>> inputs;
    int64_t prompt_tokens = 0;
    for (size_t i = 0; i < request.inputs.size(); ++i) {
        EmbeddingInput& in = request.inputs[i];
        std::vector<int32_t> ids =
            in.is_tokens ? std::move(in.tokens) : model.embedding_tokens(in.text);
        for (int32_t id : ids) {
            if (id >= model.n_vocab()) {
                return send_api_error(
                    res, api,
                    invalid_request("token id " + std::to_string(id) + " of input " +
                                        std::to_string(i) + " is outside the vocabulary of " +
                                        std::to_string(model.n_vocab()),
                                    "input"));
            }
        }
        if (ids.empty()) {
            return send_api_error(
                res, api,
                invalid_request("input " + std::to_string(i) + " has no tokens", "input"));
        }
        if (static_cast<int64_t>(ids.size()) > limit) {
            if (!request.truncate) {
                ApiError error = invalid_request(
                    "input " + std::to_string(i) + " holds " + std::to_string(ids.size()) +
                        " tokens, more than the model's context of " + std::to_string(limit) +
                        (api == Api::kOpenAi ? "" : "; set truncate to true to cut it"),
                    "input", "context_length_exceeded");
                return send_api_error(res, api, error);
            }
            ids.resize(static_cast<size_t>(limit));
        }
        prompt_tokens += static_cast<int64_t>(ids.size());
        inputs.push_back(std::move(ids));
    }

    const ClientConnection connection(req);
    Expected<std::vector<std::vector<float>>> vectors =
        model.embed(std::move(inputs), [&connection] { return connection.disconnected(); });
    if (!vectors.has_value()) {
        if (vectors.status().code() == ErrorCode::kCancelled) return;  // the client left
        CRIA_LOG_ERROR("embedding with %s failed: %s", request.model.c_str(),
                       vectors.status().message().c_str());
        ApiError error = error_for(vectors.status());
        if (error.http_status == 503) res.set_header("Retry-After", "1");
        return send_api_error(res, api, error);
    }
    for (std::vector<float>& v : *vectors)
        finish_embedding(v, request.dimensions, request.normalize);

    if (api == Api::kOpenAi) {
        return send_json(
            res, 200,
            openai_embedding_response(request.model, *vectors, request.base64, prompt_tokens));
    }
    if (api == Api::kOllamaLegacy) {
        return send_json(res, 200,
                         json{{"embedding", vectors->empty() ? std::vector<float>()
                                                             : std::move((*vectors)[0])}});
    }
    const auto nanos = [](auto duration) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
    };
    json body = {{"model", request.model}, {"embeddings", json::array()}};
    for (std::vector<float>& v : *vectors) body["embeddings"].push_back(std::move(v));
    body["total_duration"] = nanos(Clock::now() - started);
    body["load_duration"] = nanos(lease->load_duration());
    body["prompt_eval_count"] = prompt_tokens;
    send_json(res, 200, body);
}

}  // namespace

void register_embedding_routes(Router& router, ModelManager& models) {
    router.Post("/v1/embeddings", [&models](const httplib::Request& req, httplib::Response& res) {
        handle_embeddings(models, Api::kOpenAi, req, res);
    });
    router.Post("/api/embed", [&models](const httplib::Request& req, httplib::Response& res) {
        handle_embeddings(models, Api::kOllama, req, res);
    });
    router.Post("/api/embeddings", [&models](const httplib::Request& req, httplib::Response& res) {
        handle_embeddings(models, Api::kOllamaLegacy, req, res);
    });
}

}  // namespace cria::server
