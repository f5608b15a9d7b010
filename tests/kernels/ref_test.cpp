// The scalar references: quantize/dequantize round trips, the integer dot products against a
// float dot of the dequantized weights, and the block layouts against real GGUF files (the same
// weights quantized to every type must dequantize to nearly the same values).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "kernels/activations.h"
#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_support.h"

namespace cria::kernels {
namespace {

using gguf::TensorType;

const TensorType kAllTypes[] = {TensorType::kF32,  TensorType::kF16,    TensorType::kBF16,
                                TensorType::kQ8_0, TensorType::kQ4_0,   TensorType::kQ4_1,
                                TensorType::kQ5_0, TensorType::kQ5_1,   TensorType::kQ2_K,
                                TensorType::kQ3_K, TensorType::kQ4_K,   TensorType::kQ5_K,
                                TensorType::kQ6_K, TensorType::kIQ4_NL, TensorType::kIQ4_XS};

double nmse(const std::vector<float>& got, const std::vector<float>& want) {
    double err = 0.0, ref = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
        err += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
        ref += double(want[i]) * want[i];
    }
    return ref == 0.0 ? err : err / ref;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Round-trip error of normally distributed data, per type: what plain round-to-nearest at that
// bit width gives (about 4^-bits of the block range), with headroom.
double max_roundtrip_nmse(TensorType type) {
    switch (type) {
        case TensorType::kF32:
            return 0.0;
        case TensorType::kF16:
            return 1e-7;
        case TensorType::kBF16:
            return 1e-5;
        case TensorType::kQ8_0:
            return 1e-4;
        case TensorType::kQ6_K:
            return 1e-3;
        case TensorType::kQ5_0:
        case TensorType::kQ5_1:
        case TensorType::kQ5_K:
            return 4e-3;
        case TensorType::kQ4_0:
        case TensorType::kQ4_1:
        case TensorType::kQ4_K:
        case TensorType::kIQ4_NL:
        case TensorType::kIQ4_XS:
            return 1.5e-2;
        case TensorType::kQ3_K:
            return 6e-2;
        case TensorType::kQ2_K:
            return 0.2;
        default:
            return 0.0;
    }
}

TEST(KernelsRef, QuantizeDequantizeRoundTrip) {
    const int64_t n = 1024;
    const std::vector<float> x = random_floats(n, 7);
    for (TensorType type : kAllTypes) {
        SCOPED_TRACE(std::string(gguf::tensor_type_name(type)));
        ASSERT_TRUE(is_supported(type));
        ASSERT_TRUE(can_quantize(type));
        std::vector<uint8_t> row(gguf::row_bytes(type, n));
        ASSERT_TRUE(quantize_row(type, x.data(), row.data(), n));
        std::vector<float> back(n);
        dequantize_row(type, row.data(), back.data(), n);
        const double err = nmse(back, x);
        EXPECT_LE(err, max_roundtrip_nmse(type));
        if (type != TensorType::kF32) {
            EXPECT_GT(err, 0.0);  // the codes really are lossy
        }
    }
}

TEST(KernelsRef, ZeroRowsStayZero) {
    const int64_t n = 256;
    const std::vector<float> zeros(n, 0.0f);
    for (TensorType type : kAllTypes) {
        SCOPED_TRACE(std::string(gguf::tensor_type_name(type)));
        std::vector<uint8_t> row(gguf::row_bytes(type, n));
        ASSERT_TRUE(quantize_row(type, zeros.data(), row.data(), n));
        std::vector<float> back(n, 1.0f);
        dequantize_row(type, row.data(), back.data(), n);
        for (float v : back) ASSERT_EQ(v, 0.0f);
    }
}

TEST(KernelsRef, ActivationCodesReconstructInput) {
    const int64_t n = 512;
    const std::vector<float> x = random_floats(n, 11);
    for (ActFormat format : {ActFormat::kQ8Block32, ActFormat::kQ8Block256}) {
        const ActLayout layout = act_layout(format, n);
        std::vector<uint8_t> row(layout.row_bytes);
        convert_act_ref(format, x.data(), row.data(), n);
        const auto* q = reinterpret_cast<const int8_t*>(row.data());
        const auto* d = reinterpret_cast<const float*>(row.data() + layout.scale_offset);
        const int block = format == ActFormat::kQ8Block32 ? 32 : 256;
        std::vector<float> back(n);
        for (int64_t i = 0; i < n; ++i) back[i] = d[i / block] * q[i];
        EXPECT_LE(nmse(back, x), 1e-4);
        if (format == ActFormat::kQ8Block256) {
            const auto* bsum = reinterpret_cast<const int16_t*>(row.data() + layout.sum_offset);
            for (int g = 0; g < n / 16; ++g) {
                int sum = 0;
                for (int i = 0; i < 16; ++i) sum += q[16 * g + i];
                ASSERT_EQ(bsum[g], sum);
            }
        }
    }
}

// The integer dot product of each type equals the float dot product of its dequantized weights
// with the dequantized activations (up to float rounding).
TEST(KernelsRef, IntegerDotMatchesDequantizedDot) {
    const int64_t n = 768;
    const std::vector<float> w = random_floats(n, 3);
    const std::vector<float> x = random_floats(n, 4);
    for (TensorType type : kAllTypes) {
        SCOPED_TRACE(std::string(gguf::tensor_type_name(type)));
        std::vector<uint8_t> row(gguf::row_bytes(type, n));
        ASSERT_TRUE(quantize_row(type, w.data(), row.data(), n));
        std::vector<float> wd(n);
        dequantize_row(type, row.data(), wd.data(), n);

        const ActFormat format = act_format_for(type);
        const ActLayout layout = act_layout(format, n);
        std::vector<uint8_t> act(layout.row_bytes);
        convert_act_ref(format, x.data(), act.data(), n);
        std::vector<float> xd(n);
        if (format == ActFormat::kF32) {
            xd = x;
        } else if (format == ActFormat::kBf16) {
            dequantize_row(TensorType::kBF16, act.data(), xd.data(), n);
        } else {
            const int block = format == ActFormat::kQ8Block32 ? 32 : 256;
            const auto* q = reinterpret_cast<const int8_t*>(act.data());
            const auto* d = reinterpret_cast<const float*>(act.data() + layout.scale_offset);
            for (int64_t i = 0; i < n; ++i) xd[i] = d[i / block] * q[i];
        }
        double want = 0.0, magnitude = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            want += double(wd[i]) * xd[i];
            magnitude += std::fabs(double(wd[i]) * xd[i]);
        }
        const float got = ref::dot(type, row.data(), act.data(), n);
        EXPECT_NEAR(got, want, 1e-5 * magnitude);
    }
}

// ---- Real files: every q-TYPE.gguf holds the same weights quantized to one type.

struct GoldenFile {
    const char* file;
    TensorType type;
    double max_nmse;  // dequantized vs the F16 file: the quantization error of the type
};

TEST(KernelsRef, DequantizedGoldenWeightsAgreeAcrossTypes) {
    CRIA_REQUIRE_SHARED(shared);
    const auto dir = shared / "golden" / "logits";
    auto truth_file = gguf::File::open((dir / "q-F16.gguf").string());
    ASSERT_TRUE(truth_file.has_value()) << truth_file.status().message();
    const GoldenFile files[] = {
        {"q-BF16.gguf", TensorType::kBF16, 1e-4},
        {"q-Q8_0.gguf", TensorType::kQ8_0, 1e-4},
        {"q-Q6_K.gguf", TensorType::kQ6_K, 1e-3},
        {"q-Q5_0.gguf", TensorType::kQ5_0, 3e-3},
        {"q-Q5_1.gguf", TensorType::kQ5_1, 3e-3},
        {"q-Q5_K_S.gguf", TensorType::kQ5_K, 3e-3},
        {"q-Q4_0.gguf", TensorType::kQ4_0, 1.2e-2},
        {"q-Q4_1.gguf", TensorType::kQ4_1, 1.2e-2},
        {"q-Q4_K_S.gguf", TensorType::kQ4_K, 1.2e-2},
        {"q-IQ4_NL.gguf", TensorType::kIQ4_NL, 1.2e-2},
        {"q-IQ4_XS.gguf", TensorType::kIQ4_XS, 1.2e-2},
        {"q-Q3_K_S.gguf", TensorType::kQ3_K, 6e-2},
        {"q-Q2_K.gguf", TensorType::kQ2_K, 0.2},
    };
    const std::string tensor_name = "blk.0.attn_q.weight";
    const gguf::TensorInfo* truth = (*truth_file)->find_tensor(tensor_name);
    ASSERT_NE(truth, nullptr);
    ASSERT_EQ(truth->type, TensorType::kF16);
    std::vector<float> want(truth->n_elements);
    dequantize_row(TensorType::kF16, truth->data, want.data(), int64_t(truth->n_elements));

    for (const GoldenFile& golden : files) {
        SCOPED_TRACE(golden.file);
        auto file = gguf::File::open((dir / golden.file).string());
        ASSERT_TRUE(file.has_value()) << file.status().message();
        const gguf::TensorInfo* info = (*file)->find_tensor(tensor_name);
        ASSERT_NE(info, nullptr);
        ASSERT_EQ(info->type, golden.type);
        ASSERT_EQ(info->n_elements, truth->n_elements);
        std::vector<float> got(info->n_elements);
        const int64_t row_len = info->dims[0];
        const size_t row_size = gguf::row_bytes(info->type, row_len);
        for (int64_t r = 0; r < info->rows(); ++r) {
            dequantize_row(info->type, info->data + r * row_size, got.data() + r * row_len,
                           row_len);
        }
        const double err = nmse(got, want);
        EXPECT_LE(err, golden.max_nmse);
        // The same value spread across types: a wrong layout gives an NMSE near 1 or above.
        std::printf("  %-16s NMSE vs F16 = %.3g\n", golden.file, err);
    }
}

// Every weight matrix of the Q4_K_M mixture file dequantizes to values close to the F16 file's.
TEST(KernelsRef, DequantizedMixtureAgreesWithF16) {
    CRIA_REQUIRE_SHARED(shared);
    const auto dir = shared / "golden" / "logits";
    auto truth_file = gguf::File::open((dir / "q-F16.gguf").string());
    auto mix_file = gguf::File::open((dir / "q-Q4_K_M-mix.gguf").string());
    ASSERT_TRUE(truth_file.has_value() && mix_file.has_value());
    int checked = 0;
    for (const gguf::TensorInfo& info : (*mix_file)->tensors()) {
        if (info.n_dims != 2 || !is_supported(info.type)) continue;
        const gguf::TensorInfo* truth = (*truth_file)->find_tensor(info.name);
        ASSERT_NE(truth, nullptr) << info.name;
        const int64_t row_len = info.dims[0];
        std::vector<float> got(info.n_elements), want(info.n_elements);
        for (int64_t r = 0; r < info.rows(); ++r) {
            dequantize_row(info.type, info.data + r * gguf::row_bytes(info.type, row_len),
                           got.data() + r * row_len, row_len);
            dequantize_row(truth->type, truth->data + r * gguf::row_bytes(truth->type, row_len),
                           want.data() + r * row_len, row_len);
        }
        EXPECT_LE(nmse(got, want), 2e-2) << info.name << " " << gguf::tensor_type_name(info.type);
        ++checked;
    }
    EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace cria::kernels
