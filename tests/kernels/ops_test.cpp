// The decoder's f32 operations: the scalar reference against first principles, and every
// vectorized ISA available on this machine against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace cria::kernels {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// The f32 operations of one vector ISA against the reference; the ops need no more than
// isa_supported() (no VNNI), and an ISA the machine lacks shows as skipped.
class OpsIsa : public ::testing::TestWithParam<Isa> {
  protected:
    void SetUp() override {
        if (!isa_supported(GetParam())) {
            GTEST_SKIP() << isa_name(GetParam()) << " is not supported by this CPU";
        }
    }
};

void expect_close(const std::vector<float>& a, const std::vector<float>& b, float rel,
                  const char* what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        const float tolerance = rel * std::max(1.0f, std::fabs(b[i]));
        ASSERT_NEAR(a[i], b[i], tolerance) << what << " at " << i;
    }
}

TEST(OpsRef, RmsNormMatchesDefinition) {
    const std::vector<float> x = {1.0f, -2.0f, 3.0f, 4.0f};
    const std::vector<float> w = {1.0f, 0.5f, 2.0f, -1.0f};
    std::vector<float> y(4);
    rms_norm(x.data(), w.data(), y.data(), 1, 4, 0.0f, Isa::kScalar);
    const float rms = std::sqrt((1.0f + 4.0f + 9.0f + 16.0f) / 4.0f);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] / rms * w[i], 1e-6f);
}

TEST(OpsRef, LayerNormMatchesDefinition) {
    const auto x = random_vector(37, 3, 4.0f);
    const auto w = random_vector(37, 4);
    const auto b = random_vector(37, 5);
    std::vector<float> y(37);
    layer_norm(x.data(), w.data(), b.data(), y.data(), 1, 37, 1e-6f, Isa::kScalar);
    double mean = 0.0;
    for (float v : x) mean += v;
    mean /= 37.0;
    double variance = 0.0;
    for (float v : x) variance += (v - mean) * (v - mean);
    variance /= 37.0;
    for (size_t i = 0; i < 37; ++i) {
        const double expected = (x[i] - mean) / std::sqrt(variance + 1e-6) * w[i] + b[i];
        EXPECT_NEAR(y[i], expected, 1e-5) << i;
    }
}

TEST(OpsRef, RopeRotatesPairsByPositionAngle) {
    RopeConfig config;
    config.n_rot = 4;
    config.freq_base = 100.0f;
    std::vector<float> cs(4);
    rope_angles(config, 3, cs.data());
    // Pair 0 turns by 3 rad, pair 1 by 3 / 100^(2/4) = 0.3 rad.
    EXPECT_NEAR(cs[0], std::cos(3.0f), 1e-6f);
    EXPECT_NEAR(cs[1], std::sin(3.0f), 1e-6f);
    EXPECT_NEAR(cs[2], std::cos(0.3f), 1e-6f);
    EXPECT_NEAR(cs[3], std::sin(0.3f), 1e-6f);

    // Normal style pairs (0,1), (2,3); the fifth dimension is beyond n_rot and stays.
    std::vector<float> x = {1.0f, 0.0f, 0.0f, 1.0f, 7.0f};
    rope_apply(x.data(), 1, 5, 4, RopeStyle::kNormal, cs.data(), Isa::kScalar);
    EXPECT_NEAR(x[0], std::cos(3.0f), 1e-6f);
    EXPECT_NEAR(x[1], std::sin(3.0f), 1e-6f);
    EXPECT_NEAR(x[2], -std::sin(0.3f), 1e-6f);
    EXPECT_NEAR(x[3], std::cos(0.3f), 1e-6f);
    EXPECT_EQ(x[4], 7.0f);

    // NeoX style pairs (0,2), (1,3).
    std::vector<float> y = {1.0f, 0.0f, 0.0f, 1.0f};
    rope_apply(y.data(), 1, 4, 4, RopeStyle::kNeox, cs.data(), Isa::kScalar);
    EXPECT_NEAR(y[0], std::cos(3.0f), 1e-6f);
    EXPECT_NEAR(y[2], std::sin(3.0f), 1e-6f);
    EXPECT_NEAR(y[1], -std::sin(0.3f), 1e-6f);
    EXPECT_NEAR(y[3], std::cos(0.3f), 1e-6f);
}

TEST(OpsRef, RopeScalingAndFactors) {
    RopeConfig config;
    config.n_rot = 4;
    config.freq_base = 100.0f;
    const std::vector<float> factors = {1.0f, 4.0f};
    config.freq_factors = factors.data();
    config.freq_scale = 0.5f;
    config.attn_factor = 2.0f;
    std::vector<float> cs(4);
    rope_angles(config, 3, cs.data());
    EXPECT_NEAR(cs[0], 2.0f * std::cos(1.5f), 1e-6f);
    EXPECT_NEAR(cs[3], 2.0f * std::sin(0.3f / 4.0f * 0.5f), 1e-6f);

    // YaRN keeps high-frequency dimensions unscaled and interpolates the low ones.
    RopeConfig yarn;
    yarn.n_rot = 64;
    yarn.freq_base = 10000.0f;
    yarn.freq_scale = 0.25f;
    yarn.ext_factor = 1.0f;
    yarn.n_ctx_orig = 4096;
    std::vector<float> ycs(64);
    rope_angles(yarn, 100, ycs.data());
    const float mscale = 1.0f + 0.1f * std::log(4.0f);
    EXPECT_NEAR(ycs[0], mscale * std::cos(100.0f), 1e-4f);
    const float slowest = 100.0f * std::pow(10000.0f, -62.0f / 64.0f) * 0.25f;
    EXPECT_NEAR(ycs[63], mscale * std::sin(slowest), 1e-5f);
}

TEST(OpsRef, ActivationsMatchFormulas) {
    const std::vector<float> g = {-3.0f, -0.5f, 0.0f, 0.7f, 4.0f};
    const std::vector<float> u = {1.0f, 2.0f, 3.0f, -1.0f, 0.5f};
    std::vector<float> s(5), ge(5);
    swiglu(g.data(), u.data(), s.data(), 5, Isa::kScalar);
    geglu(g.data(), u.data(), ge.data(), 5, Isa::kScalar);
    for (int i = 0; i < 5; ++i) {
        const float x = g[i];
        EXPECT_NEAR(s[i], x / (1.0f + std::exp(-x)) * u[i], 1e-6f);
        const float gelu = 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f)));
        EXPECT_NEAR(ge[i], gelu * u[i], 2e-3f);  // tanh approximation of the erf form
    }
    std::vector<float> c = {100.0f, -100.0f, 1.0f};
    softcap(c.data(), 3, 30.0f, Isa::kScalar);
    EXPECT_NEAR(c[0], 30.0f * std::tanh(100.0f / 30.0f), 1e-5f);
    EXPECT_NEAR(c[1], -30.0f * std::tanh(100.0f / 30.0f), 1e-5f);
    EXPECT_NEAR(c[2], 30.0f * std::tanh(1.0f / 30.0f), 1e-6f);
}

// A KV cache of n_kv positions with every head of a position in one row, in `type`.
struct TestCache {
    std::vector<uint8_t> k, v;
    KvSpan span;
};

TestCache make_cache(gguf::TensorType type, const std::vector<float>& k,
                     const std::vector<float>& v, int64_t n_kv, int64_t k_width, int64_t v_width) {
    TestCache cache;
    const size_t k_row = gguf::row_bytes(type, k_width);
    const size_t v_row = gguf::row_bytes(type, v_width);
    cache.k.resize(k_row * static_cast<size_t>(n_kv));
    cache.v.resize(v_row * static_cast<size_t>(n_kv));
    for (int64_t j = 0; j < n_kv; ++j) {
        EXPECT_TRUE(
            quantize_row(type, k.data() + j * k_width, cache.k.data() + j * k_row, k_width));
        EXPECT_TRUE(
            quantize_row(type, v.data() + j * v_width, cache.v.data() + j * v_row, v_width));
    }
    cache.span = {type, cache.k.data(), cache.v.data(), k_row, v_row, n_kv};
    return cache;
}

TEST(OpsRef, AttentionMatchesDirectComputation) {
    AttentionShape shape;
    shape.n_head = 4;
    shape.n_head_kv = 2;
    shape.head_dim_k = 8;
    shape.head_dim_v = 8;
    shape.scale = 0.35f;
    const int64_t n_kv = 6;
    const auto k = random_vector(n_kv * 16, 1);
    const auto v = random_vector(n_kv * 16, 2);
    const auto q = random_vector(3 * 32, 3);
    TestCache cache = make_cache(gguf::TensorType::kF32, k, v, n_kv, 16, 16);
    ThreadPool pool(2);
    AttentionScratch scratch;
    for (int64_t window : {0, 2}) {
        shape.window = window;
        std::vector<float> out(3 * 32);
        attention(shape, q.data(), 3, 3, cache.span, out.data(), pool, scratch, Isa::kScalar);
        for (int t = 0; t < 3; ++t) {
            const int64_t pos = 3 + t;
            for (int h = 0; h < 4; ++h) {
                const int kvh = h / 2;
                std::vector<double> w;
                double sum = 0.0;
                const int64_t first = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
                for (int64_t j = first; j <= pos; ++j) {
                    double dot = 0.0;
                    for (int d = 0; d < 8; ++d)
                        dot += q[t * 32 + h * 8 + d] * k[j * 16 + kvh * 8 + d];
                    w.push_back(std::exp(dot * shape.scale));
                    sum += w.back();
                }
                for (int d = 0; d < 8; ++d) {
                    double expected = 0.0;
                    for (int64_t j = first; j <= pos; ++j) {
                        expected +=
                            w[static_cast<size_t>(j - first)] / sum * v[j * 16 + kvh * 8 + d];
                    }
                    EXPECT_NEAR(out[t * 32 + h * 8 + d], expected, 1e-5) << "window " << window;
                }
            }
        }
    }
}

// Encoders: every query sees every key of the span, or those within window / 2 either side.
TEST(OpsRef, NonCausalAttentionMatchesDirectComputation) {
    AttentionShape shape;
    shape.n_head = 2;
    shape.n_head_kv = 1;
    shape.head_dim_k = 8;
    shape.head_dim_v = 8;
    shape.scale = 0.5f;
    shape.causal = false;
    const int64_t n = 7;
    const auto k = random_vector(n * 8, 11);
    const auto v = random_vector(n * 8, 12);
    const auto q = random_vector(n * 16, 13);
    TestCache cache = make_cache(gguf::TensorType::kF32, k, v, n, 8, 8);
    ThreadPool pool(2);
    AttentionScratch scratch;
    for (int64_t window : {0, 4, 5}) {
        shape.window = window;
        std::vector<float> out(n * 16);
        attention(shape, q.data(), n, 0, cache.span, out.data(), pool, scratch, Isa::kScalar);
        for (int64_t t = 0; t < n; ++t) {
            const int64_t half = window / 2;
            const int64_t first = window > 0 ? std::max<int64_t>(0, t - half) : 0;
            const int64_t last = window > 0 ? std::min<int64_t>(n - 1, t + half) : n - 1;
            for (int h = 0; h < 2; ++h) {
                std::vector<double> w;
                double sum = 0.0;
                for (int64_t j = first; j <= last; ++j) {
                    double dot = 0.0;
                    for (int d = 0; d < 8; ++d) dot += q[t * 16 + h * 8 + d] * k[j * 8 + d];
                    w.push_back(std::exp(dot * shape.scale));
                    sum += w.back();
                }
                for (int d = 0; d < 8; ++d) {
                    double expected = 0.0;
                    for (int64_t j = first; j <= last; ++j)
                        expected += w[static_cast<size_t>(j - first)] / sum * v[j * 8 + d];
                    EXPECT_NEAR(out[t * 16 + h * 8 + d], expected, 1e-5)
                        << "window " << window << " query " << t;
                }
            }
        }
    }
}

TEST_P(OpsIsa, ElementwiseMatchReference) {
    const Isa isa = GetParam();
    SCOPED_TRACE(isa_name(isa));
    for (int64_t n : {1, 7, 8, 16, 33, 100, 2048}) {
        const auto x = random_vector(static_cast<size_t>(n), 10 + n, 3.0f);
        const auto u = random_vector(static_cast<size_t>(n), 20 + n);
        const auto w = random_vector(static_cast<size_t>(n), 30 + n);
        std::vector<float> a(n), b(n);
        rms_norm(x.data(), w.data(), a.data(), 1, n, 1e-5f, Isa::kScalar);
        rms_norm(x.data(), w.data(), b.data(), 1, n, 1e-5f, isa);
        expect_close(b, a, 1e-5f, "rms_norm");
        layer_norm(x.data(), w.data(), u.data(), a.data(), 1, n, 1e-5f, Isa::kScalar);
        layer_norm(x.data(), w.data(), u.data(), b.data(), 1, n, 1e-5f, isa);
        expect_close(b, a, 2e-5f, "layer_norm");
        layer_norm(x.data(), nullptr, nullptr, a.data(), 1, n, 1e-12f, Isa::kScalar);
        layer_norm(x.data(), nullptr, nullptr, b.data(), 1, n, 1e-12f, isa);
        expect_close(b, a, 2e-5f, "layer_norm without weights");
        swiglu(x.data(), u.data(), a.data(), n, Isa::kScalar);
        swiglu(x.data(), u.data(), b.data(), n, isa);
        expect_close(b, a, 1e-5f, "swiglu");
        geglu(x.data(), u.data(), a.data(), n, Isa::kScalar);
        geglu(x.data(), u.data(), b.data(), n, isa);
        expect_close(b, a, 1e-5f, "geglu");
        silu(x.data(), a.data(), n, Isa::kScalar);
        silu(x.data(), b.data(), n, isa);
        expect_close(b, a, 1e-5f, "silu");
        gelu(x.data(), a.data(), n, Isa::kScalar);
        gelu(x.data(), b.data(), n, isa);
        expect_close(b, a, 1e-5f, "gelu");
        a = x;
        b = x;
        softcap(a.data(), n, 2.5f, Isa::kScalar);
        softcap(b.data(), n, 2.5f, isa);
        expect_close(b, a, 1e-5f, "softcap");
        a = x;
        b = x;
        softmax(a.data(), n, Isa::kScalar);
        softmax(b.data(), n, isa);
        expect_close(b, a, 1e-5f, "softmax");
        add(x.data(), u.data(), a.data(), n, Isa::kScalar);
        add(x.data(), u.data(), b.data(), n, isa);
        expect_close(b, a, 0.0f, "add");
        std::vector<uint16_t> ha(n), hb(n);
        fp32_to_fp16_row(x.data(), ha.data(), n, Isa::kScalar);
        fp32_to_fp16_row(x.data(), hb.data(), n, isa);
        EXPECT_EQ(ha, hb);
    }
}

TEST_P(OpsIsa, SumWordsMatchesReference) {
    std::mt19937_64 rng(9);
    std::vector<uint64_t> words(1000);
    for (uint64_t& w : words) w = rng();
    const Isa isa = GetParam();
    for (int64_t n : {0, 1, 15, 16, 31, 32, 33, 999, 1000}) {
        EXPECT_EQ(sum_words(words.data(), n, isa), sum_words(words.data(), n, Isa::kScalar))
            << isa_name(isa) << " n " << n;
    }
    uint64_t want = 0;
    for (uint64_t w : words) want += w;
    EXPECT_EQ(sum_words(words.data(), 1000, Isa::kScalar), want);
}

TEST_P(OpsIsa, RopeMatchesReference) {
    const Isa isa = GetParam();
    SCOPED_TRACE(isa_name(isa));
    for (int head_dim : {64, 128, 80, 40}) {
        for (int n_rot : {head_dim, head_dim / 2, 24}) {
            RopeConfig config;
            config.n_rot = n_rot;
            std::vector<float> cs(static_cast<size_t>(n_rot));
            rope_angles(config, 1234, cs.data());
            for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
                auto a = random_vector(static_cast<size_t>(3 * head_dim), 5);
                auto b = a;
                rope_apply(a.data(), 3, head_dim, n_rot, style, cs.data(), Isa::kScalar);
                rope_apply(b.data(), 3, head_dim, n_rot, style, cs.data(), isa);
                expect_close(b, a, 1e-6f, "rope");
            }
        }
    }
}

TEST_P(OpsIsa, AttentionMatchesReference) {
    struct Case {
        int n_head, n_head_kv, head_dim_k, head_dim_v;
        int64_t window;
        float softcap;
        gguf::TensorType type;
    };
    const Case cases[] = {
        {8, 2, 64, 64, 0, 0.0f, gguf::TensorType::kF16},
        {4, 4, 128, 128, 0, 0.0f, gguf::TensorType::kF32},
        {4, 1, 256, 256, 5, 50.0f, gguf::TensorType::kF16},
        {6, 3, 40, 24, 0, 0.0f, gguf::TensorType::kF16},
        {4, 2, 64, 64, 7, 0.0f, gguf::TensorType::kQ8_0},
        {8, 1, 96, 96, 9, 0.0f, gguf::TensorType::kF16},
        {32, 8, 64, 64, 0, 0.0f, gguf::TensorType::kF16},
        {2, 2, 32, 64, 0, 30.0f, gguf::TensorType::kF32},
        {4, 2, 16, 16, 0, 0.0f, gguf::TensorType::kF16},
        {12, 2, 32, 32, 4, 0.0f, gguf::TensorType::kF16},
    };
    // Encoder attention (every key, or a symmetric window) on a few of the same shapes.
    const bool causal_cases[] = {true, false};
    ThreadPool pool(2);
    const Isa isa = GetParam();
    SCOPED_TRACE(isa_name(isa));
    for (const Case& c : cases) {
        for (bool causal : causal_cases) {
            SCOPED_TRACE(causal ? "causal" : "non-causal");
            AttentionShape shape{c.n_head,
                                 c.n_head_kv,
                                 c.head_dim_k,
                                 c.head_dim_v,
                                 1.0f / std::sqrt(static_cast<float>(c.head_dim_k)),
                                 c.softcap,
                                 c.window,
                                 causal};
            const int64_t n_kv = 37;
            const int64_t k_width = int64_t{c.n_head_kv} * c.head_dim_k;
            const int64_t v_width = int64_t{c.n_head_kv} * c.head_dim_v;
            TestCache cache = make_cache(c.type, random_vector(n_kv * k_width, 7, 2.0f),
                                         random_vector(n_kv * v_width, 8), n_kv, k_width, v_width);
            // Single queries, a short block, and the whole sequence (several query blocks).
            for (int64_t n_tokens : {1, 5, 37}) {
                const int64_t pos0 = n_kv - n_tokens;
                const auto q = random_vector(n_tokens * c.n_head * c.head_dim_k, 9, 2.0f);
                std::vector<float> a(n_tokens * c.n_head * c.head_dim_v);
                std::vector<float> b(a.size());
                AttentionScratch sa, sb;
                attention(shape, q.data(), n_tokens, pos0, cache.span, a.data(), pool, sa,
                          Isa::kScalar);
                attention(shape, q.data(), n_tokens, pos0, cache.span, b.data(), pool, sb, isa);
                expect_close(b, a, 2e-5f, "attention");
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Isa, OpsIsa, ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                             return std::string(isa_name(info.param));
                         });

}  // namespace
}  // namespace cria::kernels
