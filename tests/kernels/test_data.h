// Random weights and activations for the kernel tests and benchmark.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "gguf/tensor_type.h"
#include "kernels/kernel_table.h"
#include "kernels/kernels.h"

namespace cria::kernels::test {

using gguf::TensorType;

// Whether the matrix kernels of `isa` can run here: the AVX-512 ones use VNNI throughout, so
// they need it beside isa_supported() (without it matmul falls back to AVX2).
inline bool matmul_runs_on(Isa isa) {
    return isa == Isa::kAvx512 ? avx512_kernels_usable() : isa_supported(isa);
}

// A test run once per ISA (the parameter); one the machine cannot run shows as skipped.
class MatmulIsaTest : public ::testing::TestWithParam<Isa> {
  protected:
    void SetUp() override {
        if (!matmul_runs_on(GetParam())) {
            GTEST_SKIP() << isa_name(GetParam()) << " matrix kernels cannot run on this CPU";
        }
    }
};

inline std::string isa_param_name(const ::testing::TestParamInfo<Isa>& info) {
    return isa_name(info.param);
}

// Every tensor type the kernels support, from GGUF's type table and the kernels' own answer:
// a type given kernels is tested without editing a list here.
inline const std::vector<TensorType>& all_types() {
    static const std::vector<TensorType> types = [] {
        std::vector<TensorType> out;
        for (uint32_t id = 0; id < 256; ++id) {
            const std::optional<gguf::TensorTypeInfo> info = gguf::tensor_type_info(id);
            if (info && is_supported(info->type)) out.push_back(info->type);
        }
        return out;
    }();
    return types;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float stddev = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Byte offsets of the fp16 scale fields inside one block of `type`.
inline std::vector<int> fp16_fields(TensorType type) {
    switch (type) {
        case TensorType::kQ4_1:
        case TensorType::kQ5_1:
        case TensorType::kQ4_K:
        case TensorType::kQ5_K:
            return {0, 2};
        case TensorType::kQ2_K:
            return {80, 82};
        case TensorType::kQ3_K:
            return {108};
        case TensorType::kQ6_K:
            return {208};
        default:
            return {0};
    }
}

// n_rows rows of n_in elements of `type` with every code bit random (so that every code value,
// sub-scale and high bit is exercised) and scale fields set to modest random fp16 values.
inline std::vector<uint8_t> random_weights(TensorType type, int64_t n_rows, int64_t n_in,
                                           uint32_t seed) {
    const size_t row_size = gguf::row_bytes(type, n_in);
    std::vector<uint8_t> bytes(row_size * static_cast<size_t>(n_rows));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> scale_dist(0.001f, 0.02f);
    std::normal_distribution<float> value_dist(0.0f, 1.0f);
    if (type == TensorType::kF32 || type == TensorType::kF16 || type == TensorType::kBF16) {
        const size_t count = static_cast<size_t>(n_rows * n_in);
        for (size_t i = 0; i < count; ++i) {
            const float v = value_dist(rng);
            if (type == TensorType::kF32) {
                std::memcpy(bytes.data() + 4 * i, &v, 4);
            } else {
                const uint16_t h = type == TensorType::kF16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
                std::memcpy(bytes.data() + 2 * i, &h, 2);
            }
        }
        return bytes;
    }
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const gguf::TensorTypeInfo& info = gguf::tensor_type_info(type);
    const size_t n_blocks = bytes.size() / info.block_bytes;
    for (size_t b = 0; b < n_blocks; ++b) {
        for (int offset : fp16_fields(type)) {
            const uint16_t h = fp32_to_fp16(scale_dist(rng));
            std::memcpy(bytes.data() + b * info.block_bytes + offset, &h, 2);
        }
    }
    return bytes;
}

}  // namespace cria::kernels::test
