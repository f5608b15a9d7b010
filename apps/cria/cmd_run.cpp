// `cria run MODEL [PROMPT]`: with a prompt, streams the answer to stdout and exits; without, a
// chat in the terminal that keeps the conversation's history. MODEL is a GGUF path.
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "model/demo_model.h"
#include "server/generation.h"
#include "store/cria_home.h"

namespace cria::app {
namespace {

struct RunFlags {
    std::string model;
    std::string prompt;
    float temperature = 0.8f;
    std::optional<int64_t> seed;
    std::optional<int64_t> max_tokens;
    int64_t context_length = 4096;
    int threads = 0;
    bool verbose = false;
};

// Streams one assistant answer for `messages` to stdout; returns its text, or nullopt on error.
std::optional<std::string> answer(server::ServedModel& model,
                                  const nlohmann::ordered_json& messages, const RunFlags& flags) {
    server::ChatCompletionRequest request;
    request.model = model.name();
    request.messages = messages;
    request.generation.sampling.temperature = flags.temperature;
    request.generation.sampling.top_p = 0.95f;
    if (flags.seed) request.generation.sampling.seed = static_cast<uint64_t>(*flags.seed);
    request.generation.max_tokens = flags.max_tokens;
    server::ApiResult<std::vector<int32_t>> prompt = model.chat_prompt(request);
    if (!prompt.ok()) {
        std::fprintf(stderr, "cria run: %s\n", prompt.error().message.c_str());
        return std::nullopt;
    }
    if (static_cast<int64_t>(prompt.value().size()) >= model.context_length()) {
        std::fprintf(stderr,
                     "cria run: the conversation no longer fits the context of %lld tokens\n",
                     static_cast<long long>(model.context_length()));
        return std::nullopt;
    }
    server::GenerationEvents events;
    events.on_piece = [](int, const std::string& text, std::vector<server::TokenLogprob>&&) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        return true;
    };
    std::optional<server::ChoiceResult> outcome;
    events.on_finish = [&outcome](const server::ChoiceResult& finished) {
        outcome = finished;
        return true;
    };
    const Status status =
        model.generate({prompt.value()}, {{0, 0}}, request.generation, events, nullptr);
    if (!status.is_ok() || !outcome) {
        std::fprintf(stderr, "\ncria run: %s\n", status.message().c_str());
        return std::nullopt;
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (flags.verbose) {
        std::fprintf(stderr, "[prompt %zu tokens, answer %lld tokens, %s]\n", prompt.value().size(),
                     static_cast<long long>(outcome->completion_tokens),
                     outcome->finish_reason.c_str());
    }
    return outcome->text;
}

int run(const RunFlags& flags) {
    std::string path = flags.model;
    std::error_code ec;
    if (path == model::kDefaultModelName && !std::filesystem::exists(path, ec)) {
        Expected<std::string> made = model::ensure_default_model(store::demo_model_dir());
        if (!made.has_value()) {
            std::fprintf(stderr, "cria run: cannot prepare the demo model: %s\n",
                         made.status().message().c_str());
            return 1;
        }
        std::fprintf(stderr,
                     "cria run: '%s' is a small RANDOM-WEIGHT DEMO model (%s): its "
                     "answers are meaningless text.\n",
                     model::kDefaultModelName, made->c_str());
        path = *made;
    }
    server::ServeOptions options;
    options.context_length = flags.context_length;
    options.threads = flags.threads;
    Expected<std::unique_ptr<server::ServedModel>> loaded =
        server::ServedModel::load(flags.model, path, options);
    if (!loaded.has_value()) {
        std::fprintf(stderr, "cria run: %s: %s\n", flags.model.c_str(),
                     loaded.status().message().c_str());
        return 1;
    }
    server::ServedModel& model = **loaded;
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!flags.prompt.empty()) {
        messages.push_back({{"role", "user"}, {"content", flags.prompt}});
        return answer(model, messages, flags) ? 0 : 1;
    }

    const bool interactive = isatty(STDIN_FILENO) != 0;
    if (interactive) std::printf("Type a message; /clear forgets the conversation, /bye quits.\n");
    std::string line;
    for (;;) {
        std::printf(">>> ");
        std::fflush(stdout);
        if (!std::getline(std::cin, line)) break;
        if (line == "/bye") break;
        if (line == "/clear") {
            messages = nlohmann::ordered_json::array();
            std::printf("(conversation cleared)\n");
            continue;
        }
        if (line.empty()) continue;
        messages.push_back({{"role", "user"}, {"content", line}});
        std::optional<std::string> reply = answer(model, messages, flags);
        if (!reply) {
            messages.erase(messages.size() - 1);  // keep the history usable
            continue;
        }
        messages.push_back({{"role", "assistant"}, {"content", *reply}});
    }
    if (!interactive) std::printf("\n");
    return 0;
}

}  // namespace

void add_run_command(CLI::App& root) {
    auto* cmd =
        root.add_subcommand("run", "Chat with a model: answer PROMPT, or chat interactively");
    auto flags = std::make_shared<RunFlags>();
    cmd->add_option("model", flags->model,
                    "Path to a .gguf model, or cria-demo for the random-weight demo model")
        ->required();
    cmd->add_option("prompt", flags->prompt, "Answer this and exit (else: interactive chat)");
    cmd->add_option("--temperature", flags->temperature, "Sampling temperature (0: greedy)")
        ->check(CLI::Range(0.0f, 2.0f));
    cmd->add_option("--seed", flags->seed, "Random seed, for repeatable answers");
    cmd->add_option("--max-tokens", flags->max_tokens, "Longest answer in tokens")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
    cmd->add_option("--ctx-size,-c", flags->context_length, "Context length in tokens")
        ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
    cmd->add_option("--threads,-t", flags->threads, "Compute threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--verbose,-v", flags->verbose, "Print token counts after each answer");
    cmd->callback([flags] {
        const int code = run(*flags);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
