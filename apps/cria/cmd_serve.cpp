// `cria serve [--model NAME=PATH.gguf]...`: the OpenAI- and Ollama-compatible HTTP server on
// CRIA_HOST (default 127.0.0.1:11434). It serves the --model files and every model of the store,
// loaded on first use (server/model_manager.h); without --model, also cria's random-weight demo
// model. Browsers opening / get the chat page (server/web_page.h).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "core/log.h"
#include "engine/scheduler.h"
#include "model/demo_model.h"
#include "server/access.h"
#include "server/generation.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/ollama_api.h"
#include "server/responses.h"
#include "server/routes.h"
#include "server/web_page.h"
#include "store/cria_home.h"
#include "store/model_options.h"
#include "store/model_store.h"
#include "store/response_store.h"

namespace cria::app {
namespace {

struct ServeFlags {
    std::vector<std::string> models;
    int64_t context_length = 4096;
    int threads = 0;
    uint64_t max_body_bytes = 16ull << 20;
    int http_threads = 128;
    int read_timeout_s = 30;
    uint64_t max_blob_bytes = server::kDefaultMaxBlobBytes;
};

// "NAME=PATH", or a bare PATH named after its file (without .gguf).
std::pair<std::string, std::string> split_model_flag(const std::string& flag) {
    const size_t eq = flag.find('=');
    if (eq != std::string::npos && eq > 0) return {flag.substr(0, eq), flag.substr(eq + 1)};
    return {std::filesystem::path(flag).stem().string(), flag};
}

int fail(const std::string& message) {
    std::fprintf(stderr, "cria serve: %s\n", message.c_str());
    return 1;
}

// A whole number in [low, high] from the environment variable `name`, when it is set.
Status read_bounded_integer(const char* name, long low, long high, int& out) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return Status::ok();
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*end != '\0' || value < low || value > high) {
        return invalid_argument(std::string(name) + " must be a number from " +
                                std::to_string(low) + " to " + std::to_string(high));
    }
    out = static_cast<int>(value);
    return Status::ok();
}

// CRIA_KEEP_ALIVE (a duration or seconds), CRIA_MAX_LOADED_MODELS, and per model the sequences
// decoded together (CRIA_NUM_PARALLEL) and the requests allowed to wait for one (CRIA_MAX_QUEUE).
Status read_manager_environment(server::ModelManagerOptions& options) {
    if (const char* keep = std::getenv("CRIA_KEEP_ALIVE"); keep != nullptr && *keep != '\0') {
        Expected<server::KeepAlive> parsed = server::parse_keep_alive(nlohmann::json(keep));
        if (!parsed.has_value())
            return invalid_argument("CRIA_KEEP_ALIVE: " + parsed.status().message());
        options.default_keep_alive = *parsed;
    }
    CRIA_RETURN_IF_ERROR(
        read_bounded_integer("CRIA_MAX_LOADED_MODELS", 1, 1024, options.max_loaded_models));
    CRIA_RETURN_IF_ERROR(
        read_bounded_integer("CRIA_NUM_PARALLEL", 1, 512, options.serve.num_parallel));
    return read_bounded_integer("CRIA_MAX_QUEUE", 0, 1 << 20, options.serve.max_queue);
}

// Stored Responses API objects: $CRIA_HOME/responses.db, keeping at most
// CRIA_RESPONSES_MAX_COUNT responses (default 10000) for CRIA_RESPONSES_MAX_AGE_DAYS days
// (default 30), the oldest dropped first.
Expected<std::unique_ptr<store::ResponseStore>> open_response_store() {
    int max_count = 10000;
    int max_age_days = 30;
    CRIA_RETURN_IF_ERROR(read_bounded_integer("CRIA_RESPONSES_MAX_COUNT", 1, 100000000, max_count));
    CRIA_RETURN_IF_ERROR(
        read_bounded_integer("CRIA_RESPONSES_MAX_AGE_DAYS", 1, 36500, max_age_days));
    store::ResponseRetention retention;
    retention.max_count = max_count;
    retention.max_age_seconds = int64_t{max_age_days} * 24 * 3600;
    return store::ResponseStore::open(store::cria_home() / "responses.db", retention);
}

int serve(const ServeFlags& flags) {
    const char* host_env = std::getenv("CRIA_HOST");
    Expected<server::HostPort> address = server::parse_host_port(host_env ? host_env : "");
    if (!address.has_value()) return fail("CRIA_HOST: " + address.status().message());
    // CRIA_API_KEY, CRIA_ORIGINS, CRIA_ALLOWED_HOSTS (see server/access.h).
    Expected<server::AccessPolicy> access = server::AccessPolicy::from_environment(
        server::AccessPolicy::process_environment(), address->host);
    if (!access.has_value()) return fail(access.status().message());
    // Shared with everything that serves requests; they outlive the listener.
    server::Metrics metrics;
    server::HealthState health;

    server::ModelManagerOptions manager_options;
    manager_options.serve.context_length = flags.context_length;
    manager_options.health = &health;
    manager_options.serve.threads = flags.threads;
    if (Status read = read_manager_environment(manager_options); !read.is_ok()) {
        return fail(read.message());
    }
    manager_options.serve.on_request_done = [&metrics](const engine::RequestReport& report) {
        metrics.add_prompt_tokens(static_cast<uint64_t>(report.prompt_tokens));
        metrics.add_generated_tokens(static_cast<uint64_t>(report.generated_tokens));
        if (report.time_to_first_token_seconds >= 0.0) {
            metrics.observe_time_to_first_token(report.time_to_first_token_seconds);
        }
        if (report.generated_tokens > 1 && report.generation_seconds > 0.0) {
            metrics.observe_generation_rate(static_cast<double>(report.generated_tokens - 1) /
                                            report.generation_seconds);
        }
    };
    std::vector<std::pair<std::string, std::string>> files;
    for (const std::string& flag : flags.models) files.push_back(split_model_flag(flag));
    Expected<store::ModelStore> model_store = store::ModelStore::open_default();
    if (!model_store.has_value()) return fail("model store: " + model_store.status().message());
    if (files.empty()) {
        Expected<std::string> path = model::ensure_default_model(store::demo_model_dir());
        if (!path.has_value())
            return fail("cannot prepare the demo model: " + path.status().message());
        std::fprintf(stderr,
                     "cria serve: without --model, '%s' is served beside the store's models: a "
                     "small RANDOM-WEIGHT DEMO model generated by cria (%s). Its answers are "
                     "meaningless text: it shows the API working, not a language model.\n",
                     model::kDefaultModelName, path->c_str());
        files.emplace_back(model::kDefaultModelName, *path);
    }
    // Models load on first use; the --model files (or the demo) are loaded now so that a
    // broken file fails at start.
    server::ModelManager models(manager_options, &*model_store, files);
    for (const auto& [name, path] : files) {
        Expected<server::ModelLease> lease = models.acquire(name);
        if (!lease.has_value()) return fail(path + ": " + lease.status().message());
        std::fprintf(stderr, "cria serve: model '%s' from %s (context %lld tokens)\n", name.c_str(),
                     path.c_str(), static_cast<long long>(lease->model().context_length()));
    }

    Expected<std::unique_ptr<store::ResponseStore>> responses = open_response_store();
    if (!responses.has_value()) return fail("response store: " + responses.status().message());

    server::HttpOptions http_options;
    http_options.max_body_bytes = flags.max_body_bytes;
    http_options.max_upload_bytes = flags.max_blob_bytes;
    http_options.worker_threads = flags.http_threads;
    http_options.read_timeout_s = flags.read_timeout_s;
    http_options.access = std::move(access).value();
    http_options.metrics = &metrics;
    metrics.set_models_loaded_source(
        [&models] { return static_cast<int64_t>(models.loaded().size()); });
    metrics.set_load_source([&models] {
        server::Metrics::LoadGauges gauges;
        for (const server::LoadedModelInfo& info : models.loaded()) {
            gauges.queue_depth += info.queued_requests;
            gauges.running += info.running_choices;
        }
        return gauges;
    });
    server::HttpServer http(http_options);
    server::register_routes(http.router(), models);
    server::register_responses_routes(http.router(), models, **responses);
    server::register_service_routes(http.router(), metrics, health);
    server::register_web_page_routes(http.router());
    server::register_ollama_routes(http.router(), models, *model_store,
                                   store::RegistryOptions::from_environment(),
                                   flags.max_blob_bytes);
    Expected<int> port = http.bind(address->host, address->port);
    if (!port.has_value()) return fail(port.status().message());
    for (const std::string& warning :
         server::exposure_warnings(http_options.access, address->host, *port)) {
        CRIA_LOG_WARN("%s", warning.c_str());
    }

    // SIGINT/SIGTERM stop the listener from a thread that waits for them, so no handler runs
    // on an arbitrary thread. Blocked here, before any other thread starts, so all inherit it.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    // A client that hangs up makes writes fail with EPIPE instead of killing the process.
    signal(SIGPIPE, SIG_IGN);
    std::atomic<bool> finished{false};
    std::thread waiter([&http, &finished, stop_signals] {
        int signal_number = 0;
        sigwait(&stop_signals, &signal_number);
        if (!finished) {
            std::fprintf(stderr, "cria serve: stopping\n");
            http.stop();
        }
    });

    const std::string shown_host =
        address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host;
    std::printf("cria serve: listening on http://%s:%d\n", shown_host.c_str(), *port);
    std::fflush(stdout);
    Status served = http.serve();
    // Wake the waiter, which is still waiting when the listener stopped on its own.
    finished = true;
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    if (!served.is_ok()) return fail(served.message());
    return 0;
}

}  // namespace

void add_serve_command(CLI::App& root) {
    auto* cmd = root.add_subcommand(
        "serve", "Serve models over an OpenAI-compatible HTTP API on CRIA_HOST (127.0.0.1:11434)");
    auto flags = std::make_shared<ServeFlags>();
    cmd->add_option("--model,-m", flags->models,
                    "A model to serve, as NAME=PATH.gguf (repeatable); the request's \"model\" "
                    "picks one. Without any, cria serves its random-weight demo model.");
    cmd->add_option("--ctx-size,-c", flags->context_length,
                    "Context length in tokens (capped by each model's own)")
        ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
    cmd->add_option("--threads,-t", flags->threads, "Compute threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->add_option("--max-body-bytes", flags->max_body_bytes,
                    "Largest request body accepted; larger ones get HTTP 413")
        ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 32));
    cmd->add_option("--http-threads", flags->http_threads,
                    "Connections served at once; more wait for a free thread. Generation has its "
                    "own limits: CRIA_NUM_PARALLEL sequences per model, CRIA_MAX_QUEUE waiting "
                    "requests")
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--max-blob-bytes", flags->max_blob_bytes,
                    "Largest model file accepted by POST /api/blobs (also bounded by the "
                    "disk's free space); other requests keep --max-body-bytes")
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 50));
    cmd->add_option("--read-timeout", flags->read_timeout_s,
                    "Seconds a client may stay silent while sending a request before it is cut "
                    "off")
        ->check(CLI::Range(1, 3600));
    cmd->callback([flags] {
        const int code = serve(*flags);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
