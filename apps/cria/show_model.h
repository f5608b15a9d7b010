// `cria show` for a model name (cmd_show_model.cpp) or a file path (cmd_show.cpp).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cria::app {

// What to print: everything (the default), or the one section a flag selects.
struct ShowModelSections {
    bool json = false;
    bool modelfile = false;
    bool parameters = false;
    bool chat_template = false;
    bool system = false;
    bool license = false;
};

// Prints a GGUF file's summary (as JSON, metadata included, when `as_json`); returns the exit
// code.
int show_file(const std::string& path, bool as_json);

// One `name value` line per parameter (each stop sequence on its own line), quoted like Ollama.
std::string parameters_text(const nlohmann::json& parameters);

// Prints a store model; returns the process exit code.
int show_store_model(const std::string& name, const ShowModelSections& sections);

}  // namespace cria::app
