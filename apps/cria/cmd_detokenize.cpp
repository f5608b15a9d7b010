// `cria detokenize --model PATH ID...`: the text a sequence of token ids stands for.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "gguf/reader.h"
#include "tokenizer/tokenizer.h"

namespace cria::app {
namespace {

struct DetokenizeOptions {
    std::string model;
    std::vector<int64_t> ids;
    bool render_special = false;
};

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "cria detokenize: %s\n", message.c_str());
    throw CLI::RuntimeError(1);
}

void run_detokenize(const DetokenizeOptions& opt) {
    auto file = gguf::File::open(opt.model);
    if (!file) fail(file.status().message());
    auto tok = tokenizer::Tokenizer::from_gguf(**file);
    if (!tok) fail(opt.model + ": " + tok.status().message());
    std::vector<int32_t> ids;
    ids.reserve(opt.ids.size());
    for (const int64_t id : opt.ids) {
        if (id < 0 || id >= (*tok)->n_vocab()) {
            fail("token id " + std::to_string(id) + " is outside the vocabulary of " +
                 std::to_string((*tok)->n_vocab()) + " tokens");
        }
        ids.push_back(static_cast<int32_t>(id));
    }
    const std::string text = (*tok)->decode(ids, opt.render_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
}

}  // namespace

void add_detokenize_command(CLI::App& root) {
    auto opt = std::make_shared<DetokenizeOptions>();
    CLI::App* cmd = root.add_subcommand("detokenize", "Print the text of a sequence of token ids");
    cmd->add_option("--model,-m", opt->model, "Model or vocabulary GGUF file")->required();
    cmd->add_option("ids", opt->ids, "Token ids")->required();
    cmd->add_flag("--render-special", opt->render_special,
                  "Print control tokens (BOS, end of turn...) as their text");
    cmd->callback([opt] { run_detokenize(*opt); });
}

}  // namespace cria::app
