// GGUF writer: metadata and tensors in, a GGUF v3 file out. Used by tests and model-making tools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace cria::gguf {

class Writer {
  public:
    explicit Writer(uint32_t alignment = 32) : alignment_(alignment) {}

    // Later values for the same key replace earlier ones, keeping the first position.
    void set(const std::string& key, Value value);
    // dims in GGUF order (dims[0] is the row length); `bytes` must hold the exact tensor size.
    Status add_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& dims,
                      std::vector<uint8_t> bytes);
    Status add_f32_tensor(const std::string& name, const std::vector<int64_t>& dims,
                          const std::vector<float>& values);

    std::vector<uint8_t> to_bytes() const;
    // Writes to a temporary file beside `path`, then renames, so a reader never sees half a file.
    Status write(const std::string& path) const;

  private:
    struct PendingTensor {
        std::string name;
        TensorType type;
        std::vector<int64_t> dims;
        std::vector<uint8_t> bytes;
    };

    uint32_t alignment_;
    std::vector<std::pair<std::string, Value>> metadata_;
    std::vector<PendingTensor> tensors_;
};

// Serializes one value (without its key or type tag) as GGUF encodes it; exposed for tests that
// build deliberately malformed files.
void append_value_payload(std::vector<uint8_t>& out, const Value& value);
void append_string(std::vector<uint8_t>& out, const std::string& s);

}  // namespace cria::gguf
