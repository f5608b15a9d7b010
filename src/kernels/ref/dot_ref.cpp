// Reference activation conversion, dot products and GEMM. The integer dot products follow the
// decomposition that the vectorized kernels use: per (sub-)block an exact int32 sum of
// weight-code x activation-code products, scaled in float once per block.
#include <cassert>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/block_layouts.h"
#include "kernels/kernel_table.h"
#include "kernels/ref/ref.h"

namespace cria::kernels {

using gguf::TensorType;

ActFormat act_format_for(TensorType type) {
    switch (type) {
        case TensorType::kF32:
        case TensorType::kF16:
            return ActFormat::kF32;
        case TensorType::kBF16:
            return ActFormat::kBf16;
        case TensorType::kQ2_K:
        case TensorType::kQ3_K:
        case TensorType::kQ4_K:
        case TensorType::kQ5_K:
        case TensorType::kQ6_K:
        case TensorType::kIQ4_XS:
            return ActFormat::kQ8Block256;
        default:
            return ActFormat::kQ8Block32;
    }
}

namespace {

// Scale and codes of one block of activations: d = max|x| / 127, q = round-half-even(x / d).
// The vectorized converters compute the same float operations, so their codes are identical.
float quantize_block_q8(const float* x, int n, int8_t* q) {
    float amax = 0.0f;
    for (int i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inv_d));
    return d;
}

}  // namespace

void convert_act_ref(ActFormat format, const float* x, uint8_t* dst, int64_t n) {
    const ActLayout layout = act_layout(format, n);
    switch (format) {
        case ActFormat::kF32:
            std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
            break;
        case ActFormat::kBf16: {
            auto* out = reinterpret_cast<uint16_t*>(dst);
            for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(x[i]);
            break;
        }
        case ActFormat::kQ8Block32: {
            auto* q = reinterpret_cast<int8_t*>(dst);
            auto* d = reinterpret_cast<float*>(dst + layout.scale_offset);
            auto* dsum = reinterpret_cast<float*>(dst + layout.sum_offset);
            auto* qsum = reinterpret_cast<int32_t*>(dst + layout.qsum_offset);
            for (int64_t b = 0; b < n / 32; ++b) {
                d[b] = quantize_block_q8(x + 32 * b, 32, q + 32 * b);
                int sum = 0;
                for (int i = 0; i < 32; ++i) sum += q[32 * b + i];
                qsum[b] = sum;
                dsum[b] = d[b] * static_cast<float>(sum);
            }
            fill_block_lanes(q, reinterpret_cast<int8_t*>(dst + layout.lanes_offset), n);
            break;
        }
        case ActFormat::kQ8Block256: {
            auto* q = reinterpret_cast<int8_t*>(dst);
            auto* d = reinterpret_cast<float*>(dst + layout.scale_offset);
            auto* bsum = reinterpret_cast<int16_t*>(dst + layout.sum_offset);
            for (int64_t b = 0; b < n / 256; ++b) {
                d[b] = quantize_block_q8(x + 256 * b, 256, q + 256 * b);
            }
            for (int64_t g = 0; g < n / 16; ++g) {
                int sum = 0;
                for (int i = 0; i < 16; ++i) sum += q[16 * g + i];
                bsum[g] = static_cast<int16_t>(sum);
            }
            auto* bsum32 = reinterpret_cast<int16_t*>(dst + layout.sum32_offset);
            for (int64_t j = 0; j < n / 32; ++j) {
                bsum32[j] = static_cast<int16_t>(bsum[2 * j] + bsum[2 * j + 1]);
            }
            break;
        }
    }
}

namespace ref {
namespace {

uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// ---- Weights in blocks of 32 against kQ8Block32 activations.

// Decodes block b of a 32-element type into signed codes q and float (scale, offset) such that
// the weights are scale * q + offset.
struct Decoded32 {
    int q[32];
    float scale;
    float offset;  // 0 except for Q4_1 / Q5_1
};

void decode_block32(TensorType type, const uint8_t* row, int64_t b, Decoded32* out) {
    out->offset = 0.0f;
    switch (type) {
        case TensorType::kQ4_0: {
            const auto& block = reinterpret_cast<const BlockQ4_0*>(row)[b];
            out->scale = fp16_to_fp32(block.d);
            for (int j = 0; j < 16; ++j) {
                out->q[j] = (block.qs[j] & 0xF) - 8;
                out->q[j + 16] = (block.qs[j] >> 4) - 8;
            }
            break;
        }
        case TensorType::kQ4_1: {
            const auto& block = reinterpret_cast<const BlockQ4_1*>(row)[b];
            out->scale = fp16_to_fp32(block.d);
            out->offset = fp16_to_fp32(block.m);
            for (int j = 0; j < 16; ++j) {
                out->q[j] = block.qs[j] & 0xF;
                out->q[j + 16] = block.qs[j] >> 4;
            }
            break;
        }
        case TensorType::kQ5_0:
        case TensorType::kQ5_1: {
            const bool has_min = type == TensorType::kQ5_1;
            const uint8_t* qs;
            uint32_t qh;
            if (has_min) {
                const auto& block = reinterpret_cast<const BlockQ5_1*>(row)[b];
                out->scale = fp16_to_fp32(block.d);
                out->offset = fp16_to_fp32(block.m);
                qs = block.qs;
                qh = load_u32(block.qh);
            } else {
                const auto& block = reinterpret_cast<const BlockQ5_0*>(row)[b];
                out->scale = fp16_to_fp32(block.d);
                qs = block.qs;
                qh = load_u32(block.qh);
            }
            const int bias = has_min ? 0 : 16;
            for (int j = 0; j < 16; ++j) {
                out->q[j] = ((qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4)) - bias;
                out->q[j + 16] =
                    ((qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - bias;
            }
            break;
        }
        case TensorType::kQ8_0: {
            const auto& block = reinterpret_cast<const BlockQ8_0*>(row)[b];
            out->scale = fp16_to_fp32(block.d);
            for (int j = 0; j < 32; ++j) out->q[j] = block.qs[j];
            break;
        }
        case TensorType::kIQ4_NL: {
            const auto& block = reinterpret_cast<const BlockIq4Nl*>(row)[b];
            out->scale = fp16_to_fp32(block.d);
            for (int j = 0; j < 16; ++j) {
                out->q[j] = kIq4Codebook[block.qs[j] & 0xF];
                out->q[j + 16] = kIq4Codebook[block.qs[j] >> 4];
            }
            break;
        }
        default:
            assert(false && "decode_block32: not a 32-element type");
    }
}

float dot_block32(TensorType type, const uint8_t* w_row, const uint8_t* act_row, int64_t n) {
    const ActQ8Block32 act = view_q8_block32(act_row, n);
    Decoded32 w{};
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; ++b) {
        decode_block32(type, w_row, b, &w);
        int isum = 0;
        for (int j = 0; j < 32; ++j) isum += w.q[j] * act.q[32 * b + j];
        sum += w.scale * act.d[b] * static_cast<float>(isum) + w.offset * act.dsum[b];
    }
    return sum;
}

// ---- Super-blocks of 256 against kQ8Block256 activations.

// Codes of one super-block split in 16 groups of 16 elements: weight = d * scale[g] * q - dmin *
// min[g]; (Q4_K / Q5_K / IQ4_XS have one scale per two groups, repeated here.)
struct Decoded256 {
    int q[256];
    int scale[16];
    int min[16];
    float d;
    float dmin;
};

void decode_block256(TensorType type, const uint8_t* row, int64_t b, Decoded256* out) {
    out->dmin = 0.0f;
    for (int g = 0; g < 16; ++g) out->min[g] = 0;
    switch (type) {
        case TensorType::kQ2_K: {
            const auto& block = reinterpret_cast<const BlockQ2_K*>(row)[b];
            out->d = fp16_to_fp32(block.d);
            out->dmin = fp16_to_fp32(block.dmin);
            for (int i = 0; i < 256; ++i) {
                const int half = i / 128, shift = (i % 128) / 32, l = i % 32;
                out->q[i] = (block.qs[32 * half + l] >> (2 * shift)) & 3;
            }
            for (int g = 0; g < 16; ++g) {
                out->scale[g] = block.scales[g] & 0xF;
                out->min[g] = block.scales[g] >> 4;
            }
            break;
        }
        case TensorType::kQ3_K: {
            const auto& block = reinterpret_cast<const BlockQ3_K*>(row)[b];
            out->d = fp16_to_fp32(block.d);
            for (int i = 0; i < 256; ++i) {
                const int half = i / 128, shift = (i % 128) / 32, l = i % 32;
                const int low = (block.qs[32 * half + l] >> (2 * shift)) & 3;
                const bool high = (block.hmask[l] >> (4 * half + shift)) & 1;
                out->q[i] = low - (high ? 0 : 4);
            }
            for (int g = 0; g < 16; ++g) out->scale[g] = unpack_q3k_scale(block.scales, g);
            break;
        }
        case TensorType::kQ4_K:
        case TensorType::kQ5_K: {
            const bool five_bits = type == TensorType::kQ5_K;
            const uint8_t* scales;
            const uint8_t* qs;
            const uint8_t* qh = nullptr;
            if (five_bits) {
                const auto& block = reinterpret_cast<const BlockQ5_K*>(row)[b];
                out->d = fp16_to_fp32(block.d);
                out->dmin = fp16_to_fp32(block.dmin);
                scales = block.scales;
                qs = block.qs;
                qh = block.qh;
            } else {
                const auto& block = reinterpret_cast<const BlockQ4_K*>(row)[b];
                out->d = fp16_to_fp32(block.d);
                out->dmin = fp16_to_fp32(block.dmin);
                scales = block.scales;
                qs = block.qs;
            }
            for (int sub = 0; sub < 8; ++sub) {
                uint8_t scale, min;
                unpack_q4k_scale_min(scales, sub, &scale, &min);
                out->scale[2 * sub] = out->scale[2 * sub + 1] = scale;
                out->min[2 * sub] = out->min[2 * sub + 1] = min;
                for (int l = 0; l < 32; ++l) {
                    int q = (qs[32 * (sub / 2) + l] >> (4 * (sub & 1))) & 0xF;
                    if (qh != nullptr) q |= ((qh[l] >> sub) & 1) << 4;
                    out->q[32 * sub + l] = q;
                }
            }
            break;
        }
        case TensorType::kQ6_K: {
            const auto& block = reinterpret_cast<const BlockQ6_K*>(row)[b];
            out->d = fp16_to_fp32(block.d);
            for (int i = 0; i < 256; ++i) {
                const int half = i / 128, s = (i % 128) / 32, l = i % 32;
                const uint8_t low_byte = block.ql[64 * half + l + 32 * (s & 1)];
                const int low = (s < 2 ? low_byte : low_byte >> 4) & 0xF;
                const int high = (block.qh[32 * half + l] >> (2 * s)) & 3;
                out->q[i] = (low | (high << 4)) - 32;
            }
            for (int g = 0; g < 16; ++g) out->scale[g] = block.scales[g];
            break;
        }
        case TensorType::kIQ4_XS: {
            const auto& block = reinterpret_cast<const BlockIq4Xs*>(row)[b];
            out->d = fp16_to_fp32(block.d);
            for (int sub = 0; sub < 8; ++sub) {
                out->scale[2 * sub] = out->scale[2 * sub + 1] = unpack_iq4xs_scale(block, sub);
                for (int j = 0; j < 16; ++j) {
                    out->q[32 * sub + j] = kIq4Codebook[block.qs[16 * sub + j] & 0xF];
                    out->q[32 * sub + j + 16] = kIq4Codebook[block.qs[16 * sub + j] >> 4];
                }
            }
            break;
        }
        default:
            assert(false && "decode_block256: not a super-block type");
    }
}

float dot_block256(TensorType type, const uint8_t* w_row, const uint8_t* act_row, int64_t n) {
    const ActQ8Block256 act = view_q8_block256(act_row, n);
    Decoded256 w{};
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b) {
        decode_block256(type, w_row, b, &w);
        const int8_t* a = act.q + 256 * b;
        int scaled = 0;  // sum over groups of scale * (q . a): at most 16 * 127 * 16 * 32 * 127
        int mins = 0;    // sum over groups of min * bsum
        for (int g = 0; g < 16; ++g) {
            int isum = 0;
            for (int j = 0; j < 16; ++j) isum += w.q[16 * g + j] * a[16 * g + j];
            scaled += w.scale[g] * isum;
            mins += w.min[g] * act.bsum[16 * b + g];
        }
        sum += act.d[b] * (w.d * static_cast<float>(scaled) - w.dmin * static_cast<float>(mins));
    }
    return sum;
}

}  // namespace

float dot(TensorType type, const uint8_t* w_row, const uint8_t* act_row, int64_t n) {
    switch (type) {
        case TensorType::kF32: {
            const auto* w = reinterpret_cast<const float*>(w_row);
            const auto* x = reinterpret_cast<const float*>(act_row);
            float sum = 0.0f;
            for (int64_t i = 0; i < n; ++i) sum += w[i] * x[i];
            return sum;
        }
        case TensorType::kF16: {
            const auto* w = reinterpret_cast<const uint16_t*>(w_row);
            const auto* x = reinterpret_cast<const float*>(act_row);
            float sum = 0.0f;
            for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(w[i]) * x[i];
            return sum;
        }
        case TensorType::kBF16: {
            const auto* w = reinterpret_cast<const uint16_t*>(w_row);
            const auto* x = reinterpret_cast<const uint16_t*>(act_row);
            float sum = 0.0f;
            for (int64_t i = 0; i < n; ++i) sum += bf16_to_fp32(w[i]) * bf16_to_fp32(x[i]);
            return sum;
        }
        default:
            break;
    }
    return act_format_for(type) == ActFormat::kQ8Block256 ? dot_block256(type, w_row, act_row, n)
                                                          : dot_block32(type, w_row, act_row, n);
}

namespace {

void gemm_reference(const GemmArgs& args, int64_t row_begin, int64_t row_end) {
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* w_row = args.w + static_cast<size_t>(r) * args.w_row_bytes;
        for (int64_t t = 0; t < args.n_tokens; ++t) {
            args.y[t * args.y_stride + r] =
                dot(args.type, w_row, args.act + static_cast<size_t>(t) * args.act_row_bytes,
                    args.n_in);
        }
    }
}

}  // namespace
}  // namespace ref

GemmFn gemm_ref(TensorType type) {
    return &ref::gemm_reference;
}

}  // namespace cria::kernels
