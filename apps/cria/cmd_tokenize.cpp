// `cria tokenize --model PATH "TEXT"`: the token ids of a text.
//   --cases FILE.inp  one line per test string in the `.out` format (no BOS/EOS, special-token
//                     text as plain text), for comparing with reference tokenizers.
//   --bench FILE      tokenization throughput on a file, in MB/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "gguf/reader.h"
#include "tokenizer/test_vectors.h"
#include "tokenizer/tokenizer.h"

namespace cria::app {
namespace {

struct TokenizeOptions {
    std::string model;
    std::string text;
    std::string text_file;
    std::string cases_file;
    std::string bench_file;
    int repeat = 3;
    bool no_add_special = false;
    bool no_parse_special = false;
    bool show_pieces = false;
};

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "cria tokenize: %s\n", message.c_str());
    throw CLI::RuntimeError(1);
}

std::string read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot read " + path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::unique_ptr<tokenizer::Tokenizer> load_tokenizer(const std::string& path) {
    auto file = gguf::File::open(path);
    if (!file) fail(file.status().message());
    auto tok = tokenizer::Tokenizer::from_gguf(**file);
    if (!tok) fail(path + ": " + tok.status().message());
    return std::move(tok).value();
}

void run_cases(const tokenizer::Tokenizer& tok, const std::string& path) {
    const std::string inp = read_whole_file(path);
    for (const std::string& text : tokenizer::split_test_cases(inp)) {
        const std::vector<int32_t> ids =
            tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
        std::printf("%s\n", tokenizer::format_ids_line(ids).c_str());
    }
}

void run_bench(const tokenizer::Tokenizer& tok, const TokenizeOptions& opt) {
    const std::string text = read_whole_file(opt.bench_file);
    if (opt.repeat < 1) fail("--repeat must be at least 1");
    // Wall time, and the process's CPU time, which a busy machine distorts less (encoding runs
    // on one thread, so on an idle machine the two agree).
    double best_wall = 0;
    double best_cpu = 0;
    size_t n_tokens = 0;
    for (int i = 0; i < opt.repeat; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const std::clock_t cpu_start = std::clock();
        const std::vector<int32_t> ids = tok.encode(text, false, !opt.no_parse_special);
        const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
        const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
        n_tokens = ids.size();
        if (i == 0 || wall.count() < best_wall) best_wall = wall.count();
        if (i == 0 || cpu < best_cpu) best_cpu = cpu;
    }
    const double megabytes = static_cast<double>(text.size()) / 1e6;
    std::printf(
        "%s: %.2f MB, %zu tokens, best of %d: %.3f s wall (%.1f MB/s), %.3f s CPU "
        "(%.1f MB/s)\n",
        opt.bench_file.c_str(), megabytes, n_tokens, opt.repeat, best_wall, megabytes / best_wall,
        best_cpu, megabytes / std::max(best_cpu, 1e-9));
}

void run_tokenize(const TokenizeOptions& opt) {
    const auto tok = load_tokenizer(opt.model);
    if (!opt.cases_file.empty()) return run_cases(*tok, opt.cases_file);
    if (!opt.bench_file.empty()) return run_bench(*tok, opt);
    const std::string text = opt.text_file.empty() ? opt.text : read_whole_file(opt.text_file);
    const std::vector<int32_t> ids = tok->encode(text, !opt.no_add_special, !opt.no_parse_special);
    if (opt.show_pieces) {
        for (const int32_t id : ids) {
            std::printf("%6d  '%s'\n", id, tok->token_piece(id).c_str());
        }
        return;
    }
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) line.push_back(' ');
        line += std::to_string(ids[i]);
    }
    std::printf("%s\n", line.c_str());
}

}  // namespace

void add_tokenize_command(CLI::App& root) {
    auto opt = std::make_shared<TokenizeOptions>();
    CLI::App* cmd = root.add_subcommand("tokenize", "Print the token ids of a text");
    cmd->add_option("--model,-m", opt->model, "Model or vocabulary GGUF file")->required();
    cmd->add_option("text", opt->text, "Text to tokenize");
    cmd->add_option("--file,-f", opt->text_file, "Read the text from a file");
    cmd->add_option("--cases", opt->cases_file,
                    "Test strings (.inp format): print one .out line per string");
    cmd->add_option("--bench", opt->bench_file, "Measure tokenization throughput on a file");
    cmd->add_option("--repeat", opt->repeat, "Benchmark repetitions (the best is reported)");
    cmd->add_flag("--no-add-special", opt->no_add_special, "Do not add BOS/EOS");
    cmd->add_flag("--no-parse-special", opt->no_parse_special,
                  "Tokenize control-token text as plain text");
    cmd->add_flag("--pieces", opt->show_pieces, "Print each id with the text it stands for");
    cmd->callback([opt] { run_tokenize(*opt); });
}

}  // namespace cria::app
