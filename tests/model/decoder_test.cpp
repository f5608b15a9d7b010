// The decoder against an independent, straightforward float64 forward pass written from the
// architectures' definitions, for tiny F32 models of every architecture (Gemma 2 has no
// llama.cpp golden file, so this is its main check), and the engine's decoding modes against
// each other.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "kernels/kernels.h"
#include "test_models.h"

namespace cria {
namespace {

using Vec = std::vector<double>;

Vec matvec(const kernels::Matrix& w, const Vec& x) {
    Vec y(static_cast<size_t>(w.n_out), 0.0);
    std::vector<float> row(static_cast<size_t>(w.n_in));
    for (int64_t o = 0; o < w.n_out; ++o) {
        kernels::dequantize_matrix_row(w, o, row.data());
        double sum = 0.0;
        for (int64_t i = 0; i < w.n_in; ++i)
            sum += row[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
        y[static_cast<size_t>(o)] = sum;
    }
    return y;
}

void rms_norm(double* x, int64_t n, const float* w, double eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] * inv * w[i];
}

void add_bias(Vec& y, const float* b) {
    if (b == nullptr) return;
    for (size_t i = 0; i < y.size(); ++i) y[i] += b[i];
}

// Rotation of one head at position p, from the definitions: pair i turns by
// p * base^(-2i/n_rot); Llama pairs neighbours, NeoX pairs the two halves.
void rope(double* head, int n_rot, double base, int64_t p, bool neox) {
    for (int i = 0; i < n_rot / 2; ++i) {
        const double angle = static_cast<double>(p) * std::pow(base, -2.0 * i / n_rot);
        const int a = neox ? i : 2 * i;
        const int b = neox ? i + n_rot / 2 : 2 * i + 1;
        const double x0 = head[a], x1 = head[b];
        head[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
        head[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
    }
}

// Logits of every position of `tokens`, decoded from scratch.
std::vector<Vec> reference_forward(const model::Model& m, const std::vector<int32_t>& tokens) {
    const model::HParams& hp = m.hparams();
    const model::ArchSpec& arch = m.arch();
    const auto n = static_cast<int64_t>(tokens.size());
    const bool neox = arch.rope_style == kernels::RopeStyle::kNeox;
    const bool gemma = arch.activation == model::Activation::kGeluTanh;
    // Gemma 2 and 3 scale queries by 1/sqrt(head size) for these small models.
    const double scale = 1.0 / std::sqrt(static_cast<double>(hp.head_dim_k));
    std::vector<Vec> x(static_cast<size_t>(n), Vec(static_cast<size_t>(hp.n_embd)));
    for (int64_t t = 0; t < n; ++t) {
        std::vector<float> row(static_cast<size_t>(hp.n_embd));
        const kernels::Matrix& e = m.token_embd();
        kernels::dequantize_row(e.type,
                                static_cast<const uint8_t*>(e.data) + tokens[t] * e.row_bytes,
                                row.data(), hp.n_embd);
        for (int64_t i = 0; i < hp.n_embd; ++i) {
            x[t][i] = row[i] * (gemma ? std::sqrt(static_cast<double>(hp.n_embd)) : 1.0);
        }
    }
    const int64_t group = hp.n_head / hp.n_head_kv;
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        const model::LayerWeights& l = m.layers()[il];
        // Gemma 2 windows even layers; Gemma 3 all but every sixth.
        int64_t window = 0;
        double base = hp.rope_freq_base;
        if (hp.arch == "gemma2" && il % 2 == 0) window = hp.sliding_window;
        if (hp.arch == "gemma3" && il % 6 != 5) {
            window = hp.sliding_window;
            base = 10000.0;
        }
        std::vector<Vec> q(n), k(n), v(n);
        for (int64_t t = 0; t < n; ++t) {
            Vec h = x[t];
            rms_norm(h.data(), hp.n_embd, l.attn_norm, hp.norm_eps);
            if (l.wqkv.data != nullptr) {
                const Vec qkv = matvec(l.wqkv, h);
                q[t].assign(qkv.begin(), qkv.begin() + hp.n_q());
                k[t].assign(qkv.begin() + hp.n_q(), qkv.begin() + hp.n_q() + hp.n_k());
                v[t].assign(qkv.begin() + hp.n_q() + hp.n_k(), qkv.end());
            } else {
                q[t] = matvec(l.wq, h);
                k[t] = matvec(l.wk, h);
                v[t] = matvec(l.wv, h);
            }
            add_bias(q[t], l.bq);
            add_bias(k[t], l.bk);
            add_bias(v[t], l.bv);
            for (int64_t hd = 0; hd < hp.n_head; ++hd) {
                double* head = q[t].data() + hd * hp.head_dim_k;
                if (l.q_norm != nullptr) rms_norm(head, hp.head_dim_k, l.q_norm, hp.norm_eps);
                rope(head, hp.n_rot, base, t, neox);
            }
            for (int64_t hd = 0; hd < hp.n_head_kv; ++hd) {
                double* head = k[t].data() + hd * hp.head_dim_k;
                if (l.k_norm != nullptr) rms_norm(head, hp.head_dim_k, l.k_norm, hp.norm_eps);
                rope(head, hp.n_rot, base, t, neox);
            }
        }
        for (int64_t t = 0; t < n; ++t) {
            Vec attn(static_cast<size_t>(hp.n_head * hp.head_dim_v), 0.0);
            for (int64_t hd = 0; hd < hp.n_head; ++hd) {
                const int64_t kvh = hd / group;
                const int64_t first = window > 0 ? std::max<int64_t>(0, t - window + 1) : 0;
                Vec w;
                for (int64_t j = first; j <= t; ++j) {
                    double s = 0.0;
                    for (int64_t d = 0; d < hp.head_dim_k; ++d) {
                        s += q[t][hd * hp.head_dim_k + d] * k[j][kvh * hp.head_dim_k + d];
                    }
                    s *= scale;
                    if (hp.arch == "gemma2") s = 50.0 * std::tanh(s / 50.0);
                    w.push_back(s);
                }
                const double mx = *std::max_element(w.begin(), w.end());
                double sum = 0.0;
                for (double& s : w) sum += (s = std::exp(s - mx));
                for (int64_t j = first; j <= t; ++j) {
                    for (int64_t d = 0; d < hp.head_dim_v; ++d) {
                        attn[hd * hp.head_dim_v + d] +=
                            w[j - first] / sum * v[j][kvh * hp.head_dim_v + d];
                    }
                }
            }
            Vec o = matvec(l.wo, attn);
            add_bias(o, l.bo);
            if (l.post_attn_norm != nullptr)
                rms_norm(o.data(), hp.n_embd, l.post_attn_norm, hp.norm_eps);
            for (int64_t i = 0; i < hp.n_embd; ++i) x[t][i] += o[i];
        }
        for (int64_t t = 0; t < n; ++t) {
            Vec h = x[t];
            rms_norm(h.data(), hp.n_embd, l.ffn_norm, hp.norm_eps);
            Vec gate, up;
            if (l.w_gate.data == nullptr) {
                const Vec gu = matvec(l.w_up, h);
                gate.assign(gu.begin(), gu.begin() + hp.n_ff);
                up.assign(gu.begin() + hp.n_ff, gu.end());
            } else {
                gate = matvec(l.w_gate, h);
                up = matvec(l.w_up, h);
            }
            for (int64_t i = 0; i < hp.n_ff; ++i) {
                const double g = gate[i];
                const double act =
                    gemma
                        ? 0.5 * g *
                              (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)))
                        : g / (1.0 + std::exp(-g));
                up[i] *= act;
            }
            Vec d = matvec(l.w_down, up);
            if (l.post_ffn_norm != nullptr)
                rms_norm(d.data(), hp.n_embd, l.post_ffn_norm, hp.norm_eps);
            for (int64_t i = 0; i < hp.n_embd; ++i) x[t][i] += d[i];
        }
    }
    std::vector<Vec> logits;
    for (int64_t t = 0; t < n; ++t) {
        Vec h = x[t];
        rms_norm(h.data(), hp.n_embd, m.output_norm(), hp.norm_eps);
        Vec out = matvec(m.output(), h);
        if (hp.arch == "gemma2") {
            for (double& z : out) z = 30.0 * std::tanh(z / 30.0);
        }
        logits.push_back(std::move(out));
    }
    return logits;
}

std::vector<int32_t> test_tokens(int n, int64_t n_vocab) {
    std::mt19937 rng(11);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab - 1));
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int32_t& t : tokens) t = pick(rng);
    return tokens;
}

double nmse(const float* ours, const Vec& ref) {
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
        err += (ours[i] - ref[i]) * (ours[i] - ref[i]);
        norm += ref[i] * ref[i];
    }
    return err / norm;
}

std::unique_ptr<engine::Engine> make_engine(std::unique_ptr<model::Model> model,
                                            int64_t max_batch) {
    engine::EngineOptions options;
    options.n_threads = 2;
    options.context_length = 64;
    options.max_batch = max_batch;
    auto engine = engine::Engine::create(std::move(model), options);
    EXPECT_TRUE(engine.has_value()) << engine.status().message();
    return std::move(engine).value();
}

class DecoderArch : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderArch, MatchesReferenceForwardPass) {
    auto built = test::build(test::tiny_spec(GetParam()));
    ASSERT_TRUE(built.has_value()) << built.status().message();
    const std::vector<int32_t> tokens = test_tokens(12, built->model->hparams().n_vocab);
    const std::vector<Vec> expected = reference_forward(*built->model, tokens);
    auto engine = make_engine(std::move(built->model), 512);
    auto sequence = engine->create_sequence({0, gguf::TensorType::kF32});
    ASSERT_TRUE(sequence.has_value()) << sequence.status().message();
    std::vector<float> logits;
    ASSERT_TRUE(engine->decode(**sequence, tokens, engine::LogitsMode::kAll, logits).is_ok());
    const auto n_vocab = static_cast<size_t>(engine->n_vocab());
    for (size_t t = 0; t < tokens.size(); ++t) {
        EXPECT_LT(nmse(logits.data() + t * n_vocab, expected[t]), 1e-9) << "position " << t;
    }
}

TEST_P(DecoderArch, BatchChunkedAndIncrementalAgree) {
    auto built = test::build(test::tiny_spec(GetParam()));
    ASSERT_TRUE(built.has_value()) << built.status().message();
    const std::vector<int32_t> tokens = test_tokens(10, built->model->hparams().n_vocab);
    // A batch limit of 3 splits the sequence into several internal passes.
    auto engine = make_engine(std::move(built->model), 3);
    // An F32 cache: with F16, a last-bit difference in a key can flip its rounding and hide
    // the comparison of the computation paths behind quantization noise.
    auto sequence = engine->create_sequence({0, gguf::TensorType::kF32});
    ASSERT_TRUE(sequence.has_value());
    std::vector<float> batch, last, step;
    ASSERT_TRUE(engine->decode(**sequence, tokens, engine::LogitsMode::kAll, batch).is_ok());
    EXPECT_EQ((*sequence)->n_past(), 10);
    (*sequence)->reset();
    ASSERT_TRUE(engine->decode(**sequence, tokens, engine::LogitsMode::kLast, last).is_ok());
    const auto n_vocab = static_cast<size_t>(engine->n_vocab());
    for (size_t i = 0; i < n_vocab; ++i) EXPECT_FLOAT_EQ(last[i], batch[9 * n_vocab + i]);
    (*sequence)->reset();
    for (size_t t = 0; t < tokens.size(); ++t) {
        ASSERT_TRUE(engine
                        ->decode(**sequence, std::span<const int32_t>(&tokens[t], 1),
                                 engine::LogitsMode::kLast, step)
                        .is_ok());
        // Only the order of float additions differs between the paths.
        const Vec reference(batch.begin() + static_cast<std::ptrdiff_t>(t * n_vocab),
                            batch.begin() + static_cast<std::ptrdiff_t>((t + 1) * n_vocab));
        const double error = nmse(step.data(), reference);
        EXPECT_LT(error, 1e-8) << "position " << t;
    }
}

// Odd shapes (head sizes that are not multiples of the vector width, partial rope, various GQA
// ratios) exercise the tails of every vectorized path.
TEST(DecoderShapes, RandomShapesMatchReference) {
    std::mt19937 rng(2024);
    const std::vector<std::string> archs = test::generation_arch_names();
    const int trials = 2 * static_cast<int>(archs.size());
    for (int trial = 0; trial < trials; ++trial) {
        model::RandomModelSpec spec =
            test::tiny_spec(archs[static_cast<size_t>(trial) % archs.size()]);
        const int head_dims[] = {8, 24, 40, 48, 80};
        const int kv_heads[] = {1, 2, 3};
        spec.n_head_kv = kv_heads[rng() % 3];
        spec.n_head = spec.n_head_kv * static_cast<int64_t>(1 + rng() % 4);
        spec.head_dim = head_dims[rng() % 5];
        spec.n_embd = 32 * static_cast<int64_t>(1 + rng() % 3);
        spec.n_ff = 16 * static_cast<int64_t>(1 + rng() % 8);
        spec.n_vocab = 50 + static_cast<int64_t>(rng() % 50);
        spec.seed = trial;
        // Partial rotary embedding where the architecture allows it.
        if (spec.arch != "llama" && trial % 2 == 1)
            spec.n_rot = spec.head_dim / 2 - (spec.head_dim / 2) % 2;
        SCOPED_TRACE(spec.arch + " heads " + std::to_string(spec.n_head) + "/" +
                     std::to_string(spec.n_head_kv) + " head size " +
                     std::to_string(spec.head_dim));
        auto built = test::build(spec);
        ASSERT_TRUE(built.has_value()) << built.status().message();
        const std::vector<int32_t> tokens = test_tokens(9, built->model->hparams().n_vocab);
        const std::vector<Vec> expected = reference_forward(*built->model, tokens);
        auto engine = make_engine(std::move(built->model), 4);
        auto sequence = engine->create_sequence({0, gguf::TensorType::kF32});
        ASSERT_TRUE(sequence.has_value());
        std::vector<float> logits;
        ASSERT_TRUE(engine->decode(**sequence, tokens, engine::LogitsMode::kAll, logits).is_ok());
        const auto n_vocab = static_cast<size_t>(engine->n_vocab());
        for (size_t t = 0; t < tokens.size(); ++t) {
            EXPECT_LT(nmse(logits.data() + t * n_vocab, expected[t]), 1e-9) << "position " << t;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Archs, DecoderArch, ::testing::ValuesIn(test::generation_arch_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             for (char& c : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             }
                             return name;
                         });

// The parameterized tests above run for every generation architecture the registry has: one
// more arch_<name>.cpp is tested without editing a list here.
TEST(DecoderRegistry, EveryGenerationArchitectureIsTested) {
    const std::vector<std::string> archs = test::generation_arch_names();
    EXPECT_GE(archs.size(), 6u);
    const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
    for (const std::string& arch : archs) {
        int instances = 0;
        for (int i = 0; i < unit.total_test_suite_count(); ++i) {
            const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
            if (std::string(suite.name()) != "Archs/DecoderArch") continue;
            for (int k = 0; k < suite.total_test_count(); ++k) {
                const char* param = suite.GetTestInfo(k)->value_param();
                if (param != nullptr &&
                    std::string(param).find('"' + arch + '"') != std::string::npos) {
                    ++instances;
                }
            }
        }
        EXPECT_EQ(instances, 2) << arch << " is not covered by the DecoderArch tests";
    }
}

}  // namespace
}  // namespace cria
