// Packing into and out of the row-group layout (see row_groups.h for the byte layouts). Both
// directions are plain byte moves: pack_row_groups followed by copy_gguf_row gives back every
// GGUF byte, which the tests check for every type and shape.
#include "kernels/row_groups.h"

#include <cassert>
#include <cstring>
#include <vector>

#include "kernels/block_layouts.h"

namespace cria::kernels {
namespace {

constexpr size_t kQ4_0PairBytes = 576;
constexpr size_t kQ8_0PairBytes = 1088;
constexpr size_t kQ4_KSuperBytes = 2368;
constexpr size_t kQ6_KSuperBytes = 3392;

int64_t pairs_of(int64_t n_blocks) {
    return (n_blocks + 1) / 2;
}

// One direction of the byte moves of a group: packing copies GGUF -> group, unpacking group ->
// GGUF, through the same description of where each GGUF byte goes.
class GroupMover {
  public:
    static GroupMover packing(uint8_t* group) { return GroupMover(group, nullptr); }
    static GroupMover unpacking(const uint8_t* group) { return GroupMover(nullptr, group); }
    // Moves n bytes between GGUF row bytes `row` and group offset `offset`.
    void move(uint8_t* row, size_t offset, size_t n) const {
        if (to_group_ != nullptr) {
            std::memcpy(to_group_ + offset, row, n);
        } else {
            std::memcpy(row, from_group_ + offset, n);
        }
    }

  private:
    GroupMover(uint8_t* to_group, const uint8_t* from_group)
        : to_group_(to_group), from_group_(from_group) {}
    uint8_t* to_group_;
    const uint8_t* from_group_;
};

// The moves of row r (0..15) of one group; `row` is that row's GGUF bytes. Unpacking writes
// every byte of `row` once; packing writes every byte of the group that belongs to row r.
void move_row(TensorType type, int64_t n_in, int r, uint8_t* row, const GroupMover& mover) {
    const size_t lane = 4 * static_cast<size_t>(r);
    switch (type) {
        case TensorType::kQ4_0: {
            const int64_t n_blocks = n_in / 32;
            for (int64_t b = 0; b < n_blocks; ++b) {
                uint8_t* block = row + b * sizeof(BlockQ4_0);
                const size_t pair = static_cast<size_t>(b / 2) * kQ4_0PairBytes;
                const size_t j = static_cast<size_t>(b % 2);
                mover.move(block, pair + 2 * (16 * j + r), 2);
                for (size_t k = 0; k < 4; ++k) {
                    mover.move(block + 2 + 4 * k, pair + 64 + 256 * j + 64 * k + lane, 4);
                }
            }
            break;
        }
        case TensorType::kQ8_0: {
            // The code bytes move as they are here; pack_row_groups and copy_gguf_row flip
            // their top bit (+ 128) afterwards.
            const int64_t n_blocks = n_in / 32;
            for (int64_t b = 0; b < n_blocks; ++b) {
                uint8_t* block = row + b * sizeof(BlockQ8_0);
                const size_t pair = static_cast<size_t>(b / 2) * kQ8_0PairBytes;
                const size_t j = static_cast<size_t>(b % 2);
                mover.move(block, pair + 2 * (16 * j + r), 2);
                for (size_t k = 0; k < 8; ++k) {
                    mover.move(block + 2 + 4 * k, pair + 64 + 512 * j + 64 * k + lane, 4);
                }
            }
            break;
        }
        case TensorType::kQ4_K: {
            // The 12 bytes of packed scales and mins are decoded by the caller (see
            // pack_q4k_meta); here only d, dmin and the codes move.
            const int64_t n_super = n_in / 256;
            for (int64_t s = 0; s < n_super; ++s) {
                uint8_t* block = row + s * sizeof(BlockQ4_K);
                const size_t base = static_cast<size_t>(s) * kQ4_KSuperBytes;
                mover.move(block, base + 2 * r, 2);
                mover.move(block + 2, base + 32 + 2 * r, 2);
                for (size_t c = 0; c < 4; ++c) {
                    for (size_t k = 0; k < 8; ++k) {
                        mover.move(block + 16 + 32 * c + 4 * k,
                                   base + 320 + 512 * c + 64 * k + lane, 4);
                    }
                }
            }
            break;
        }
        case TensorType::kQ6_K: {
            const int64_t n_super = n_in / 256;
            for (int64_t s = 0; s < n_super; ++s) {
                uint8_t* block = row + s * sizeof(BlockQ6_K);
                const size_t base = static_cast<size_t>(s) * kQ6_KSuperBytes;
                mover.move(block + 208, base + 2 * r, 2);
                for (size_t j = 0; j < 16; ++j)
                    mover.move(block + 192 + j, base + 64 + 16 * j + r, 1);
                for (size_t h = 0; h < 2; ++h) {
                    for (size_t k = 0; k < 8; ++k) {
                        const size_t quad = base + 320 + 192 * (8 * h + k) + lane;
                        mover.move(block + 64 * h + 4 * k, quad, 4);
                        mover.move(block + 64 * h + 32 + 4 * k, quad + 64, 4);
                        mover.move(block + 128 + 32 * h + 4 * k, quad + 128, 4);
                    }
                }
            }
            break;
        }
        default:
            assert(false && "type without a row-group layout");
    }
}

// Q4_K scales and mins: GGUF packs the 6-bit values of 8 sub-blocks in 12 bytes (see
// unpack_q4k_scale_min); the group holds them one per byte.
void pack_q4k_meta(const uint8_t* row, int64_t n_in, int r, uint8_t* group) {
    for (int64_t s = 0; s < n_in / 256; ++s) {
        const uint8_t* packed = row + s * sizeof(BlockQ4_K) + 4;
        uint8_t* base = group + static_cast<size_t>(s) * kQ4_KSuperBytes;
        for (int j = 0; j < 8; ++j) {
            uint8_t scale, min;
            unpack_q4k_scale_min(packed, j, &scale, &min);
            base[64 + 16 * j + r] = scale;
            base[192 + 32 * (j / 2) + 2 * r + j % 2] = min;
        }
    }
}

void unpack_q4k_meta(const uint8_t* group, int64_t n_in, int r, uint8_t* row) {
    for (int64_t s = 0; s < n_in / 256; ++s) {
        uint8_t* packed = row + s * sizeof(BlockQ4_K) + 4;
        const uint8_t* base = group + static_cast<size_t>(s) * kQ4_KSuperBytes;
        uint8_t scale[8], min[8];
        for (int j = 0; j < 8; ++j) {
            scale[j] = base[64 + 16 * j + r];
            min[j] = base[192 + 32 * (j / 2) + 2 * r + j % 2];
        }
        for (int j = 0; j < 4; ++j) {
            packed[j] = static_cast<uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
            packed[j + 4] = static_cast<uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
            packed[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0xF) | ((min[j + 4] & 0xF) << 4));
        }
    }
}

// Flips the top bit of the code bytes of row r's Q8_0 blocks, in a GGUF row.
void flip_q8_0_codes(uint8_t* row, int64_t n_in) {
    for (int64_t b = 0; b < n_in / 32; ++b) {
        uint8_t* codes = row + b * sizeof(BlockQ8_0) + 2;
        for (int i = 0; i < 32; ++i) codes[i] ^= 0x80;
    }
}

}  // namespace

bool has_row_group_layout(TensorType type) {
    switch (type) {
        case TensorType::kQ4_0:
        case TensorType::kQ8_0:
        case TensorType::kQ4_K:
        case TensorType::kQ6_K:
            return true;
        default:
            return false;
    }
}

size_t row_group_bytes(TensorType type, int64_t n_in) {
    switch (type) {
        case TensorType::kQ4_0:
            return static_cast<size_t>(pairs_of(n_in / 32)) * kQ4_0PairBytes;
        case TensorType::kQ8_0:
            return static_cast<size_t>(pairs_of(n_in / 32)) * kQ8_0PairBytes;
        case TensorType::kQ4_K:
            return static_cast<size_t>(n_in / 256) * kQ4_KSuperBytes;
        case TensorType::kQ6_K:
            return static_cast<size_t>(n_in / 256) * kQ6_KSuperBytes;
        default:
            return 0;
    }
}

size_t row_group_matrix_bytes(TensorType type, int64_t n_in, int64_t n_out) {
    return static_cast<size_t>(n_out / kGroupRows) * row_group_bytes(type, n_in) +
           static_cast<size_t>(n_out % kGroupRows) * gguf::row_bytes(type, n_in);
}

Matrix pack_row_groups(const Matrix& w, uint8_t* dst) {
    assert(w.layout == WeightLayout::kGguf && has_row_group_layout(w.type));
    assert(reinterpret_cast<uintptr_t>(dst) % 64 == 0);
    const auto* src = static_cast<const uint8_t*>(w.data);
    const size_t group_bytes = row_group_bytes(w.type, w.n_in);
    const int64_t n_groups = w.n_out / kGroupRows;
    std::vector<uint8_t> row(w.row_bytes);
    for (int64_t g = 0; g < n_groups; ++g) {
        uint8_t* group = dst + static_cast<size_t>(g) * group_bytes;
        // Bytes that no row moves (the zero block after an odd last block, the Q6_K padding).
        std::memset(group, 0, group_bytes);
        const GroupMover mover = GroupMover::packing(group);
        for (int r = 0; r < kGroupRows; ++r) {
            std::memcpy(row.data(), src + static_cast<size_t>(g * kGroupRows + r) * w.row_bytes,
                        w.row_bytes);
            if (w.type == TensorType::kQ8_0) flip_q8_0_codes(row.data(), w.n_in);
            move_row(w.type, w.n_in, r, row.data(), mover);
            if (w.type == TensorType::kQ4_K) pack_q4k_meta(row.data(), w.n_in, r, group);
        }
    }
    const int64_t n_tail = w.n_out % kGroupRows;
    std::memcpy(dst + static_cast<size_t>(n_groups) * group_bytes,
                src + static_cast<size_t>(n_groups * kGroupRows) * w.row_bytes,
                static_cast<size_t>(n_tail) * w.row_bytes);
    Matrix packed = w;
    packed.data = dst;
    packed.layout = WeightLayout::kRowGroups;
    return packed;
}

void copy_gguf_row(const Matrix& w, int64_t r, uint8_t* dst) {
    const auto* data = static_cast<const uint8_t*>(w.data);
    if (w.layout == WeightLayout::kGguf) {
        std::memcpy(dst, data + static_cast<size_t>(r) * w.row_bytes, w.row_bytes);
        return;
    }
    const size_t group_bytes = row_group_bytes(w.type, w.n_in);
    const int64_t n_groups = w.n_out / kGroupRows;
    const int64_t g = r / kGroupRows;
    if (g >= n_groups) {
        const size_t tail_row = static_cast<size_t>(r - n_groups * kGroupRows);
        std::memcpy(dst,
                    data + static_cast<size_t>(n_groups) * group_bytes + tail_row * w.row_bytes,
                    w.row_bytes);
        return;
    }
    const uint8_t* group = data + static_cast<size_t>(g) * group_bytes;
    const int lane = static_cast<int>(r % kGroupRows);
    move_row(w.type, w.n_in, lane, dst, GroupMover::unpacking(group));
    if (w.type == TensorType::kQ4_K) unpack_q4k_meta(group, w.n_in, lane, dst);
    if (w.type == TensorType::kQ8_0) flip_q8_0_codes(dst, w.n_in);
}

}  // namespace cria::kernels
