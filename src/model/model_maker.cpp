#include "model/model_maker.h"

#include <cmath>
#include <cstring>
#include <numbers>
#include <optional>

#include "kernels/kernels.h"
#include "model/arch.h"

namespace cria::model {
namespace {

using gguf::TensorType;
using gguf::Value;

// Per-row random streams, so that rows can be generated in parallel and the result depends only
// on the seed.
uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Approximately standard normal: the centred sum of four uniforms, rescaled to unit variance.
float normal_sample(uint64_t& state) {
    float sum = 0.0f;
    for (int i = 0; i < 4; ++i) {
        sum += static_cast<float>(splitmix64(state) >> 40) * (1.0f / 16777216.0f);
    }
    return (sum - 2.0f) * 1.7320508f;
}

// How a tensor's values are drawn.
struct ValueRule {
    float mean = 0.0f;
    float stddev = 1.0f;
};

ValueRule rule_for(const TensorPlan& plan) {
    const std::string& name = plan.name;
    auto ends_with = [&name](std::string_view suffix) {
        return name.size() >= suffix.size() &&
               name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with("norm.weight")) return {1.0f, 0.1f};
    if (ends_with(".bias")) return {0.0f, 0.1f};
    if (name == "rope_freqs.weight") return {1.0f, 0.0f};
    // Matrices: unit-variance outputs for unit-variance inputs.
    return {0.0f, 1.0f / std::sqrt(static_cast<float>(plan.dims[0]))};
}

// llama.cpp's choice of which layers get more bits in its mixed quantizations.
bool use_more_bits(int64_t layer, int64_t n_layers) {
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// general.file_type of a quantization name (llama.cpp's ftype numbering).
std::optional<uint32_t> file_type_id(std::string_view quantization) {
    struct Entry {
        std::string_view name;
        uint32_t id;
    };
    static const Entry kEntries[] = {
        {"F32", 0},   {"F16", 1},     {"Q4_0", 2},    {"Q4_1", 3},  {"Q8_0", 7},    {"Q5_0", 8},
        {"Q5_1", 9},  {"Q2_K", 10},   {"Q3_K", 11},   {"Q4_K", 14}, {"Q4_K_M", 15}, {"Q5_K", 16},
        {"Q6_K", 18}, {"IQ4_NL", 25}, {"IQ4_XS", 30}, {"BF16", 32},
    };
    for (const Entry& e : kEntries) {
        if (e.name == quantization) return e.id;
    }
    return std::nullopt;
}

// Llama 3.1's long-context rope factors (scale 32, low/high frequency factors 1 and 4, original
// context 8192), as its converter stores them in rope_freqs.weight.
std::vector<float> llama3_rope_factors(int n_rot, float base) {
    constexpr double kFactor = 32.0, kLow = 1.0, kHigh = 4.0, kOriginal = 8192.0;
    const double low_wavelength = kOriginal / kLow;
    const double high_wavelength = kOriginal / kHigh;
    std::vector<float> factors(static_cast<size_t>(n_rot / 2));
    for (int i = 0; i < n_rot / 2; ++i) {
        const double freq = 1.0 / std::pow(static_cast<double>(base), 2.0 * i / n_rot);
        const double wavelength = 2.0 * std::numbers::pi / freq;
        double f = 1.0;
        if (wavelength > low_wavelength) {
            f = kFactor;
        } else if (wavelength >= high_wavelength) {
            const double smooth = (kOriginal / wavelength - kLow) / (kHigh - kLow);
            f = 1.0 / ((1.0 - smooth) / kFactor + smooth);
        }
        factors[static_cast<size_t>(i)] = static_cast<float>(f);
    }
    return factors;
}

}  // namespace

Expected<RandomModelSpec> model_shape(std::string_view name) {
    RandomModelSpec spec;
    if (name == "llama3.2-1b") {
        spec.name = "random-llama3.2-1b";
        spec.n_embd = 2048;
        spec.n_layer = 16;
        spec.n_head = 32;
        spec.n_head_kv = 8;
        spec.n_ff = 8192;
        spec.n_vocab = 128256;
        spec.n_ctx = 131072;
        spec.tied_output = true;
        spec.rope_base = 500000.0f;
        spec.llama3_rope_scaling = true;
        return spec;
    }
    if (name == "tiny") {
        spec.name = "random-tiny";
        return spec;
    }
    // Encoders for embedding benchmarks: mxbai-embed-large / bge-large's shape, and a BERT
    // widened to about a billion parameters.
    if (name == "bert-large" || name == "bert-1b") {
        const bool large = name == "bert-large";
        spec.arch = "bert";
        spec.name = large ? "random-bert-large" : "random-bert-1b";
        spec.n_embd = large ? 1024 : 2048;
        spec.n_layer = 24;
        spec.n_head = 16;
        spec.n_head_kv = 16;
        spec.n_ff = large ? 4096 : 8192;
        spec.n_vocab = 30522;
        spec.n_ctx = 512;
        spec.rms_eps = 1e-12f;
        return spec;
    }
    return Status(invalid_argument("unknown model shape '" + std::string(name) +
                                   "' (known: llama3.2-1b, tiny, bert-large, bert-1b)"));
}

Expected<std::vector<TensorPlan>> plan_tensors(const RandomModelSpec& spec) {
    const ArchSpec* arch = find_arch(spec.arch);
    if (arch == nullptr) {
        return Status(unsupported("cannot make a model of architecture '" + spec.arch + "'"));
    }
    if (spec.n_embd <= 0 || spec.n_layer <= 0 || spec.n_head <= 0 || spec.n_head_kv <= 0 ||
        spec.n_ff <= 0 || spec.n_vocab <= 0 || spec.n_head % spec.n_head_kv != 0) {
        return Status(invalid_argument("model shape has a non-positive or inconsistent size"));
    }
    const bool mixed = spec.quantization == "Q4_K_M";
    std::optional<TensorType> base;
    if (mixed) {
        base = TensorType::kQ4_K;
    } else {
        base = gguf::tensor_type_from_name(spec.quantization);
    }
    if (!base || !file_type_id(spec.quantization) || !kernels::can_quantize(*base)) {
        return Status(unsupported("cannot make weights of type '" + spec.quantization + "'"));
    }
    const bool quantized =
        *base != TensorType::kF32 && *base != TensorType::kF16 && *base != TensorType::kBF16;
    // llama.cpp keeps the output projection at 6 bits in its quantized files.
    const TensorType output_type =
        quantized && !spec.pure && *base != TensorType::kQ8_0 ? TensorType::kQ6_K : *base;
    const TensorType more_bits_type = mixed ? TensorType::kQ6_K : *base;

    const int64_t head_dim = spec.head_dim > 0 ? spec.head_dim : spec.n_embd / spec.n_head;
    const int64_t n_q = spec.n_head * head_dim;
    const int64_t n_kv = spec.n_head_kv * head_dim;
    const bool tied = spec.tied_output || arch->output_always_tied;

    std::vector<TensorPlan> plan;
    auto matrix = [&plan](std::string name, int64_t n_in, int64_t n_out, TensorType type) {
        plan.push_back({std::move(name), {n_in, n_out}, type});
    };
    auto vec = [&plan](std::string name, int64_t n) {
        plan.push_back({std::move(name), {n}, TensorType::kF32});
    };
    matrix("token_embd.weight", spec.n_embd, spec.n_vocab, tied ? output_type : *base);
    if (arch->position_table) matrix("position_embd.weight", spec.n_embd, spec.n_ctx, *base);
    if (arch->token_types) matrix("token_types.weight", spec.n_embd, 2, TensorType::kF32);
    if (arch->embedding_norm) {
        vec("token_embd_norm.weight", spec.n_embd);
        vec("token_embd_norm.bias", spec.n_embd);
    }
    if (arch->output_norm) vec("output_norm.weight", spec.n_embd);
    if (arch->lm_head && !tied) matrix("output.weight", spec.n_embd, spec.n_vocab, output_type);
    const bool post_norm = arch->norm_placement == NormPlacement::kPost;
    const bool layer_norm = arch->norm == NormKind::kLayer;
    auto norm = [&](const std::string& base) {
        vec(base + ".weight", spec.n_embd);
        if (layer_norm) vec(base + ".bias", spec.n_embd);
    };
    if (arch->rope_freqs && spec.llama3_rope_scaling) vec("rope_freqs.weight", head_dim / 2);
    for (int64_t il = 0; il < spec.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        const TensorType layer_more = use_more_bits(il, spec.n_layer) ? more_bits_type : *base;
        norm(p + (post_norm ? "attn_output_norm" : "attn_norm"));
        if (arch->fused_qkv) {
            matrix(p + "attn_qkv.weight", spec.n_embd, n_q + 2 * n_kv, *base);
        } else {
            matrix(p + "attn_q.weight", spec.n_embd, n_q, *base);
            matrix(p + "attn_k.weight", spec.n_embd, n_kv, *base);
            matrix(p + "attn_v.weight", spec.n_embd, n_kv, layer_more);
        }
        if (arch->qkv_bias) {
            vec(p + "attn_q.bias", n_q);
            vec(p + "attn_k.bias", n_kv);
            vec(p + "attn_v.bias", n_kv);
        }
        if (arch->qk_norm) {
            vec(p + "attn_q_norm.weight", head_dim);
            vec(p + "attn_k_norm.weight", head_dim);
        }
        matrix(p + "attn_output.weight", n_q, spec.n_embd, *base);
        if (arch->sublayer_biases) vec(p + "attn_output.bias", spec.n_embd);
        if (arch->post_norms) {
            vec(p + "post_attention_norm.weight", spec.n_embd);
            vec(p + "post_ffw_norm.weight", spec.n_embd);
        }
        norm(p + (post_norm ? "layer_output_norm" : "ffn_norm"));
        if (arch->fused_gate_up) {
            matrix(p + "ffn_up.weight", spec.n_embd, 2 * spec.n_ff, *base);
        } else {
            if (arch->ffn == FfnKind::kGated) {
                matrix(p + "ffn_gate.weight", spec.n_embd, spec.n_ff, *base);
            }
            matrix(p + "ffn_up.weight", spec.n_embd, spec.n_ff, *base);
        }
        matrix(p + "ffn_down.weight", spec.n_ff, spec.n_embd, layer_more);
        if (arch->sublayer_biases) {
            vec(p + "ffn_up.bias", spec.n_ff);
            vec(p + "ffn_down.bias", spec.n_embd);
        }
    }
    for (const TensorPlan& t : plan) {
        const uint32_t block = gguf::tensor_type_info(t.type).block_size;
        if (t.dims[0] % block != 0) {
            return Status(invalid_argument(
                "tensor " + t.name + " rows of " + std::to_string(t.dims[0]) +
                " elements cannot be stored as " + std::string(gguf::tensor_type_name(t.type)) +
                " (blocks of " + std::to_string(block) + ")"));
        }
    }
    return plan;
}

Expected<gguf::Writer> build_model(const RandomModelSpec& spec, const std::vector<TensorPlan>& plan,
                                   ThreadPool& pool) {
    const ArchSpec* arch = find_arch(spec.arch);
    const std::string a = spec.arch;
    gguf::Writer writer;
    writer.set("general.architecture", Value::string(a));
    writer.set("general.name", Value::string(spec.name));
    if (const std::optional<uint32_t> id = file_type_id(spec.quantization)) {
        writer.set("general.file_type", Value::u32(*id));
    }
    writer.set("general.quantization_version", Value::u32(2));
    const int64_t head_dim = spec.head_dim > 0 ? spec.head_dim : spec.n_embd / spec.n_head;
    writer.set(a + ".context_length", Value::u32(static_cast<uint32_t>(spec.n_ctx)));
    writer.set(a + ".embedding_length", Value::u32(static_cast<uint32_t>(spec.n_embd)));
    writer.set(a + ".block_count", Value::u32(static_cast<uint32_t>(spec.n_layer)));
    writer.set(a + ".feed_forward_length", Value::u32(static_cast<uint32_t>(spec.n_ff)));
    writer.set(a + ".attention.head_count", Value::u32(static_cast<uint32_t>(spec.n_head)));
    writer.set(a + ".attention.head_count_kv", Value::u32(static_cast<uint32_t>(spec.n_head_kv)));
    writer.set(a + ".attention.key_length", Value::u32(static_cast<uint32_t>(head_dim)));
    writer.set(a + ".attention.value_length", Value::u32(static_cast<uint32_t>(head_dim)));
    writer.set(a + ".rope.dimension_count",
               Value::u32(static_cast<uint32_t>(spec.n_rot > 0 ? spec.n_rot : head_dim)));
    writer.set(a + ".rope.freq_base", Value::f32(spec.rope_base));
    const bool layer_norm = arch != nullptr && arch->norm == NormKind::kLayer;
    writer.set(
        a + (layer_norm ? ".attention.layer_norm_epsilon" : ".attention.layer_norm_rms_epsilon"),
        Value::f32(spec.rms_eps));
    if (arch != nullptr && !arch->causal)
        writer.set(a + ".attention.causal", Value::boolean(false));
    if (arch != nullptr && arch->default_pooling != Pooling::kNone) {
        writer.set(a + ".pooling_type", Value::u32(static_cast<uint32_t>(arch->default_pooling)));
    }
    if (arch != nullptr && arch->swa_pattern > 0) {
        const int64_t window = spec.sliding_window > 0 ? spec.sliding_window : 512;
        writer.set(a + ".attention.sliding_window", Value::u32(static_cast<uint32_t>(window)));
    }
    if (spec.vocabulary != nullptr) {
        for (const gguf::KeyValue& kv : spec.vocabulary->metadata()) {
            if (kv.key.rfind("tokenizer.", 0) == 0) writer.set(kv.key, kv.value);
        }
    }

    for (size_t index = 0; index < plan.size(); ++index) {
        const TensorPlan& t = plan[index];
        int64_t n_elements = 1;
        for (int64_t d : t.dims) n_elements *= d;
        const int64_t row_length = t.dims[0];
        const int64_t n_rows = n_elements / row_length;
        const size_t row_bytes = gguf::row_bytes(t.type, row_length);
        std::vector<uint8_t> bytes(row_bytes * static_cast<size_t>(n_rows), 0);
        if (t.name == "rope_freqs.weight") {
            const std::vector<float> factors =
                llama3_rope_factors(static_cast<int>(2 * row_length), spec.rope_base);
            std::memcpy(bytes.data(), factors.data(), bytes.size());
        } else if (kernels::can_quantize(t.type)) {
            const ValueRule rule = rule_for(t);
            pool.parallel_for(static_cast<size_t>(n_rows), 1, [&](size_t begin, size_t end, int) {
                std::vector<float> row(static_cast<size_t>(row_length));
                for (size_t r = begin; r < end; ++r) {
                    uint64_t state = spec.seed * 0x100000001B3ull + index * 0x9E3779B97F4A7C15ull +
                                     static_cast<uint64_t>(r) * 0xD1B54A32D192ED03ull;
                    for (float& x : row) x = rule.mean + rule.stddev * normal_sample(state);
                    kernels::quantize_row(t.type, row.data(), bytes.data() + r * row_bytes,
                                          row_length);
                }
            });
        }
        CRIA_RETURN_IF_ERROR(writer.add_tensor(t.name, t.type, t.dims, std::move(bytes)));
    }
    return writer;
}

Status make_model_file(const RandomModelSpec& spec, const std::string& path, ThreadPool& pool) {
    RandomModelSpec resolved = spec;
    if (spec.vocabulary != nullptr) {
        const gguf::Value* tokens = spec.vocabulary->find("tokenizer.ggml.tokens");
        const gguf::Value::Array* list = tokens != nullptr ? tokens->as_array() : nullptr;
        if (list == nullptr || list->empty()) {
            return invalid_argument("the vocabulary file has no tokenizer.ggml.tokens");
        }
        resolved.n_vocab = static_cast<int64_t>(list->size());
    }
    CRIA_ASSIGN_OR_RETURN(std::vector<TensorPlan> plan, plan_tensors(resolved));
    CRIA_ASSIGN_OR_RETURN(gguf::Writer writer, build_model(resolved, plan, pool));
    return writer.write(path);
}

}  // namespace cria::model
