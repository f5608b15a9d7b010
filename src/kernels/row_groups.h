// The row-group weight layout. GGUF stores a matrix row after row; generation multiplies every
// weight with one activation vector, and the fastest way to do that on AVX-512 is to hold 16
// rows side by side, one row per 32-bit lane of a vector: a 4-byte activation broadcast times
// such a vector gives 16 rows' partial dot products in one VNNI instruction, per-block scales
// become one vector for 16 rows, and no horizontal sums are needed. Repacking at load time puts
// each group of 16 rows in one contiguous run of memory in exactly that order, so the kernels
// read weights as one sequential stream with aligned loads and no shuffles.
//
// A matrix in this layout holds n_out / 16 groups of `row_group_bytes` each, 64-byte aligned,
// then the n_out % 16 remaining rows as GGUF stores them. Inside a group, "lane r" means the 4
// bytes at offset 4 r of a 64-byte vector, which belong to row r of the group. Scale fields are
// fp16 as in GGUF. Per type (b: block index, n_blocks = n_in / block size):
//
//   Q4_0  blocks in pairs of 576 bytes (an odd last block is followed by a zero block):
//           [0, 64)     fp16 d[2][16]           d of block j of the pair, row r at [j][r]
//           [64, 576)   codes[2][4] vectors     vector k of block j: lane r = qs[4k..4k+4) of
//                                                row r (low nibbles: elements 4k.., high
//                                                nibbles: elements 16+4k..), as stored
//   Q8_0  blocks in pairs of 1088 bytes (an odd last block is followed by a zero block):
//           [0, 64)     fp16 d[2][16]
//           [64, 1088)  codes[2][8] vectors     vector k of block j: lane r = qs[4k..4k+4) of
//                                                row r, each code + 128 (so that it is unsigned)
//   Q4_K  super-blocks of 2368 bytes:
//           [0, 32)     fp16 d[16]
//           [32, 64)    fp16 dmin[16]
//           [64, 192)   uint8 scale[8][16]      6-bit scale of sub-block j of row r at [j][r]
//           [192, 320)  uint8 min[4][16][2]     6-bit mins of sub-blocks 2p, 2p+1 of row r at
//                                                [p][r][0], [p][r][1]
//           [320, 2368) codes[4][8] vectors     vector k of chunk c: lane r = qs[32c + 4k ..
//                                                + 4) of row r (low nibbles: sub-block 2c,
//                                                elements 4k..; high nibbles: sub-block 2c+1)
//   Q6_K  super-blocks of 3392 bytes:
//           [0, 32)     fp16 d[16]
//           [32, 64)    zero (keeps the codes 64-byte aligned)
//           [64, 320)   int8 scale[16][16]      scale of sub-block j of row r at [j][r]
//           [320, 3392) per half h, quad k:     three vectors (192 bytes): lane r of the first
//                                                = ql[64h + 4k .. + 4), of the second = ql[64h
//                                                + 32 + 4k .. + 4), of the third = qh[32h + 4k
//                                                .. + 4) of row r
//
// Only the AVX-512 kernels read this layout; the scalar reference reads it by unpacking rows
// (unpack_row), which also defines the layout as the exact inverse of pack_row_groups.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace cria::kernels {

inline constexpr int kGroupRows = 16;

// True when `type` has a row-group layout.
bool has_row_group_layout(TensorType type);

// Bytes of one group of 16 rows of n_in elements; 0 when the type has no row-group layout.
size_t row_group_bytes(TensorType type, int64_t n_in);

// Bytes of a whole n_out x n_in matrix in the layout (groups, then the remaining rows).
size_t row_group_matrix_bytes(TensorType type, int64_t n_in, int64_t n_out);

// Writes `w` (GGUF layout, a type with a row-group layout) into dst, which must hold
// row_group_matrix_bytes and be 64-byte aligned, and returns the view of dst as a Matrix.
Matrix pack_row_groups(const Matrix& w, uint8_t* dst);

// The GGUF bytes (row_bytes(type, n_in)) of row r of a matrix in either layout.
void copy_gguf_row(const Matrix& w, int64_t r, uint8_t* dst);

}  // namespace cria::kernels
