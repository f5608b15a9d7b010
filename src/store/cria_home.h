// cria's data directory: $CRIA_HOME, else ~/.cria (./.cria when HOME is unset). The model store
// (models/, unless CRIA_MODELS says otherwise) and the demo model (default/) live in it.
#pragma once

#include <filesystem>

namespace cria::store {

std::filesystem::path cria_home();

// Where the demo model is made and kept: cria_home() / "default".
std::filesystem::path demo_model_dir();

}  // namespace cria::store
