#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>

namespace cria {
namespace {

TEST(Half, EveryFp16RoundTrips) {
    for (uint32_t bits = 0; bits < 0x10000; ++bits) {
        const auto h = static_cast<uint16_t>(bits);
        const float f = fp16_to_fp32(h);
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
            continue;
        }
        EXPECT_EQ(fp32_to_fp16(f), h) << "bits " << bits;
    }
}

TEST(Half, RoundsToNearestEven) {
    EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(1.0f)), 1.0f);
    // 1 + 2^-11 is halfway between 1 and the next half; ties go to the even mantissa (1.0).
    EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11))), 1.0f);
    EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(65504.0f)), 65504.0f);
    EXPECT_TRUE(std::isinf(fp16_to_fp32(fp32_to_fp16(1e6f))));
    EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(std::ldexp(1.0f, -24))), std::ldexp(1.0f, -24));
    EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(std::ldexp(1.0f, -26))), 0.0f);
}

TEST(Bf16, RoundTripAndRounding) {
    EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(1.5f)), 1.5f);
    EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(-3.0f)), -3.0f);
    EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::nanf("")))));
    const float near_one = 1.0f + std::ldexp(1.0f, -9);  // below half an ulp (2^-8): to 1.0
    EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(near_one)), 1.0f);
}

}  // namespace
}  // namespace cria
