// `cria make-model --shape llama3.2-1b --type Q4_K_M --output FILE`: writes a model with random
// weights in the layout of a real architecture, for benchmarks and tests. --vocab-from copies the
// tokenizer (and chat template) of another GGUF so that the model can serve real text.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/reader.h"
#include "model/model_maker.h"

namespace cria::app {
namespace {

struct MakeModelArgs {
    std::string shape = "tiny";
    std::string type = "F32";
    std::string output;
    std::string arch;
    std::string vocab_from;
    uint64_t seed = 1;
    bool pure = false;
    int threads = 0;
};

Status run_make_model(const MakeModelArgs& args) {
    CRIA_ASSIGN_OR_RETURN(model::RandomModelSpec spec, model::model_shape(args.shape));
    spec.quantization = args.type;
    spec.seed = args.seed;
    spec.pure = args.pure;
    if (!args.arch.empty()) spec.arch = args.arch;
    std::unique_ptr<gguf::File> vocabulary;
    if (!args.vocab_from.empty()) {
        CRIA_ASSIGN_OR_RETURN(vocabulary, gguf::File::open(args.vocab_from));
        spec.vocabulary = vocabulary.get();
    }
    ThreadPool pool(args.threads > 0 ? args.threads : ThreadPool::default_thread_count());
    return model::make_model_file(spec, args.output, pool);
}

}  // namespace

void add_make_model_command(CLI::App& root) {
    auto args = std::make_shared<MakeModelArgs>();
    CLI::App* cmd = root.add_subcommand(
        "make-model", "Write a model with random weights (for benchmarks and tests)");
    cmd->add_option("--shape", args->shape, "Shape: llama3.2-1b, tiny, bert-large or bert-1b")
        ->capture_default_str();
    cmd->add_option("--type", args->type, "Weight type: F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, ...")
        ->capture_default_str();
    cmd->add_option("--output", args->output, "GGUF file to write")->required();
    cmd->add_option("--arch", args->arch, "Architecture (default: llama)");
    cmd->add_option("--vocab-from", args->vocab_from, "Copy the tokenizer of this GGUF file");
    cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
    cmd->add_flag("--pure", args->pure, "Keep the output projection in the main type");
    cmd->add_option("-t,--threads", args->threads, "Threads (default: all)");
    cmd->callback([args] {
        const Status status = run_make_model(*args);
        if (!status.is_ok()) {
            std::fprintf(stderr, "cria make-model: %s\n", status.message().c_str());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace cria::app
