// The model `cria serve` and `cria run` offer when none is named: a tiny random-weight
// Llama-architecture model with cria's own byte-level vocabulary and chat template
// (model/demo_vocab.h), made on first use and kept in cria's data directory (store/cria_home.h).
// It shows every layer of the stack working; its answers are meaningless.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace cria::model {

inline constexpr const char* kDefaultModelName = "cria-demo";

// The path of the demo model in `dir`, made there first if it is missing.
Expected<std::string> ensure_default_model(const std::filesystem::path& dir);

}  // namespace cria::model
