// `cria render-template --template FILE --context CTX.json [--now ISO-TIME]`: renders a chat
// template (Jinja, or an Ollama Go template; the syntax is detected) the way a chat request
// would, printing the text exactly (no added newline), or the template's error on stderr with
// exit status 1.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.h"
#include "commands.h"

namespace cria::app {
namespace {

bool read_whole_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

int render_template(const std::string& template_path, const std::string& context_path,
                    const std::string& now_text) {
    std::string source;
    if (!read_whole_file(template_path, source)) {
        std::fprintf(stderr, "cria render-template: cannot read %s\n", template_path.c_str());
        return 1;
    }
    std::string context_text;
    if (!read_whole_file(context_path, context_text)) {
        std::fprintf(stderr, "cria render-template: cannot read %s\n", context_path.c_str());
        return 1;
    }
    nlohmann::ordered_json context =
        nlohmann::ordered_json::parse(context_text, nullptr, /*allow_exceptions=*/false);
    if (context.is_discarded() || !context.is_object()) {
        std::fprintf(stderr, "cria render-template: %s is not a JSON object\n",
                     context_path.c_str());
        return 1;
    }
    chat::RenderOptions options;
    if (!now_text.empty()) {
        auto now = chat::parse_datetime(now_text);
        if (!now) {
            std::fprintf(stderr, "cria render-template: --now: %s\n",
                         now.status().message().c_str());
            return 1;
        }
        options.now = *now;
    }
    auto tmpl = chat::ChatTemplate::parse(source);
    if (!tmpl) {
        std::fprintf(stderr, "%s\n", tmpl.status().message().c_str());
        return 1;
    }
    auto rendered = tmpl->render(context, options);
    if (!rendered) {
        std::fprintf(stderr, "%s\n", rendered.status().message().c_str());
        return 1;
    }
    std::fwrite(rendered->data(), 1, rendered->size(), stdout);
    std::fflush(stdout);
    return 0;
}

}  // namespace

void add_render_template_command(CLI::App& root) {
    auto* cmd =
        root.add_subcommand("render-template",
                            "Render a chat template (Jinja or Ollama Go template) with a JSON "
                            "context (messages, tools, add_generation_prompt, bos_token, "
                            "eos_token, ...)");
    auto template_path = std::make_shared<std::string>();
    auto context_path = std::make_shared<std::string>();
    auto now_text = std::make_shared<std::string>();
    cmd->add_option("--template", *template_path, "Chat template file (Jinja or Go syntax)")
        ->required();
    cmd->add_option("--context", *context_path, "JSON file with the template variables")
        ->required();
    cmd->add_option("--now", *now_text,
                    "Fixed time for strftime_now() and currentDate, e.g. "
                    "2026-07-26T12:00:00 (default: now)");
    cmd->callback([template_path, context_path, now_text] {
        const int code = render_template(*template_path, *context_path, *now_text);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
