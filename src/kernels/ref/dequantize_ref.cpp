// Reference dequantization of one row of every supported type: the definition of what each
// block means (see block_layouts.h for the bit layouts).
#include <cassert>
#include <cstring>

#include "core/half.h"
#include "kernels/block_layouts.h"
#include "kernels/ref/ref.h"

namespace cria::kernels::ref {
namespace {

using gguf::TensorType;

template <typename Block>
const Block* blocks_of(const void* src) {
    return static_cast<const Block*>(src);
}

void dequantize_q4_0(const BlockQ4_0* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 32) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * static_cast<float>((blocks[b].qs[j] & 0xF) - 8);
            dst[j + 16] = d * static_cast<float>((blocks[b].qs[j] >> 4) - 8);
        }
    }
}

void dequantize_q4_1(const BlockQ4_1* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 32) {
        const float d = fp16_to_fp32(blocks[b].d);
        const float m = fp16_to_fp32(blocks[b].m);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * static_cast<float>(blocks[b].qs[j] & 0xF) + m;
            dst[j + 16] = d * static_cast<float>(blocks[b].qs[j] >> 4) + m;
        }
    }
}

uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// The 5-bit values of a Q5_0 / Q5_1 block, 0..31.
void unpack_q5(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
    const uint32_t qh = load_u32(qh_bytes);
    for (int j = 0; j < 16; ++j) {
        q[j] = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
        q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    }
}

void dequantize_q5_0(const BlockQ5_0* blocks, float* dst, int64_t n_blocks) {
    int q[32];
    for (int64_t b = 0; b < n_blocks; ++b, dst += 32) {
        const float d = fp16_to_fp32(blocks[b].d);
        unpack_q5(blocks[b].qs, blocks[b].qh, q);
        for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(q[j] - 16);
    }
}

void dequantize_q5_1(const BlockQ5_1* blocks, float* dst, int64_t n_blocks) {
    int q[32];
    for (int64_t b = 0; b < n_blocks; ++b, dst += 32) {
        const float d = fp16_to_fp32(blocks[b].d);
        const float m = fp16_to_fp32(blocks[b].m);
        unpack_q5(blocks[b].qs, blocks[b].qh, q);
        for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(q[j]) + m;
    }
}

void dequantize_q8_0(const BlockQ8_0* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 32) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(blocks[b].qs[j]);
    }
}

void dequantize_iq4_nl(const BlockIq4Nl* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 32) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * static_cast<float>(kIq4Codebook[blocks[b].qs[j] & 0xF]);
            dst[j + 16] = d * static_cast<float>(kIq4Codebook[blocks[b].qs[j] >> 4]);
        }
    }
}

void dequantize_q2_k(const BlockQ2_K* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 256) {
        const BlockQ2_K& block = blocks[b];
        const float d = fp16_to_fp32(block.d);
        const float dmin = fp16_to_fp32(block.dmin);
        for (int i = 0; i < 256; ++i) {
            const int half = i / 128, shift = (i % 128) / 32, l = i % 32;
            const int q = (block.qs[32 * half + l] >> (2 * shift)) & 3;
            const uint8_t sm = block.scales[i / 16];
            dst[i] = d * static_cast<float>(sm & 0xF) * static_cast<float>(q) -
                     dmin * static_cast<float>(sm >> 4);
        }
    }
}

void dequantize_q3_k(const BlockQ3_K* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 256) {
        const BlockQ3_K& block = blocks[b];
        const float d = fp16_to_fp32(block.d);
        for (int i = 0; i < 256; ++i) {
            const int half = i / 128, shift = (i % 128) / 32, l = i % 32;
            const int low = (block.qs[32 * half + l] >> (2 * shift)) & 3;
            const bool high = (block.hmask[l] >> (4 * half + shift)) & 1;
            const int q = low - (high ? 0 : 4);
            dst[i] = d * static_cast<float>(unpack_q3k_scale(block.scales, i / 16)) *
                     static_cast<float>(q);
        }
    }
}

void dequantize_q4_k(const BlockQ4_K* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 256) {
        const BlockQ4_K& block = blocks[b];
        const float d = fp16_to_fp32(block.d);
        const float dmin = fp16_to_fp32(block.dmin);
        for (int sub = 0; sub < 8; ++sub) {
            uint8_t scale, min;
            unpack_q4k_scale_min(block.scales, sub, &scale, &min);
            const float ds = d * scale, dm = dmin * min;
            const uint8_t* qs = block.qs + 32 * (sub / 2);
            const int shift = 4 * (sub & 1);
            for (int l = 0; l < 32; ++l) {
                dst[32 * sub + l] = ds * static_cast<float>((qs[l] >> shift) & 0xF) - dm;
            }
        }
    }
}

void dequantize_q5_k(const BlockQ5_K* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 256) {
        const BlockQ5_K& block = blocks[b];
        const float d = fp16_to_fp32(block.d);
        const float dmin = fp16_to_fp32(block.dmin);
        for (int sub = 0; sub < 8; ++sub) {
            uint8_t scale, min;
            unpack_q4k_scale_min(block.scales, sub, &scale, &min);
            const float ds = d * scale, dm = dmin * min;
            const uint8_t* qs = block.qs + 32 * (sub / 2);
            const int shift = 4 * (sub & 1);
            for (int l = 0; l < 32; ++l) {
                const int q = ((qs[l] >> shift) & 0xF) | (((block.qh[l] >> sub) & 1) << 4);
                dst[32 * sub + l] = ds * static_cast<float>(q) - dm;
            }
        }
    }
}

void dequantize_q6_k(const BlockQ6_K* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 256) {
        const BlockQ6_K& block = blocks[b];
        const float d = fp16_to_fp32(block.d);
        for (int i = 0; i < 256; ++i) {
            const int half = i / 128, s = (i % 128) / 32, l = i % 32;
            const uint8_t low_byte = block.ql[64 * half + l + 32 * (s & 1)];
            const int low = (s < 2 ? low_byte : low_byte >> 4) & 0xF;
            const int high = (block.qh[32 * half + l] >> (2 * s)) & 3;
            const int q = (low | (high << 4)) - 32;
            dst[i] = d * static_cast<float>(block.scales[i / 16]) * static_cast<float>(q);
        }
    }
}

void dequantize_iq4_xs(const BlockIq4Xs* blocks, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += 256) {
        const BlockIq4Xs& block = blocks[b];
        const float d = fp16_to_fp32(block.d);
        for (int sub = 0; sub < 8; ++sub) {
            const float ds = d * static_cast<float>(unpack_iq4xs_scale(block, sub));
            const uint8_t* qs = block.qs + 16 * sub;
            for (int j = 0; j < 16; ++j) {
                dst[32 * sub + j] = ds * static_cast<float>(kIq4Codebook[qs[j] & 0xF]);
                dst[32 * sub + j + 16] = ds * static_cast<float>(kIq4Codebook[qs[j] >> 4]);
            }
        }
    }
}

}  // namespace

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
    const int64_t n32 = n / 32, n256 = n / 256;
    switch (type) {
        case TensorType::kF32:
            std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
            break;
        case TensorType::kF16: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
            break;
        }
        case TensorType::kBF16: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
            break;
        }
        case TensorType::kQ4_0:
            dequantize_q4_0(blocks_of<BlockQ4_0>(src), dst, n32);
            break;
        case TensorType::kQ4_1:
            dequantize_q4_1(blocks_of<BlockQ4_1>(src), dst, n32);
            break;
        case TensorType::kQ5_0:
            dequantize_q5_0(blocks_of<BlockQ5_0>(src), dst, n32);
            break;
        case TensorType::kQ5_1:
            dequantize_q5_1(blocks_of<BlockQ5_1>(src), dst, n32);
            break;
        case TensorType::kQ8_0:
            dequantize_q8_0(blocks_of<BlockQ8_0>(src), dst, n32);
            break;
        case TensorType::kIQ4_NL:
            dequantize_iq4_nl(blocks_of<BlockIq4Nl>(src), dst, n32);
            break;
        case TensorType::kQ2_K:
            dequantize_q2_k(blocks_of<BlockQ2_K>(src), dst, n256);
            break;
        case TensorType::kQ3_K:
            dequantize_q3_k(blocks_of<BlockQ3_K>(src), dst, n256);
            break;
        case TensorType::kQ4_K:
            dequantize_q4_k(blocks_of<BlockQ4_K>(src), dst, n256);
            break;
        case TensorType::kQ5_K:
            dequantize_q5_k(blocks_of<BlockQ5_K>(src), dst, n256);
            break;
        case TensorType::kQ6_K:
            dequantize_q6_k(blocks_of<BlockQ6_K>(src), dst, n256);
            break;
        case TensorType::kIQ4_XS:
            dequantize_iq4_xs(blocks_of<BlockIq4Xs>(src), dst, n256);
            break;
        default:
            assert(false && "dequantize_row: unsupported type");
            break;
    }
}

}  // namespace cria::kernels::ref
