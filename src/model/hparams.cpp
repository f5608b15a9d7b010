#include "model/hparams.h"

#include <cmath>
#include <optional>
#include <string_view>

namespace cria::model {
namespace {

// Caps far above any real model, below what would let a file exhaust memory by itself.
constexpr int64_t kMaxEmbd = 1 << 16;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxHeadDim = 1024;
constexpr int64_t kMaxFf = 1 << 20;
constexpr int64_t kMaxVocab = 1 << 24;
constexpr int64_t kMaxContext = int64_t{1} << 24;

class KeyReader {
  public:
    KeyReader(const gguf::File& file, std::string_view arch) : file_(file), prefix_(arch) {
        prefix_ += '.';
    }

    std::string key(std::string_view suffix) const { return prefix_ + std::string(suffix); }

    // An unsigned integer key; a per-layer array is accepted when all its entries are equal.
    Expected<std::optional<int64_t>> integer(std::string_view suffix) const {
        const std::string name = key(suffix);
        const gguf::Value* value = file_.find(name);
        if (value == nullptr) return std::optional<int64_t>();
        if (const gguf::Value::Array* items = value->as_array()) {
            if (items->empty()) return invalid("is an empty array", name);
            std::optional<uint64_t> first = (*items)[0].as_u64();
            for (const gguf::Value& item : *items) {
                const std::optional<uint64_t> v = item.as_u64();
                if (!v) return invalid("holds a non-integer", name);
                if (*v != *first) {
                    return Status(unsupported("per-layer values of " + name +
                                              " differ; only uniform layers are supported"));
                }
            }
            return checked(*first, name);
        }
        const std::optional<uint64_t> v = value->as_u64();
        if (!v) return invalid("is not a non-negative integer", name);
        return checked(*v, name);
    }

    Expected<std::optional<double>> real(std::string_view suffix) const {
        const std::string name = key(suffix);
        const gguf::Value* value = file_.find(name);
        if (value == nullptr) return std::optional<double>();
        const std::optional<double> v = value->as_f64();
        if (!v || !std::isfinite(*v)) return invalid("is not a finite number", name);
        return std::optional<double>(*v);
    }

    Expected<std::optional<std::string>> text(std::string_view suffix) const {
        const std::string name = key(suffix);
        const gguf::Value* value = file_.find(name);
        if (value == nullptr) return std::optional<std::string>();
        const std::string* s = value->as_string();
        if (s == nullptr) return invalid("is not a string", name);
        return std::optional<std::string>(*s);
    }

  private:
    static Status invalid(const char* what, const std::string& name) {
        return corrupt("model metadata " + name + " " + what);
    }
    static Expected<std::optional<int64_t>> checked(uint64_t v, const std::string& name) {
        if (v > static_cast<uint64_t>(kMaxContext) * 64) {
            return invalid("is out of range", name);
        }
        return std::optional<int64_t>(static_cast<int64_t>(v));
    }

    const gguf::File& file_;
    std::string prefix_;
};

Status require_range(const std::string& what, int64_t value, int64_t low, int64_t high) {
    if (value < low || value > high) {
        return out_of_range("model " + what + " = " + std::to_string(value) + " is outside [" +
                            std::to_string(low) + ", " + std::to_string(high) + "]");
    }
    return Status::ok();
}

Expected<int64_t> required_integer(const KeyReader& keys, std::string_view suffix) {
    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> v, keys.integer(suffix));
    if (!v) return Status(not_found("model metadata lacks " + keys.key(suffix)));
    return *v;
}

Expected<RopeScaling> parse_rope_scaling(const std::string& name) {
    if (name == "none") return RopeScaling::kNone;
    if (name == "linear") return RopeScaling::kLinear;
    if (name == "yarn") return RopeScaling::kYarn;
    if (name == "longrope") return RopeScaling::kLongRope;
    return Status(unsupported("rope scaling type '" + name + "' is not supported"));
}

Expected<int64_t> vocab_size(const gguf::File& file, int64_t n_embd) {
    const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
    if (embd == nullptr) return Status(not_found("model has no tensor token_embd.weight"));
    if (embd->n_dims != 2 || embd->dims[0] != n_embd) {
        return Status(corrupt("tensor token_embd.weight has shape " + embd->shape_string() +
                              ", expected [" + std::to_string(n_embd) + ", n_vocab]"));
    }
    const int64_t n_vocab = embd->dims[1];
    CRIA_RETURN_IF_ERROR(require_range("vocabulary size", n_vocab, 1, kMaxVocab));
    if (const gguf::Value* tokens = file.find("tokenizer.ggml.tokens")) {
        const gguf::Value::Array* list = tokens->as_array();
        if (list != nullptr && static_cast<int64_t>(list->size()) != n_vocab) {
            return Status(corrupt("tokenizer has " + std::to_string(list->size()) +
                                  " tokens but token_embd.weight has " + std::to_string(n_vocab) +
                                  " rows"));
        }
    }
    return n_vocab;
}

}  // namespace

Expected<HParams> read_hparams(const gguf::File& file, const ArchSpec& arch) {
    const KeyReader keys(file, arch.name);
    HParams hp;
    hp.arch = std::string(arch.name);

    CRIA_ASSIGN_OR_RETURN(hp.n_embd, required_integer(keys, "embedding_length"));
    CRIA_ASSIGN_OR_RETURN(hp.n_layer, required_integer(keys, "block_count"));
    CRIA_ASSIGN_OR_RETURN(hp.n_ff, required_integer(keys, "feed_forward_length"));
    CRIA_ASSIGN_OR_RETURN(hp.n_head, required_integer(keys, "attention.head_count"));
    CRIA_RETURN_IF_ERROR(require_range("embedding length", hp.n_embd, 1, kMaxEmbd));
    CRIA_RETURN_IF_ERROR(require_range("block count", hp.n_layer, 1, kMaxLayers));
    CRIA_RETURN_IF_ERROR(require_range("feed-forward length", hp.n_ff, 1, kMaxFf));
    CRIA_RETURN_IF_ERROR(require_range("head count", hp.n_head, 1, kMaxHeads));

    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> n_head_kv,
                          keys.integer("attention.head_count_kv"));
    hp.n_head_kv = n_head_kv.value_or(hp.n_head);
    CRIA_RETURN_IF_ERROR(require_range("key/value head count", hp.n_head_kv, 1, hp.n_head));
    if (hp.n_head % hp.n_head_kv != 0) {
        return Status(unsupported("head count " + std::to_string(hp.n_head) +
                                  " is not a multiple of the key/value head count " +
                                  std::to_string(hp.n_head_kv)));
    }

    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> key_length, keys.integer("attention.key_length"));
    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> value_length,
                          keys.integer("attention.value_length"));
    hp.head_dim_k = key_length.value_or(hp.n_embd / hp.n_head);
    hp.head_dim_v = value_length.value_or(hp.n_embd / hp.n_head);
    CRIA_RETURN_IF_ERROR(require_range("key head size", hp.head_dim_k, 1, kMaxHeadDim));
    CRIA_RETURN_IF_ERROR(require_range("value head size", hp.head_dim_v, 1, kMaxHeadDim));

    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> n_rot, keys.integer("rope.dimension_count"));
    hp.n_rot = static_cast<int>(std::min<int64_t>(n_rot.value_or(hp.head_dim_k), kMaxHeadDim + 1));
    if (hp.n_rot % 2 != 0 || hp.n_rot > hp.head_dim_k) {
        return Status(unsupported("rope dimension count " + std::to_string(hp.n_rot) +
                                  " must be even and at most the head size " +
                                  std::to_string(hp.head_dim_k)));
    }
    if (arch.rope_dims_equal_head && hp.n_rot != hp.head_dim_k) {
        return Status(unsupported("rope dimension count " + std::to_string(hp.n_rot) +
                                  " differs from the head size " + std::to_string(hp.head_dim_k) +
                                  " for " + hp.arch));
    }

    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> n_ctx, keys.integer("context_length"));
    hp.n_ctx_train = n_ctx.value_or(4096);
    CRIA_RETURN_IF_ERROR(require_range("context length", hp.n_ctx_train, 1, kMaxContext));

    const char* eps_key = arch.norm == NormKind::kRms ? "attention.layer_norm_rms_epsilon"
                                                      : "attention.layer_norm_epsilon";
    CRIA_ASSIGN_OR_RETURN(std::optional<double> eps, keys.real(eps_key));
    if (!eps) return Status(not_found("model metadata lacks " + keys.key(eps_key)));
    if (!(*eps > 0.0 && *eps < 1.0)) {
        return Status(
            out_of_range("model norm epsilon " + std::to_string(*eps) + " is outside (0, 1)"));
    }
    hp.norm_eps = static_cast<float>(*eps);

    // Rotary embedding and its scaling.
    CRIA_ASSIGN_OR_RETURN(std::optional<double> freq_base, keys.real("rope.freq_base"));
    hp.rope_freq_base = static_cast<float>(freq_base.value_or(10000.0));
    if (!(hp.rope_freq_base > 1.0f)) {
        return Status(out_of_range("model rope base " + std::to_string(hp.rope_freq_base) +
                                   " must be greater than 1"));
    }
    CRIA_ASSIGN_OR_RETURN(std::optional<std::string> scaling_name, keys.text("rope.scaling.type"));
    CRIA_ASSIGN_OR_RETURN(std::optional<double> factor, keys.real("rope.scaling.factor"));
    if (!factor) {
        CRIA_ASSIGN_OR_RETURN(factor, keys.real("rope.scale_linear"));
    }
    if (scaling_name) {
        CRIA_ASSIGN_OR_RETURN(hp.rope_scaling, parse_rope_scaling(*scaling_name));
    } else {
        hp.rope_scaling = factor ? RopeScaling::kLinear : RopeScaling::kNone;
    }
    if (factor && *factor != 0.0 && hp.rope_scaling != RopeScaling::kNone) {
        if (!(*factor > 0.0 && *factor < 1e6)) {
            return Status(out_of_range("rope scaling factor " + std::to_string(*factor) +
                                       " is out of range"));
        }
        // LongRoPE's factor describes its tensors; it is not an angle scale.
        if (hp.rope_scaling != RopeScaling::kLongRope) {
            hp.rope_freq_scale = static_cast<float>(1.0 / *factor);
        }
    }
    CRIA_ASSIGN_OR_RETURN(std::optional<double> attn_factor, keys.real("rope.scaling.attn_factor"));
    if (attn_factor) hp.rope_attn_factor = static_cast<float>(*attn_factor);
    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> n_ctx_orig,
                          keys.integer("rope.scaling.original_context_length"));
    hp.n_ctx_orig = n_ctx_orig.value_or(hp.n_ctx_train);
    CRIA_RETURN_IF_ERROR(require_range("original context length", hp.n_ctx_orig, 1, kMaxContext));
    if (hp.rope_scaling == RopeScaling::kYarn) {
        CRIA_ASSIGN_OR_RETURN(std::optional<double> ext, keys.real("rope.scaling.yarn_ext_factor"));
        CRIA_ASSIGN_OR_RETURN(std::optional<double> fast, keys.real("rope.scaling.yarn_beta_fast"));
        CRIA_ASSIGN_OR_RETURN(std::optional<double> slow, keys.real("rope.scaling.yarn_beta_slow"));
        CRIA_ASSIGN_OR_RETURN(std::optional<double> yarn_attn,
                              keys.real("rope.scaling.yarn_attn_factor"));
        hp.yarn_ext_factor = static_cast<float>(ext.value_or(1.0));
        hp.yarn_beta_fast = static_cast<float>(fast.value_or(32.0));
        hp.yarn_beta_slow = static_cast<float>(slow.value_or(1.0));
        if (yarn_attn) hp.rope_attn_factor = static_cast<float>(*yarn_attn);
    }

    // Sliding-window layers.
    hp.layer_uses_window.assign(static_cast<size_t>(hp.n_layer), 0);
    hp.rope_freq_base_swa = hp.rope_freq_base;
    hp.rope_freq_scale_swa = hp.rope_freq_scale;
    if (arch.swa_pattern > 0) {
        CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> window,
                              keys.integer("attention.sliding_window"));
        if (!window && arch.default_sliding_window == 0) {
            return Status(
                not_found("model metadata lacks " + keys.key("attention.sliding_window")));
        }
        hp.sliding_window = window.value_or(arch.default_sliding_window);
        CRIA_RETURN_IF_ERROR(require_range("sliding window", hp.sliding_window, 1, kMaxContext));
        for (int64_t il = 0; il < hp.n_layer; ++il) {
            hp.layer_uses_window[static_cast<size_t>(il)] =
                il % arch.swa_pattern < arch.swa_pattern - 1 ? 1 : 0;
        }
        CRIA_ASSIGN_OR_RETURN(std::optional<double> base_swa, keys.real("rope.freq_base_swa"));
        if (base_swa || arch.swa_rope_base > 0.0f) {
            hp.rope_freq_base_swa = static_cast<float>(base_swa.value_or(arch.swa_rope_base));
            hp.rope_freq_scale_swa = 1.0f;
            if (!(hp.rope_freq_base_swa > 1.0f)) {
                return Status(out_of_range("sliding-window rope base must be greater than 1"));
            }
        }
    }

    // Encoders and embedding models.
    hp.causal = arch.causal;
    if (const gguf::Value* causal = file.find(keys.key("attention.causal"))) {
        const std::optional<bool> flag = causal->as_bool();
        if (!flag)
            return Status(
                corrupt("model metadata " + keys.key("attention.causal") + " is not a boolean"));
        hp.causal = *flag;
    }
    CRIA_ASSIGN_OR_RETURN(std::optional<int64_t> pooling, keys.integer("pooling_type"));
    hp.pooling = arch.default_pooling;
    if (pooling) {
        if (*pooling > static_cast<int64_t>(Pooling::kLast)) {
            return Status(unsupported("pooling type " + std::to_string(*pooling) +
                                      " is not supported (0 none, 1 mean, 2 CLS, 3 last)"));
        }
        hp.pooling = static_cast<Pooling>(*pooling);
    }
    if (!arch.lm_head && hp.pooling == Pooling::kNone) {
        return Status(unsupported(hp.arch + " computes embeddings only, but its pooling is none"));
    }

    // Soft-capping.
    CRIA_ASSIGN_OR_RETURN(std::optional<double> attn_cap, keys.real("attn_logit_softcapping"));
    CRIA_ASSIGN_OR_RETURN(std::optional<double> final_cap, keys.real("final_logit_softcapping"));
    hp.attn_softcap = static_cast<float>(attn_cap.value_or(arch.default_attn_softcap));
    hp.final_softcap = static_cast<float>(final_cap.value_or(arch.default_final_softcap));
    if (hp.attn_softcap < 0.0f || hp.final_softcap < 0.0f) {
        return Status(out_of_range("soft-capping values must not be negative"));
    }

    hp.attention_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hp.head_dim_k)));
    hp.embedding_scale = arch.scale_embeddings
                             ? static_cast<float>(std::sqrt(static_cast<double>(hp.n_embd)))
                             : 1.0f;
    if (arch.finish_hparams != nullptr) arch.finish_hparams(hp);

    CRIA_ASSIGN_OR_RETURN(hp.n_vocab, vocab_size(file, hp.n_embd));
    return hp;
}

}  // namespace cria::model
