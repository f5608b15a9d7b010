// Runs the built `cria` executable as a user would and captures what it prints.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cria::test {

struct CommandResult {
    int exit_code = -1;  // -1 when the process died of a signal
    std::string output;  // stdout, or stdout+stderr when asked
};

inline std::string cria_binary() {
    return std::string(CRIA_BINARY_DIR) + "/cria";
}

inline CommandResult run_command(const std::string& command) {
    CommandResult result;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
        result.output.append(buffer.data(), n);
    const int status = pclose(pipe);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
}

}  // namespace cria::test
