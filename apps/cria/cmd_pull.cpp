// `cria pull NAME`: download a model from a registry (registry.ollama.ai, hf.co/USER/REPO[:QUANT],
// or CRIA_REGISTRY) into the store.
#include <memory>
#include <string>

#include "commands.h"
#include "model_commands_support.h"
#include "store/registry_client.h"

namespace cria::app {
namespace {

int pull(const std::string& name, bool insecure) {
    auto model_store = store::ModelStore::open_default();
    if (!model_store) return fail("pull", model_store.status().message());
    store::RegistryOptions options = store::RegistryOptions::from_environment();
    options.insecure = insecure;
    ProgressPrinter printer;
    const Status pulled = store::pull_model(*model_store, name, options,
                                            [&](const store::Progress& p) { printer.update(p); });
    printer.finish();
    if (!pulled) return fail("pull", pulled.message());
    return 0;
}

}  // namespace

void add_pull_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("pull", "Pull a model from a registry");
    auto name = std::make_shared<std::string>();
    auto insecure = std::make_shared<bool>(false);
    cmd->add_option("name", *name, "Model name, e.g. llama3.2:1b or hf.co/USER/REPO:Q4_K_M")
        ->required();
    cmd->add_flag("--insecure", *insecure, "Use plain HTTP for a registry named in the model name");
    cmd->callback([name, insecure] {
        const int code = pull(*name, *insecure);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
