#include "server/ollama_api.h"
#include "server/json_body.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>

#include "chat/chat_template.h"
#include "chat/reasoning.h"
#include "core/log.h"
#include "gguf/model_summary.h"
#include "gguf/reader.h"
#include "server/http.h"
#include "server/ollama_chat.h"
#include "store/model_options.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

void send_ollama_error(httplib::Response& res, int status, const std::string& message) {
    send_json(res, status, json{{"error", message}});
}

int http_status_for(const Status& status) {
    switch (status.code()) {
        case ErrorCode::kNotFound:
            return 404;
        case ErrorCode::kInvalidArgument:
        case ErrorCode::kCorrupt:
        case ErrorCode::kUnsupported:
        case ErrorCode::kOutOfRange:
            return 400;
        default:
            return 500;
    }
}

void send_status_error(httplib::Response& res, const Status& status) {
    send_ollama_error(res, http_status_for(status), status.message());
}

// Parses a JSON body; writes a 400 and returns nullopt when it is not a JSON object.
std::optional<nlohmann::json> parse_body(const httplib::Request& req, httplib::Response& res) {
    nlohmann::json body = parse_json_body_as<nlohmann::json>(req.body);
    if (body.is_discarded() || !body.is_object()) {
        send_ollama_error(res, 400,
                          "the request body is not a JSON object (or it nests deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels)");
        return std::nullopt;
    }
    return body;
}

// Ollama accepts the model under "model" and, in older clients, "name".
std::string model_field(const nlohmann::json& body) {
    for (const char* key : {"model", "name"}) {
        const auto it = body.find(key);
        if (it != body.end() && it->is_string() && !it->get<std::string>().empty()) {
            return it->get<std::string>();
        }
    }
    return {};
}

json details_json(const nlohmann::json& config) {
    auto text = [&](const char* key) {
        const auto it = config.find(key);
        return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    json families = json::array();
    if (const auto it = config.find("model_families"); it != config.end() && it->is_array()) {
        for (const auto& f : *it) {
            if (f.is_string()) families.push_back(f.get<std::string>());
        }
    }
    return json{{"parent_model", ""},
                {"format", text("model_format").empty() ? "gguf" : text("model_format")},
                {"family", text("model_family")},
                {"families", families},
                {"parameter_size", text("model_type")},
                {"quantization_level", text("file_type")}};
}

nlohmann::json read_config(const store::ModelStore& store, const store::Manifest& manifest) {
    auto text = store.read_blob_text(manifest.config);
    if (!text) return nlohmann::json::object();
    nlohmann::json config = nlohmann::json::parse(*text, nullptr, false);
    return config.is_object() ? config : nlohmann::json::object();
}

std::string parameters_text(const nlohmann::json& parameters) {
    std::string out;
    for (const auto& [key, value] : parameters.items()) {
        std::string padded = key;
        padded.resize(std::max<size_t>(padded.size() + 1, 31), ' ');
        if (value.is_array()) {
            for (const auto& item : value) out += padded + item.dump() + "\n";
        } else {
            out += padded + value.dump() + "\n";
        }
    }
    return out;
}

// Streams progress events as NDJSON: `work` runs inside the response and reports through
// `emit`; its final Status becomes {"status":"success"} or {"error": ...}.
void stream_progress(httplib::Response& res, std::function<Status(const store::ProgressFn&)> work) {
    res.status = 200;
    res.set_chunked_content_provider(
        "application/x-ndjson", [work = std::move(work)](size_t, httplib::DataSink& sink) {
            bool client_present = true;
            auto write_line = [&](json line) {
                if (!client_present) return;
                line["created_at"] = ollama_timestamp(std::chrono::system_clock::now());
                const std::string text = line.dump() + "\n";
                client_present = sink.write(text.data(), text.size());
            };
            std::string last_status;
            const Status result = work([&](const store::Progress& p) {
                if (p.status == "success") return;  // sent once the work has returned
                json line{{"status", p.status}};
                if (p.digest) line["digest"] = *p.digest;
                if (p.total > 0) {
                    line["total"] = p.total;
                    line["completed"] = p.completed;
                }
                write_line(line);
            });
            write_line(result ? json{{"status", "success"}} : json{{"error", result.message()}});
            sink.done();
            return true;
        });
}

// Runs `work` to the end and answers once: success or the error with its status code.
void respond_once(httplib::Response& res,
                  const std::function<Status(const store::ProgressFn&)>& work) {
    const Status result = work({});
    if (!result) return send_status_error(res, result);
    send_json(res, 200, json{{"status", "success"}});
}

// A name as Ollama lists it: with its tag (":latest" when it has none).
std::string tagged_name(const std::string& name) {
    const size_t slash = name.rfind('/');
    const size_t colon = name.rfind(':');
    const bool has_tag =
        colon != std::string::npos && (slash == std::string::npos || colon > slash);
    return has_tag ? name : name + ":" + std::string(store::kDefaultTag);
}

// A model of the store as /api/show describes it; `display` gets its full name.
Expected<ModelSource> stored_source(const store::ModelStore& store, const std::string& name,
                                    std::string& display) {
    auto details = store.details(name);
    if (!details) return details.status();
    ModelSource source;
    display = details->name.display();
    source.name = display;
    source.path = details->model_path.string();
    source.recipe = details->recipe;
    source.config = details->config;
    if (auto entries = store.list()) {
        for (const store::ModelEntry& entry : *entries) {
            if (entry.name == details->name) source.modified_unix = entry.modified_unix;
        }
    }
    return source;
}

void handle_show(const ModelManager& models, const store::ModelStore& store,
                 const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res);
    if (!body) return;
    const std::string name = model_field(*body);
    if (name.empty()) return send_ollama_error(res, 400, "model is required");
    // A --model file of the server (which shadows a stored model of its name), or a model of
    // the store.
    std::string display;
    Expected<ModelSource> source = models.resolve(name);
    if (source.has_value() && source->is_file) {
        display = source->path;
    } else {
        source = stored_source(store, name, display);
        if (!source) return send_status_error(res, source.status());
    }
    auto file = gguf::File::open(source->path);
    if (!file) return send_status_error(res, file.status());
    const store::ModelRecipe& recipe = source->recipe;
    const std::string chat_template =
        recipe.chat_template.value_or((*file)->get_string("tokenizer.chat_template"));
    store::ModelRecipe printable = recipe;
    if (!printable.chat_template && !chat_template.empty()) printable.chat_template = chat_template;

    json out;
    if (!recipe.licenses.empty()) {
        std::string license;
        for (const auto& l : recipe.licenses) license += (license.empty() ? "" : "\n") + l;
        out["license"] = license;
    }
    out["modelfile"] = store::format_modelfile(
        printable,
        "Modelfile generated by \"cria show\"\nTo build a new Modelfile based on "
        "this, replace FROM with:\nFROM " +
            display);
    out["parameters"] = parameters_text(recipe.parameters);
    out["template"] = chat_template;
    if (recipe.system) out["system"] = *recipe.system;
    out["details"] = details_json(source->config);
    const gguf::ModelSummary summary = gguf::summarize(**file);
    json info;
    info["general.architecture"] = summary.architecture;
    info["general.parameter_count"] = summary.parameters;
    if (!summary.architecture.empty()) {
        info[summary.architecture + ".context_length"] = summary.context_length;
        info[summary.architecture + ".embedding_length"] = summary.embedding_length;
        info[summary.architecture + ".block_count"] = summary.block_count;
    }
    out["model_info"] = info;
    json messages = json::array();
    for (const auto& m : recipe.messages)
        messages.push_back({{"role", m.role}, {"content", m.content}});
    if (!messages.empty()) out["messages"] = messages;
    // What the model does, as Ollama reports it: an embedding model embeds only; a generation
    // model completes, with tool calls and <think> reasoning when its template has them.
    json capabilities = json::array();
    if (summary.is_embedding_model) {
        capabilities.push_back("embedding");
    } else {
        capabilities.push_back("completion");
        // `tools` in Jinja, `.Tools` in Go templates.
        if (chat_template.find("tools") != std::string::npos ||
            chat_template.find("Tools") != std::string::npos) {
            capabilities.push_back("tools");
        }
        if (chat::template_has_reasoning(chat_template)) capabilities.push_back("thinking");
        // Fill-in-the-middle (`suffix`): a Go template that places `.Suffix`.
        if (chat::detect_template_syntax(chat_template) == chat::TemplateSyntax::kGo &&
            chat_template.find("Suffix") != std::string::npos) {
            capabilities.push_back("insert");
        }
    }
    out["capabilities"] = capabilities;
    out["modified_at"] = rfc3339_utc(source->modified_unix);
    send_json(res, 200, out);
}

void handle_blob_upload(store::ModelStore& store, uint64_t max_blob_bytes,
                        const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader& reader) {
    auto digest = store::Digest::parse(req.matches[1].str());
    if (!digest) return send_ollama_error(res, 400, digest.status().message());
    if (store.has_blob(*digest)) {
        // Drain the body so the connection stays usable; the blob is already here, but a body
        // that ends early is still a failed upload.
        if (!reader([](const char*, size_t) { return true; })) {
            res.set_header("Connection", "close");
            return send_ollama_error(res, 400, "the upload ended early");
        }
        res.status = 201;
        return;
    }
    std::optional<uint64_t> declared;
    if (req.has_header("Content-Length")) {
        const std::string length = req.get_header_value("Content-Length");
        char* end = nullptr;
        const unsigned long long value = std::strtoull(length.c_str(), &end, 10);
        if (!length.empty() && *end == '\0') declared = value;
    }
    auto upload = store::BlobUpload::start(store, *digest, max_blob_bytes, declared);
    if (!upload.has_value()) {
        res.set_header("Connection", "close");  // the body is left unread
        const ErrorCode code = upload.status().code();
        const int status = code == ErrorCode::kOutOfRange          ? 413
                           : code == ErrorCode::kResourceExhausted ? 507
                                                                   : 500;
        return send_ollama_error(res, status, upload.status().message());
    }
    // Written and hashed as it arrives: an upload never sits in memory whole.
    Status written = Status::ok();
    const bool complete = reader([&](const char* data, size_t size) {
        written = upload->write(data, size);
        return written.is_ok();
    });
    if (!written.is_ok()) {
        res.set_header("Connection", "close");
        return send_ollama_error(res, written.code() == ErrorCode::kOutOfRange ? 413 : 500,
                                 written.message());
    }
    if (!complete) return send_ollama_error(res, 400, "the upload ended early");
    const Status committed = upload->commit();
    if (!committed) {
        return send_ollama_error(res, committed.code() == ErrorCode::kCorrupt ? 400 : 500,
                                 committed.message());
    }
    res.status = 201;
}

}  // namespace

std::string rfc3339_utc(int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

nlohmann::ordered_json ollama_model_json(const store::ModelEntry& entry,
                                         const nlohmann::json& config) {
    const std::string name = entry.name.display();
    return json{{"name", name},
                {"model", name},
                {"modified_at", rfc3339_utc(entry.modified_unix)},
                {"size", entry.size},
                {"digest", entry.manifest_digest.hex()},
                {"details", details_json(config)}};
}

ApiResult<CreateRequest> parse_create_request(const nlohmann::json& body) {
    CreateRequest request;
    request.name = model_field(body);
    if (request.name.empty()) return invalid_request("model is required");
    if (!store::ModelName::parse(request.name)) {
        return invalid_request("invalid model name '" + request.name + "'");
    }
    auto string_field = [&](const char* key) -> std::optional<std::string> {
        const auto it = body.find(key);
        if (it == body.end() || it->is_null()) return std::nullopt;
        if (!it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    for (const char* key : {"from", "template", "system", "quantize", "modelfile"}) {
        const auto it = body.find(key);
        if (it != body.end() && !it->is_null() && !it->is_string()) {
            return invalid_request(std::string(key) + " must be a string");
        }
    }
    if (string_field("quantize")) return invalid_request("quantize is not supported by cria");
    if (auto modelfile = string_field("modelfile")) {
        // Older clients send the Modelfile text itself.
        auto parsed = store::parse_modelfile(*modelfile);
        if (!parsed) return invalid_request(parsed.status().message());
        request.recipe = *parsed;
    }
    if (auto from = string_field("from")) request.recipe.from = *from;
    if (const auto files = body.find("files"); files != body.end() && !files->is_null()) {
        if (!files->is_object() || files->empty()) {
            return invalid_request("files must map file names to blob digests");
        }
        if (files->size() > 1) {
            return invalid_request("cria builds a model from one GGUF file; got several files");
        }
        const auto& digest = files->begin().value();
        if (!digest.is_string() || !store::Digest::parse(digest.get<std::string>())) {
            return invalid_request("files must map file names to blob digests");
        }
        request.recipe.from = digest.get<std::string>();
    }
    if (request.recipe.from.empty()) return invalid_request("neither 'from' nor 'files' was given");
    if (const auto adapters = body.find("adapters"); adapters != body.end() && !adapters->empty()) {
        return invalid_request("adapters are not supported: cria cannot apply LoRA adapters");
    }
    if (auto t = string_field("template")) request.recipe.chat_template = *t;
    if (auto s = string_field("system")) request.recipe.system = *s;
    if (const auto params = body.find("parameters"); params != body.end()) {
        auto normalized = store::normalize_options(*params);
        if (!normalized) return invalid_request(normalized.status().message());
        request.recipe.parameters = store::merge_options(request.recipe.parameters, *normalized);
    }
    if (const auto messages = body.find("messages");
        messages != body.end() && !messages->is_null()) {
        if (!messages->is_array()) return invalid_request("messages must be an array");
        request.recipe.messages.clear();
        for (const auto& m : *messages) {
            if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
                !m.contains("content") || !m["content"].is_string() ||
                !store::valid_message_role(m["role"].get<std::string>())) {
                return invalid_request(
                    "each message needs a role (system, user or assistant) and a string content");
            }
            request.recipe.messages.push_back(
                {m["role"].get<std::string>(), m["content"].get<std::string>()});
        }
    }
    if (const auto license = body.find("license"); license != body.end() && !license->is_null()) {
        if (license->is_string()) {
            request.recipe.licenses.push_back(license->get<std::string>());
        } else if (license->is_array()) {
            for (const auto& l : *license) {
                if (!l.is_string()) return invalid_request("license must be a string or strings");
                request.recipe.licenses.push_back(l.get<std::string>());
            }
        } else {
            return invalid_request("license must be a string or strings");
        }
    }
    if (const auto stream = body.find("stream"); stream != body.end() && stream->is_boolean()) {
        request.stream = stream->get<bool>();
    }
    return request;
}

json ollama_file_model_json(const ModelSource& source) {
    const std::string name = tagged_name(source.name);
    return json{{"name", name},
                {"model", name},
                {"modified_at", rfc3339_utc(source.modified_unix)},
                {"size", source.file_bytes},
                {"digest", source.digest},
                {"details", details_json(source.config)}};
}

json loaded_model_json(const LoadedModelInfo& info) {
    return json{{"name", info.source.name},
                {"model", info.source.name},
                {"size", info.size_bytes},
                {"digest", info.source.digest},
                {"details", details_json(info.source.config)},
                {"expires_at",
                 info.expires_at ? ollama_timestamp(*info.expires_at) : std::string(kNeverExpires)},
                {"size_vram", 0},
                {"context_length", info.context_length}};
}

void register_ollama_routes(Router& router, ModelManager& models, store::ModelStore& store,
                            const store::RegistryOptions& registry, uint64_t max_blob_bytes) {
    register_ollama_generation_routes(router, models);
    router.Get("/api/tags", [&store, &models](const httplib::Request&, httplib::Response& res) {
        auto entries = store.list();
        if (!entries) return send_status_error(res, entries.status());
        json list = json::array();
        // The server's --model files first; a stored model of the same name is shadowed.
        std::vector<std::string> file_names;
        for (const ModelSource& source : models.servable()) {
            if (!source.is_file) continue;
            list.push_back(ollama_file_model_json(source));
            file_names.push_back(tagged_name(source.name));
        }
        for (const auto& entry : *entries) {
            const std::string name = tagged_name(entry.name.display());
            if (std::find(file_names.begin(), file_names.end(), name) != file_names.end()) {
                continue;
            }
            list.push_back(ollama_model_json(entry, read_config(store, entry.manifest)));
        }
        send_json(res, 200, json{{"models", list}});
    });
    router.Post("/api/show",
                [&models, &store](const httplib::Request& req, httplib::Response& res) {
                    handle_show(models, store, req, res);
                });
    router.Post("/api/copy", [&store](const httplib::Request& req, httplib::Response& res) {
        auto body = parse_body(req, res);
        if (!body) return;
        const auto source = body->value("source", std::string());
        const auto destination = body->value("destination", std::string());
        if (source.empty() || destination.empty()) {
            return send_ollama_error(res, 400, "source and destination are required");
        }
        const Status copied = store.copy(source, destination);
        if (!copied) return send_status_error(res, copied);
        res.status = 200;
    });
    router.Delete("/api/delete",
                  [&store, &models](const httplib::Request& req, httplib::Response& res) {
                      auto body = parse_body(req, res);
                      if (!body) return;
                      const std::string name = model_field(*body);
                      if (name.empty()) return send_ollama_error(res, 400, "model is required");
                      const Status removed = store.remove(name);
                      if (!removed) return send_status_error(res, removed);
                      models.unload(name);
                      res.status = 200;
                  });
    router.Get("/api/blobs/{digest}",
               [&store](const httplib::Request& req, httplib::Response& res) {
                   auto digest = store::Digest::parse(req.matches[1].str());
                   if (!digest) return send_ollama_error(res, 400, digest.status().message());
                   if (!store.has_blob(*digest))
                       return send_ollama_error(res, 404, "blob not found");
                   res.status = 200;
               });
    router.Post("/api/blobs/{digest}",
                [&store, max_blob_bytes](const httplib::Request& req, httplib::Response& res,
                                         const httplib::ContentReader& reader) {
                    handle_blob_upload(store, max_blob_bytes, req, res, reader);
                });
    router.Post("/api/create", [&store](const httplib::Request& req, httplib::Response& res) {
        auto body = parse_body(req, res);
        if (!body) return;
        auto parsed = parse_create_request(*body);
        if (!parsed.ok()) return send_ollama_error(res, 400, parsed.error().message);
        auto request = std::make_shared<CreateRequest>(parsed.value());
        // FROM names a model or an uploaded blob, as in Ollama's API: never a file of the
        // server's (a client could read them, or probe which exist).
        auto work = [&store, request](const store::ProgressFn& progress) -> Status {
            auto created = store.create(request->name, request->recipe, std::nullopt, progress);
            return created ? Status::ok() : created.status();
        };
        if (request->stream) return stream_progress(res, work);
        respond_once(res, work);
    });
    router.Post("/api/pull",
                [&store, registry](const httplib::Request& req, httplib::Response& res) {
                    auto body = parse_body(req, res);
                    if (!body) return;
                    const std::string name = model_field(*body);
                    if (name.empty()) return send_ollama_error(res, 400, "model is required");
                    if (!store::ModelName::parse(name)) {
                        return send_ollama_error(res, 400, "invalid model name '" + name + "'");
                    }
                    store::RegistryOptions options = registry;
                    options.insecure = body->value("insecure", false);
                    auto work = [&store, name, options](const store::ProgressFn& progress) {
                        return store::pull_model(store, name, options, progress);
                    };
                    if (body->value("stream", true)) return stream_progress(res, work);
                    respond_once(res, work);
                });
    router.Get("/api/ps", [&models](const httplib::Request&, httplib::Response& res) {
        json list = json::array();
        for (const LoadedModelInfo& info : models.loaded()) list.push_back(loaded_model_json(info));
        send_json(res, 200, json{{"models", list}});
    });
}

}  // namespace cria::server
