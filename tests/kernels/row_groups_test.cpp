// The row-group layout: packing gives back every GGUF byte, and matmul on packed weights (the
// AVX-512 kernels made for the layout and its scalar path) matches the scalar matmul on the
// GGUF rows, for odd shapes (a partial last group, an odd last block) and any token count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/row_groups.h"
#include "test_data.h"

namespace cria::kernels {
namespace {

using test::random_floats;
using test::random_weights;

class RowGroupsIsa : public test::MatmulIsaTest {};

const TensorType kGroupTypes[] = {TensorType::kQ4_0, TensorType::kQ8_0, TensorType::kQ4_K,
                                  TensorType::kQ6_K};

struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using AlignedBytes = std::unique_ptr<uint8_t[], AlignedDelete>;

AlignedBytes allocate(size_t bytes) {
    return AlignedBytes(static_cast<uint8_t*>(::operator new[](bytes, std::align_val_t{64})));
}

Matrix gguf_matrix(TensorType type, const std::vector<uint8_t>& bytes, int64_t n_out,
                   int64_t n_in) {
    Matrix w;
    w.type = type;
    w.data = bytes.data();
    w.n_in = n_in;
    w.n_out = n_out;
    w.row_bytes = gguf::row_bytes(type, n_in);
    return w;
}

std::string describe(TensorType type, int64_t n_out, int64_t n_in) {
    return std::string(gguf::tensor_type_name(type)) + " n_out " + std::to_string(n_out) +
           " n_in " + std::to_string(n_in);
}

struct Shape {
    int64_t n_out;
    int64_t n_in_blocks;  // in the type's blocks (32 or 256 elements)
};
const Shape kShapes[] = {{1, 1}, {15, 3}, {16, 1}, {17, 5}, {48, 2}, {67, 3}, {130, 4}};

TEST(RowGroups, PackingKeepsEveryByte) {
    for (TensorType type : kGroupTypes) {
        ASSERT_TRUE(has_row_group_layout(type));
        const int64_t block = gguf::tensor_type_info(type).block_size;
        uint32_t seed = 1;
        for (const Shape& shape : kShapes) {
            const int64_t n_in = block * shape.n_in_blocks;
            SCOPED_TRACE(describe(type, shape.n_out, n_in));
            const auto bytes = random_weights(type, shape.n_out, n_in, ++seed);
            const Matrix w = gguf_matrix(type, bytes, shape.n_out, n_in);
            const size_t packed_bytes = row_group_matrix_bytes(type, n_in, shape.n_out);
            EXPECT_EQ(packed_bytes % 64 == 0 || shape.n_out % 16 != 0, true);
            AlignedBytes buffer = allocate(packed_bytes);
            const Matrix packed = pack_row_groups(w, buffer.get());
            EXPECT_EQ(packed.layout, WeightLayout::kRowGroups);
            std::vector<uint8_t> row(w.row_bytes);
            std::vector<float> want(static_cast<size_t>(n_in)), got(want.size());
            for (int64_t r = 0; r < shape.n_out; ++r) {
                copy_gguf_row(packed, r, row.data());
                ASSERT_EQ(0, std::memcmp(row.data(), bytes.data() + r * w.row_bytes, w.row_bytes))
                    << "row " << r;
                dequantize_matrix_row(w, r, want.data());
                dequantize_matrix_row(packed, r, got.data());
                ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)));
            }
        }
    }
}

TEST(RowGroups, OnlyTheTypesWithKernelsArePreferred) {
    for (TensorType type : test::all_types()) {
        if (prefers_row_groups(type, Isa::kAvx512)) {
            EXPECT_TRUE(has_row_group_layout(type)) << gguf::tensor_type_name(type);
        }
        EXPECT_FALSE(prefers_row_groups(type, Isa::kAvx2));
        EXPECT_FALSE(prefers_row_groups(type, Isa::kScalar));
    }
}

// Packed weights through every ISA path (AVX-512: the row-group kernels; below: the scalar
// path of the layout) against the scalar matmul on the GGUF rows, per element, within the
// rounding of float additions in another order.
TEST_P(RowGroupsIsa, MatmulMatchesScalarOnGgufRows) {
    const Isa isa = GetParam();
    ThreadPool pool1(1), pool2(2), pool3(3);
    const int64_t token_counts[] = {1, 2, 3, 5, 8, 12, 17, 33};
    for (TensorType type : kGroupTypes) {
        const int64_t block = gguf::tensor_type_info(type).block_size;
        uint32_t seed = 50;
        for (const Shape& shape : kShapes) {
            const int64_t n_in = block * shape.n_in_blocks;
            const auto bytes = random_weights(type, shape.n_out, n_in, ++seed);
            const Matrix w = gguf_matrix(type, bytes, shape.n_out, n_in);
            AlignedBytes buffer = allocate(row_group_matrix_bytes(type, n_in, shape.n_out));
            const Matrix packed = pack_row_groups(w, buffer.get());
            std::vector<float> dequantized(static_cast<size_t>(shape.n_out * n_in));
            for (int64_t r = 0; r < shape.n_out; ++r) {
                dequantize_row(type, bytes.data() + r * w.row_bytes, dequantized.data() + r * n_in,
                               n_in);
            }
            for (int64_t n_tokens : token_counts) {
                const auto x = random_floats(static_cast<size_t>(n_tokens * n_in), ++seed);
                std::vector<float> want(static_cast<size_t>(n_tokens * shape.n_out));
                matmul(w, x.data(), n_tokens, want.data(), pool1, Isa::kScalar);
                SCOPED_TRACE(describe(type, shape.n_out, n_in) + " " + isa_name(isa) + " tokens " +
                             std::to_string(n_tokens));
                std::vector<float> got(want.size(), NAN);
                ThreadPool& pool = n_tokens % 3 == 0 ? pool3 : (n_tokens % 2 ? pool2 : pool1);
                matmul(packed, x.data(), n_tokens, got.data(), pool, isa);
                for (int64_t t = 0; t < n_tokens; ++t) {
                    for (int64_t o = 0; o < shape.n_out; ++o) {
                        double magnitude = 0.0;
                        for (int64_t i = 0; i < n_in; ++i) {
                            magnitude +=
                                std::fabs(double(dequantized[o * n_in + i]) * x[t * n_in + i]);
                        }
                        const size_t k = static_cast<size_t>(t * shape.n_out + o);
                        ASSERT_NEAR(got[k], want[k], 2e-6 * magnitude + 1e-30)
                            << "token " << t << " row " << o;
                    }
                }
            }
        }
    }
}

// Large blocks of tokens (more than fit the kernels' L2 token blocks) on a wide matrix.
TEST(RowGroups, ManyTokensOnAWideMatrix) {
    if (!avx512_kernels_usable()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
    ThreadPool pool(2);
    for (TensorType type : kGroupTypes) {
        const int64_t n_in = 2048, n_out = 64, n_tokens = 300;
        SCOPED_TRACE(describe(type, n_out, n_in));
        const auto bytes = random_weights(type, n_out, n_in, 7);
        const Matrix w = gguf_matrix(type, bytes, n_out, n_in);
        AlignedBytes buffer = allocate(row_group_matrix_bytes(type, n_in, n_out));
        const Matrix packed = pack_row_groups(w, buffer.get());
        const auto x = random_floats(static_cast<size_t>(n_tokens * n_in), 8);
        std::vector<float> want(static_cast<size_t>(n_tokens * n_out)), got(want.size(), NAN);
        matmul(w, x.data(), n_tokens, want.data(), pool, Isa::kScalar);
        matmul(packed, x.data(), n_tokens, got.data(), pool, Isa::kAvx512);
        for (size_t k = 0; k < want.size(); ++k) {
            ASSERT_NEAR(got[k], want[k], 1e-4f * (1.0f + std::fabs(want[k]))) << "element " << k;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Isa, RowGroupsIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         test::isa_param_name);

}  // namespace
}  // namespace cria::kernels
