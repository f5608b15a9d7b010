// `cria bench --model PATH -p 512 -n 128 -t 2`: prompt processing and generation speed (median of
// several runs), the model's size, the machine's measured memory read bandwidth, and how close
// generation comes to being limited by that bandwidth: tokens/s x bytes read per token /
// bandwidth. Generation of a dense model reads every weight once per token, so that ratio is
// the fraction of the hardware's limit that the engine reaches.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bandwidth_probe.h"
#include "commands.h"
#include "core/cpu_features.h"
#include "core/large_buffer.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace cria::app {
namespace {

struct BenchArgs {
    std::string model_path;
    int64_t n_prompt = 512;
    int64_t n_gen = 128;
    int64_t depth = 0;  // tokens already in the context when generation is timed
    int threads = 0;
    int repetitions = 5;
    std::vector<int> parallel;  // also time generation of this many sequences decoded together
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// Tokens per second over all sequences when `n_sequences` generate together, one batched forward
// pass per step (as the server's scheduler runs them), median of `repetitions` runs.
Expected<double> parallel_generation_rate(engine::Engine& engine, int n_sequences, int64_t n_gen,
                                          int repetitions, std::mt19937& rng) {
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(engine.n_vocab() - 1));
    std::vector<std::unique_ptr<engine::Sequence>> sequences;
    for (int i = 0; i < n_sequences; ++i) {
        CRIA_ASSIGN_OR_RETURN(std::unique_ptr<engine::Sequence> sequence, engine.create_sequence());
        sequences.push_back(std::move(sequence));
    }
    const auto n_vocab = static_cast<size_t>(engine.n_vocab());
    std::vector<float> logits(static_cast<size_t>(n_sequences) *
                              n_vocab);  // [n_sequences][n_vocab]
    std::vector<int32_t> tokens(static_cast<size_t>(n_sequences));
    std::vector<double> rates;
    for (int rep = 0; rep < repetitions; ++rep) {
        for (auto& sequence : sequences) sequence->reset();
        const Clock::time_point start = Clock::now();
        for (int64_t i = 0; i < n_gen; ++i) {
            std::vector<engine::SequenceStep> steps;
            for (int s = 0; s < n_sequences; ++s) {
                tokens[static_cast<size_t>(s)] = pick(rng);
                steps.push_back({sequences[static_cast<size_t>(s)].get(),
                                 std::span<const int32_t>(&tokens[static_cast<size_t>(s)], 1),
                                 engine::LogitsMode::kLast,
                                 logits.data() + static_cast<size_t>(s) * n_vocab});
            }
            CRIA_RETURN_IF_ERROR(engine.decode_batch(steps));
        }
        rates.push_back(static_cast<double>(n_gen * n_sequences) / seconds_since(start));
    }
    return median(rates);
}

Status run_bench(const BenchArgs& args) {
    if (args.n_prompt < 0 || args.n_gen < 0 || args.depth < 0 || args.n_prompt + args.n_gen == 0) {
        return invalid_argument("-p, -n and -d must not be negative, and -p, -n not both zero");
    }
    if (args.repetitions < 1 || args.repetitions > 100) {
        return invalid_argument("-r must be in [1, 100]");
    }
    engine::EngineOptions options;
    options.n_threads = args.threads;
    options.context_length = std::max<int64_t>(args.n_prompt, args.depth + args.n_gen) + 1;
    for (int n : args.parallel) {
        if (n < 1 || n > 256) return invalid_argument("--parallel must be in [1, 256]");
    }
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<engine::Engine> engine,
                          engine::Engine::load(args.model_path, options));
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<engine::Sequence> sequence, engine->create_sequence());
    const model::Model& model = engine->model();

    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(engine->n_vocab() - 1));
    std::vector<int32_t> prompt(static_cast<size_t>(args.n_prompt));
    for (int32_t& t : prompt) t = pick(rng);
    std::vector<int32_t> context(static_cast<size_t>(args.depth));
    for (int32_t& t : context) t = pick(rng);
    std::vector<float> logits;

    // Warm-up: touches every weight once so that page faults are not timed.
    const int32_t first = pick(rng);
    CRIA_RETURN_IF_ERROR(engine->decode(*sequence, std::span<const int32_t>(&first, 1),
                                        engine::LogitsMode::kLast, logits));

    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<BandwidthProbe> probe_owner,
                          BandwidthProbe::create(engine->n_threads()));
    BandwidthProbe& probe = *probe_owner;
    std::vector<double> pp_rates, tg_rates, bandwidths, efficiencies;
    const double per_token = static_cast<double>(model.bytes_per_token());
    for (int rep = 0; rep < args.repetitions; ++rep) {
        if (args.n_prompt > 0) {
            sequence->reset();
            const Clock::time_point start = Clock::now();
            CRIA_RETURN_IF_ERROR(
                engine->decode(*sequence, prompt, engine::LogitsMode::kLast, logits));
            pp_rates.push_back(static_cast<double>(args.n_prompt) / seconds_since(start));
        }
        if (args.n_gen > 0) {
            sequence->reset();
            if (args.depth > 0) {
                CRIA_RETURN_IF_ERROR(
                    engine->decode(*sequence, context, engine::LogitsMode::kNone, logits));
            }
            int32_t token = pick(rng);
            const double bandwidth_before = probe.measure(3);
            const Clock::time_point start = Clock::now();
            for (int64_t i = 0; i < args.n_gen; ++i) {
                CRIA_RETURN_IF_ERROR(engine->decode(*sequence, std::span<const int32_t>(&token, 1),
                                                    engine::LogitsMode::kLast, logits));
                // Random next tokens: sampling is not part of what is measured.
                token = pick(rng);
            }
            const double rate = static_cast<double>(args.n_gen) / seconds_since(start);
            tg_rates.push_back(rate);
            bandwidths.push_back(std::max(bandwidth_before, probe.measure(3)));
            efficiencies.push_back(rate * per_token / bandwidths.back());
        }
    }

    const std::string file_type = model.file().find("general.file_type") != nullptr
                                      ? std::string(gguf::file_type_name(static_cast<uint32_t>(
                                            model.file().get_u64("general.file_type", 0))))
                                      : "unknown";
    std::printf("model      %s\n", args.model_path.c_str());
    std::printf("           %s, %s, %.1f MiB of tensors, %.1f MiB read per generated token\n",
                model.hparams().arch.c_str(), file_type.c_str(),
                static_cast<double>(model.tensor_bytes()) / (1 << 20), per_token / (1 << 20));
    std::printf("threads    %d (matmul isa %s)\n", engine->n_threads(),
                isa_name(kernels::matmul_isa()));
    if (!pp_rates.empty()) {
        std::printf("pp%-6lld  %8.2f tokens/s (median of %d)\n",
                    static_cast<long long>(args.n_prompt), median(pp_rates), args.repetitions);
    }
    if (!tg_rates.empty()) {
        const double tg = median(tg_rates);
        std::printf("tg%-6lld  %8.2f tokens/s (median of %d)", static_cast<long long>(args.n_gen),
                    tg, args.repetitions);
        if (args.depth > 0) std::printf(" after %lld tokens", static_cast<long long>(args.depth));
        std::printf("\n");
        const double bandwidth = median(bandwidths);
        std::printf(
            "bandwidth  %8.2f GB/s measured read bandwidth (%d threads; median over runs of the "
            "higher probe before or after each, %.2f to %.2f)\n",
            bandwidth / 1e9, probe.threads(),
            *std::min_element(bandwidths.begin(), bandwidths.end()) / 1e9,
            *std::max_element(bandwidths.begin(), bandwidths.end()) / 1e9);
        std::printf(
            "efficiency %7.1f %% of bandwidth in generation (median over runs of tokens/s x "
            "%.1f MB / that run's bandwidth)\n",
            100.0 * median(efficiencies), per_token / 1e6);
    }
    for (int n : args.parallel) {
        if (args.n_gen == 0) break;
        CRIA_ASSIGN_OR_RETURN(const double rate, parallel_generation_rate(*engine, n, args.n_gen,
                                                                          args.repetitions, rng));
        std::printf("tg%-6lld  %8.2f tokens/s in all, %d sequences decoded together (%.2f each)\n",
                    static_cast<long long>(args.n_gen), rate, n, rate / n);
    }
    return Status::ok();
}

}  // namespace

void add_bench_command(CLI::App& root) {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* cmd = root.add_subcommand(
        "bench", "Measure prompt processing and generation speed against memory bandwidth");
    cmd->add_option("--model", args->model_path, "GGUF model file")->required();
    cmd->add_option("-p,--prompt", args->n_prompt, "Prompt tokens per run")->capture_default_str();
    cmd->add_option("-n,--gen", args->n_gen, "Generated tokens per run")->capture_default_str();
    cmd->add_option("-d,--depth", args->depth, "Context tokens before generation is timed")
        ->capture_default_str();
    cmd->add_option("-t,--threads", args->threads, "Threads (default: all)");
    cmd->add_option("-P,--parallel", args->parallel,
                    "Also time generation of this many sequences decoded together (repeatable)");
    cmd->add_option("-r,--repetitions", args->repetitions, "Runs per measurement")
        ->capture_default_str();
    cmd->callback([args] {
        const Status status = run_bench(*args);
        if (!status.is_ok()) {
            std::fprintf(stderr, "cria bench: %s\n", status.message().c_str());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace cria::app
