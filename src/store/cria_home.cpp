#include "store/cria_home.h"

#include <cstdlib>

namespace cria::store {

std::filesystem::path cria_home() {
    if (const char* home = std::getenv("CRIA_HOME"); home != nullptr && *home != '\0') return home;
    const char* user_home = std::getenv("HOME");
    const std::filesystem::path base = user_home != nullptr && *user_home != '\0' ? user_home : ".";
    return base / ".cria";
}

std::filesystem::path demo_model_dir() {
    return cria_home() / "default";
}

}  // namespace cria::store
