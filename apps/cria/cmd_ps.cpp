// `cria ps`: the models a running `cria serve` (on CRIA_HOST) has loaded, from its /api/ps.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "model_commands_support.h"
#include "server/http.h"

namespace cria::app {
namespace {

// "4 minutes from now", "Forever" (Ollama's zero time), or the timestamp when it is unreadable.
std::string until_text(const std::string& expires_at) {
    if (expires_at.empty() || expires_at.rfind("0001-", 0) == 0) return "Forever";
    std::tm tm{};
    const char* end = strptime(expires_at.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr) return expires_at;
    const int64_t seconds =
        static_cast<int64_t>(timegm(&tm)) - static_cast<int64_t>(std::time(nullptr));
    if (seconds < 60) return "Less than a minute from now";
    if (seconds < 3600) return std::to_string(seconds / 60) + " minutes from now";
    if (seconds < 86400) return std::to_string(seconds / 3600) + " hours from now";
    return std::to_string(seconds / 86400) + " days from now";
}

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
    std::printf("%-32s    %-10s    %-10s    %-8s    %s\n", "NAME", "SIZE", "PROCESSOR", "CONTEXT",
                "UNTIL");
    for (const auto& model : body["models"]) {
        if (!model.is_object()) continue;
        const std::string name = model.value("name", std::string());
        const uint64_t size = model.contains("size") && model["size"].is_number_unsigned()
                                  ? model["size"].get<uint64_t>()
                                  : 0;
        const int64_t context =
            model.contains("context_length") && model["context_length"].is_number_integer()
                ? model["context_length"].get<int64_t>()
                : 0;
        const std::string expires = model.value("expires_at", std::string());
        std::printf("%-32s    %-10s    %-10s    %-8lld    %s\n", name.c_str(),
                    human_bytes(size).c_str(), "100% CPU", static_cast<long long>(context),
                    until_text(expires).c_str());
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
