#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
    CLI::App root{"cria: run large language models locally"};
    root.require_subcommand(1);
    root.set_version_flag("--version", "cria 0.1.0");
    cria::app::add_show_command(root);
    cria::app::add_ps_command(root);
    cria::app::add_stop_command(root);
    cria::app::add_render_template_command(root);
    cria::app::add_tokenize_command(root);
    cria::app::add_detokenize_command(root);
    cria::app::add_create_command(root);
    cria::app::add_cp_command(root);
    cria::app::add_rm_command(root);
    cria::app::add_list_command(root);
    cria::app::add_pull_command(root);
    cria::app::add_logits_command(root);
    cria::app::add_embed_command(root);
    cria::app::add_make_model_command(root);
    cria::app::add_bench_command(root);
    cria::app::add_serve_command(root);
    cria::app::add_run_command(root);
    CLI11_PARSE(root, argc, argv);
    return 0;
}
