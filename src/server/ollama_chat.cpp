#include "server/ollama_chat.h"
#include "server/json_body.h"

#include <ctime>
#include <limits>
#include <memory>

#include "chat/chat_template.h"
#include "core/log.h"
#include "sampling/sampling_params.h"
#include "server/chat_pipeline.h"
#include "server/http.h"
#include "server/model_defaults.h"
#include "server/structured_output.h"
#include "store/model_options.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Context ids a client may send back: far more than any context cria can hold.
constexpr size_t kMaxContextTokens = size_t{1} << 22;

ApiError bad_field(const std::string& message) {
    return invalid_request(message);
}

// The fields both endpoints share: model, options, keep_alive, stream, think, format (as an
// OpenAI response_format, written into `openai`).
std::optional<ApiError> read_common(const json& body, OllamaGenerationRequest& out, json& openai) {
    const auto model = body.find("model");
    if (model != body.end() && !model->is_null() && !model->is_string()) {
        return bad_field("model must be a string");
    }
    out.model = model != body.end() && model->is_string() ? model->get<std::string>() : "";
    if (out.model.empty()) return bad_field("model is required");
    openai["model"] = out.model;

    if (const auto options = body.find("options"); options != body.end() && !options->is_null()) {
        if (!options->is_object()) return bad_field("options must be an object");
        // Options are flat: their order does not matter, and the store's functions take plain JSON.
        Expected<nlohmann::json> normalized =
            store::normalize_options(nlohmann::json::parse(options->dump()));
        if (!normalized.has_value()) return bad_field(normalized.status().message());
        out.options = std::move(normalized).value();
    }
    if (const auto keep = body.find("keep_alive"); keep != body.end() && !keep->is_null()) {
        Expected<KeepAlive> keep_alive = parse_keep_alive(nlohmann::json::parse(keep->dump()));
        if (!keep_alive.has_value()) return bad_field(keep_alive.status().message());
        out.keep_alive = *keep_alive;
    }
    if (const auto stream = body.find("stream"); stream != body.end() && !stream->is_null()) {
        if (!stream->is_boolean()) return bad_field("stream must be true or false");
        out.stream = stream->get<bool>();
    }
    if (const auto think = body.find("think"); think != body.end() && !think->is_null()) {
        if (think->is_boolean()) {
            out.think = think->get<bool>();
        } else if (think->is_string() &&
                   (*think == "low" || *think == "medium" || *think == "high")) {
            out.think = true;  // effort levels: cria's templates only switch thinking on or off
        } else {
            return bad_field("think must be true, false, \"low\", \"medium\" or \"high\"");
        }
        if (out.think == false) openai["reasoning_effort"] = "none";
    }
    if (const auto format = body.find("format"); format != body.end() && !format->is_null()) {
        if (format->is_string()) {
            const std::string kind = format->get<std::string>();
            if (kind == "json") {
                openai["response_format"] = {{"type", "json_object"}};
            } else if (!kind.empty()) {
                return bad_field("format must be \"json\" or a JSON schema object, got \"" +
                                 kind.substr(0, 64) + "\"");
            }
        } else if (format->is_object()) {
            openai["response_format"] = {
                {"type", "json_schema"},
                {"json_schema", {{"name", "format"}, {"schema", *format}, {"strict", true}}}};
        } else {
            return bad_field("format must be \"json\" or a JSON schema object");
        }
    }
    return std::nullopt;
}

std::optional<ApiError> reject_images(const json& object, const std::string& where) {
    const auto images = object.find("images");
    if (images != object.end() && !images->is_null() && !(images->is_array() && images->empty())) {
        return bad_field(where + "images are not supported: cria serves text-only models");
    }
    return std::nullopt;
}

// Runs the synthesized OpenAI body through the /v1 parser for its message, tool and format
// checks.
std::optional<ApiError> parse_as_openai(const json& openai, ChatCompletionRequest& out) {
    ApiResult<ChatCompletionRequest> parsed = parse_chat_completion_request(openai.dump());
    if (!parsed.ok()) return parsed.error();
    out = std::move(parsed.value());
    return std::nullopt;
}

}  // namespace

ApiResult<OllamaGenerationRequest> parse_ollama_chat_request(const json& body) {
    if (!body.is_object()) return bad_field("the request body must be a JSON object");
    OllamaGenerationRequest out;
    out.is_chat = true;
    json openai = json::object();
    if (auto error = read_common(body, out, openai)) return *error;
    const auto messages = body.find("messages");
    if (messages != body.end() && !messages->is_null() && !messages->is_array()) {
        return bad_field("messages must be an array");
    }
    if (const auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
        openai["tools"] = *tools;
    }
    if (messages == body.end() || messages->is_null() || messages->empty()) {
        out.load_only = true;
        return out;
    }
    json converted = json::array();
    for (size_t i = 0; i < messages->size(); ++i) {
        const json& message = (*messages)[i];
        const std::string where = "messages[" + std::to_string(i) + "]: ";
        if (!message.is_object()) return bad_field(where + "a message must be an object");
        if (auto error = reject_images(message, where)) return *error;
        json copy = message;
        copy.erase("images");
        // Ollama names the tool a result belongs to with tool_name; templates know `name`.
        if (copy.contains("tool_name") && !copy.contains("name")) copy["name"] = copy["tool_name"];
        // Ollama's thinking field of an earlier answer is what templates call reasoning_content.
        if (copy.contains("thinking") && !copy.contains("reasoning_content")) {
            copy["reasoning_content"] = copy["thinking"];
        }
        if (!copy.contains("content") && copy.value("role", "") != "assistant")
            copy["content"] = "";
        converted.push_back(std::move(copy));
    }
    openai["messages"] = std::move(converted);
    if (auto error = parse_as_openai(openai, out.chat)) return *error;
    return out;
}

ApiResult<OllamaGenerationRequest> parse_ollama_generate_request(const json& body) {
    if (!body.is_object()) return bad_field("the request body must be a JSON object");
    OllamaGenerationRequest out;
    json openai = json::object();
    if (auto error = read_common(body, out, openai)) return *error;
    auto string_field = [&](const char* key, std::string& value) -> std::optional<ApiError> {
        const auto it = body.find(key);
        if (it == body.end() || it->is_null()) return std::nullopt;
        if (!it->is_string()) return bad_field(std::string(key) + " must be a string");
        value = it->get<std::string>();
        return std::nullopt;
    };
    if (auto error = string_field("prompt", out.prompt)) return *error;
    std::string suffix;
    if (auto error = string_field("suffix", suffix)) return *error;
    // A template for this request only, in either syntax, instead of the model's.
    std::string template_text;
    if (auto error = string_field("template", template_text)) return *error;
    std::shared_ptr<const chat::ChatTemplate> template_override;
    if (!template_text.empty()) {
        Expected<chat::ChatTemplate> parsed = chat::ChatTemplate::parse(template_text);
        if (!parsed.has_value()) return bad_field("template: " + parsed.status().message());
        template_override = std::make_shared<const chat::ChatTemplate>(std::move(parsed).value());
    }
    if (body.contains("system") && !body["system"].is_null()) {
        std::string system;
        if (auto error = string_field("system", system)) return *error;
        out.system = system;
    }
    if (const auto raw = body.find("raw"); raw != body.end() && !raw->is_null()) {
        if (!raw->is_boolean()) return bad_field("raw must be true or false");
        out.raw = raw->get<bool>();
    }
    if (auto error = reject_images(body, "")) return *error;
    if (const auto context = body.find("context"); context != body.end() && !context->is_null()) {
        if (!context->is_array()) return bad_field("context must be an array of token ids");
        if (context->size() > kMaxContextTokens) return bad_field("context is too long");
        for (const json& id : *context) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
                return bad_field("context must be an array of token ids");
            }
            out.context.push_back(static_cast<int32_t>(id.get<int64_t>()));
        }
    }
    if (out.prompt.empty()) {
        out.load_only = true;
        return out;
    }
    json messages = json::array();
    if (out.system && !out.system->empty()) {
        messages.push_back({{"role", "system"}, {"content", *out.system}});
    }
    messages.push_back({{"role", "user"}, {"content", out.prompt}});
    openai["messages"] = std::move(messages);
    if (auto error = parse_as_openai(openai, out.chat)) return *error;
    out.chat.template_override = std::move(template_override);
    out.chat.fill_prompt = out.prompt;
    out.chat.fill_suffix = std::move(suffix);
    if (out.raw && (out.chat.template_override || !out.chat.fill_suffix.empty())) {
        return bad_field("raw prompts take no template and no suffix");
    }
    return out;
}

std::string ollama_timestamp(std::chrono::system_clock::time_point when) {
    const auto since_epoch = when.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[32];
    std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof(out), "%s.%09lldZ", date, static_cast<long long>(nanos.count()));
    return out;
}

json ollama_tool_calls(const json& openai_calls) {
    json out = json::array();
    if (!openai_calls.is_array()) return out;
    for (const json& call : openai_calls) {
        if (!call.is_object() || !call.contains("function")) continue;
        const json& function = call["function"];
        json arguments = function.value("arguments", json("{}"));
        if (arguments.is_string()) {
            json parsed = parse_json_body(arguments.get<std::string>());
            if (!parsed.is_discarded()) arguments = std::move(parsed);
        }
        out.push_back(
            {{"function", {{"name", function.value("name", "")}, {"arguments", arguments}}}});
    }
    return out;
}

json ollama_message(const std::string& content, const std::string& thinking,
                    const json& tool_calls) {
    json message = {{"role", "assistant"}, {"content", content}};
    if (!thinking.empty()) message["thinking"] = thinking;
    if (tool_calls.is_array() && !tool_calls.empty()) message["tool_calls"] = tool_calls;
    return message;
}

json ollama_chat_chunk(const std::string& model, const std::string& created_at,
                       const json& message) {
    return {{"model", model}, {"created_at", created_at}, {"message", message}, {"done", false}};
}

json ollama_generate_chunk(const std::string& model, const std::string& created_at,
                           const std::string& response, const std::string& thinking) {
    json chunk = {{"model", model}, {"created_at", created_at}, {"response", response}};
    if (!thinking.empty()) chunk["thinking"] = thinking;
    chunk["done"] = false;
    return chunk;
}

json ollama_final(json body, const std::string& done_reason, const OllamaStats& stats,
                  const std::vector<int32_t>* context) {
    body["done"] = true;
    body["done_reason"] = done_reason;
    if (context != nullptr) body["context"] = *context;
    body["total_duration"] = stats.total.count();
    body["load_duration"] = stats.load.count();
    body["prompt_eval_count"] = stats.prompt_eval_count;
    body["prompt_eval_duration"] = stats.prompt_eval.count();
    body["eval_count"] = stats.eval_count;
    body["eval_duration"] = stats.eval.count();
    return body;
}

namespace {

void send_ollama_error(httplib::Response& res, int status, const std::string& message) {
    send_json(res, status, json{{"error", message}});
}

int http_status_of(const Status& status) {
    switch (status.code()) {
        case ErrorCode::kNotFound:
            return 404;
        case ErrorCode::kInvalidArgument:
        case ErrorCode::kOutOfRange:
        case ErrorCode::kUnsupported:
            return 400;
        case ErrorCode::kResourceExhausted:
        case ErrorCode::kUnavailable:
            return 503;
        default:
            return 500;
    }
}

// Everything a request needs once its prompt is known, shared with the stream's provider.
struct OllamaJob {
    OllamaGenerationRequest request;
    std::unique_ptr<PreparedChat> chat;  // queued before the response starts: a full queue is a 503
    std::string created_at;
    Clock::time_point started;
};

// Ollama's answer as the pipeline shapes it: content and thinking gathered (and with `emit`,
// each piece sent as a chunk), the choice kept for the final object.
class OllamaSink : public ChatSink {
  public:
    OllamaSink(const OllamaJob& job, const std::function<bool(const json&)>& emit)
        : job_(job), emit_(emit) {}

    bool on_delta(int, json&& delta, std::vector<TokenLogprob>*) override {
        std::string content_piece;
        std::string thinking_piece;
        if (delta.contains("content") && delta["content"].is_string()) {
            content_piece = delta["content"].get<std::string>();
        }
        if (delta.contains("reasoning_content") && delta["reasoning_content"].is_string()) {
            thinking_piece = delta["reasoning_content"].get<std::string>();
        }
        content += content_piece;
        thinking += thinking_piece;
        if (!emit_ || (content_piece.empty() && thinking_piece.empty())) return true;
        const std::string& model = job_.request.model;
        if (job_.request.is_chat) {
            return emit_(
                ollama_chat_chunk(model, job_.created_at,
                                  ollama_message(content_piece, thinking_piece, json::array())));
        }
        return emit_(ollama_generate_chunk(model, job_.created_at, content_piece, thinking_piece));
    }
    bool on_finish(ChatChoice&& finished) override {
        choice = std::move(finished);
        return true;
    }

    std::string content;
    std::string thinking;
    ChatChoice choice;

  private:
    const OllamaJob& job_;
    const std::function<bool(const json&)>& emit_;
};

// Generates the answer. With `emit`, every piece goes out as a chunk and the final object
// closes the stream; without it the whole answer is gathered into the final object.
Status run_job(OllamaJob& job, const std::function<bool(const json&)>& emit,
               const CancelCheck& is_cancelled, json& final_object) {
    OllamaSink sink(job, emit);
    const Clock::time_point generation_started = Clock::now();
    CRIA_RETURN_IF_ERROR(run_chat(*job.chat, sink, is_cancelled));
    const Clock::time_point ended = Clock::now();
    const ChoiceResult& outcome = sink.choice.result;
    // Ollama names a turn that ended with calls "stop".
    const std::string finish_reason =
        outcome.finish_reason.empty() || outcome.finish_reason == "tool_calls"
            ? "stop"
            : outcome.finish_reason;
    json tool_calls = json::array();
    if (sink.choice.message.contains("tool_calls")) {
        tool_calls = ollama_tool_calls(sink.choice.message["tool_calls"]);
    }
    if (emit && !tool_calls.empty()) {
        // Ollama sends the calls in a chunk of their own once they are complete.
        if (!emit(ollama_chat_chunk(job.request.model, job.created_at,
                                    ollama_message("", "", tool_calls)))) {
            return cancelled("the client closed the connection");
        }
    }

    OllamaStats stats;
    stats.load = job.chat->lease.load_duration();
    stats.total = ended - job.started;
    stats.prompt_eval_count = static_cast<int64_t>(job.chat->prompt.size());
    const Clock::time_point eval_start = sink.choice.first_piece_at.value_or(ended);
    stats.prompt_eval = eval_start - generation_started;
    stats.eval_count = outcome.completion_tokens;
    stats.eval = ended - eval_start;
    const bool whole = !emit;
    if (job.request.is_chat) {
        json message = whole ? ollama_message(sink.content, sink.thinking, tool_calls)
                             : ollama_message("", "", json::array());
        final_object = ollama_final(ollama_chat_chunk(job.request.model, job.created_at, message),
                                    finish_reason, stats, nullptr);
    } else {
        std::vector<int32_t> context = job.chat->prompt;
        context.insert(context.end(), outcome.tokens.begin(), outcome.tokens.end());
        final_object = ollama_final(
            ollama_generate_chunk(job.request.model, job.created_at, whole ? sink.content : "",
                                  whole ? sink.thinking : ""),
            finish_reason, stats, &context);
    }
    return Status::ok();
}

// The answer to a request with nothing to generate: the model loaded (or unloaded).
json load_answer(const OllamaGenerationRequest& request, const std::string& created_at,
                 const std::string& done_reason) {
    json body = request.is_chat ? ollama_chat_chunk(request.model, created_at,
                                                    ollama_message("", "", json::array()))
                                : ollama_generate_chunk(request.model, created_at, "", "");
    body["done"] = true;
    body["done_reason"] = done_reason;
    return body;
}

void send_line(httplib::Response& res, const json& body, bool stream) {
    res.status = 200;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                    stream ? "application/x-ndjson" : "application/json");
}

// Converts the request for the chat pipeline and prepares it; writes the error and returns
// false when the request cannot run.
bool prepare(OllamaJob& job, ModelLease lease, httplib::Response& res) {
    OllamaGenerationRequest& request = job.request;
    ServedModel& model = lease.model();

    // Request options > Modelfile parameters > the sampler's defaults.
    const nlohmann::json options =
        store::merge_options(lease.source().recipe.parameters, request.options);
    ChatInput input;
    input.chat = std::move(request.chat);
    input.chat.generation = GenerationRequest{};
    input.chat.generation.sampling = sampling::SamplingParams{};
    apply_options(input.chat.generation, options);
    const Status valid =
        sampling::validate_sampling_params(input.chat.generation.sampling, model.n_vocab());
    if (!valid.is_ok()) {
        send_ollama_error(res, 400, valid.message());
        return false;
    }
    input.require_reasoning = request.think == true;
    // As Ollama does: a conversation longer than the context loses its oldest messages.
    input.trim_to_context = true;
    if (!request.is_chat) {
        input.prompt_param = "prompt";
        input.prefix_tokens = request.context;
        // /api/generate takes the Modelfile's SYSTEM (unless the request names one), not its
        // MESSAGE history.
        input.recipe = request.system ? RecipeMessages::kNone : RecipeMessages::kSystemOnly;
        if (request.raw ||
            (model.chat_template_source().empty() && !request.chat.template_override)) {
            // raw, or a model without a chat template: the prompt as is.
            if (request.think == true) {
                send_ollama_error(res, 400,
                                  "think needs the model's chat template; raw prompts have none");
                return false;
            }
            input.raw_prompt = request.prompt;
        }
    }
    ApiResult<std::unique_ptr<PreparedChat>> prepared =
        prepare_chat(std::move(lease), std::move(input));
    if (!prepared.ok()) {
        const ApiError& error = prepared.error();
        std::string message = error.message;
        if (error.code == "context_length_exceeded") {
            message += " Raise num_ctx in options or the Modelfile.";
        }
        send_ollama_error(res, error.http_status, message);
        return false;
    }
    job.chat = std::move(prepared.value());
    return true;
}

void handle_generation(ModelManager& models, bool is_chat, const httplib::Request& req,
                       httplib::Response& res) {
    const Clock::time_point started = Clock::now();
    const std::string created_at = ollama_timestamp(std::chrono::system_clock::now());
    // Order-keeping: a `format` schema's properties are generated in the order they are given.
    const json body = parse_json_body(req.body);
    if (body.is_discarded() || !body.is_object()) {
        return send_ollama_error(res, 400,
                                 "the request body is not a JSON object (or it nests deeper than " +
                                     std::to_string(kMaxJsonDepth) + " levels)");
    }
    ApiResult<OllamaGenerationRequest> parsed =
        is_chat ? parse_ollama_chat_request(body) : parse_ollama_generate_request(body);
    if (!parsed.ok()) return send_ollama_error(res, 400, parsed.error().message);
    OllamaGenerationRequest& request = parsed.value();
    const std::optional<int64_t> num_ctx = store::ModelOptions::from_json(request.options).num_ctx;

    if (request.load_only && request.keep_alive && request.keep_alive->count() == 0) {
        Expected<ModelSource> source = models.resolve(request.model);
        if (!source.has_value()) {
            return send_ollama_error(res, http_status_of(source.status()),
                                     source.status().message());
        }
        models.unload(source->name);
        return send_line(res, load_answer(request, created_at, "unload"), request.stream);
    }
    Expected<ModelLease> lease = models.acquire(request.model, num_ctx, request.keep_alive);
    if (!lease.has_value()) {
        return send_ollama_error(res, http_status_of(lease.status()), lease.status().message());
    }
    if (request.load_only) {
        return send_line(res, load_answer(request, created_at, "load"), request.stream);
    }
    if (lease->model().is_embedding_model()) {
        return send_ollama_error(res, 400,
                                 "\"" + request.model + "\" does not support " +
                                     (is_chat ? "chat" : "generate") +
                                     ": it is an embedding model (use /api/embed)");
    }

    auto job = std::make_shared<OllamaJob>();
    job->request = std::move(request);
    job->created_at = created_at;
    job->started = started;
    if (!prepare(*job, std::move(lease).value(), res)) return;
    if (Status queued = start_chat(*job->chat); !queued.is_ok()) {
        if (http_status_of(queued) == 503) res.set_header("Retry-After", "1");
        return send_ollama_error(res, http_status_of(queued), queued.message());
    }

    if (!job->request.stream) {
        const ClientConnection connection(req);
        json final_object;
        const Status status = run_job(
            *job, {}, [&] { return connection.disconnected(); }, final_object);
        if (!status.is_ok()) {
            if (status.code() != ErrorCode::kCancelled) {
                CRIA_LOG_ERROR("generation failed: %s", status.message().c_str());
            }
            return send_ollama_error(res, http_status_of(status), status.message());
        }
        return send_line(res, final_object, false);
    }
    const ClientConnection connection(req);
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "application/x-ndjson", [job, connection](size_t, httplib::DataSink& sink) {
            bool client_present = true;
            auto write_line = [&](json line) {
                if (!client_present) return false;
                // Every line carries the time it was written, as Ollama's do.
                line["created_at"] = ollama_timestamp(std::chrono::system_clock::now());
                const std::string text =
                    line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
                client_present = sink.write(text.data(), text.size());
                return client_present;
            };
            json final_object;
            const Status status = run_job(
                *job, write_line, [&] { return !client_present || connection.disconnected(); },
                final_object);
            if (status.code() == ErrorCode::kCancelled) return false;  // drop the connection
            if (!status.is_ok()) {
                // Headers are out: the error travels as the last line.
                CRIA_LOG_ERROR("generation failed: %s", status.message().c_str());
                write_line(json{{"error", status.message()}});
            } else {
                write_line(final_object);
            }
            sink.done();
            return true;
        });
}

}  // namespace

void register_ollama_generation_routes(Router& router, ModelManager& models) {
    router.Post("/api/chat", [&models](const httplib::Request& req, httplib::Response& res) {
        handle_generation(models, true, req, res);
    });
    router.Post("/api/generate", [&models](const httplib::Request& req, httplib::Response& res) {
        handle_generation(models, false, req, res);
    });
}

}  // namespace cria::server
