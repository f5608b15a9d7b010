// matmul through the public API: the scalar path against a float64 product of the dequantized
// weights, and every optimized ISA path against the scalar path on odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "kernels/activations.h"
#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/row_groups.h"
#include "test_data.h"

namespace cria::kernels {
namespace {

using test::all_types;
using test::random_floats;
using test::random_weights;

std::string type_name(TensorType type) {
    return std::string(gguf::tensor_type_name(type));
}

std::vector<float> dequantize_matrix(TensorType type, const std::vector<uint8_t>& bytes,
                                     int64_t n_out, int64_t n_in) {
    std::vector<float> out(static_cast<size_t>(n_out * n_in));
    const size_t row_size = gguf::row_bytes(type, n_in);
    for (int64_t r = 0; r < n_out; ++r) {
        dequantize_row(type, bytes.data() + r * row_size, out.data() + r * n_in, n_in);
    }
    return out;
}

Matrix make_matrix(TensorType type, const std::vector<uint8_t>& bytes, int64_t n_out,
                   int64_t n_in) {
    Matrix w;
    w.type = type;
    w.data = bytes.data();
    w.n_in = n_in;
    w.n_out = n_out;
    w.row_bytes = gguf::row_bytes(type, n_in);
    return w;
}

// NMSE of the scalar path against the exact product: what activation rounding costs.
double max_nmse_vs_exact(TensorType type) {
    switch (type) {
        case TensorType::kF32:
        case TensorType::kF16:
            return 1e-10;
        case TensorType::kBF16:
            return 3e-5;
        default:
            return 2e-4;
    }
}

TEST(Matmul, ScalarMatchesExactProductOfDequantizedWeights) {
    ThreadPool pool(2);
    const int64_t n_out = 19, n_tokens = 3;
    for (TensorType type : all_types()) {
        SCOPED_TRACE(type_name(type));
        const int64_t n_in = 512;
        const auto bytes = random_weights(type, n_out, n_in, 21);
        const auto x = random_floats(static_cast<size_t>(n_tokens * n_in), 22);
        const auto wd = dequantize_matrix(type, bytes, n_out, n_in);
        std::vector<float> y(static_cast<size_t>(n_tokens * n_out));
        matmul(make_matrix(type, bytes, n_out, n_in), x.data(), n_tokens, y.data(), pool,
               Isa::kScalar);
        double err = 0.0, norm = 0.0;
        for (int64_t t = 0; t < n_tokens; ++t) {
            for (int64_t o = 0; o < n_out; ++o) {
                double want = 0.0;
                for (int64_t i = 0; i < n_in; ++i)
                    want += double(wd[o * n_in + i]) * x[t * n_in + i];
                const double diff = y[t * n_out + o] - want;
                err += diff * diff;
                norm += want * want;
            }
        }
        EXPECT_LE(err / norm, max_nmse_vs_exact(type));
        EXPECT_GT(norm, 0.0);
    }
}

class MatmulVectorIsa : public test::MatmulIsaTest {};
class MatmulAnyIsa : public test::MatmulIsaTest {};

struct Shape {
    int64_t n_out;
    int64_t n_in_blocks;  // in units of the type's block (32 or 256 elements; 32 for floats)
};

// Every ISA path against the scalar one, per element, with a tolerance for the order of float
// additions relative to sum |w * x| (the size of the rounding errors any order can make).
TEST_P(MatmulVectorIsa, MatchesScalar) {
    ThreadPool pool2(2), pool3(3), pool1(1);
    const Shape shapes[] = {{1, 1}, {3, 1}, {17, 11}, {67, 3}, {130, 2}};
    // 2-16 tokens take the few-tokens paths (rows one at a time); 33 the tiled one.
    const int64_t token_counts[] = {1, 2, 3, 7, 8, 12, 16, 33};
    const Isa isa = GetParam();
    for (TensorType type : all_types()) {
        const int64_t block = std::max<int64_t>(32, gguf::tensor_type_info(type).block_size);
        uint32_t seed = 100;
        for (const Shape& shape : shapes) {
            const int64_t n_in = block * shape.n_in_blocks;
            const auto bytes = random_weights(type, shape.n_out, n_in, ++seed);
            const auto wd = dequantize_matrix(type, bytes, shape.n_out, n_in);
            const Matrix w = make_matrix(type, bytes, shape.n_out, n_in);
            for (int64_t n_tokens : token_counts) {
                SCOPED_TRACE(type_name(type) + " " + isa_name(isa) + " n_out " +
                             std::to_string(shape.n_out) + " n_in " + std::to_string(n_in) +
                             " tokens " + std::to_string(n_tokens));
                const auto x = random_floats(static_cast<size_t>(n_tokens * n_in), ++seed);
                std::vector<float> want(static_cast<size_t>(n_tokens * shape.n_out));
                std::vector<float> got(want.size(), NAN);
                matmul(w, x.data(), n_tokens, want.data(), pool1, Isa::kScalar);
                ThreadPool& pool = n_tokens % 2 == 0 ? pool3 : pool2;
                matmul(w, x.data(), n_tokens, got.data(), pool, isa);
                for (int64_t t = 0; t < n_tokens; ++t) {
                    for (int64_t o = 0; o < shape.n_out; ++o) {
                        double magnitude = 0.0;
                        for (int64_t i = 0; i < n_in; ++i) {
                            magnitude += std::fabs(double(wd[o * n_in + i]) * x[t * n_in + i]);
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

// Float weights accept any row length; the vector kernels handle the tail past the last full
// vector.
TEST_P(MatmulVectorIsa, FloatTypesWithOddRowLengths) {
    const Isa isa = GetParam();
    ThreadPool pool(2);
    for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kBF16}) {
        for (int64_t n_in : {1, 7, 40, 77, 200}) {
            // 33 tokens take the tiled path (several rows x tokens per tile).
            for (int64_t n_tokens : {1, 5, 33}) {
                SCOPED_TRACE(type_name(type) + " n_in " + std::to_string(n_in) + " tokens " +
                             std::to_string(n_tokens));
                const int64_t n_out = 13;
                const auto bytes = random_weights(type, n_out, n_in, 5);
                const Matrix w = make_matrix(type, bytes, n_out, n_in);
                const auto x = random_floats(static_cast<size_t>(n_tokens * n_in), 6);
                std::vector<float> want(static_cast<size_t>(n_tokens * n_out));
                matmul(w, x.data(), n_tokens, want.data(), pool, Isa::kScalar);
                std::vector<float> got(want.size(), NAN);
                matmul(w, x.data(), n_tokens, got.data(), pool, isa);
                for (size_t k = 0; k < want.size(); ++k) {
                    ASSERT_NEAR(got[k], want[k], 1e-4f * (1.0f + std::fabs(want[k])))
                        << isa_name(isa) << " element " << k;
                }
            }
        }
    }
}

// The vectorized activation converters must produce exactly the reference's bytes: the integer
// kernels rely on identical codes and block sums.
TEST_P(MatmulVectorIsa, ActivationConvertersMatchReferenceBitForBit) {
    const Isa isa = GetParam();
    for (ActFormat format : {ActFormat::kBf16, ActFormat::kQ8Block32, ActFormat::kQ8Block256}) {
        const ConvertActFn fn =
            isa == Isa::kAvx2 ? convert_act_avx2(format) : convert_act_avx512(format);
        if (fn == nullptr) continue;
        for (int64_t n : {256, 512, 4096, 4096 + 77}) {
            if (n % 256 != 0 && format != ActFormat::kBf16) continue;  // blocks need whole n
            SCOPED_TRACE(std::string(isa_name(isa)) + " format " +
                         std::to_string(static_cast<int>(format)) + " n " + std::to_string(n));
            auto x = random_floats(static_cast<size_t>(n), static_cast<uint32_t>(n), 3.0f);
            x[5] = 0.0f;
            for (int i = 32; i < 64; ++i) x[i] = 0.0f;  // an all-zero block
            x[70] = 1e-30f;
            x[100] = -1e6f;
            const ActLayout layout = act_layout(format, n);
            std::vector<uint8_t> want(layout.row_bytes, 0), got(layout.row_bytes, 0);
            convert_act_ref(format, x.data(), want.data(), n);
            fn(format, x.data(), got.data(), n);
            ASSERT_EQ(0, std::memcmp(want.data(), got.data(), layout.row_bytes));
        }
    }
}

// Several matrices on one input in one pass over the pool give what one call per matrix gives:
// mixed types (so several activation formats), both layouts, a partial last row group, a
// matrix without rows between the others, every ISA, several token and thread counts.
TEST_P(MatmulAnyIsa, SharedInputMatchesOneCallPerMatrix) {
    struct AlignedDelete {
        void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }
    };
    struct Part {
        TensorType type;
        int64_t n_out;
        bool packed;
    };
    const Part parts[] = {{TensorType::kQ4_K, 67, true},  {TensorType::kQ6_K, 33, false},
                          {TensorType::kQ8_0, 0, false},  {TensorType::kQ8_0, 48, true},
                          {TensorType::kF16, 5, false},   {TensorType::kQ4_0, 130, true},
                          {TensorType::kBF16, 16, false}, {TensorType::kIQ4_XS, 3, false}};
    const int64_t n_in = 512;
    std::vector<std::vector<uint8_t>> bytes;
    std::vector<std::unique_ptr<uint8_t[], AlignedDelete>> packed_bytes;
    std::vector<Matrix> matrices;
    uint32_t seed = 300;
    for (const Part& part : parts) {
        bytes.push_back(random_weights(part.type, part.n_out, n_in, ++seed));
        Matrix w = make_matrix(part.type, bytes.back(), part.n_out, n_in);
        if (part.packed) {
            const size_t size = row_group_matrix_bytes(part.type, n_in, part.n_out);
            packed_bytes.emplace_back(
                static_cast<uint8_t*>(::operator new[](size, std::align_val_t{64})));
            w = pack_row_groups(w, packed_bytes.back().get());
        }
        matrices.push_back(w);
    }
    ThreadPool pool1(1), pool2(2), pool3(3);
    const Isa isa = GetParam();
    for (int64_t n_tokens : {1, 2, 5, 9}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " tokens " + std::to_string(n_tokens));
        const auto x = random_floats(static_cast<size_t>(n_tokens * n_in), ++seed);
        std::vector<std::vector<float>> want, got;
        std::vector<MatmulOutput> outputs;
        for (const Matrix& w : matrices) {
            const auto size = static_cast<size_t>(n_tokens * w.n_out);
            want.emplace_back(size);
            got.emplace_back(size, NAN);
            matmul(w, x.data(), n_tokens, want.back().data(), pool1, isa);
        }
        for (size_t m = 0; m < matrices.size(); ++m) {
            outputs.push_back({&matrices[m], got[m].data()});
        }
        ThreadPool& pool = n_tokens % 3 == 0 ? pool3 : (n_tokens % 2 ? pool2 : pool1);
        matmul_shared_input(outputs, x.data(), n_tokens, pool, isa);
        for (size_t m = 0; m < matrices.size(); ++m) {
            for (size_t k = 0; k < want[m].size(); ++k) {
                ASSERT_NEAR(got[m][k], want[m][k], 1e-5f * (1.0f + std::fabs(want[m][k])))
                    << type_name(matrices[m].type) << " matrix " << m << " element " << k;
            }
        }
    }
}

TEST(Matmul, ZeroTokensAndRowsAreNoOps) {
    ThreadPool pool(2);
    const auto bytes = random_weights(TensorType::kQ4_0, 4, 64, 1);
    const Matrix w = make_matrix(TensorType::kQ4_0, bytes, 4, 64);
    std::vector<float> y(4, 7.0f);
    matmul(w, nullptr, 0, y.data(), pool);
    for (float v : y) EXPECT_EQ(v, 7.0f);
}

INSTANTIATE_TEST_SUITE_P(Isa, MatmulVectorIsa, ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                         test::isa_param_name);
INSTANTIATE_TEST_SUITE_P(Isa, MatmulAnyIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         test::isa_param_name);

}  // namespace
}  // namespace cria::kernels
