// cria's data directory is resolved in one place: CRIA_HOME, else ~/.cria; the store and the demo
// model both live under it (CRIA_MODELS overrides the store only).
#include <gtest/gtest.h>

#include <cstdlib>

#include "store/cria_home.h"
#include "store/model_store.h"

namespace cria::store {
namespace {

TEST(CriaHome, EnvironmentDecides) {
    ::setenv("CRIA_HOME", "/srv/cria-home", 1);
    ::unsetenv("CRIA_MODELS");
    EXPECT_EQ(cria_home(), std::filesystem::path("/srv/cria-home"));
    EXPECT_EQ(demo_model_dir(), std::filesystem::path("/srv/cria-home/default"));
    EXPECT_EQ(ModelStore::default_root(), std::filesystem::path("/srv/cria-home/models"));
    ::setenv("CRIA_MODELS", "/data/models", 1);
    EXPECT_EQ(ModelStore::default_root(), std::filesystem::path("/data/models"));
    EXPECT_EQ(demo_model_dir(), std::filesystem::path("/srv/cria-home/default"));
    ::unsetenv("CRIA_MODELS");
    ::unsetenv("CRIA_HOME");
    ::setenv("HOME", "/home/someone", 1);
    EXPECT_EQ(cria_home(), std::filesystem::path("/home/someone/.cria"));
    EXPECT_EQ(ModelStore::default_root(), std::filesystem::path("/home/someone/.cria/models"));
}

}  // namespace
}  // namespace cria::store
