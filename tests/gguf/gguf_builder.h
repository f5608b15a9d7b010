// Byte-level GGUF construction for tests that need files the Writer would refuse to produce.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "gguf/writer.h"

namespace cria::test {

class GgufBytes {
  public:
    GgufBytes& u8(uint8_t v) { return raw(v); }
    GgufBytes& u32(uint32_t v) { return raw(v); }
    GgufBytes& u64(uint64_t v) { return raw(v); }
    GgufBytes& str(const std::string& s) {
        u64(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
        return *this;
    }
    GgufBytes& header(uint64_t n_tensors, uint64_t n_keys, uint32_t version = 3) {
        return u32(gguf::kMagic).u32(version).u64(n_tensors).u64(n_keys);
    }
    GgufBytes& kv_u32(const std::string& key, uint32_t v) {
        return str(key).u32(static_cast<uint32_t>(gguf::ValueType::kUint32)).u32(v);
    }
    GgufBytes& kv_str(const std::string& key, const std::string& v) {
        return str(key).u32(static_cast<uint32_t>(gguf::ValueType::kString)).str(v);
    }
    // Tensor info with explicit dims, type id and offset.
    GgufBytes& tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                      uint64_t offset) {
        str(name).u32(static_cast<uint32_t>(dims.size()));
        for (uint64_t d : dims) u64(d);
        return u32(type).u64(offset);
    }
    GgufBytes& pad(size_t alignment = 32) {
        while (bytes.size() % alignment != 0) bytes.push_back(0);
        return *this;
    }
    GgufBytes& zeros(size_t n) {
        bytes.insert(bytes.end(), n, 0);
        return *this;
    }

    std::vector<uint8_t> bytes;

  private:
    template <typename T>
    GgufBytes& raw(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        bytes.insert(bytes.end(), p, p + sizeof(T));
        return *this;
    }
};

}  // namespace cria::test
