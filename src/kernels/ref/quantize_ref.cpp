// Reference quantization of float rows into every supported type. Scales are chosen by simple
// round-to-nearest from each block's range (no error-minimizing search as model converters do),
// which is enough for synthetic models and tests: the error stays within a few percent of the
// block's range, like a real quantizer.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/block_layouts.h"
#include "kernels/ref/ref.h"

namespace cria::kernels::ref {
namespace {

using gguf::TensorType;

int round_clamp(float v, int lo, int hi) {
    const float r = std::nearbyint(v);
    if (!(r >= static_cast<float>(lo))) return lo;  // also catches NaN
    if (r > static_cast<float>(hi)) return hi;
    return static_cast<int>(r);
}

// The element of largest magnitude, with its sign.
float signed_absmax(const float* x, int n) {
    float best = 0.0f;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
    }
    return best;
}

float inverse_or_zero(float d) {
    return d != 0.0f ? 1.0f / d : 0.0f;
}

// Index of the codebook entry nearest to v.
int nearest_iq4_code(float v) {
    int best = 0;
    for (int k = 1; k < 16; ++k) {
        if (std::fabs(kIq4Codebook[k] - v) < std::fabs(kIq4Codebook[best] - v)) best = k;
    }
    return best;
}

void quantize_q8_0(const float* x, BlockQ8_0* out) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    out->d = fp32_to_fp16(d);
    const float inv = inverse_or_zero(fp16_to_fp32(out->d));
    for (int j = 0; j < 32; ++j)
        out->qs[j] = static_cast<int8_t>(round_clamp(x[j] * inv, -127, 127));
}

// Symmetric 4/5-bit: the largest-magnitude element maps to code 0 (value -2^(bits-1) * d).
void quantize_symmetric(const float* x, int bits, uint16_t* d_out, int* q) {
    const int half = 1 << (bits - 1);
    const float d = signed_absmax(x, 32) / static_cast<float>(-half);
    *d_out = fp32_to_fp16(d);
    const float inv = inverse_or_zero(fp16_to_fp32(*d_out));
    for (int j = 0; j < 32; ++j) q[j] = round_clamp(x[j] * inv, -half, half - 1) + half;
}

// Asymmetric 4/5-bit: value = d * q + m with m the block minimum.
void quantize_asymmetric(const float* x, int bits, uint16_t* d_out, uint16_t* m_out, int* q) {
    const float lo = *std::min_element(x, x + 32);
    const float hi = *std::max_element(x, x + 32);
    const int top = (1 << bits) - 1;
    *d_out = fp32_to_fp16((hi - lo) / static_cast<float>(top));
    *m_out = fp32_to_fp16(lo);
    const float inv = inverse_or_zero(fp16_to_fp32(*d_out));
    const float m = fp16_to_fp32(*m_out);
    for (int j = 0; j < 32; ++j) q[j] = round_clamp((x[j] - m) * inv, 0, top);
}

void pack_nibbles(const int* q, uint8_t* qs) {
    for (int j = 0; j < 16; ++j)
        qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}

void pack_q5_high_bits(const int* q, uint8_t* qh_bytes) {
    uint32_t qh = 0;
    for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    std::memcpy(qh_bytes, &qh, sizeof(qh));
}

void quantize_iq4_nl(const float* x, BlockIq4Nl* out) {
    const float d = signed_absmax(x, 32) / static_cast<float>(kIq4Codebook[0]);
    out->d = fp32_to_fp16(d);
    const float inv = inverse_or_zero(fp16_to_fp32(out->d));
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = nearest_iq4_code(x[j] * inv);
    pack_nibbles(q, out->qs);
}

// Per-group (scale, min) for the K-quants with mins: value = scale * q - min, q in [0, top],
// with min >= 0 (the group minimum clipped at zero, as zero must stay representable).
void group_scale_min(const float* x, int n, int top, float* scale, float* min) {
    const float lo = std::min(0.0f, *std::min_element(x, x + n));
    const float hi = *std::max_element(x, x + n);
    *scale = (hi - lo) / static_cast<float>(top);
    *min = -lo;
}

void pack_q4k_scales(const int* scale, const int* min, uint8_t* packed) {
    for (int j = 0; j < 4; ++j) {
        packed[j] = static_cast<uint8_t>((scale[j] & 63) | ((scale[j + 4] >> 4) << 6));
        packed[j + 4] = static_cast<uint8_t>((min[j] & 63) | ((min[j + 4] >> 4) << 6));
        packed[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0xF) | ((min[j + 4] & 0xF) << 4));
    }
}

// Q4_K (bits 4) and Q5_K (bits 5): 8 groups of 32 with 6-bit scales and mins.
void quantize_qk_with_mins(const float* x, int bits, uint16_t* d_out, uint16_t* dmin_out,
                           uint8_t* scales_out, int* q) {
    const int top = (1 << bits) - 1;
    float scale[8], min[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int g = 0; g < 8; ++g) {
        group_scale_min(x + 32 * g, 32, top, &scale[g], &min[g]);
        max_scale = std::max(max_scale, scale[g]);
        max_min = std::max(max_min, min[g]);
    }
    *d_out = fp32_to_fp16(max_scale / 63.0f);
    *dmin_out = fp32_to_fp16(max_min / 63.0f);
    const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);
    int iscale[8], imin[8];
    for (int g = 0; g < 8; ++g) {
        iscale[g] = round_clamp(scale[g] * inverse_or_zero(d), 0, 63);
        imin[g] = round_clamp(min[g] * inverse_or_zero(dmin), 0, 63);
        const float step = d * static_cast<float>(iscale[g]);
        const float offset = dmin * static_cast<float>(imin[g]);
        for (int l = 0; l < 32; ++l) {
            q[32 * g + l] = round_clamp((x[32 * g + l] + offset) * inverse_or_zero(step), 0, top);
        }
    }
    pack_q4k_scales(iscale, imin, scales_out);
}

void quantize_q4_k(const float* x, BlockQ4_K* out) {
    int q[256];
    quantize_qk_with_mins(x, 4, &out->d, &out->dmin, out->scales, q);
    for (int chunk = 0; chunk < 4; ++chunk) {
        for (int l = 0; l < 32; ++l) {
            out->qs[32 * chunk + l] =
                static_cast<uint8_t>(q[64 * chunk + l] | (q[64 * chunk + 32 + l] << 4));
        }
    }
}

void quantize_q5_k(const float* x, BlockQ5_K* out) {
    int q[256];
    quantize_qk_with_mins(x, 5, &out->d, &out->dmin, out->scales, q);
    std::memset(out->qh, 0, sizeof(out->qh));
    for (int chunk = 0; chunk < 4; ++chunk) {
        for (int l = 0; l < 32; ++l) {
            const int lo = q[64 * chunk + l], hi = q[64 * chunk + 32 + l];
            out->qs[32 * chunk + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
            out->qh[l] |=
                static_cast<uint8_t>(((lo >> 4) << (2 * chunk)) | ((hi >> 4) << (2 * chunk + 1)));
        }
    }
}

// Position of element i (0..255) in the 2-bit planes of Q2_K / Q3_K: byte 32 * half + l of qs,
// bit pair `shift`.
void place_2bit(uint8_t* qs, int i, int value) {
    const int half = i / 128, shift = (i % 128) / 32, l = i % 32;
    qs[32 * half + l] |= static_cast<uint8_t>((value & 3) << (2 * shift));
}

void quantize_q2_k(const float* x, BlockQ2_K* out) {
    float scale[16], min[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int g = 0; g < 16; ++g) {
        group_scale_min(x + 16 * g, 16, 3, &scale[g], &min[g]);
        max_scale = std::max(max_scale, scale[g]);
        max_min = std::max(max_min, min[g]);
    }
    out->d = fp32_to_fp16(max_scale / 15.0f);
    out->dmin = fp32_to_fp16(max_min / 15.0f);
    const float d = fp16_to_fp32(out->d), dmin = fp16_to_fp32(out->dmin);
    std::memset(out->qs, 0, sizeof(out->qs));
    for (int g = 0; g < 16; ++g) {
        const int iscale = round_clamp(scale[g] * inverse_or_zero(d), 0, 15);
        const int imin = round_clamp(min[g] * inverse_or_zero(dmin), 0, 15);
        out->scales[g] = static_cast<uint8_t>(iscale | (imin << 4));
        const float step_inv = inverse_or_zero(d * static_cast<float>(iscale));
        const float offset = dmin * static_cast<float>(imin);
        for (int l = 0; l < 16; ++l) {
            place_2bit(out->qs, 16 * g + l, round_clamp((x[16 * g + l] + offset) * step_inv, 0, 3));
        }
    }
}

void quantize_q3_k(const float* x, BlockQ3_K* out) {
    float scale[16];
    float max_abs_scale = 0.0f, max_scale = 0.0f;
    for (int g = 0; g < 16; ++g) {
        scale[g] = signed_absmax(x + 16 * g, 16) / -4.0f;
        if (std::fabs(scale[g]) > max_abs_scale) {
            max_abs_scale = std::fabs(scale[g]);
            max_scale = scale[g];
        }
    }
    // The largest scale maps to -32, the most negative 6-bit value.
    out->d = fp32_to_fp16(max_scale / -32.0f);
    const float d = fp16_to_fp32(out->d);
    std::memset(out->qs, 0, sizeof(out->qs));
    std::memset(out->hmask, 0, sizeof(out->hmask));
    std::memset(out->scales, 0, sizeof(out->scales));
    for (int g = 0; g < 16; ++g) {
        const int iscale = round_clamp(scale[g] * inverse_or_zero(d), -32, 31);
        const int stored = iscale + 32;
        out->scales[g % 8] |= static_cast<uint8_t>((stored & 0xF) << (4 * (g / 8)));
        out->scales[8 + g % 4] |= static_cast<uint8_t>((stored >> 4) << (2 * (g / 4)));
        const float step_inv = inverse_or_zero(d * static_cast<float>(iscale));
        for (int l = 0; l < 16; ++l) {
            const int i = 16 * g + l;
            const int code = round_clamp(x[i] * step_inv, -4, 3) + 4;  // 0..7
            place_2bit(out->qs, i, code & 3);
            if (code >= 4) {
                const int half = i / 128, shift = (i % 128) / 32;
                out->hmask[i % 32] |= static_cast<uint8_t>(1 << (4 * half + shift));
            }
        }
    }
}

void quantize_q6_k(const float* x, BlockQ6_K* out) {
    float scale[16];
    float max_abs_scale = 0.0f, max_scale = 0.0f;
    for (int g = 0; g < 16; ++g) {
        scale[g] = signed_absmax(x + 16 * g, 16) / -32.0f;
        if (std::fabs(scale[g]) > max_abs_scale) {
            max_abs_scale = std::fabs(scale[g]);
            max_scale = scale[g];
        }
    }
    out->d = fp32_to_fp16(max_scale / -128.0f);
    const float d = fp16_to_fp32(out->d);
    std::memset(out->ql, 0, sizeof(out->ql));
    std::memset(out->qh, 0, sizeof(out->qh));
    for (int g = 0; g < 16; ++g) {
        const int iscale = round_clamp(scale[g] * inverse_or_zero(d), -128, 127);
        out->scales[g] = static_cast<int8_t>(iscale);
        const float step_inv = inverse_or_zero(d * static_cast<float>(iscale));
        for (int l = 0; l < 16; ++l) {
            const int i = 16 * g + l;
            const int code = round_clamp(x[i] * step_inv, -32, 31) + 32;  // 0..63
            const int half = i / 128, s = (i % 128) / 32, pos = i % 32;
            out->ql[64 * half + pos + 32 * (s & 1)] |=
                static_cast<uint8_t>((code & 0xF) << (s < 2 ? 0 : 4));
            out->qh[32 * half + pos] |= static_cast<uint8_t>((code >> 4) << (2 * s));
        }
    }
}

void quantize_iq4_xs(const float* x, BlockIq4Xs* out) {
    float scale[8];
    float max_abs_scale = 0.0f, max_scale = 0.0f;
    for (int g = 0; g < 8; ++g) {
        scale[g] = signed_absmax(x + 32 * g, 32) / static_cast<float>(kIq4Codebook[0]);
        if (std::fabs(scale[g]) > max_abs_scale) {
            max_abs_scale = std::fabs(scale[g]);
            max_scale = scale[g];
        }
    }
    out->d = fp32_to_fp16(max_scale / -32.0f);
    const float d = fp16_to_fp32(out->d);
    out->scales_h = 0;
    std::memset(out->scales_l, 0, sizeof(out->scales_l));
    for (int g = 0; g < 8; ++g) {
        const int iscale = round_clamp(scale[g] * inverse_or_zero(d), -32, 31);
        const int stored = iscale + 32;
        out->scales_l[g / 2] |= static_cast<uint8_t>((stored & 0xF) << (4 * (g & 1)));
        out->scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * g));
        const float step_inv = inverse_or_zero(d * static_cast<float>(iscale));
        int q[32];
        for (int l = 0; l < 32; ++l) q[l] = nearest_iq4_code(x[32 * g + l] * step_inv);
        pack_nibbles(q, out->qs + 16 * g);
    }
}

template <typename Block, typename Fn>
void for_each_block(const float* src, void* dst, int64_t n, int block_elems, Fn fn) {
    auto* blocks = static_cast<Block*>(dst);
    for (int64_t b = 0; b < n / block_elems; ++b) fn(src + b * block_elems, &blocks[b]);
}

}  // namespace

bool can_quantize(TensorType type) {
    switch (type) {
        case TensorType::kF32:
        case TensorType::kF16:
        case TensorType::kBF16:
        case TensorType::kQ4_0:
        case TensorType::kQ4_1:
        case TensorType::kQ5_0:
        case TensorType::kQ5_1:
        case TensorType::kQ8_0:
        case TensorType::kIQ4_NL:
        case TensorType::kQ2_K:
        case TensorType::kQ3_K:
        case TensorType::kQ4_K:
        case TensorType::kQ5_K:
        case TensorType::kQ6_K:
        case TensorType::kIQ4_XS:
            return true;
        default:
            return false;
    }
}

bool quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
    int q[32];
    switch (type) {
        case TensorType::kF32:
            std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
            return true;
        case TensorType::kF16: {
            auto* out = static_cast<uint16_t*>(dst);
            for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(src[i]);
            return true;
        }
        case TensorType::kBF16: {
            auto* out = static_cast<uint16_t*>(dst);
            for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(src[i]);
            return true;
        }
        case TensorType::kQ8_0:
            for_each_block<BlockQ8_0>(src, dst, n, 32, quantize_q8_0);
            return true;
        case TensorType::kQ4_0:
            for_each_block<BlockQ4_0>(src, dst, n, 32, [&](const float* x, BlockQ4_0* out) {
                quantize_symmetric(x, 4, &out->d, q);
                pack_nibbles(q, out->qs);
            });
            return true;
        case TensorType::kQ4_1:
            for_each_block<BlockQ4_1>(src, dst, n, 32, [&](const float* x, BlockQ4_1* out) {
                quantize_asymmetric(x, 4, &out->d, &out->m, q);
                pack_nibbles(q, out->qs);
            });
            return true;
        case TensorType::kQ5_0:
            for_each_block<BlockQ5_0>(src, dst, n, 32, [&](const float* x, BlockQ5_0* out) {
                quantize_symmetric(x, 5, &out->d, q);
                pack_nibbles(q, out->qs);
                pack_q5_high_bits(q, out->qh);
            });
            return true;
        case TensorType::kQ5_1:
            for_each_block<BlockQ5_1>(src, dst, n, 32, [&](const float* x, BlockQ5_1* out) {
                quantize_asymmetric(x, 5, &out->d, &out->m, q);
                pack_nibbles(q, out->qs);
                pack_q5_high_bits(q, out->qh);
            });
            return true;
        case TensorType::kIQ4_NL:
            for_each_block<BlockIq4Nl>(src, dst, n, 32, quantize_iq4_nl);
            return true;
        case TensorType::kQ2_K:
            for_each_block<BlockQ2_K>(src, dst, n, 256, quantize_q2_k);
            return true;
        case TensorType::kQ3_K:
            for_each_block<BlockQ3_K>(src, dst, n, 256, quantize_q3_k);
            return true;
        case TensorType::kQ4_K:
            for_each_block<BlockQ4_K>(src, dst, n, 256, quantize_q4_k);
            return true;
        case TensorType::kQ5_K:
            for_each_block<BlockQ5_K>(src, dst, n, 256, quantize_q5_k);
            return true;
        case TensorType::kQ6_K:
            for_each_block<BlockQ6_K>(src, dst, n, 256, quantize_q6_k);
            return true;
        case TensorType::kIQ4_XS:
            for_each_block<BlockIq4Xs>(src, dst, n, 256, quantize_iq4_xs);
            return true;
        default:
            return false;
    }
}

}  // namespace cria::kernels::ref
