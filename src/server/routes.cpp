#include "server/routes.h"
#include "server/json_body.h"

#include <cassert>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "server/chat_pipeline.h"
#include "server/embeddings.h"
#include "server/http.h"
#include "server/model_defaults.h"

namespace cria::server {

// Writes the status of a request that could not be queued.
void send_start_error(httplib::Response& res, const Status& status) {
    if (status.code() == ErrorCode::kResourceExhausted ||
        status.code() == ErrorCode::kUnavailable) {
        res.set_header("Retry-After", "1");
        send_error(res, server_busy(status.message()));
    } else if (status.code() == ErrorCode::kInvalidArgument) {
        send_error(res, invalid_request(status.message()));
    } else {
        send_error(res, internal_fault(status.message()));
    }
}

// Writes the status of a request that ended without its answer (nobody hears a cancelled one,
// but httplib still needs a response).
void send_run_error(httplib::Response& res, const std::string& id, const Status& status) {
    if (status.code() == ErrorCode::kCancelled) {
        CRIA_LOG_INFO("%s: the client closed the connection; generation stopped", id.c_str());
        return send_error(res, invalid_request("The client closed the connection."));
    }
    CRIA_LOG_ERROR("generation for %s failed: %s", id.c_str(), status.message().c_str());
    send_error(res, internal_fault(status.message()));
}

// Leases the model (loading it when needed) and checks what depends on it; nullopt after
// writing the error.
std::optional<ModelLease> lease_generation_model(ModelManager& models, const std::string& name,
                                                 const GenerationRequest& generation,
                                                 httplib::Response& res) {
    Expected<ModelLease> lease = models.acquire(name);
    if (!lease.has_value()) {
        if (lease.status().code() == ErrorCode::kNotFound) {
            send_error(res, model_not_found(name));
        } else if (lease.status().code() == ErrorCode::kResourceExhausted) {
            ApiError error = internal_fault(lease.status().message());
            error.http_status = 503;
            send_error(res, error);
        } else {
            send_error(res, internal_fault(lease.status().message()));
        }
        return std::nullopt;
    }
    if (lease->model().is_embedding_model()) {
        send_error(res, invalid_request("The model '" + name +
                                            "' is an embedding model: it serves /v1/embeddings "
                                            "only.",
                                        "model", "model_not_supported"));
        return std::nullopt;
    }
    if (auto error = validate_for_vocabulary(generation, lease->model().n_vocab())) {
        send_error(res, *error);
        return std::nullopt;
    }
    return std::move(lease).value();
}

namespace {

// The request body as JSON, to see which fields the client sent (the parser fills defaults).
nlohmann::json body_fields(const httplib::Request& req) {
    nlohmann::json body = parse_json_body_as<nlohmann::json>(req.body);
    return body.is_object() ? body : nlohmann::json::object();
}

using json = nlohmann::ordered_json;

// One choice to generate: which prompt, and the choice's index in the response.
// Jobs are listed in index order: jobs[i].index == i.
struct ChoiceJob {
    size_t prompt = 0;
    int index = 0;
};

// What a handler wants to hear while the choices of one request are generated: on_start for
// every job before generation begins, then pieces and finishes as the choices progress (choices
// interleave; each one's events come in order).
struct JobEvents {
    std::function<bool(const ChoiceJob&)> on_start;
    std::function<bool(const ChoiceJob&, const std::string&, std::vector<TokenLogprob>&&)> on_piece;
    std::function<bool(const ChoiceJob&, const ChoiceResult&)> on_finish;
};

// Everything a request needs from the time its prompt is known until its last choice is done.
struct PreparedRequest {
    ModelLease lease;  // keeps the model loaded until the last chunk is written
    ServedModel* model = nullptr;
    GenerationRequest generation;
    std::vector<std::vector<int32_t>> prompts;
    std::vector<ChoiceJob> jobs;
    std::unique_ptr<PendingGeneration> pending;  // set by start_generation()
    ResponseMeta meta;
    bool include_usage = false;
    Usage usage;
};

Status client_gone() {
    return cancelled("the client closed the connection");
}

// Logs a stream whose client went away; false drops the connection.
bool client_left(const std::string& id) {
    CRIA_LOG_INFO("%s: the client closed the connection; generation stopped", id.c_str());
    return false;
}

// Queues the request's choices on the model before any byte of the response is written, so
// that a full queue is answered with 503 (retryable) instead of a broken stream. False after
// writing the error.
bool start_generation(PreparedRequest& request, httplib::Response& res) {
    std::vector<ChoiceSpec> choices;
    for (const ChoiceJob& job : request.jobs) choices.push_back({job.prompt, job.index});
    Expected<std::unique_ptr<PendingGeneration>> pending =
        request.model->start(request.prompts, choices, request.generation);
    if (!pending.has_value()) {
        send_start_error(res, pending.status());
        return false;
    }
    request.pending = std::move(pending).value();
    return true;
}

// Runs every job of the started request. kCancelled when the client left.
Status run_jobs(PreparedRequest& request, const JobEvents& events,
                const CancelCheck& is_cancelled) {
    for (const ChoiceJob& job : request.jobs) {
        if (events.on_start && !events.on_start(job)) return client_gone();
    }
    // Events name choices by index, and a job's index is its place in `jobs`.
    auto job_of = [&request](int index) -> const ChoiceJob& {
        const ChoiceJob& job = request.jobs.at(static_cast<size_t>(index));
        assert(job.index == index);
        return job;
    };
    GenerationEvents model_events;
    model_events.on_piece = [&](int index, const std::string& text,
                                std::vector<TokenLogprob>&& logprobs) {
        return events.on_piece ? events.on_piece(job_of(index), text, std::move(logprobs)) : true;
    };
    model_events.on_finish = [&](const ChoiceResult& outcome) {
        request.usage.completion_tokens += outcome.completion_tokens;
        return events.on_finish ? events.on_finish(job_of(outcome.index), outcome) : true;
    };
    const Status status = request.pending->wait(model_events, is_cancelled);
    request.pending.reset();
    return status;
}

ResponseMeta make_meta(const char* id_prefix, const ServedModel& model, const std::string& name) {
    return ResponseMeta{new_response_id(id_prefix), static_cast<int64_t>(std::time(nullptr)), name,
                        model.fingerprint()};
}

// The prompt must leave room for at least one generated token.
std::optional<ApiError> check_context(const ServedModel& model, size_t prompt_tokens,
                                      const char* param) {
    if (static_cast<int64_t>(prompt_tokens) >= model.context_length()) {
        return context_length_exceeded(static_cast<int64_t>(prompt_tokens), model.context_length(),
                                       param);
    }
    return std::nullopt;
}

void log_failure(const PreparedRequest& request, const Status& status) {
    CRIA_LOG_ERROR("generation for %s failed: %s", request.meta.id.c_str(),
                   status.message().c_str());
}

// Runs the request with the response written as server-sent events. `build_events` gets the
// writer and returns the per-choice callbacks; the usage chunk and [DONE] close the stream.
void stream_response(const httplib::Request& req, httplib::Response& res,
                     std::shared_ptr<PreparedRequest> request, const char* chunk_object,
                     std::function<JobEvents(SseWriter&, PreparedRequest&)> build_events) {
    if (!start_generation(*request, res)) return;
    const ClientConnection connection(req);
    set_event_stream_headers(res);
    res.set_chunked_content_provider(
        "text/event-stream",
        [request, connection, chunk_object, build_events](size_t, httplib::DataSink& sink) {
            SseWriter writer(sink);
            CancelCheck is_cancelled = [&] { return writer.failed() || connection.disconnected(); };
            const Status status = run_jobs(*request, build_events(writer, *request), is_cancelled);
            if (status.code() == ErrorCode::kCancelled) return client_left(request->meta.id);
            if (!status.is_ok()) {
                // Headers are out; the fault travels as an event and the stream ends.
                log_failure(*request, status);
                writer.send(error_json(internal_fault(status.message())));
                sink.done();
                return true;
            }
            if (request->include_usage) {
                writer.send(usage_chunk_json(request->meta, chunk_object, request->usage));
            }
            writer.send_done();
            sink.done();
            return true;
        });
}

// Runs the request to the end and returns the outcomes in job order, or writes the error.
std::optional<std::vector<ChoiceResult>> run_to_completion(const httplib::Request& req,
                                                           httplib::Response& res,
                                                           PreparedRequest& request) {
    if (!start_generation(request, res)) return std::nullopt;
    const ClientConnection connection(req);
    std::vector<ChoiceResult> outcomes(request.jobs.size());
    JobEvents events;
    events.on_finish = [&](const ChoiceJob& job, const ChoiceResult& outcome) {
        outcomes[static_cast<size_t>(&job - request.jobs.data())] = outcome;
        return true;
    };
    const Status status = run_jobs(request, events, [&] { return connection.disconnected(); });
    if (!status.is_ok()) {
        send_run_error(res, request.meta.id, status);
        return std::nullopt;
    }
    return outcomes;
}

// Chat completions as OpenAI streams them: a role chunk per choice, a chunk per shaped delta
// and a finish chunk.
class ChatChunkSink : public ChatSink {
  public:
    ChatChunkSink(SseWriter& writer, const ResponseMeta& meta, bool include_usage, Usage& usage)
        : writer_(writer), meta_(meta), include_usage_(include_usage), usage_(usage) {}

    bool on_start(int index) override {
        return writer_.send(chat_chunk_role_json(meta_, index, include_usage_));
    }
    bool on_delta(int index, json&& delta, std::vector<TokenLogprob>* logprobs) override {
        json chunk = chat_chunk_content_json(meta_, index, "", logprobs, include_usage_);
        chunk["choices"][0]["delta"] = std::move(delta);
        return writer_.send(chunk);
    }
    bool on_finish(ChatChoice&& choice) override {
        usage_.completion_tokens += choice.result.completion_tokens;
        return writer_.send(chat_chunk_finish_json(meta_, choice.result.index,
                                                   choice.result.finish_reason, include_usage_));
    }

  private:
    SseWriter& writer_;
    const ResponseMeta& meta_;
    bool include_usage_;
    Usage& usage_;
};

void handle_chat(ModelManager& models, const httplib::Request& req, httplib::Response& res) {
    ApiResult<ChatCompletionRequest> parsed = parse_chat_completion_request(req.body);
    if (!parsed.ok()) return send_error(res, parsed.error());
    ChatInput input;
    input.chat = std::move(parsed.value());
    std::optional<ModelLease> lease =
        lease_generation_model(models, input.chat.model, input.chat.generation, res);
    if (!lease) return;
    // The Modelfile's PARAMETER values for the fields the request left out.
    apply_model_parameters(input.chat.generation, lease->source().recipe.parameters,
                           body_fields(req));
    const bool stream = input.chat.stream;
    const bool include_usage = input.chat.include_usage;
    ApiResult<std::unique_ptr<PreparedChat>> prepared =
        prepare_chat(std::move(*lease), std::move(input));
    if (!prepared.ok()) return send_error(res, prepared.error());
    std::shared_ptr<PreparedChat> chat = std::move(prepared.value());
    if (Status started = start_chat(*chat); !started.is_ok()) {
        return send_start_error(res, started);
    }
    auto meta =
        std::make_shared<ResponseMeta>(make_meta("chatcmpl-", chat->model(), chat->chat.model));
    const Usage prompt_usage{static_cast<int64_t>(chat->prompt.size()), 0};
    const ClientConnection connection(req);

    if (!stream) {
        ChoiceCollector collector(chat->generation.n);
        const Status status = run_chat(*chat, collector, [&] { return connection.disconnected(); });
        if (!status.is_ok()) return send_run_error(res, meta->id, status);
        Usage usage = prompt_usage;
        std::vector<ChoiceResult> results;
        for (ChatChoice& choice : collector.choices) {
            usage.completion_tokens += choice.result.completion_tokens;
            results.push_back(choice.result);
        }
        json body = chat_completion_json(*meta, results, chat->generation.sampling.logprobs, usage);
        for (size_t i = 0; i < collector.choices.size(); ++i) {
            for (auto& [key, value] : collector.choices[i].message.items()) {
                body["choices"][i]["message"][key] = value;
            }
        }
        return send_json(res, 200, body);
    }
    set_event_stream_headers(res);
    res.set_chunked_content_provider(
        "text/event-stream",
        [chat, meta, connection, include_usage, prompt_usage](size_t, httplib::DataSink& sink) {
            SseWriter writer(sink);
            Usage usage = prompt_usage;
            ChatChunkSink chunks(writer, *meta, include_usage, usage);
            const Status status = run_chat(
                *chat, chunks, [&] { return writer.failed() || connection.disconnected(); });
            if (status.code() == ErrorCode::kCancelled) return client_left(meta->id);
            if (!status.is_ok()) {
                // Headers are out; the fault travels as an event and the stream ends.
                CRIA_LOG_ERROR("generation for %s failed: %s", meta->id.c_str(),
                               status.message().c_str());
                writer.send(error_json(internal_fault(status.message())));
            } else {
                if (include_usage) {
                    writer.send(usage_chunk_json(*meta, "chat.completion.chunk", usage));
                }
                writer.send_done();
            }
            sink.done();
            return true;
        });
}

void handle_completion(ModelManager& models, const httplib::Request& req, httplib::Response& res) {
    ApiResult<CompletionRequest> parsed = parse_completion_request(req.body);
    if (!parsed.ok()) return send_error(res, parsed.error());
    CompletionRequest& completion = parsed.value();
    std::optional<ModelLease> lease =
        lease_generation_model(models, completion.model, completion.generation, res);
    if (!lease) return;
    ServedModel* model = &lease->model();
    apply_model_parameters(completion.generation, lease->source().recipe.parameters,
                           body_fields(req));

    auto request = std::make_shared<PreparedRequest>();
    request->lease = std::move(*lease);
    request->model = model;
    request->generation = completion.generation;
    // The echoed prompt text, per prompt: what the client sent, or the ids detokenized.
    auto echoes = std::make_shared<std::vector<std::string>>();
    for (const PromptInput& input : completion.prompts) {
        ApiResult<std::vector<int32_t>> prompt = model->completion_prompt(input);
        if (!prompt.ok()) return send_error(res, prompt.error());
        if (auto error = check_context(*model, prompt.value().size(), "prompt")) {
            return send_error(res, *error);
        }
        request->usage.prompt_tokens += static_cast<int64_t>(prompt.value().size());
        echoes->push_back(!completion.echo  ? std::string()
                          : input.is_tokens ? model->detokenize(input.tokens)
                                            : input.text);
        request->prompts.push_back(std::move(prompt.value()));
    }
    const int n = completion.generation.n;
    for (size_t p = 0; p < request->prompts.size(); ++p) {
        for (int k = 0; k < n; ++k) request->jobs.push_back({p, static_cast<int>(p) * n + k});
    }
    request->meta = make_meta("cmpl-", *model, completion.model);
    request->include_usage = completion.include_usage;
    const bool with_logprobs = completion.generation.sampling.logprobs;

    if (!completion.stream) {
        auto outcomes = run_to_completion(req, res, *request);
        if (!outcomes) return;
        std::vector<ChoiceResult> choices;
        json body;
        for (size_t i = 0; i < outcomes->size(); ++i) {
            const std::string& echo = (*echoes)[request->jobs[i].prompt];
            ChoiceResult& outcome = (*outcomes)[i];
            outcome.text.insert(0, echo);
            outcome.index = request->jobs[i].index;
            choices.push_back(std::move(outcome));
        }
        body = completion_json(request->meta, choices, with_logprobs, request->usage);
        // Offsets count from the start of the returned text, echo included.
        for (size_t i = 0; with_logprobs && i < choices.size(); ++i) {
            const size_t shift = (*echoes)[request->jobs[i].prompt].size();
            for (json& offset : body["choices"][i]["logprobs"]["text_offset"]) {
                offset = offset.get<size_t>() + shift;
            }
        }
        return send_json(res, 200, body);
    }
    stream_response(
        req, res, request, "text_completion",
        [with_logprobs, echoes](SseWriter& writer, PreparedRequest& r) {
            // Bytes of text sent so far, per choice (choices interleave).
            auto sent_bytes = std::make_shared<std::vector<size_t>>(r.jobs.size(), 0);
            auto slot_of = [&r](const ChoiceJob& job) {
                return static_cast<size_t>(&job - r.jobs.data());
            };
            JobEvents events;
            events.on_start = [&writer, &r, echoes, sent_bytes, slot_of](const ChoiceJob& job) {
                const std::string& echo = (*echoes)[job.prompt];
                (*sent_bytes)[slot_of(job)] = echo.size();
                if (echo.empty()) return true;
                return writer.send(completion_chunk_json(r.meta, job.index, echo, nullptr, 0,
                                                         std::nullopt, r.include_usage));
            };
            events.on_piece = [&writer, &r, with_logprobs, sent_bytes, slot_of](
                                  const ChoiceJob& job, const std::string& text,
                                  std::vector<TokenLogprob>&& logprobs) {
                if (text.empty() && logprobs.empty()) return true;
                size_t& sent = (*sent_bytes)[slot_of(job)];
                const size_t offset = sent;
                sent += text.size();
                return writer.send(completion_chunk_json(r.meta, job.index, text,
                                                         with_logprobs ? &logprobs : nullptr,
                                                         offset, std::nullopt, r.include_usage));
            };
            events.on_finish = [&writer, &r](const ChoiceJob& job, const ChoiceResult& outcome) {
                return writer.send(completion_chunk_json(r.meta, job.index, "", nullptr, 0,
                                                         outcome.finish_reason, r.include_usage));
            };
            return events;
        });
}

std::vector<ModelCard> model_cards(const ModelManager& models) {
    std::vector<ModelCard> cards;
    for (const ModelSource& source : models.servable()) {
        cards.push_back({source.name, source.modified_unix});
    }
    return cards;
}

}  // namespace

void register_routes(Router& router, ModelManager& models) {
    router.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, json{{"version", CRIA_VERSION}});
    });
    router.Get("/v1/models", [&models](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, model_list_json(model_cards(models)));
    });
    router.Get("/v1/models/{model+}",
               [&models](const httplib::Request& req, httplib::Response& res) {
                   const std::string name = req.matches[1];
                   Expected<ModelSource> source = models.resolve(name);
                   if (!source.has_value()) return send_error(res, model_not_found(name));
                   send_json(res, 200, model_json({source->name, source->modified_unix}));
               });
    router.Post("/v1/chat/completions",
                [&models](const httplib::Request& req, httplib::Response& res) {
                    handle_chat(models, req, res);
                });
    router.Post("/v1/completions", [&models](const httplib::Request& req, httplib::Response& res) {
        handle_completion(models, req, res);
    });
    register_embedding_routes(router, models);
}

}  // namespace cria::server
