// libFuzzer target for the Modelfile parser: any text must parse into a recipe or be refused
// with a Status that says why, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/modelfile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto recipe =
        cria::store::parse_modelfile(std::string_view(reinterpret_cast<const char*>(data), size));
    // A refusal must say why: `cria create` prints it as the whole explanation.
    if (!recipe.has_value() && recipe.status().message().empty()) __builtin_trap();
    return 0;
}
