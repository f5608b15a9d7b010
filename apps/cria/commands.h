// Each `cria` subcommand lives in its own file and registers itself on the root CLI::App here.
// A command reports failure by throwing CLI::RuntimeError(exit_code) after printing one line to
// stderr.
#pragma once

#include <CLI/CLI.hpp>

namespace cria::app {

void add_show_command(CLI::App& root);
void add_ps_command(CLI::App& root);
void add_stop_command(CLI::App& root);
void add_render_template_command(CLI::App& root);
void add_tokenize_command(CLI::App& root);
void add_detokenize_command(CLI::App& root);
void add_create_command(CLI::App& root);
void add_cp_command(CLI::App& root);
void add_rm_command(CLI::App& root);
void add_list_command(CLI::App& root);
void add_pull_command(CLI::App& root);
void add_logits_command(CLI::App& root);
void add_embed_command(CLI::App& root);
void add_make_model_command(CLI::App& root);
void add_bench_command(CLI::App& root);
void add_serve_command(CLI::App& root);
void add_run_command(CLI::App& root);

}  // namespace cria::app
