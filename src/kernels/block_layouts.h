// Byte layouts of the GGUF block-quantized types, and of the 8-bit activation rows that the
// integer dot products consume. Every struct mirrors the on-disk bytes exactly (checked by the
// static_asserts), so a row of a tensor can be read as an array of these blocks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cria::kernels {

inline constexpr int kBlock32 = 32;      // elements per block of the "legacy" types
inline constexpr int kSuperBlock = 256;  // elements per super-block of the K-quants and IQ4_XS

// The 16 values of the IQ4_NL / IQ4_XS non-linear codebook, indexed by the 4-bit code.
inline constexpr int8_t kIq4Codebook[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Element j < 16 is the low nibble of qs[j], element j + 16 the high nibble; value (q - 8) * d.
struct BlockQ4_0 {
    uint16_t d;  // fp16 scale
    uint8_t qs[16];
};
// value q * d + m.
struct BlockQ4_1 {
    uint16_t d;  // fp16 scale
    uint16_t m;  // fp16 offset
    uint8_t qs[16];
};
// Like Q4_0 plus a fifth bit: bit j of the little-endian u32 qh is the high bit of element j.
// value (q - 16) * d.
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
};
// value q * d + m with 5-bit q as in Q5_0.
struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[16];
};
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[32];
};
// Nibbles as in Q4_0; value d * kIq4Codebook[q].
struct BlockIq4Nl {
    uint16_t d;
    uint8_t qs[16];
};

// 16 sub-blocks of 16. scales[j] holds the 4-bit scale (low nibble) and 4-bit min (high nibble)
// of sub-block j; value d * scale * q - dmin * min with 2-bit q. Each half of 128 elements
// uses 32 bytes of qs: bits 2s..2s+1 of qs[l] belong to element 32 s + l of that half.
struct BlockQ2_K {
    uint8_t scales[16];
    uint8_t qs[64];
    uint16_t d;     // fp16 scale of the scales
    uint16_t dmin;  // fp16 scale of the mins
};
// 16 sub-blocks of 16 with signed 6-bit scales (stored + 32) packed in 12 bytes. 2 low bits in
// qs as for Q2_K; the third bit of element 32 s + l of half h is bit (4 h + s) of hmask[l], and
// a CLEAR bit subtracts 4: value d * (scale - 32) * (low2 - (bit ? 0 : 4)).
struct BlockQ3_K {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;
};
// 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes (see unpack_q4k_scales).
// Each 64-element chunk c uses qs[32 c .. 32 c + 32): low nibbles are elements 0..31, high
// nibbles 32..63. value d * scale * q - dmin * min.
struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[128];
};
// Q4_K plus a fifth bit: for chunk c, bit 2c of qh[l] is the high bit of element l, bit 2c + 1
// of element 32 + l.
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
// 16 sub-blocks of 16 with int8 scales; value d * scale * (q - 32) with 6-bit q. Each half h of
// 128 elements uses ql[64 h ..] and qh[32 h ..]: element 32 s + l (s < 4, l < 32) has its low
// nibble in ql[l + 32 (s & 1)] (low nibble for s < 2, high for s >= 2) and its top two bits at
// bits 2s..2s+1 of qh[l].
struct BlockQ6_K {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
// 8 sub-blocks of 32; 6-bit scale of sub-block j = low nibble j of scales_l (nibble j & 1 of
// byte j / 2) | bits 2j..2j+1 of scales_h << 4, stored + 32. Nibbles as IQ4_NL per sub-block.
struct BlockIq4Xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[4];
    uint8_t qs[128];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockIq4Nl) == 18);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockIq4Xs) == 136);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block. Bytes 0..3 hold
// the scales of sub-blocks 0..3 in their low 6 bits, bytes 4..7 the mins of 0..3; sub-blocks
// 4..7 keep their low 4 bits in the nibbles of bytes 8..11 (scale low, min high) and their top
// 2 bits in the top 2 bits of bytes 0..3 (scales) and 4..7 (mins).
inline void unpack_q4k_scale_min(const uint8_t* packed, int j, uint8_t* scale, uint8_t* min) {
    if (j < 4) {
        *scale = packed[j] & 63;
        *min = packed[j + 4] & 63;
    } else {
        *scale = static_cast<uint8_t>((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
        *min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
    }
}

// The signed scale (-32..31) of sub-block j (0..15) of a Q3_K super-block: the low 4 bits are
// nibble j / 8 of byte j % 8, the high 2 bits are bits 2 (j / 4)..+1 of byte 8 + j % 4.
inline int unpack_q3k_scale(const uint8_t* packed, int j) {
    const int low = (packed[j % 8] >> (4 * (j / 8))) & 0xF;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

inline int unpack_iq4xs_scale(const BlockIq4Xs& block, int j) {
    const int low = (block.scales_l[j / 2] >> (4 * (j & 1))) & 0xF;
    const int high = (block.scales_h >> (2 * j)) & 3;
    return (low | (high << 4)) - 32;
}

}  // namespace cria::kernels
