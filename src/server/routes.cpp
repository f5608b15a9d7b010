#include "server/routes.h"

#include <cassert>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "server/embeddings.h"
#include "server/http.h"
#include "server/model_defaults.h"
#include "server/structured_output.h"

namespace cria::server {
namespace {

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
    std::function<bool(const ChoiceJob&, const ChoiceOutcome&)> on_finish;
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

// Queues the request's choices on the model before any byte of the response is written, so
// that a full queue is answered with 503 (retryable) instead of a broken stream. False after
// writing the error.
bool start_generation(PreparedRequest& request, httplib::Response& res) {
    std::vector<ChoiceSpec> choices;
    for (const ChoiceJob& job : request.jobs) choices.push_back({job.prompt, job.index});
    Expected<std::unique_ptr<PendingGeneration>> pending =
        request.model->start(request.prompts, choices, request.generation);
    if (pending.has_value()) {
        request.pending = std::move(pending).value();
        return true;
    }
    const Status& status = pending.status();
    if (status.code() == ErrorCode::kResourceExhausted ||
        status.code() == ErrorCode::kUnavailable) {
        res.set_header("Retry-After", "1");
        send_error(res, server_busy(status.message()));
    } else if (status.code() == ErrorCode::kInvalidArgument) {
        send_error(res, invalid_request(status.message()));
    } else {
        send_error(res, internal_fault(status.message()));
    }
    return false;
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
    model_events.on_finish = [&](const ChoiceOutcome& outcome) {
        request.usage.completion_tokens += outcome.completion_tokens;
        return events.on_finish ? events.on_finish(job_of(outcome.index), outcome) : true;
    };
    const Status status = request.pending->wait(model_events, is_cancelled);
    request.pending.reset();
    if (status.code() == ErrorCode::kCancelled) {
        CRIA_LOG_INFO("%s: the client closed the connection; generation stopped",
                      request.meta.id.c_str());
    }
    return status;
}

ResponseMeta make_meta(const char* id_prefix, const ServedModel& model, const std::string& name) {
    return ResponseMeta{new_response_id(id_prefix), static_cast<int64_t>(std::time(nullptr)), name,
                        model.fingerprint()};
}

// Leases the model (loading it when needed) and checks what depends on it; nullopt after
// writing the error.
std::optional<ModelLease> resolve_model(ModelManager& models, const std::string& name,
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

// The request body as JSON, to see which fields the client sent (the parser fills defaults).
nlohmann::json body_fields(const httplib::Request& req) {
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    return body.is_object() ? body : nlohmann::json::object();
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
            if (status.code() == ErrorCode::kCancelled) return false;  // drop the connection
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
std::optional<std::vector<ChoiceOutcome>> run_to_completion(const httplib::Request& req,
                                                            httplib::Response& res,
                                                            PreparedRequest& request) {
    if (!start_generation(request, res)) return std::nullopt;
    const ClientConnection connection(req);
    std::vector<ChoiceOutcome> outcomes(request.jobs.size());
    JobEvents events;
    events.on_finish = [&](const ChoiceJob& job, const ChoiceOutcome& outcome) {
        outcomes[static_cast<size_t>(&job - request.jobs.data())] = outcome;
        return true;
    };
    const Status status = run_jobs(request, events, [&] { return connection.disconnected(); });
    if (status.code() == ErrorCode::kCancelled) {
        // Nobody is listening; httplib still needs a response object.
        send_error(res, invalid_request("The client closed the connection."));
        return std::nullopt;
    }
    if (!status.is_ok()) {
        log_failure(request, status);
        send_error(res, internal_fault(status.message()));
        return std::nullopt;
    }
    return outcomes;
}

ChoiceResult to_choice(int index, ChoiceOutcome&& outcome) {
    return ChoiceResult{index, std::move(outcome.text), std::move(outcome.finish_reason),
                        std::move(outcome.logprobs)};
}

void handle_chat(ModelManager& models, const httplib::Request& req, httplib::Response& res) {
    ApiResult<ChatCompletionRequest> parsed = parse_chat_completion_request(req.body);
    if (!parsed.ok()) return send_error(res, parsed.error());
    ChatCompletionRequest& chat = parsed.value();
    std::optional<ModelLease> lease = resolve_model(models, chat.model, chat.generation, res);
    if (!lease) return;
    ServedModel* model = &lease->model();
    // The Modelfile's SYSTEM, MESSAGE and PARAMETER values for what the request left out.
    const store::ModelRecipe& recipe = lease->source().recipe;
    apply_recipe_messages(chat.messages, recipe);
    apply_model_parameters(chat.generation, recipe.parameters, body_fields(req));
    ApiResult<OutputPlan> planned = plan_chat_output(chat, model->chat_template_source());
    if (!planned.ok()) return send_error(res, planned.error());
    auto plan = std::make_shared<OutputPlan>(std::move(planned.value()));
    ApiResult<std::vector<int32_t>> prompt = model->chat_prompt(chat);
    if (!prompt.ok()) return send_error(res, prompt.error());
    if (auto error = check_context(*model, prompt.value().size(), "messages")) {
        return send_error(res, *error);
    }
    if (plan->split_reasoning) {
        // QwQ and the R1 distills open <think> in the prompt itself.
        const std::vector<int32_t>& ids = prompt.value();
        const size_t tail = std::min<size_t>(ids.size(), 16);
        plan->starts_in_reasoning = chat::prompt_opens_reasoning(model->detokenize(
            std::vector<int32_t>(ids.end() - static_cast<long>(tail), ids.end())));
    }
    // Reasoning and tool calls are carved out of the text; plain answers pass through as is.
    const bool shaped = plan->split_reasoning || plan->parse_tool_calls;

    auto request = std::make_shared<PreparedRequest>();
    request->lease = std::move(*lease);
    request->model = model;
    request->generation = chat.generation;
    request->generation.grammar = plan->grammar;
    request->usage.prompt_tokens = static_cast<int64_t>(prompt.value().size());
    request->prompts.push_back(std::move(prompt.value()));
    for (int i = 0; i < chat.generation.n; ++i) request->jobs.push_back({0, i});
    request->meta = make_meta("chatcmpl-", *model, chat.model);
    request->include_usage = chat.include_usage;
    const bool with_logprobs = chat.generation.sampling.logprobs;

    if (!chat.stream) {
        auto outcomes = run_to_completion(req, res, *request);
        if (!outcomes) return;
        std::vector<ChoiceResult> choices;
        std::vector<json> messages;  // shaped messages, in choice order
        for (size_t i = 0; i < outcomes->size(); ++i) {
            ChoiceOutcome& outcome = (*outcomes)[i];
            if (shaped) {
                ChatOutputShaper shaper(*plan);
                shaper.feed(outcome.text);
                shaper.finish(outcome.finish_reason);
                json message = json::object();
                shaper.fill_message(message);
                messages.push_back(std::move(message));
            }
            choices.push_back(to_choice(static_cast<int>(i), std::move(outcome)));
        }
        json body = chat_completion_json(request->meta, choices, with_logprobs, request->usage);
        for (size_t i = 0; i < messages.size(); ++i) {
            for (auto& [key, value] : messages[i].items()) {
                body["choices"][i]["message"][key] = value;
            }
        }
        return send_json(res, 200, body);
    }
    if (shaped) {
        stream_response(
            req, res, request, "chat.completion.chunk",
            [with_logprobs, plan](SseWriter& writer, PreparedRequest& r) {
                // One shaper per choice, by index (choices interleave).
                auto shapers =
                    std::make_shared<std::vector<std::unique_ptr<ChatOutputShaper>>>(r.jobs.size());
                auto shaper_of = [shapers, &r](const ChoiceJob& job) -> ChatOutputShaper& {
                    return *(*shapers)[static_cast<size_t>(&job - r.jobs.data())];
                };
                // Each delta travels in a content chunk whose delta is replaced.
                auto send_delta = [&writer, &r](int index, json delta,
                                                const std::vector<TokenLogprob>* logprobs) {
                    json chunk =
                        chat_chunk_content_json(r.meta, index, "", logprobs, r.include_usage);
                    chunk["choices"][0]["delta"] = std::move(delta);
                    return writer.send(chunk);
                };
                JobEvents events;
                events.on_start = [&writer, &r, plan, shapers](const ChoiceJob& job) {
                    (*shapers)[static_cast<size_t>(&job - r.jobs.data())] =
                        std::make_unique<ChatOutputShaper>(*plan);
                    return writer.send(chat_chunk_role_json(r.meta, job.index, r.include_usage));
                };
                events.on_piece = [send_delta, shaper_of, with_logprobs](
                                      const ChoiceJob& job, const std::string& text,
                                      std::vector<TokenLogprob>&& logprobs) {
                    std::vector<json> deltas = shaper_of(job).feed(text);
                    if (deltas.empty() && with_logprobs && !logprobs.empty()) {
                        deltas.push_back({{"content", ""}});
                    }
                    for (size_t i = 0; i < deltas.size(); ++i) {
                        const bool first = i == 0 && with_logprobs;
                        if (!send_delta(job.index, std::move(deltas[i]),
                                        first ? &logprobs : nullptr)) {
                            return false;
                        }
                    }
                    return true;
                };
                events.on_finish = [&writer, &r, send_delta, shaper_of](
                                       const ChoiceJob& job, const ChoiceOutcome& outcome) {
                    std::string finish_reason = outcome.finish_reason;
                    for (json& delta : shaper_of(job).finish(finish_reason)) {
                        if (!send_delta(job.index, std::move(delta), nullptr)) return false;
                    }
                    return writer.send(
                        chat_chunk_finish_json(r.meta, job.index, finish_reason, r.include_usage));
                };
                return events;
            });
        return;
    }
    stream_response(
        req, res, request, "chat.completion.chunk",
        [with_logprobs](SseWriter& writer, PreparedRequest& r) {
            JobEvents events;
            events.on_start = [&writer, &r](const ChoiceJob& job) {
                return writer.send(chat_chunk_role_json(r.meta, job.index, r.include_usage));
            };
            events.on_piece = [&writer, &r, with_logprobs](const ChoiceJob& job,
                                                           const std::string& text,
                                                           std::vector<TokenLogprob>&& logprobs) {
                if (text.empty() && logprobs.empty()) return true;
                return writer.send(chat_chunk_content_json(
                    r.meta, job.index, text, with_logprobs ? &logprobs : nullptr, r.include_usage));
            };
            events.on_finish = [&writer, &r](const ChoiceJob& job, const ChoiceOutcome& outcome) {
                return writer.send(chat_chunk_finish_json(r.meta, job.index, outcome.finish_reason,
                                                          r.include_usage));
            };
            return events;
        });
}

void handle_completion(ModelManager& models, const httplib::Request& req, httplib::Response& res) {
    ApiResult<CompletionRequest> parsed = parse_completion_request(req.body);
    if (!parsed.ok()) return send_error(res, parsed.error());
    CompletionRequest& completion = parsed.value();
    std::optional<ModelLease> lease =
        resolve_model(models, completion.model, completion.generation, res);
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
            ChoiceOutcome& outcome = (*outcomes)[i];
            outcome.text.insert(0, echo);
            choices.push_back(to_choice(request->jobs[i].index, std::move(outcome)));
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
            events.on_finish = [&writer, &r](const ChoiceJob& job, const ChoiceOutcome& outcome) {
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

void register_routes(httplib::Server& router, ModelManager& models) {
    // Health: GET and HEAD (httplib answers HEAD from the GET route without a body).
    router.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("cria is running", "text/plain");
    });
    router.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, json{{"version", CRIA_VERSION}});
    });
    router.Get("/v1/models", [&models](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, model_list_json(model_cards(models)));
    });
    router.Get(R"(/v1/models/(.+))",
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
