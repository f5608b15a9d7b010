// Executes a parsed Go template against a value, the way text/template does with Ollama's
// options (missingkey=zero) and functions, inside a sandbox: output size, loop iterations,
// template call depth and time are capped, and nothing reaches the host.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "chat/gotmpl/parse.h"
#include "chat/gotmpl/value.h"
#include "chat/jinja/strftime.h"

namespace cria::chat::gotmpl {

struct Limits {
    size_t max_output_bytes = 8u << 20;
    uint64_t max_loop_iterations = 1000000;
    int max_recursion_depth = 64;
    std::chrono::milliseconds time_limit{2000};
    jinja::DateTime now;  // what currentDate and yesterdayDate see
};

// Renders `root` (the program's root or a rewritten copy of it) with `data` as dot and `$`,
// appending to `out`. Throws Error.
void execute(const Program& program, const Node& root, const Value& data, const Limits& limits,
             std::string& out);

}  // namespace cria::chat::gotmpl
