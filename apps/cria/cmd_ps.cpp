// `cria ps`: the models a running `cria serve` (on CRIA_HOST) has loaded, from its /api/ps.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "model_commands_support.h"
#include "server/http.h"

namespace cria::app {
namespace {

int list_loaded() {
    const char* host_env = std::getenv("CRIA_HOST");
    auto address = server::parse_host_port(host_env != nullptr ? host_env : "");
    if (!address.has_value()) return fail("ps", "CRIA_HOST: " + address.status().message());
    httplib::Client client(address->host, address->port);
    client.set_connection_timeout(5, 0);
    auto res = client.Get("/api/ps");
    if (!res) {
        return fail("ps", "cannot reach cria serve at " + address->host + ":" +
                              std::to_string(address->port) + " (is it running?)");
    }
    const auto body = nlohmann::json::parse(res->body, nullptr, false);
    if (res->status != 200 || !body.is_object() || !body.contains("models") ||
        !body["models"].is_array()) {
        return fail("ps",
                    "unexpected answer from the server (HTTP " + std::to_string(res->status) + ")");
    }
    std::printf("%-32s    %-10s    %s\n", "NAME", "SIZE", "PROCESSOR");
    for (const auto& model : body["models"]) {
        if (!model.is_object()) continue;
        const std::string name = model.value("name", std::string());
        const uint64_t size = model.contains("size") && model["size"].is_number_unsigned()
                                  ? model["size"].get<uint64_t>()
                                  : 0;
        std::printf("%-32s    %-10s    %s\n", name.c_str(), human_bytes(size).c_str(), "100% CPU");
    }
    return 0;
}

}  // namespace

void add_ps_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("ps", "List the models a running server has loaded");
    cmd->callback([] {
        const int code = list_loaded();
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
