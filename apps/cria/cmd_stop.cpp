// `cria stop NAME`: unloads a model from a running `cria serve` (on CRIA_HOST), as `ollama stop`
// does: an /api/generate request with no prompt and keep_alive 0.
#include <httplib.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "model_commands_support.h"
#include "server/http.h"

namespace cria::app {
namespace {

int stop_model(const std::string& name) {
    const char* host_env = std::getenv("CRIA_HOST");
    auto address = server::parse_host_port(host_env != nullptr ? host_env : "");
    if (!address.has_value()) return fail("stop", "CRIA_HOST: " + address.status().message());
    httplib::Client client(address->host, address->port);
    client.set_connection_timeout(5, 0);
    const nlohmann::json body = {{"model", name}, {"keep_alive", 0}, {"stream", false}};
    auto res = client.Post("/api/generate", body.dump(), "application/json");
    if (!res) {
        return fail("stop", "cannot reach cria serve at " + address->host + ":" +
                                std::to_string(address->port) + " (is it running?)");
    }
    if (res->status != 200) {
        const auto answer = nlohmann::json::parse(res->body, nullptr, false);
        const std::string message =
            answer.is_object() && answer.contains("error") && answer["error"].is_string()
                ? answer["error"].get<std::string>()
                : "HTTP " + std::to_string(res->status);
        return fail("stop", message);
    }
    return 0;
}

}  // namespace

void add_stop_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("stop", "Unload a model from a running server");
    auto name = std::make_shared<std::string>();
    cmd->add_option("model", *name, "The model to unload")->required();
    cmd->callback([name] {
        const int code = stop_model(*name);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
