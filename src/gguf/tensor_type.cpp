#include "gguf/tensor_type.h"

#include <array>
#include <cassert>

namespace cria::gguf {
namespace {

constexpr std::array<TensorTypeInfo, 32> kTypes = {{
    {TensorType::kF32, "F32", 1, 4},
    {TensorType::kF16, "F16", 1, 2},
    {TensorType::kQ4_0, "Q4_0", 32, 18},    // f16 d, 16 bytes of nibbles
    {TensorType::kQ4_1, "Q4_1", 32, 20},    // f16 d, f16 m, 16 bytes of nibbles
    {TensorType::kQ5_0, "Q5_0", 32, 22},    // f16 d, 4 bytes high bits, 16 bytes nibbles
    {TensorType::kQ5_1, "Q5_1", 32, 24},    // f16 d, f16 m, 4 bytes high bits, 16 nibbles
    {TensorType::kQ8_0, "Q8_0", 32, 34},    // f16 d, 32 int8
    {TensorType::kQ8_1, "Q8_1", 32, 36},    // f16 d, f16 s, 32 int8
    {TensorType::kQ2_K, "Q2_K", 256, 84},   // 16 scales, 64 qs, f16 d, f16 dmin
    {TensorType::kQ3_K, "Q3_K", 256, 110},  // 32 hmask, 64 qs, 12 scales, f16 d
    {TensorType::kQ4_K, "Q4_K", 256, 144},  // f16 d, f16 dmin, 12 scales, 128 qs
    {TensorType::kQ5_K, "Q5_K", 256, 176},  // f16 d, f16 dmin, 12 scales, 32 qh, 128 qs
    {TensorType::kQ6_K, "Q6_K", 256, 210},  // 128 ql, 64 qh, 16 scales, f16 d
    {TensorType::kQ8_K, "Q8_K", 256, 292},  // f32 d, 256 int8, 16 int16 block sums
    {TensorType::kIQ2_XXS, "IQ2_XXS", 256, 66},
    {TensorType::kIQ2_XS, "IQ2_XS", 256, 74},
    {TensorType::kIQ3_XXS, "IQ3_XXS", 256, 98},
    {TensorType::kIQ1_S, "IQ1_S", 256, 50},
    {TensorType::kIQ4_NL, "IQ4_NL", 32, 18},  // f16 d, 16 bytes of 4-bit codebook indices
    {TensorType::kIQ3_S, "IQ3_S", 256, 110},
    {TensorType::kIQ2_S, "IQ2_S", 256, 82},
    {TensorType::kIQ4_XS, "IQ4_XS", 256, 136},  // f16 d, u16 scales_h, 4 scales_l, 128 qs
    {TensorType::kI8, "I8", 1, 1},
    {TensorType::kI16, "I16", 1, 2},
    {TensorType::kI32, "I32", 1, 4},
    {TensorType::kI64, "I64", 1, 8},
    {TensorType::kF64, "F64", 1, 8},
    {TensorType::kIQ1_M, "IQ1_M", 256, 56},
    {TensorType::kBF16, "BF16", 1, 2},
    {TensorType::kTQ1_0, "TQ1_0", 256, 54},
    {TensorType::kTQ2_0, "TQ2_0", 256, 66},
    {TensorType::kMXFP4, "MXFP4", 32, 17},  // e8m0 scale, 16 bytes of fp4 pairs
}};

}  // namespace

std::optional<TensorTypeInfo> tensor_type_info(uint32_t id) {
    for (const auto& info : kTypes) {
        if (static_cast<uint32_t>(info.type) == id) return info;
    }
    return std::nullopt;
}

const TensorTypeInfo& tensor_type_info(TensorType type) {
    for (const auto& info : kTypes) {
        if (info.type == type) return info;
    }
    assert(false && "TensorType value outside the table");
    return kTypes[0];
}

std::string_view tensor_type_name(TensorType type) {
    return tensor_type_info(type).name;
}

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
    for (const auto& info : kTypes) {
        if (info.name == name) return info.type;
    }
    return std::nullopt;
}

size_t row_bytes(TensorType type, int64_t n_elements) {
    const TensorTypeInfo& info = tensor_type_info(type);
    assert(n_elements % info.block_size == 0);
    return static_cast<size_t>(n_elements / info.block_size) * info.block_bytes;
}

std::string_view file_type_name(uint32_t file_type) {
    switch (file_type) {
        case 0:
            return "F32";
        case 1:
            return "F16";
        case 2:
            return "Q4_0";
        case 3:
            return "Q4_1";
        case 7:
            return "Q8_0";
        case 8:
            return "Q5_0";
        case 9:
            return "Q5_1";
        case 10:
            return "Q2_K";
        case 11:
            return "Q3_K_S";
        case 12:
            return "Q3_K_M";
        case 13:
            return "Q3_K_L";
        case 14:
            return "Q4_K_S";
        case 15:
            return "Q4_K_M";
        case 16:
            return "Q5_K_S";
        case 17:
            return "Q5_K_M";
        case 18:
            return "Q6_K";
        case 19:
            return "IQ2_XXS";
        case 20:
            return "IQ2_XS";
        case 21:
            return "Q2_K_S";
        case 22:
            return "IQ3_XS";
        case 23:
            return "IQ3_XXS";
        case 24:
            return "IQ1_S";
        case 25:
            return "IQ4_NL";
        case 26:
            return "IQ3_S";
        case 27:
            return "IQ3_M";
        case 28:
            return "IQ2_S";
        case 29:
            return "IQ2_M";
        case 30:
            return "IQ4_XS";
        case 31:
            return "IQ1_M";
        case 32:
            return "BF16";
        case 36:
            return "TQ1_0";
        case 37:
            return "TQ2_0";
        case 38:
            return "MXFP4_MOE";
        default:
            return "unknown";
    }
}

}  // namespace cria::gguf
