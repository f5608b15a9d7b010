// `cria run MODEL [PROMPT]`: with a prompt, streams the answer to stdout and exits; without, a
// chat that keeps the conversation (see run_session.h). MODEL is a store model, an alias or tag
// of one, a registry name to pull, a GGUF path, or cria-demo.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "commands.h"
#include "line_editor.h"
#include "model/demo_model.h"
#include "model_commands_support.h"
#include "run_session.h"
#include "server/model_manager.h"
#include "store/cria_home.h"
#include "store/model_options.h"
#include "store/model_store.h"

namespace cria::app {
namespace {

struct RunFlags {
    std::string model;
    std::string prompt;
    std::optional<double> temperature;
    std::optional<int64_t> seed;
    std::optional<int64_t> max_tokens;
    std::optional<int64_t> context_length;
    int threads = 0;
    bool verbose = false;
};

// The command line's settings as Ollama options, which override the Modelfile's.
Expected<nlohmann::json> flag_options(const RunFlags& flags) {
    nlohmann::json options = nlohmann::json::object();
    if (flags.temperature) options["temperature"] = *flags.temperature;
    if (flags.seed) options["seed"] = *flags.seed;
    if (flags.max_tokens) options["num_predict"] = *flags.max_tokens;
    if (flags.context_length) options["num_ctx"] = *flags.context_length;
    return store::normalize_options(options);
}

// Ctrl-C as an event rather than a signal: SIGINT is blocked in every thread (the mask is set
// before any starts) and this thread hands each one to the session.
class InterruptWatcher {
  public:
    explicit InterruptWatcher(RunSession& session) {
        thread_ = std::thread([this, &session] {
            sigset_t signals;
            sigemptyset(&signals);
            sigaddset(&signals, SIGINT);
            for (;;) {
                int received = 0;
                if (sigwait(&signals, &received) != 0) continue;
                if (stopping_) return;
                session.interrupt();
            }
        });
    }
    ~InterruptWatcher() {
        stopping_ = true;
        pthread_kill(thread_.native_handle(), SIGINT);
        thread_.join();
    }
    InterruptWatcher(const InterruptWatcher&) = delete;
    InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  private:
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

int run(const RunFlags& flags) {
    // A chat's terminal shows the server's log lines (model loads, trimmed prompts) only when
    // CRIA_LOG asks for them; the session says what matters itself. Set before anything logs.
    setenv("CRIA_LOG", "error", /*overwrite=*/0);
    Expected<nlohmann::json> options = flag_options(flags);
    if (!options.has_value()) return fail("run", options.status().message());
    const bool interactive = flags.prompt.empty() && isatty(STDIN_FILENO) != 0;
    if (interactive) {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    }

    std::vector<std::pair<std::string, std::string>> files;
    if (flags.model == model::kDefaultModelName && !names_a_file(flags.model)) {
        Expected<std::string> made = model::ensure_default_model(store::demo_model_dir());
        if (!made.has_value())
            return fail("run", "cannot prepare the demo model: " + made.status().message());
        std::fprintf(stderr,
                     "cria run: '%s' is a small RANDOM-WEIGHT DEMO model (%s): its "
                     "answers are meaningless text.\n",
                     model::kDefaultModelName, made->c_str());
        files.emplace_back(model::kDefaultModelName, *made);
    } else if (names_a_file(flags.model)) {
        files.emplace_back(flags.model, flags.model);
    }
    Expected<store::ModelStore> model_store = store::ModelStore::open_default();
    if (!model_store.has_value())
        return fail("run", "model store: " + model_store.status().message());
    server::ModelManagerOptions manager_options;
    manager_options.serve.threads = flags.threads;
    manager_options.max_loaded_models = 1;
    manager_options.default_keep_alive = server::KeepAlive(-1);  // for as long as the session
    ReportBox reports;
    manager_options.serve.on_request_done = [&reports](const engine::RequestReport& report) {
        reports.put(report);
    };
    server::ModelManager models(manager_options, &*model_store, files);

    RunSettings settings;
    settings.options = std::move(options).value();
    settings.verbose = flags.verbose;
    RunSession session(models, *model_store, reports, std::move(settings));
    if (!session.open(flags.model)) return 1;
    if (!flags.prompt.empty()) return session.answer(flags.prompt) ? 0 : 1;
    if (!interactive) {
        session.converse(nullptr, std::cin);
        return 0;
    }
    std::printf("Type a message, or /? for help; /bye or Ctrl-D leaves.\n");
    LineEditor editor(store::cria_home() / "history");
    {
        InterruptWatcher watcher(session);
        session.converse(&editor, std::cin);
    }
    editor.save_history();
    return 0;
}

}  // namespace

void add_run_command(CLI::App& root) {
    auto* cmd =
        root.add_subcommand("run", "Chat with a model: answer PROMPT, or chat interactively");
    auto flags = std::make_shared<RunFlags>();
    cmd->add_option("model", flags->model,
                    "A model of the store (or an alias, or a registry name to pull), a .gguf "
                    "path, or cria-demo for the random-weight demo model")
        ->required();
    cmd->add_option("prompt", flags->prompt, "Answer this and exit (else: interactive chat)");
    cmd->add_option("--temperature", flags->temperature, "Sampling temperature (0: greedy)")
        ->check(CLI::Range(0.0, 2.0));
    cmd->add_option("--seed", flags->seed, "Random seed, for repeatable answers");
    cmd->add_option("--max-tokens", flags->max_tokens, "Longest answer in tokens")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
    cmd->add_option("--ctx-size,-c", flags->context_length,
                    "Context length in tokens (default: the Modelfile's num_ctx, else 4096)")
        ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
    cmd->add_option("--threads,-t", flags->threads, "Compute threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--verbose,-v", flags->verbose,
                  "Print timings after each answer (durations, token counts and rates)");
    cmd->callback([flags] {
        const int code = run(*flags);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
