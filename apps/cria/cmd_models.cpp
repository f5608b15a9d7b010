// The model-store commands: `cria create`, `cria cp`, `cria rm`, `cria list`.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "model_commands_support.h"
#include "store/model_store.h"

namespace cria::app {
namespace {

namespace fs = std::filesystem;

int create_model(const std::string& name, const std::string& modelfile_path) {
    std::ifstream in(modelfile_path, std::ios::binary);
    if (!in) return fail("create", "cannot open Modelfile " + modelfile_path);
    std::stringstream text;
    text << in.rdbuf();
    std::fprintf(stderr, "parsing modelfile\n");
    auto recipe = store::parse_modelfile(text.str());
    if (!recipe) return fail("create", recipe.status().message());
    auto model_store = store::ModelStore::open_default();
    if (!model_store) return fail("create", model_store.status().message());
    ProgressPrinter printer;
    const fs::path base_dir = fs::absolute(modelfile_path).parent_path();
    auto created = model_store->create(name, *recipe, base_dir,
                                       [&](const store::Progress& p) { printer.update(p); });
    printer.finish();
    if (!created) return fail("create", created.status().message());
    return 0;
}

int copy_model(const std::string& source, const std::string& destination) {
    auto model_store = store::ModelStore::open_default();
    if (!model_store) return fail("cp", model_store.status().message());
    const Status copied = model_store->copy(source, destination);
    if (!copied) return fail("cp", copied.message());
    std::printf("copied '%s' to '%s'\n", source.c_str(), destination.c_str());
    return 0;
}

int remove_models(const std::vector<std::string>& names) {
    auto model_store = store::ModelStore::open_default();
    if (!model_store) return fail("rm", model_store.status().message());
    for (const auto& name : names) {
        const Status removed = model_store->remove(name);
        if (!removed) return fail("rm", removed.message());
        std::printf("deleted '%s'\n", name.c_str());
    }
    return 0;
}

int list_models() {
    auto model_store = store::ModelStore::open_default();
    if (!model_store) return fail("list", model_store.status().message());
    auto models = model_store->list();
    if (!models) return fail("list", models.status().message());
    size_t width = 4;
    for (const auto& m : *models) width = std::max(width, m.name.display().size());
    std::printf("%-*s    %-12s    %-10s    %s\n", static_cast<int>(width), "NAME", "ID", "SIZE",
                "MODIFIED");
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    for (const auto& m : *models) {
        std::printf("%-*s    %-12s    %-10s    %s\n", static_cast<int>(width),
                    m.name.display().c_str(), m.manifest_digest.hex().substr(0, 12).c_str(),
                    human_bytes(m.size).c_str(), human_age(now - m.modified_unix).c_str());
    }
    return 0;
}

void run_or_throw(int code) {
    if (code != 0) throw CLI::RuntimeError(code);
}

}  // namespace

void add_create_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("create", "Create a model from a Modelfile");
    auto name = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>("Modelfile");
    cmd->add_option("name", *name, "Name of the new model")->required();
    cmd->add_option("-f,--file", *file, "Path to the Modelfile (default: ./Modelfile)");
    cmd->callback([name, file] { run_or_throw(create_model(*name, *file)); });
}

void add_cp_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("cp", "Copy a model under another name");
    auto source = std::make_shared<std::string>();
    auto destination = std::make_shared<std::string>();
    cmd->add_option("source", *source, "Existing model")->required();
    cmd->add_option("destination", *destination, "New name")->required();
    cmd->callback([=] { run_or_throw(copy_model(*source, *destination)); });
}

void add_rm_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("rm", "Remove models");
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("names", *names, "Models to remove")->required();
    cmd->callback([names] { run_or_throw(remove_models(*names)); });
}

void add_list_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("list", "List models");
    cmd->alias("ls");
    cmd->callback([] { run_or_throw(list_models()); });
}

}  // namespace cria::app
