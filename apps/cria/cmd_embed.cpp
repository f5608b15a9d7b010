// `cria embed --model PATH_OR_NAME --inputs FILE --output OUT.f32 [--no-normalize]`: the pooled
// embedding of each input (a line of space-separated token ids), written as raw little-endian
// float32 [n_inputs][width], L2-normalized unless --no-normalize. Used to compare the engine
// with reference implementations. `cria embed --model M "some text"` prints the vector of a text
// as JSON. With --bench, it measures embeddings per second for batches of random inputs.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bandwidth_probe.h"
#include "commands.h"
#include "core/status.h"
#include "engine/embedder.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model_commands_support.h"
#include "store/model_store.h"
#include "tokenizer/tokenizer.h"

namespace cria::app {
namespace {

struct EmbedArgs {
    std::string model;
    std::string inputs_file;
    std::string output;
    std::string text;
    bool no_normalize = false;
    int threads = 0;
    std::vector<int> bench_batches;
    int bench_tokens = 64;
    int bench_repeats = 3;
};

// A path to a GGUF file, or the name of a stored model.
Expected<std::string> model_path(const std::string& model) {
    if (names_a_file(model)) return model;
    CRIA_ASSIGN_OR_RETURN(store::ModelStore store, store::ModelStore::open_default());
    CRIA_ASSIGN_OR_RETURN(store::ModelDetails details, store.details(model));
    return details.model_path.string();
}

Expected<std::vector<std::vector<int32_t>>> read_inputs(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Status(not_found("cannot read " + path));
    std::vector<std::vector<int32_t>> inputs;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::vector<int32_t> ids;
        long long id = 0;
        while (fields >> id) {
            if (id < 0 || id > INT32_MAX) {
                return Status(invalid_argument(path + ": token id " + std::to_string(id) +
                                               " is out of range"));
            }
            ids.push_back(static_cast<int32_t>(id));
        }
        if (!fields.eof()) {
            return Status(invalid_argument(path + ": line " + std::to_string(inputs.size() + 1) +
                                           " holds something other than token ids"));
        }
        if (!ids.empty()) inputs.push_back(std::move(ids));
    }
    if (inputs.empty()) return Status(invalid_argument(path + " holds no inputs"));
    return inputs;
}

// Multiply-adds per token of the layers' matrices.
double matrix_macs_per_token(const model::Model& model) {
    double macs = 0.0;
    for (const model::LayerWeights& l : model.layers()) {
        for (const kernels::Matrix* m :
             {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
            if (m->data != nullptr) macs += static_cast<double>(m->n_in) * m->n_out;
        }
    }
    return macs;
}

// Embedding batches are compute-bound (each weight serves every token of a pass): the table
// gives the matrices' arithmetic rate, and the rate at which passes read the weights next to the
// memory bandwidth measured right before and after each batch size (the higher probe).
Status run_bench(engine::Engine& engine, const EmbedArgs& args) {
    engine::Embedder embedder(engine);
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<BandwidthProbe> probe,
                          BandwidthProbe::create(engine.n_threads()));
    const double macs = matrix_macs_per_token(engine.model());
    const double weight_bytes = static_cast<double>(engine.model().bytes_per_token());
    std::mt19937 rng(1);
    std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(engine.n_vocab() - 1));
    std::printf("%d threads, %.2f GB of weights read per forward pass\n", engine.n_threads(),
                weight_bytes / 1e9);
    std::printf(
        "| inputs | tokens each | embeddings/s | tokens/s | GFLOP/s | passes per batch | weights "
        "read GB/s | bandwidth GB/s |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int batch : args.bench_batches) {
        if (batch < 1) return invalid_argument("--bench batches must be positive");
        std::vector<std::vector<int32_t>> inputs(static_cast<size_t>(batch));
        for (auto& input : inputs) {
            input.resize(static_cast<size_t>(args.bench_tokens));
            for (int32_t& id : input) id = token(rng);
        }
        CRIA_RETURN_IF_ERROR(embedder.embed(inputs, nullptr).status());  // warm-up
        const double bandwidth_before = probe->measure(3);
        const engine::Embedder::Counters before = embedder.counters();
        const auto start = std::chrono::steady_clock::now();
        for (int r = 0; r < args.bench_repeats; ++r) {
            CRIA_RETURN_IF_ERROR(embedder.embed(inputs, nullptr).status());
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double bandwidth = std::max(bandwidth_before, probe->measure(3));
        const engine::Embedder::Counters after = embedder.counters();
        const double embeddings = static_cast<double>(batch) * args.bench_repeats;
        const double tokens = embeddings * args.bench_tokens;
        const double passes = static_cast<double>(after.passes - before.passes);
        std::printf("| %d | %d | %.1f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", batch,
                    args.bench_tokens, embeddings / seconds, tokens / seconds,
                    2.0 * macs * tokens / seconds / 1e9, passes / args.bench_repeats,
                    passes * weight_bytes / seconds / 1e9, bandwidth / 1e9);
        std::fflush(stdout);
    }
    return Status::ok();
}

Status run_embed(const EmbedArgs& args) {
    CRIA_ASSIGN_OR_RETURN(std::string path, model_path(args.model));
    engine::EngineOptions options;
    options.n_threads = args.threads;
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<engine::Engine> engine,
                          engine::Engine::load(path, options));
    if (!args.bench_batches.empty()) return run_bench(*engine, args);

    std::vector<std::vector<int32_t>> inputs;
    if (!args.inputs_file.empty()) {
        CRIA_ASSIGN_OR_RETURN(inputs, read_inputs(args.inputs_file));
    } else if (!args.text.empty()) {
        CRIA_ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tok,
                              tokenizer::Tokenizer::from_gguf(engine->model().file()));
        inputs.push_back(tok->encode(args.text, /*add_special=*/true, /*parse_special=*/false));
        if (static_cast<int64_t>(inputs[0].size()) > engine->max_embedding_tokens()) {
            inputs[0].resize(static_cast<size_t>(engine->max_embedding_tokens()));
        }
    } else {
        return invalid_argument("give --inputs FILE or a text to embed");
    }
    engine::Embedder embedder(*engine);
    CRIA_ASSIGN_OR_RETURN(std::vector<std::vector<float>> vectors,
                          embedder.embed(std::move(inputs), nullptr));
    if (!args.no_normalize) {
        for (std::vector<float>& v : vectors) engine::l2_normalize(v);
    }
    if (args.output.empty()) {
        nlohmann::json out = nlohmann::json::array();
        for (const std::vector<float>& v : vectors) out.push_back(v);
        std::printf("%s\n", (vectors.size() == 1 ? out[0] : out).dump().c_str());
        return Status::ok();
    }
    std::ofstream out(args.output, std::ios::binary | std::ios::trunc);
    for (const std::vector<float>& v : vectors) {
        out.write(reinterpret_cast<const char*>(v.data()),
                  static_cast<std::streamsize>(v.size() * sizeof(float)));
    }
    out.close();
    if (!out) return io_error("cannot write " + args.output);
    return Status::ok();
}

}  // namespace

void add_embed_command(CLI::App& root) {
    auto args = std::make_shared<EmbedArgs>();
    CLI::App* cmd = root.add_subcommand(
        "embed", "Compute embeddings of token-id inputs or of a text (developer tool)");
    cmd->add_option("--model", args->model, "GGUF model file or stored model name")->required();
    cmd->add_option("--inputs", args->inputs_file, "File with one input per line: token ids");
    cmd->add_option("--output", args->output,
                    "Output file: float32 [n_inputs][width] (default: JSON on stdout)");
    cmd->add_option("text", args->text, "A text to embed (printed as JSON)");
    cmd->add_flag("--no-normalize", args->no_normalize, "Write the raw pooled vectors");
    cmd->add_option("-t,--threads", args->threads, "Threads (default: all)");
    cmd->add_option("--bench", args->bench_batches,
                    "Measure embeddings/s for batches of this many random inputs (repeatable)");
    cmd->add_option("--bench-tokens", args->bench_tokens, "Tokens per benchmark input")
        ->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--bench-repeats", args->bench_repeats, "Timed runs per batch size")
        ->check(CLI::Range(1, 1000));
    cmd->callback([args] {
        const Status status = run_embed(*args);
        if (!status.is_ok()) {
            std::fprintf(stderr, "cria embed: %s\n", status.message().c_str());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace cria::app
