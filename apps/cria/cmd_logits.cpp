// `cria logits --model PATH --tokens "ID ID ..." --output FILE [--incremental]`: the logits at
// every position of a token sequence, as raw little-endian float32 [n_tokens][n_vocab], decoded
// as one batch from an empty cache or, with --incremental, one token at a time. Used to compare
// the engine with reference implementations.
#include <charconv>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "core/status.h"
#include "engine/engine.h"

namespace cria::app {
namespace {

struct LogitsArgs {
    std::string model_path;
    std::string tokens;
    std::string output;
    bool incremental = false;
    int threads = 0;
    std::string kv_type = "f16";
};

Expected<std::vector<int32_t>> parse_tokens(const std::string& text) {
    std::vector<int32_t> tokens;
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
        if (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') {
            ++p;
            continue;
        }
        int32_t id = 0;
        const auto [next, ec] = std::from_chars(p, end, id);
        if (ec != std::errc() || id < 0) {
            return Status(invalid_argument("--tokens: '" +
                                           std::string(p, std::min<size_t>(16, end - p)) +
                                           "' is not a token id"));
        }
        tokens.push_back(id);
        p = next;
    }
    if (tokens.empty()) return Status(invalid_argument("--tokens: no token ids given"));
    return tokens;
}

Expected<gguf::TensorType> parse_kv_type(const std::string& name) {
    if (name == "f16") return gguf::TensorType::kF16;
    if (name == "f32") return gguf::TensorType::kF32;
    if (name == "q8_0") return gguf::TensorType::kQ8_0;
    return Status(invalid_argument("--kv-type must be f16, f32 or q8_0, not '" + name + "'"));
}

Status run_logits(const LogitsArgs& args) {
    CRIA_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, parse_tokens(args.tokens));
    CRIA_ASSIGN_OR_RETURN(gguf::TensorType kv_type, parse_kv_type(args.kv_type));
    engine::EngineOptions options;
    options.n_threads = args.threads;
    options.context_length = static_cast<int64_t>(tokens.size());
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<engine::Engine> engine,
                          engine::Engine::load(args.model_path, options));
    engine::SequenceOptions sequence_options;
    sequence_options.kv_type = kv_type;
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<engine::Sequence> sequence,
                          engine->create_sequence(sequence_options));

    const auto n_vocab = static_cast<size_t>(engine->n_vocab());
    std::vector<float> all;
    if (args.incremental) {
        all.reserve(tokens.size() * n_vocab);
        std::vector<float> logits;
        for (int32_t token : tokens) {
            CRIA_RETURN_IF_ERROR(engine->decode(*sequence, std::span<const int32_t>(&token, 1),
                                                engine::LogitsMode::kLast, logits));
            all.insert(all.end(), logits.begin(), logits.end());
        }
    } else {
        CRIA_RETURN_IF_ERROR(engine->decode(*sequence, tokens, engine::LogitsMode::kAll, all));
    }

    std::ofstream out(args.output, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(all.data()),
              static_cast<std::streamsize>(all.size() * sizeof(float)));
    out.close();
    if (!out) return io_error("cannot write " + args.output);
    return Status::ok();
}

}  // namespace

void add_logits_command(CLI::App& root) {
    auto args = std::make_shared<LogitsArgs>();
    CLI::App* cmd = root.add_subcommand(
        "logits", "Write the logits of every position of a token sequence (raw float32)");
    cmd->add_option("--model", args->model_path, "GGUF model file")->required();
    cmd->add_option("--tokens", args->tokens, "Token ids separated by spaces")->required();
    cmd->add_option("--output", args->output, "Output file: float32 [n_tokens][n_vocab]")
        ->required();
    cmd->add_flag("--incremental", args->incremental, "Decode one token at a time");
    cmd->add_option("-t,--threads", args->threads, "Threads (default: all)");
    cmd->add_option("--kv-type", args->kv_type, "Key/value cache type: f16, f32 or q8_0");
    cmd->callback([args] {
        const Status status = run_logits(*args);
        if (!status.is_ok()) {
            std::fprintf(stderr, "cria logits: %s\n", status.message().c_str());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace cria::app
