// The model `cria serve` offers when none is named: a tiny random-weight Llama-architecture
// model with cria's own byte-level vocabulary and chat template (server/demo_vocab.h), made on
// first use and kept in cria's data directory. It shows every layer of the stack working; its
// answers are meaningless.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace cria::server {

inline constexpr const char* kDefaultModelName = "cria-demo";

// $CRIA_HOME/default, else ~/.cria/default (the working directory when HOME is unset).
std::filesystem::path default_model_dir();

// The path of the demo model in `dir`, made there first if it is missing.
Expected<std::string> ensure_default_model(const std::filesystem::path& dir);

}  // namespace cria::server
