#include "server/responses.h"

#include <algorithm>
#include <ctime>
#include <memory>
#include <string>

#include "core/log.h"
#include "server/chat_pipeline.h"
#include "server/http.h"
#include "server/model_defaults.h"
#include "server/responses_api.h"
#include "server/routes.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

int64_t now_unix() {
    return static_cast<int64_t>(std::time(nullptr));
}

json ordered(const nlohmann::json& value) {
    return json::parse(value.dump());
}

ApiError response_not_found(const std::string& id, const char* param) {
    ApiError error = invalid_request("No response found with id '" + id.substr(0, 128) + "'.",
                                     param ? std::optional<std::string>(param) : std::nullopt,
                                     "response_not_found");
    error.http_status = 404;
    return error;
}

// "event: <type>\ndata: <json>\n\n": the Responses API names each event's type twice.
std::string typed_event(const json& event) {
    return "event: " + event.value("type", std::string("message")) +
           "\ndata: " + event.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

// Feeds the pipeline's deltas to the response builder; with `emit`, each event goes out.
class ResponseSink : public ChatSink {
  public:
    ResponseSink(ResponseBuilder& builder, std::function<bool(const json&)> emit)
        : builder_(builder), emit_(std::move(emit)) {}

    bool send(const std::vector<json>& events) {
        if (!emit_) return true;
        for (const json& event : events) {
            if (!emit_(event)) return false;
        }
        return true;
    }
    bool on_delta(int, json&& delta, std::vector<TokenLogprob>*) override {
        return send(builder_.add(delta));
    }
    bool on_finish(ChatChoice&& finished) override {
        choice = std::move(finished);
        return true;
    }

    ChatChoice choice;

  private:
    ResponseBuilder& builder_;
    std::function<bool(const json&)> emit_;
};

// A response being generated, shared with the stream's provider.
struct ResponseJob {
    std::unique_ptr<PreparedChat> chat;
    std::unique_ptr<ResponseBuilder> builder;
    ResponsesRequest request;
    std::string id;
    int64_t created_at = 0;
};

// Runs the job to its end and finishes the response (completed, incomplete or failed).
Status run_response(ResponseJob& job, const std::function<bool(const json&)>& emit,
                    const CancelCheck& is_cancelled) {
    ResponseSink sink(*job.builder, emit);
    if (!sink.send(job.builder->start())) return cancelled("the client closed the connection");
    const Status status = run_chat(*job.chat, sink, is_cancelled);
    if (status.code() == ErrorCode::kCancelled) return status;
    if (!status.is_ok()) {
        CRIA_LOG_ERROR("response %s failed: %s", job.id.c_str(), status.message().c_str());
        sink.send(job.builder->fail(status.message()));
        return status;
    }
    ResponseUsage usage;
    usage.input_tokens = static_cast<int64_t>(job.chat->prompt.size());
    usage.cached_tokens = sink.choice.result.cached_prompt_tokens;
    usage.output_tokens = sink.choice.result.completion_tokens;
    const json& message = sink.choice.message;
    if (message.contains("reasoning_content") && message["reasoning_content"].is_string()) {
        // Thinking and answer come out of one stream of tokens; the thinking's share is its
        // text as the model tokenizes it, never more than what was generated.
        usage.reasoning_tokens = std::min(
            usage.output_tokens,
            job.chat->model().count_tokens(message["reasoning_content"].get<std::string>()));
    }
    if (!sink.send(job.builder->finish(sink.choice.result.finish_reason, usage))) {
        return cancelled("the client closed the connection");
    }
    return Status::ok();
}

// Keeps a finished response when the request asked for it (store, the default).
void keep(store::ResponseStore& responses, const ResponseJob& job) {
    if (!job.request.store) return;
    store::StoredResponse stored;
    stored.id = job.id;
    stored.created_at = job.created_at;
    stored.previous_response_id = job.request.previous_response_id.value_or("");
    stored.model = job.request.model;
    stored.input_items = nlohmann::json::parse(job.request.input_items.dump());
    stored.output_items = nlohmann::json::parse(job.builder->response()["output"].dump());
    stored.response = nlohmann::json::parse(job.builder->response().dump());
    if (Status put = responses.put(stored, now_unix()); !put.is_ok()) {
        CRIA_LOG_ERROR("response %s was not stored: %s", job.id.c_str(), put.message().c_str());
    }
}

// The conversation a request continues, as chat messages: its instructions, then every stored
// turn of the previous_response_id chain (input and output items), then its own input.
ApiResult<json> conversation(store::ResponseStore& responses, const ResponsesRequest& request) {
    json messages = json::array();
    if (request.instructions && !request.instructions->empty()) {
        messages.push_back({{"role", "system"}, {"content", *request.instructions}});
    }
    if (request.previous_response_id) {
        Expected<std::vector<store::StoredResponse>> chain =
            responses.chain(*request.previous_response_id, kMaxResponseChain, now_unix());
        if (!chain.has_value()) {
            if (chain.status().code() == ErrorCode::kNotFound) {
                return response_not_found(*request.previous_response_id, "previous_response_id");
            }
            if (chain.status().code() == ErrorCode::kOutOfRange) {
                return invalid_request("The conversation is longer than " +
                                           std::to_string(kMaxResponseChain) + " responses.",
                                       "previous_response_id", "conversation_too_long");
            }
            return internal_fault(chain.status().message());
        }
        for (const store::StoredResponse& turn : *chain) {
            append_item_messages(ordered(turn.input_items), messages);
            append_item_messages(ordered(turn.output_items), messages);
        }
    }
    append_item_messages(request.input_items, messages);
    return messages;
}

void handle_create(ModelManager& models, store::ResponseStore& responses,
                   const httplib::Request& req, httplib::Response& res) {
    ApiResult<ResponsesRequest> parsed = parse_responses_request(req.body);
    if (!parsed.ok()) return send_error(res, parsed.error());
    auto job = std::make_shared<ResponseJob>();
    job->request = std::move(parsed.value());
    const ResponsesRequest& request = job->request;

    ApiResult<json> messages = conversation(responses, request);
    if (!messages.ok()) return send_error(res, messages.error());
    json chat_body = request.chat_fields;
    chat_body["model"] = request.model;
    chat_body["messages"] = std::move(messages.value());
    // The chat parser checks what the two APIs share (sampling ranges, tools, schemas).
    ApiResult<ChatCompletionRequest> chat = parse_chat_completion_request(chat_body.dump());
    if (!chat.ok()) return send_error(res, chat.error());
    std::optional<ModelLease> lease =
        lease_generation_model(models, request.model, chat.value().generation, res);
    if (!lease) return;
    apply_model_parameters(chat.value().generation, lease->source().recipe.parameters,
                           nlohmann::json::parse(chat_body.dump()));
    ChatInput input;
    input.chat = std::move(chat.value());
    input.prompt_param = "input";
    ApiResult<std::unique_ptr<PreparedChat>> prepared =
        prepare_chat(std::move(*lease), std::move(input));
    if (!prepared.ok()) return send_error(res, prepared.error());
    job->chat = std::move(prepared.value());
    if (Status started = start_chat(*job->chat); !started.is_ok()) {
        return send_start_error(res, started);
    }
    job->id = new_item_id("resp_");
    job->created_at = now_unix();
    job->builder = std::make_unique<ResponseBuilder>(
        response_skeleton(job->id, job->created_at, request.model, request));
    const ClientConnection connection(req);

    if (!request.stream) {
        const Status status = run_response(*job, {}, [&] { return connection.disconnected(); });
        if (!status.is_ok()) return send_run_error(res, job->id, status);
        keep(responses, *job);
        return send_json(res, 200, job->builder->response());
    }
    set_event_stream_headers(res);
    res.set_chunked_content_provider(
        "text/event-stream", [job, connection, &responses](size_t, httplib::DataSink& sink) {
            bool client_present = true;
            auto emit = [&](const json& event) {
                if (!client_present) return false;
                const std::string frame = typed_event(event);
                client_present = sink.write(frame.data(), frame.size());
                return client_present;
            };
            const Status status = run_response(
                *job, emit, [&] { return !client_present || connection.disconnected(); });
            if (status.code() == ErrorCode::kCancelled) {
                CRIA_LOG_INFO("%s: the client closed the connection; generation stopped",
                              job->id.c_str());
                return false;  // drop the connection
            }
            // A failed response was told as events; a finished one is kept.
            if (status.is_ok()) keep(responses, *job);
            sink.done();
            return true;
        });
}

}  // namespace

void register_responses_routes(Router& router, ModelManager& models,
                               store::ResponseStore& responses) {
    router.Post("/v1/responses",
                [&models, &responses](const httplib::Request& req, httplib::Response& res) {
                    handle_create(models, responses, req, res);
                });
    router.Get("/v1/responses/{id}",
               [&responses](const httplib::Request& req, httplib::Response& res) {
                   const std::string id = req.matches[1];
                   if (req.has_param("stream") && req.get_param_value("stream") == "true") {
                       return send_error(res, invalid_request("Streaming a stored response is "
                                                              "not supported.",
                                                              "stream", "unsupported_value"));
                   }
                   Expected<store::StoredResponse> stored = responses.get(id, now_unix());
                   if (!stored.has_value()) {
                       if (stored.status().code() == ErrorCode::kNotFound) {
                           return send_error(res, response_not_found(id, nullptr));
                       }
                       return send_error(res, internal_fault(stored.status().message()));
                   }
                   send_json(res, 200, ordered(stored->response));
               });
    router.Delete("/v1/responses/{id}", [&responses](const httplib::Request& req,
                                                     httplib::Response& res) {
        const std::string id = req.matches[1];
        Expected<bool> removed = responses.remove(id);
        if (!removed.has_value()) {
            return send_error(res, internal_fault(removed.status().message()));
        }
        if (!*removed) return send_error(res, response_not_found(id, nullptr));
        send_json(res, 200, json{{"id", id}, {"object", "response.deleted"}, {"deleted", true}});
    });
    router.Get("/v1/responses/{id}/input_items", [&responses](const httplib::Request& req,
                                                              httplib::Response& res) {
        const std::string id = req.matches[1];
        Expected<store::StoredResponse> stored = responses.get(id, now_unix());
        if (!stored.has_value()) {
            if (stored.status().code() == ErrorCode::kNotFound) {
                return send_error(res, response_not_found(id, nullptr));
            }
            return send_error(res, internal_fault(stored.status().message()));
        }
        auto param = [&req](const char* key) -> std::optional<std::string> {
            if (!req.has_param(key)) return std::nullopt;
            return req.get_param_value(key);
        };
        ApiResult<json> page = input_items_page(ordered(stored->input_items), param("limit"),
                                                param("order"), param("after"));
        if (!page.ok()) return send_error(res, page.error());
        send_json(res, 200, page.value());
    });
}

}  // namespace cria::server
