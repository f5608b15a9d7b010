// IEEE half (fp16) and bfloat16 conversions. Scalar and exact: these are the reference that the
// vectorized kernels are tested against.
#pragma once

#include <cstdint>
#include <cstring>

namespace cria {

inline float bits_to_float(uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
}

inline uint32_t float_to_bits(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof(bits));
    return bits;
}

inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0) {
        if (mantissa == 0) return bits_to_float(sign);
        // Subnormal half: renormalize into a normal float.
        int shift = 0;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            ++shift;
        }
        mantissa &= 0x3FFu;
        const uint32_t exp32 = static_cast<uint32_t>(127 - 15 + 1 - shift);
        return bits_to_float(sign | (exp32 << 23) | (mantissa << 13));
    }
    if (exponent == 0x1F) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));
    return bits_to_float(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

// Round to nearest even, with overflow to infinity and gradual underflow.
inline uint16_t fp32_to_fp16(float f) {
    const uint32_t bits = float_to_bits(f);
    const uint32_t sign = (bits >> 16) & 0x8000u;
    const uint32_t abs_bits = bits & 0x7FFFFFFFu;
    if (abs_bits >= 0x7F800000u) {  // inf or nan
        return static_cast<uint16_t>(sign | 0x7C00u | (abs_bits > 0x7F800000u ? 0x200u : 0u));
    }
    if (abs_bits >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // overflow
    if (abs_bits < 0x38800000u) {                                               // subnormal half
        if (abs_bits < 0x33000000u) return static_cast<uint16_t>(sign);         // rounds to zero
        const uint32_t exponent = abs_bits >> 23;
        const uint32_t mantissa = (abs_bits & 0x7FFFFFu) | 0x800000u;
        // value = mantissa * 2^(exponent-150); in half subnormal units of 2^-24 that is
        // mantissa >> (126 - exponent).
        const uint32_t shift = 126 - exponent;
        uint32_t result = mantissa >> shift;
        const uint32_t rest = mantissa & ((1u << shift) - 1);
        const uint32_t halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (result & 1u))) ++result;
        return static_cast<uint16_t>(sign | result);
    }
    uint32_t result = ((abs_bits - 0x38000000u) >> 13);
    const uint32_t rest = abs_bits & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
}

inline float bf16_to_fp32(uint16_t b) {
    return bits_to_float(static_cast<uint32_t>(b) << 16);
}

// Round to nearest even; NaN stays NaN.
inline uint16_t fp32_to_bf16(float f) {
    const uint32_t bits = float_to_bits(f);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
    const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

}  // namespace cria
