// libFuzzer target for the GGUF reader: any byte string must parse or be rejected with a Status,
// never crash or read out of bounds. Build with -DCRIA_FUZZ=ON using clang (see README).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/model_summary.h"
#include "gguf/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // An exact-size copy so that AddressSanitizer catches any read past the end.
    std::vector<uint8_t> copy(data, data + size);
    auto file = cria::gguf::File::parse(copy.data(), copy.size());
    if (!file.has_value()) return 0;
    const cria::gguf::ModelSummary summary = cria::gguf::summarize(**file);
    uint64_t checksum = summary.parameters;
    for (const auto& tensor : (*file)->tensors()) {
        // Touch the first and last byte of every accepted tensor.
        if (tensor.n_bytes > 0) checksum += tensor.data[0] + tensor.data[tensor.n_bytes - 1];
    }
    for (const auto& kv : (*file)->metadata()) checksum += kv.value.to_display_string().size();
    return checksum == 0xFFFFFFFFFFFFFFFFull ? 1 : 0;
}
