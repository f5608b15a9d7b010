// Must not compile: the Status of save() is dropped (see tests/core/CMakeLists.txt).
#include "core/status.h"

cria::Status save();
cria::Expected<int> load();

void caller() {
#ifdef CRIA_IGNORE_STATUS
    save();
#endif
#ifdef CRIA_IGNORE_EXPECTED
    load();
#endif
#ifdef CRIA_USE_BOTH
    if (!save().is_ok()) return;
    if (!load().has_value()) return;
#endif
}
