#include "model/model.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <string_view>

#include "core/thread_pool.h"
#include "kernels/row_groups.h"

namespace cria::model {
namespace {

std::string shape_text(std::initializer_list<int64_t> dims) {
    std::string s = "[";
    bool first = true;
    for (int64_t d : dims) {
        if (!first) s += ", ";
        s += std::to_string(d);
        first = false;
    }
    return s + "]";
}

// Looks tensors up by name, checks each against the shape and types the architecture expects,
// and remembers which were used so that leftovers can be reported.
class TensorBinder {
  public:
    TensorBinder(const gguf::File& file, std::string_view arch) : file_(file), arch_(arch) {}

    Expected<kernels::Matrix> matrix(const std::string& name, int64_t n_in, int64_t n_out) {
        CRIA_ASSIGN_OR_RETURN(kernels::Matrix m, optional_matrix(name, n_in, n_out));
        if (m.data == nullptr) return Status(missing(name));
        return m;
    }

    // An empty Matrix (data == nullptr) when the tensor is absent.
    Expected<kernels::Matrix> optional_matrix(const std::string& name, int64_t n_in,
                                              int64_t n_out) {
        const gguf::TensorInfo* info = file_.find_tensor(name);
        if (info == nullptr) return kernels::Matrix{};
        used_.insert(name);
        if (info->n_dims != 2 || info->dims[0] != n_in || info->dims[1] != n_out) {
            return Status(mismatch(*info, shape_text({n_in, n_out})));
        }
        if (!kernels::is_supported(info->type)) {
            return Status(unsupported("tensor " + name + " has type " +
                                      std::string(gguf::tensor_type_name(info->type)) +
                                      ", which cria cannot compute"));
        }
        const auto& type_info = gguf::tensor_type_info(info->type);
        if (n_in % type_info.block_size != 0) {
            return Status(corrupt("tensor " + name + " rows of " + std::to_string(n_in) +
                                  " elements are not whole blocks of " +
                                  std::string(type_info.name)));
        }
        kernels::Matrix m;
        m.type = info->type;
        m.data = info->data;
        m.n_in = n_in;
        m.n_out = n_out;
        m.row_bytes = gguf::row_bytes(info->type, n_in);
        if (m.row_bytes * static_cast<uint64_t>(n_out) != info->n_bytes) {
            return Status(corrupt("tensor " + name + " holds " + std::to_string(info->n_bytes) +
                                  " bytes, expected " +
                                  std::to_string(m.row_bytes * static_cast<uint64_t>(n_out))));
        }
        return m;
    }

    Expected<const float*> vector(const std::string& name, int64_t n) {
        CRIA_ASSIGN_OR_RETURN(const float* v, optional_vector(name, n));
        if (v == nullptr) return Status(missing(name));
        return v;
    }

    Expected<const float*> optional_vector(const std::string& name, int64_t n) {
        const gguf::TensorInfo* info = file_.find_tensor(name);
        if (info == nullptr) return static_cast<const float*>(nullptr);
        used_.insert(name);
        if (info->n_dims != 1 || info->dims[0] != n)
            return Status(mismatch(*info, shape_text({n})));
        if (info->type != gguf::TensorType::kF32) {
            return Status(unsupported("tensor " + name + " has type " +
                                      std::string(gguf::tensor_type_name(info->type)) +
                                      "; cria reads norm weights and biases only as F32"));
        }
        if (reinterpret_cast<uintptr_t>(info->data) % alignof(float) != 0) {
            return Status(corrupt("tensor " + name + " data is not aligned for F32"));
        }
        return reinterpret_cast<const float*>(info->data);
    }

    // The first tensor of the file that no lookup asked for, if any.
    Status check_all_used() const {
        for (const gguf::TensorInfo& info : file_.tensors()) {
            if (used_.count(info.name) == 0) {
                return corrupt("tensor " + info.name + " is not part of a " + std::string(arch_) +
                               " model");
            }
        }
        return Status::ok();
    }

  private:
    Status missing(const std::string& name) const {
        return not_found("model lacks tensor " + name + ", required by " + std::string(arch_));
    }
    Status mismatch(const gguf::TensorInfo& info, const std::string& expected) const {
        return corrupt("tensor " + info.name + " has shape " + info.shape_string() + ", expected " +
                       expected + " for this " + std::string(arch_) + " model");
    }

    const gguf::File& file_;
    std::string_view arch_;
    std::set<std::string> used_;
};

std::string layer_tensor(int64_t il, const char* suffix) {
    return "blk." + std::to_string(il) + "." + suffix;
}

}  // namespace

Expected<std::unique_ptr<Model>> Model::load(const std::string& path) {
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<gguf::File> file, gguf::File::open(path));
    return from_file(std::move(file));
}

Expected<std::unique_ptr<Model>> Model::from_file(std::unique_ptr<gguf::File> file) {
    const std::string arch_name = file->get_string("general.architecture");
    if (arch_name.empty()) {
        return Status(corrupt("model file has no general.architecture"));
    }
    const ArchSpec* arch = find_arch(arch_name);
    if (arch == nullptr) {
        std::string supported;
        for (std::string_view name : supported_arch_names()) {
            supported += supported.empty() ? "" : ", ";
            supported += name;
        }
        return Status(unsupported("model architecture '" + arch_name +
                                  "' is not supported (supported: " + supported + ")"));
    }
    std::unique_ptr<Model> model(new Model());
    model->file_ = std::move(file);
    model->arch_ = arch;
    CRIA_ASSIGN_OR_RETURN(model->hparams_, read_hparams(*model->file_, *arch));
    CRIA_RETURN_IF_ERROR(model->bind_weights());
    CRIA_RETURN_IF_ERROR(model->take_weights(kernels::matmul_isa()));
    return model;
}

Status Model::take_weights(Isa isa) {
    // In the order a forward pass reads them, so that the kernels' stream runs on from one
    // matrix into the next. The output projection gets its own copy when tied: the embedding
    // table stays in the mapping, where rows are looked up one at a time.
    std::vector<kernels::Matrix*> matrices;
    for (LayerWeights& l : layers_) {
        for (kernels::Matrix* m :
             {&l.wqkv, &l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
            if (m->data != nullptr && m->n_out > 0) matrices.push_back(m);
        }
    }
    if (output_.n_out > 0) matrices.push_back(&output_);

    auto repacked = [isa](const kernels::Matrix& m) {
        return kernels::prefers_row_groups(m.type, isa);
    };
    auto stored_bytes = [&](const kernels::Matrix& m) {
        const size_t bytes = repacked(m) ? kernels::row_group_matrix_bytes(m.type, m.n_in, m.n_out)
                                         : m.row_bytes * static_cast<size_t>(m.n_out);
        return (bytes + 63) / 64 * 64;
    };
    struct Copy {
        kernels::Matrix* matrix;
        size_t offset;  // in weights_
        size_t bytes;
    };
    std::vector<Copy> copies;
    size_t total = 0;
    for (kernels::Matrix* m : matrices) {
        copies.push_back({m, total, stored_bytes(*m)});
        total += copies.back().bytes;
    }
    CRIA_ASSIGN_OR_RETURN(weights_, LargeBuffer::allocate(total));
    // The copies run on all cores (reading the mapping, repacking and faulting in the buffer's
    // pages all scale with them), largest first so that no thread is left with a big one at the
    // end.
    std::sort(copies.begin(), copies.end(),
              [](const Copy& a, const Copy& b) { return a.bytes > b.bytes; });
    std::atomic<size_t> next{0};
    ThreadPool pool(
        std::clamp(static_cast<int>(copies.size()), 1, ThreadPool::default_thread_count()));
    pool.run_on_all([&](int, int) {
        for (size_t i = next.fetch_add(1); i < copies.size(); i = next.fetch_add(1)) {
            kernels::Matrix& m = *copies[i].matrix;
            const void* mapped = m.data;
            uint8_t* dst = weights_.data() + copies[i].offset;
            if (repacked(m)) {
                m = kernels::pack_row_groups(m, dst);
            } else {
                std::memcpy(dst, mapped, m.row_bytes * static_cast<size_t>(m.n_out));
                m.data = dst;
            }
            // The mapped bytes are not read again (but for rows of a tied embedding table): let
            // them leave resident memory.
            for (const gguf::TensorInfo& info : file_->tensors()) {
                if (info.data == mapped) file_->advise_unused(info);
            }
        }
    });
    return Status::ok();
}

Status Model::bind_weights() {
    const HParams& hp = hparams_;
    const ArchSpec& arch = *arch_;
    TensorBinder bind(*file_, arch.name);

    CRIA_ASSIGN_OR_RETURN(token_embd_, bind.matrix("token_embd.weight", hp.n_embd, hp.n_vocab));
    if (arch.output_norm) {
        CRIA_ASSIGN_OR_RETURN(output_norm_, bind.vector("output_norm.weight", hp.n_embd));
    }
    if (arch.lm_head) {
        if (!arch.output_always_tied) {
            CRIA_ASSIGN_OR_RETURN(output_,
                                  bind.optional_matrix("output.weight", hp.n_embd, hp.n_vocab));
        }
        output_tied_ = output_.data == nullptr;
        if (output_tied_) output_ = token_embd_;
    }
    if (arch.position_table) {
        CRIA_ASSIGN_OR_RETURN(position_embd_,
                              bind.matrix("position_embd.weight", hp.n_embd, hp.n_ctx_train));
    }
    if (arch.token_types) {
        const gguf::TensorInfo* types = file_->find_tensor("token_types.weight");
        const int64_t n_types = types != nullptr && types->n_dims == 2 ? types->dims[1] : 0;
        if (n_types < 1 || n_types > 64) {
            return not_found("model lacks a token_types.weight of 1 to 64 types");
        }
        CRIA_ASSIGN_OR_RETURN(token_types_, bind.matrix("token_types.weight", hp.n_embd, n_types));
    }
    if (arch.embedding_norm) {
        CRIA_ASSIGN_OR_RETURN(embedding_norm_, bind.vector("token_embd_norm.weight", hp.n_embd));
        CRIA_ASSIGN_OR_RETURN(embedding_norm_bias_, bind.vector("token_embd_norm.bias", hp.n_embd));
    }
    if (arch.dense_projections) {
        // dense_2 [n_embd -> d2], then dense_3 [d2 -> d3], each optional (widths from the file).
        int64_t width = hp.n_embd;
        for (const char* name : {"dense_2.weight", "dense_3.weight"}) {
            const gguf::TensorInfo* info = file_->find_tensor(name);
            if (info == nullptr) continue;
            const int64_t n_out = info->n_dims == 2 ? info->dims[1] : 0;
            if (n_out < 1 || n_out > (int64_t{1} << 16)) {
                return corrupt(std::string("tensor ") + name + " has shape " +
                               info->shape_string() + ", expected [" + std::to_string(width) +
                               ", n_out]");
            }
            CRIA_ASSIGN_OR_RETURN(kernels::Matrix m, bind.matrix(name, width, n_out));
            pooled_projections_.push_back(m);
            width = n_out;
        }
    }

    const int64_t half_rot = hp.n_rot / 2;
    if (arch.rope_freqs) {
        CRIA_ASSIGN_OR_RETURN(rope_freqs_, bind.optional_vector("rope_freqs.weight", half_rot));
    }
    if (arch.longrope_factors) {
        CRIA_ASSIGN_OR_RETURN(rope_factors_short_,
                              bind.optional_vector("rope_factors_short.weight", half_rot));
        CRIA_ASSIGN_OR_RETURN(rope_factors_long_,
                              bind.optional_vector("rope_factors_long.weight", half_rot));
        if ((rope_factors_short_ == nullptr) != (rope_factors_long_ == nullptr)) {
            return not_found("model has only one of rope_factors_short / rope_factors_long");
        }
    }

    const int64_t n_q = hp.n_q();
    const int64_t n_k = hp.n_k();
    const int64_t n_v = hp.n_v();
    layers_.resize(static_cast<size_t>(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = layers_[static_cast<size_t>(il)];
        auto name = [il](const char* suffix) { return layer_tensor(il, suffix); };

        // Post-norm blocks (BERT) name their norms after what they follow.
        const bool post = arch.norm_placement == NormPlacement::kPost;
        const char* attn_norm_name = post ? "attn_output_norm" : "attn_norm";
        const char* ffn_norm_name = post ? "layer_output_norm" : "ffn_norm";
        auto norm_tensors = [&](const char* base, const float*& weight,
                                const float*& bias) -> Status {
            CRIA_ASSIGN_OR_RETURN(
                weight, bind.vector(name((std::string(base) + ".weight").c_str()), hp.n_embd));
            if (arch.norm == NormKind::kLayer) {
                CRIA_ASSIGN_OR_RETURN(
                    bias, bind.vector(name((std::string(base) + ".bias").c_str()), hp.n_embd));
            }
            return Status::ok();
        };
        CRIA_RETURN_IF_ERROR(norm_tensors(attn_norm_name, l.attn_norm, l.attn_norm_bias));
        if (arch.fused_qkv) {
            CRIA_ASSIGN_OR_RETURN(l.wqkv,
                                  bind.matrix(name("attn_qkv.weight"), hp.n_embd, n_q + n_k + n_v));
        } else {
            CRIA_ASSIGN_OR_RETURN(l.wq, bind.matrix(name("attn_q.weight"), hp.n_embd, n_q));
            CRIA_ASSIGN_OR_RETURN(l.wk, bind.matrix(name("attn_k.weight"), hp.n_embd, n_k));
            CRIA_ASSIGN_OR_RETURN(l.wv, bind.matrix(name("attn_v.weight"), hp.n_embd, n_v));
        }
        if (arch.qkv_bias) {
            CRIA_ASSIGN_OR_RETURN(l.bq, bind.vector(name("attn_q.bias"), n_q));
            CRIA_ASSIGN_OR_RETURN(l.bk, bind.vector(name("attn_k.bias"), n_k));
            CRIA_ASSIGN_OR_RETURN(l.bv, bind.vector(name("attn_v.bias"), n_v));
        }
        if (arch.sublayer_biases) {
            CRIA_ASSIGN_OR_RETURN(l.bo, bind.vector(name("attn_output.bias"), hp.n_embd));
        } else if (arch.optional_biases) {
            CRIA_ASSIGN_OR_RETURN(l.bq, bind.optional_vector(name("attn_q.bias"), n_q));
            CRIA_ASSIGN_OR_RETURN(l.bk, bind.optional_vector(name("attn_k.bias"), n_k));
            CRIA_ASSIGN_OR_RETURN(l.bv, bind.optional_vector(name("attn_v.bias"), n_v));
            CRIA_ASSIGN_OR_RETURN(l.bo, bind.optional_vector(name("attn_output.bias"), hp.n_embd));
        }
        if (arch.qk_norm) {
            CRIA_ASSIGN_OR_RETURN(l.q_norm, bind.vector(name("attn_q_norm.weight"), hp.head_dim_k));
            CRIA_ASSIGN_OR_RETURN(l.k_norm, bind.vector(name("attn_k_norm.weight"), hp.head_dim_k));
        }
        CRIA_ASSIGN_OR_RETURN(
            l.wo, bind.matrix(name("attn_output.weight"), hp.n_head * hp.head_dim_v, hp.n_embd));
        if (arch.post_norms) {
            CRIA_ASSIGN_OR_RETURN(l.post_attn_norm,
                                  bind.vector(name("post_attention_norm.weight"), hp.n_embd));
            CRIA_ASSIGN_OR_RETURN(l.post_ffn_norm,
                                  bind.vector(name("post_ffw_norm.weight"), hp.n_embd));
        }

        CRIA_RETURN_IF_ERROR(norm_tensors(ffn_norm_name, l.ffn_norm, l.ffn_norm_bias));
        if (arch.fused_gate_up) {
            CRIA_ASSIGN_OR_RETURN(l.w_up,
                                  bind.matrix(name("ffn_up.weight"), hp.n_embd, 2 * hp.n_ff));
        } else {
            if (arch.ffn == FfnKind::kGated) {
                CRIA_ASSIGN_OR_RETURN(l.w_gate,
                                      bind.matrix(name("ffn_gate.weight"), hp.n_embd, hp.n_ff));
            }
            CRIA_ASSIGN_OR_RETURN(l.w_up, bind.matrix(name("ffn_up.weight"), hp.n_embd, hp.n_ff));
        }
        CRIA_ASSIGN_OR_RETURN(l.w_down, bind.matrix(name("ffn_down.weight"), hp.n_ff, hp.n_embd));
        if (arch.sublayer_biases) {
            CRIA_ASSIGN_OR_RETURN(l.b_up, bind.vector(name("ffn_up.bias"), hp.n_ff));
            CRIA_ASSIGN_OR_RETURN(l.b_down, bind.vector(name("ffn_down.bias"), hp.n_embd));
        }
    }
    CRIA_RETURN_IF_ERROR(bind.check_all_used());

    tensor_bytes_ = 0;
    for (const gguf::TensorInfo& info : file_->tensors()) tensor_bytes_ += info.n_bytes;
    return Status::ok();
}

int64_t Model::embedding_width() const {
    return pooled_projections_.empty() ? hparams_.n_embd : pooled_projections_.back().n_out;
}

uint64_t Model::bytes_per_token() const {
    const uint64_t embedding_table =
        token_embd_.row_bytes * static_cast<uint64_t>(token_embd_.n_out);
    // A tied table is read whole by the output projection; an untied one only a row per token.
    return output_is_tied() ? tensor_bytes_
                            : tensor_bytes_ - embedding_table + token_embd_.row_bytes;
}

}  // namespace cria::model
