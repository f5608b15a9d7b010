// GGUF reader. The file is memory-mapped and treated as hostile: every count, size and offset is
// checked against the file and against caps before it is used, and the first problem found is
// returned as a Status whose message names it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "core/status.h"
#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace cria::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr int kMaxDims = 4;

// Caps that keep a hostile file from making the reader allocate or loop without bound.
struct ReadLimits {
    uint64_t max_string_bytes = 64ull << 20;  // one metadata string (chat templates are large)
    uint64_t max_array_items = 1ull << 26;    // vocabularies have ~10^5..10^6 entries
    uint64_t max_total_array_items = 1ull << 27;
    uint32_t max_array_depth = 8;
    uint64_t max_tensor_name_bytes = 256;
    uint64_t max_key_bytes = 1024;
    uint32_t max_alignment = 1u << 16;
};

struct TensorInfo {
    std::string name;
    TensorType type = TensorType::kF32;
    int n_dims = 0;
    int64_t dims[kMaxDims] = {1, 1, 1, 1};  // GGUF order: dims[0] is the contiguous row length
    uint64_t offset = 0;                    // from the start of the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr;  // points into the mapping (or the parsed buffer)

    int64_t rows() const { return static_cast<int64_t>(n_elements) / dims[0]; }
    std::string shape_string() const;
};

struct KeyValue {
    std::string key;
    Value value;
};

class File {
  public:
    // Maps and parses a file. The File owns the mapping; tensor data points into it.
    static Expected<std::unique_ptr<File>> open(const std::string& path,
                                                const ReadLimits& limits = {});
    // Parses bytes the caller keeps alive for the File's lifetime (tests, fuzzing).
    static Expected<std::unique_ptr<File>> parse(const uint8_t* data, size_t size,
                                                 const ReadLimits& limits = {});

    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    uint64_t file_size() const { return size_; }
    const std::string& path() const { return path_; }

    const std::vector<KeyValue>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;
    // Typed look-ups that return `fallback` when the key is missing or of another kind.
    uint64_t get_u64(std::string_view key, uint64_t fallback) const;
    double get_f64(std::string_view key, double fallback) const;
    bool get_bool(std::string_view key, bool fallback) const;
    std::string get_string(std::string_view key, std::string fallback = {}) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

    // Hint that the tensor's mapped bytes will not be read for a while (MappedFile::advise_unused);
    // no-op for parsed bytes.
    void advise_unused(const TensorInfo& tensor) const {
        mapping_.advise_unused(tensor.data, tensor.n_bytes);
    }

  private:
    File() = default;
    Status parse_all(const ReadLimits& limits);

    MappedFile mapping_;
    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> metadata_;
    std::unordered_map<std::string, size_t> key_index_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace cria::gguf
