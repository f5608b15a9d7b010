// The tensor element types that GGUF files use, with the block layout of each. A type the
// engine cannot compute is still known here by name so that tools can report it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cria::gguf {

// Values are GGUF's on-disk type ids; the gaps are ids retired from the format.
enum class TensorType : uint32_t {
    kF32 = 0,
    kF16 = 1,
    kQ4_0 = 2,
    kQ4_1 = 3,
    kQ5_0 = 6,
    kQ5_1 = 7,
    kQ8_0 = 8,
    kQ8_1 = 9,
    kQ2_K = 10,
    kQ3_K = 11,
    kQ4_K = 12,
    kQ5_K = 13,
    kQ6_K = 14,
    kQ8_K = 15,
    kIQ2_XXS = 16,
    kIQ2_XS = 17,
    kIQ3_XXS = 18,
    kIQ1_S = 19,
    kIQ4_NL = 20,
    kIQ3_S = 21,
    kIQ2_S = 22,
    kIQ4_XS = 23,
    kI8 = 24,
    kI16 = 25,
    kI32 = 26,
    kI64 = 27,
    kF64 = 28,
    kIQ1_M = 29,
    kBF16 = 30,
    kTQ1_0 = 34,
    kTQ2_0 = 35,
    kMXFP4 = 39,
};

struct TensorTypeInfo {
    TensorType type;
    std::string_view name;
    uint32_t block_size;   // elements per block
    uint32_t block_bytes;  // bytes per block
};

// nullopt for an id that no GGUF type uses.
std::optional<TensorTypeInfo> tensor_type_info(uint32_t id);
const TensorTypeInfo& tensor_type_info(TensorType type);
std::string_view tensor_type_name(TensorType type);
std::optional<TensorType> tensor_type_from_name(std::string_view name);

// Bytes for one row of `n_elements`; n_elements must be a multiple of the block size.
size_t row_bytes(TensorType type, int64_t n_elements);

// general.file_type values (llama.cpp's "ftype") to their usual names, "unknown" otherwise.
std::string_view file_type_name(uint32_t file_type);

}  // namespace cria::gguf
