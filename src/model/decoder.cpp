#include "model/decoder.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace cria::model {
namespace {

kernels::RopeConfig rope_config(const Model& model, const HParams& hp, bool windowed,
                                int64_t context_length) {
    kernels::RopeConfig config;
    config.n_rot = hp.n_rot;
    config.freq_base = windowed ? hp.rope_freq_base_swa : hp.rope_freq_base;
    config.freq_scale = windowed ? hp.rope_freq_scale_swa : hp.rope_freq_scale;
    config.attn_factor = hp.rope_attn_factor;
    config.n_ctx_orig = hp.n_ctx_orig;
    if (hp.rope_scaling == RopeScaling::kYarn) {
        config.ext_factor = hp.yarn_ext_factor;
        config.beta_fast = hp.yarn_beta_fast;
        config.beta_slow = hp.yarn_beta_slow;
    }
    if (model.rope_freqs() != nullptr) {
        config.freq_factors = model.rope_freqs();
    } else if (model.rope_factors_long() != nullptr) {
        // LongRoPE: the long factors serve contexts beyond the original training length.
        config.freq_factors =
            context_length > hp.n_ctx_orig ? model.rope_factors_long() : model.rope_factors_short();
    }
    return config;
}

// The largest batch whose scratch buffers fit kMaxScratchBytes, at most `wanted`.
int64_t batch_limit(const Model& model, int64_t wanted) {
    const HParams& hp = model.hparams();
    const int64_t qkv = hp.n_q() + hp.n_k() + hp.n_v();
    const int64_t per_token = 3 * hp.n_embd + (model.arch().fused_qkv ? qkv : 0) + qkv +
                              hp.n_head * hp.head_dim_v + 3 * hp.n_ff + 2 * hp.n_rot;
    const auto fit = static_cast<int64_t>(Decoder::kMaxScratchBytes /
                                          (static_cast<size_t>(per_token) * sizeof(float)));
    return std::max<int64_t>(1, std::min(wanted, fit));
}

}  // namespace

Decoder::Decoder(const Model& model, ThreadPool& pool, DecoderOptions options)
    : model_(model),
      hp_(model.hparams()),
      pool_(pool),
      isa_(selected_isa()),
      max_batch_(batch_limit(model, options.max_batch)) {
    const int64_t context = options.context_length > 0 ? options.context_length : hp_.n_ctx_train;
    rope_global_.config = rope_config(model, hp_, false, context);
    rope_window_.config = rope_config(model, hp_, true, context);
    const auto rows = static_cast<size_t>(max_batch_);
    rope_global_.cos_sin.resize(rows * static_cast<size_t>(hp_.n_rot));
    if (hp_.sliding_window > 0) rope_window_.cos_sin.resize(rows * static_cast<size_t>(hp_.n_rot));

    const auto width = [rows](int64_t n) { return rows * static_cast<size_t>(n); };
    x_.resize(width(hp_.n_embd));
    normed_.resize(width(hp_.n_embd));
    if (model.arch().fused_qkv) qkv_.resize(width(hp_.n_q() + hp_.n_k() + hp_.n_v()));
    q_.resize(width(hp_.n_q()));
    k_.resize(width(hp_.n_k()));
    v_.resize(width(hp_.n_v()));
    attn_.resize(width(hp_.n_head * hp_.head_dim_v));
    proj_.resize(width(hp_.n_embd));
    gate_.resize(width(model.arch().fused_gate_up ? 2 * hp_.n_ff : hp_.n_ff));
    up_.resize(width(hp_.n_ff));
    batch_tokens_.resize(rows);
    batch_positions_.resize(rows);
}

template <typename Fn>
void Decoder::for_rows(int64_t n_rows, Fn&& fn) {
    if (n_rows == 1 || pool_.size() == 1) {
        for (int64_t r = 0; r < n_rows; ++r) fn(r);
        return;
    }
    auto range = [&](size_t begin, size_t end, int) {
        for (size_t r = begin; r < end; ++r) fn(static_cast<int64_t>(r));
    };
    // By reference: a std::function holding the lambda itself would allocate on every call.
    pool_.parallel_for(static_cast<size_t>(n_rows), 1, std::ref(range));
}

void Decoder::matmul(const kernels::Matrix& w, const float* x, int64_t n, float* y) {
    kernels::matmul(w, x, n, y, pool_);
}

void Decoder::add_bias(float* y, const float* bias, int64_t n_rows, int64_t width) {
    if (bias == nullptr) return;
    for (int64_t r = 0; r < n_rows; ++r)
        kernels::add(y + r * width, bias, y + r * width, width, isa_);
}

Status Decoder::check_segment(const BatchSegment& segment) const {
    const auto n_tokens = static_cast<int64_t>(segment.tokens.size());
    if (n_tokens == 0) {
        if (segment.mode == LogitsMode::kLast) {
            return invalid_argument("no tokens to compute logits for");
        }
        return Status::ok();
    }
    if (segment.mode != LogitsMode::kNone && segment.logits == nullptr) {
        return invalid_argument("no buffer for the logits");
    }
    if ((segment.mode == LogitsMode::kAll || segment.mode == LogitsMode::kLast) &&
        !model_.has_lm_head()) {
        return invalid_argument("this " + hp_.arch +
                                " model computes embeddings only; it has no logits");
    }
    if (segment.mode == LogitsMode::kEmbedding && segment.pos0 != 0) {
        return invalid_argument("an embedding is computed from a whole input, from position 0");
    }
    if (model_.position_embd().data != nullptr &&
        segment.pos0 + n_tokens > model_.position_embd().n_out) {
        return out_of_range("position " + std::to_string(segment.pos0 + n_tokens - 1) +
                            " is past the model's position table of " +
                            std::to_string(model_.position_embd().n_out));
    }
    for (int32_t token : segment.tokens) {
        if (token < 0 || token >= hp_.n_vocab) {
            return out_of_range("token id " + std::to_string(token) +
                                " is outside the vocabulary [0, " + std::to_string(hp_.n_vocab) +
                                ")");
        }
    }
    const KvCacheView* kv = segment.kv;
    if (kv == nullptr) return invalid_argument("no key/value cache");
    if (segment.pos0 < 0 || segment.pos0 + n_tokens > kv->capacity) {
        return resource_exhausted("context full: " + std::to_string(segment.pos0 + n_tokens) +
                                  " positions needed, the cache holds " +
                                  std::to_string(kv->capacity));
    }
    if (kv->layers == nullptr || kv->k_row_bytes != gguf::row_bytes(kv->type, hp_.n_k()) ||
        kv->v_row_bytes != gguf::row_bytes(kv->type, hp_.n_v()) ||
        !kernels::attention_supports(kv->type, static_cast<int>(hp_.head_dim_k),
                                     static_cast<int>(hp_.head_dim_v))) {
        return invalid_argument("the key/value cache does not fit this model");
    }
    return Status::ok();
}

Status Decoder::forward(std::span<const int32_t> tokens, int64_t pos0, const KvCacheView& kv,
                        LogitsMode mode, float* logits) {
    const BatchSegment whole{tokens, pos0, &kv, mode, logits};
    CRIA_RETURN_IF_ERROR(check_segment(whole));
    const auto n_tokens = static_cast<int64_t>(tokens.size());
    if (mode == LogitsMode::kEmbedding && n_tokens > max_batch_) {
        return invalid_argument("the input holds " + std::to_string(n_tokens) +
                                " tokens, more than the " + std::to_string(max_batch_) +
                                " one forward pass takes");
    }
    for (int64_t done = 0; done < n_tokens; done += max_batch_) {
        const int64_t n = std::min(max_batch_, n_tokens - done);
        BatchSegment chunk{tokens.subspan(static_cast<size_t>(done), static_cast<size_t>(n)),
                           pos0 + done, &kv, mode, logits};
        if (mode == LogitsMode::kAll) {
            chunk.logits = logits + done * hp_.n_vocab;
        } else if (mode == LogitsMode::kLast && done + n != n_tokens) {
            chunk.mode = LogitsMode::kNone;
        }
        forward_batch(std::span<const BatchSegment>(&chunk, 1));
    }
    return Status::ok();
}

Status Decoder::forward(std::span<const BatchSegment> segments) {
    int64_t total = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
        CRIA_RETURN_IF_ERROR(check_segment(segments[i]));
        total += static_cast<int64_t>(segments[i].tokens.size());
        for (size_t j = 0; j < i; ++j) {
            if (segments[j].kv->layers == segments[i].kv->layers && segments[i].kv->layers) {
                return invalid_argument("two segments of one batch share a cache");
            }
        }
    }
    if (total > max_batch_) {
        return invalid_argument("the batch holds " + std::to_string(total) +
                                " tokens, more than the " + std::to_string(max_batch_) +
                                " a forward pass takes");
    }
    if (total > 0) forward_batch(segments);
    return Status::ok();
}

void Decoder::forward_batch(std::span<const BatchSegment> segments) {
    const int64_t n_embd = hp_.n_embd;
    const kernels::Matrix& embd = model_.token_embd();
    // Row r of the batch is token t of segment s, rows in segment order.
    int64_t n = 0;
    for (const BatchSegment& segment : segments) {
        for (size_t t = 0; t < segment.tokens.size(); ++t, ++n) {
            const auto offset = static_cast<size_t>(n * hp_.n_rot);
            const int64_t position = segment.pos0 + static_cast<int64_t>(t);
            kernels::rope_angles(rope_global_.config, position,
                                 rope_global_.cos_sin.data() + offset);
            if (!rope_window_.cos_sin.empty()) {
                kernels::rope_angles(rope_window_.config, position,
                                     rope_window_.cos_sin.data() + offset);
            }
            batch_tokens_[static_cast<size_t>(n)] = segment.tokens[t];
            batch_positions_[static_cast<size_t>(n)] = position;
        }
    }
    const kernels::Matrix& types = model_.token_types();
    const kernels::Matrix& positions = model_.position_embd();
    // Row `index` of an embedding table (token, position or type), as floats.
    auto table_row = [n_embd](const kernels::Matrix& table, int64_t index, float* out) {
        kernels::dequantize_row(
            table.type,
            static_cast<const uint8_t*>(table.data) + static_cast<size_t>(index) * table.row_bytes,
            out, n_embd);
    };
    for_rows(n, [&](int64_t t) {
        float* row = x_.data() + t * n_embd;
        table_row(embd, batch_tokens_[static_cast<size_t>(t)], row);
        if (hp_.embedding_scale != 1.0f) kernels::scale(row, n_embd, hp_.embedding_scale, isa_);
        // Every input is of token type 0 (single-segment inputs, as embedding APIs send).
        float* tmp = normed_.data() + t * n_embd;
        if (types.data != nullptr) {
            table_row(types, 0, tmp);
            kernels::add(row, tmp, row, n_embd, isa_);
        }
        if (positions.data != nullptr) {
            table_row(positions, batch_positions_[static_cast<size_t>(t)], tmp);
            kernels::add(row, tmp, row, n_embd, isa_);
        }
        if (model_.embedding_norm() != nullptr) {
            kernels::layer_norm(row, model_.embedding_norm(), model_.embedding_norm_bias(), row, 1,
                                n_embd, hp_.norm_eps, isa_);
        }
    });

    const std::vector<LayerWeights>& layers = model_.layers();
    for (int64_t il = 0; il < hp_.n_layer; ++il) {
        const LayerWeights& layer = layers[static_cast<size_t>(il)];
        attention_block(layer, il, segments, n);
        ffn_block(layer, n);
    }
    compute_logits(segments);
    compute_embeddings(segments);
}

void Decoder::normalize(const float* x, const float* weight, const float* bias, float* y,
                        int64_t n_rows) {
    if (model_.arch().norm == NormKind::kLayer) {
        kernels::layer_norm(x, weight, bias, y, n_rows, hp_.n_embd, hp_.norm_eps, isa_);
    } else {
        kernels::rms_norm(x, weight, y, n_rows, hp_.n_embd, hp_.norm_eps, isa_);
    }
}

void Decoder::compute_embeddings(std::span<const BatchSegment> segments) {
    const int64_t n_embd = hp_.n_embd;
    int64_t n_pooled = 0;
    for (const BatchSegment& segment : segments) {
        if (segment.mode == LogitsMode::kEmbedding) ++n_pooled;
    }
    if (n_pooled == 0) return;
    pooled_.assign(static_cast<size_t>(n_pooled * n_embd), 0.0f);
    // Each input's final hidden states (after the output norm, where the model has one) pooled
    // into one row of pooled_.
    int64_t row0 = 0;
    int64_t p = 0;
    for (const BatchSegment& segment : segments) {
        const auto rows = static_cast<int64_t>(segment.tokens.size());
        if (segment.mode == LogitsMode::kEmbedding) {
            float* out = pooled_.data() + p * n_embd;
            int64_t first = row0;
            int64_t count = rows;
            if (hp_.pooling == Pooling::kCls) {
                count = 1;
            } else if (hp_.pooling != Pooling::kMean) {
                first = row0 + rows - 1;  // kLast, and generation models asked to embed
                count = 1;
            }
            float* hidden = x_.data() + first * n_embd;
            if (model_.output_norm() != nullptr) {
                for_rows(count, [&](int64_t r) {
                    normalize(hidden + r * n_embd, model_.output_norm(), nullptr,
                              hidden + r * n_embd, 1);
                });
            }
            for (int64_t r = 0; r < count; ++r)
                kernels::add(out, hidden + r * n_embd, out, n_embd, isa_);
            if (count > 1) kernels::scale(out, n_embd, 1.0f / static_cast<float>(count), isa_);
            ++p;
        }
        row0 += rows;
    }
    // Projections: all pooled rows of the batch through each matrix at once, the result
    // becoming the next one's input.
    int64_t width = n_embd;
    for (const kernels::Matrix& m : model_.pooled_projections()) {
        projected_.resize(static_cast<size_t>(n_pooled * m.n_out));
        matmul(m, pooled_.data(), n_pooled, projected_.data());
        pooled_.swap(projected_);
        width = m.n_out;
    }
    p = 0;
    for (const BatchSegment& segment : segments) {
        if (segment.mode != LogitsMode::kEmbedding) continue;
        std::memcpy(segment.logits, pooled_.data() + p * width,
                    static_cast<size_t>(width) * sizeof(float));
        ++p;
    }
}

void Decoder::compute_logits(std::span<const BatchSegment> segments) {
    const int64_t n_embd = hp_.n_embd;
    const int64_t n_vocab = hp_.n_vocab;
    auto finish = [&](float* logits, int64_t rows) {
        if (hp_.final_softcap <= 0.0f) return;
        for_rows(rows, [&](int64_t r) {
            kernels::softcap(logits + r * n_vocab, n_vocab, hp_.final_softcap, isa_);
        });
    };
    // kAll segments multiply all their rows straight into their own buffers.
    int64_t row0 = 0;
    std::vector<int64_t> last_rows;  // batch rows whose logits a kLast segment wants
    for (const BatchSegment& segment : segments) {
        const auto n = static_cast<int64_t>(segment.tokens.size());
        if (segment.mode == LogitsMode::kAll && n > 0) {
            for_rows(n, [&](int64_t r) {
                kernels::rms_norm(x_.data() + (row0 + r) * n_embd, model_.output_norm(),
                                  normed_.data() + r * n_embd, 1, n_embd, hp_.norm_eps, isa_);
            });
            matmul(model_.output(), normed_.data(), n, segment.logits);
            finish(segment.logits, n);
        } else if (segment.mode == LogitsMode::kLast) {
            last_rows.push_back(row0 + n - 1);
        }
        row0 += n;
    }
    if (last_rows.empty()) return;
    // The kLast rows of all segments share one pass over the output matrix.
    const auto rows = static_cast<int64_t>(last_rows.size());
    for_rows(rows, [&](int64_t r) {
        kernels::rms_norm(x_.data() + last_rows[static_cast<size_t>(r)] * n_embd,
                          model_.output_norm(), normed_.data() + r * n_embd, 1, n_embd,
                          hp_.norm_eps, isa_);
    });
    float* out = nullptr;
    if (rows == 1) {
        for (const BatchSegment& segment : segments) {
            if (segment.mode == LogitsMode::kLast) out = segment.logits;
        }
    } else {
        last_logits_.resize(static_cast<size_t>(rows * n_vocab));
        out = last_logits_.data();
    }
    matmul(model_.output(), normed_.data(), rows, out);
    finish(out, rows);
    if (rows == 1) return;
    size_t next = 0;
    for (const BatchSegment& segment : segments) {
        if (segment.mode != LogitsMode::kLast) continue;
        std::memcpy(segment.logits, out + static_cast<int64_t>(next++) * n_vocab,
                    static_cast<size_t>(n_vocab) * sizeof(float));
    }
}

void Decoder::attention_block(const LayerWeights& layer, int64_t il,
                              std::span<const BatchSegment> segments, int64_t n) {
    const int64_t n_embd = hp_.n_embd;
    const int64_t n_q = hp_.n_q();
    const int64_t n_k = hp_.n_k();
    const int64_t n_v = hp_.n_v();
    const bool pre_norm = model_.arch().norm_placement == NormPlacement::kPre;
    if (pre_norm) {
        for_rows(n, [&](int64_t t) {
            normalize(x_.data() + t * n_embd, layer.attn_norm, layer.attn_norm_bias,
                      normed_.data() + t * n_embd, 1);
        });
    }
    // Post-norm blocks take the residual stream itself.
    const float* input = pre_norm ? normed_.data() : x_.data();

    if (layer.wqkv.data != nullptr) {
        const int64_t width = n_q + n_k + n_v;
        matmul(layer.wqkv, input, n, qkv_.data());
        for_rows(n, [&](int64_t t) {
            const float* row = qkv_.data() + t * width;
            std::memcpy(q_.data() + t * n_q, row, static_cast<size_t>(n_q) * sizeof(float));
            std::memcpy(k_.data() + t * n_k, row + n_q, static_cast<size_t>(n_k) * sizeof(float));
            std::memcpy(v_.data() + t * n_v, row + n_q + n_k,
                        static_cast<size_t>(n_v) * sizeof(float));
        });
    } else {
        const kernels::MatmulOutput qkv[] = {
            {&layer.wq, q_.data()}, {&layer.wk, k_.data()}, {&layer.wv, v_.data()}};
        kernels::matmul_shared_input(qkv, input, n, pool_);
    }
    add_bias(q_.data(), layer.bq, n, n_q);
    add_bias(k_.data(), layer.bk, n, n_k);
    add_bias(v_.data(), layer.bv, n, n_v);

    const bool windowed = hp_.layer_uses_window[static_cast<size_t>(il)] != 0;
    const float* cos_sin = windowed ? rope_window_.cos_sin.data() : rope_global_.cos_sin.data();
    const kernels::RopeStyle style = model_.arch().rope_style;
    const bool rope = model_.arch().rope;
    if (rope || layer.q_norm != nullptr) {
        for_rows(n, [&](int64_t t) {
            float* q = q_.data() + t * n_q;
            float* k = k_.data() + t * n_k;
            if (layer.q_norm != nullptr) {
                kernels::rms_norm(q, layer.q_norm, q, hp_.n_head, hp_.head_dim_k, hp_.norm_eps,
                                  isa_);
                kernels::rms_norm(k, layer.k_norm, k, hp_.n_head_kv, hp_.head_dim_k, hp_.norm_eps,
                                  isa_);
            }
            if (!rope) return;
            const float* angles = cos_sin + t * hp_.n_rot;
            kernels::rope_apply(q, hp_.n_head, hp_.head_dim_k, hp_.n_rot, style, angles, isa_);
            kernels::rope_apply(k, hp_.n_head_kv, hp_.head_dim_k, hp_.n_rot, style, angles, isa_);
        });
    }
    kernels::AttentionShape shape;
    shape.n_head = static_cast<int>(hp_.n_head);
    shape.n_head_kv = static_cast<int>(hp_.n_head_kv);
    shape.head_dim_k = static_cast<int>(hp_.head_dim_k);
    shape.head_dim_v = static_cast<int>(hp_.head_dim_v);
    shape.scale = hp_.attention_scale;
    shape.softcap = hp_.attn_softcap;
    shape.window = windowed ? hp_.sliding_window : 0;
    shape.causal = hp_.causal;
    const int64_t n_attn = hp_.n_head * hp_.head_dim_v;
    // Each sequence attends to its own cache only.
    int64_t row0 = 0;
    for (const BatchSegment& segment : segments) {
        const auto rows = static_cast<int64_t>(segment.tokens.size());
        if (rows == 0) continue;
        const KvCacheView& kv = *segment.kv;
        store_kv(kv, il, row0, rows, segment.pos0);
        const KvLayerStorage& storage = kv.layers[il];
        const kernels::KvSpan span{kv.type,        storage.k,      storage.v,
                                   kv.k_row_bytes, kv.v_row_bytes, segment.pos0 + rows};
        kernels::attention(shape, q_.data() + row0 * n_q, rows, segment.pos0, span,
                           attn_.data() + row0 * n_attn, pool_, attention_scratch_, isa_);
        row0 += rows;
    }

    matmul(layer.wo, attn_.data(), n, proj_.data());
    add_bias(proj_.data(), layer.bo, n, n_embd);
    for_rows(n, [&](int64_t t) {
        float* out = proj_.data() + t * n_embd;
        if (layer.post_attn_norm != nullptr) {
            kernels::rms_norm(out, layer.post_attn_norm, out, 1, n_embd, hp_.norm_eps, isa_);
        }
        float* x = x_.data() + t * n_embd;
        kernels::add(x, out, x, n_embd, isa_);
        if (!pre_norm) normalize(x, layer.attn_norm, layer.attn_norm_bias, x, 1);
    });
}

void Decoder::store_kv(const KvCacheView& kv, int64_t il, int64_t row0, int64_t n, int64_t pos0) {
    const KvLayerStorage& storage = kv.layers[il];
    const int64_t n_k = hp_.n_k();
    const int64_t n_v = hp_.n_v();
    for_rows(n, [&](int64_t t) {
        const auto position = static_cast<size_t>(pos0 + t);
        uint8_t* k_row = storage.k + position * kv.k_row_bytes;
        uint8_t* v_row = storage.v + position * kv.v_row_bytes;
        const float* k = k_.data() + (row0 + t) * n_k;
        const float* v = v_.data() + (row0 + t) * n_v;
        switch (kv.type) {
            case gguf::TensorType::kF32:
                std::memcpy(k_row, k, static_cast<size_t>(n_k) * sizeof(float));
                std::memcpy(v_row, v, static_cast<size_t>(n_v) * sizeof(float));
                break;
            case gguf::TensorType::kF16:
                kernels::fp32_to_fp16_row(k, reinterpret_cast<uint16_t*>(k_row), n_k, isa_);
                kernels::fp32_to_fp16_row(v, reinterpret_cast<uint16_t*>(v_row), n_v, isa_);
                break;
            default:
                kernels::quantize_row(kv.type, k, k_row, n_k);
                kernels::quantize_row(kv.type, v, v_row, n_v);
                break;
        }
    });
}

void Decoder::ffn_block(const LayerWeights& layer, int64_t n) {
    const int64_t n_embd = hp_.n_embd;
    const int64_t n_ff = hp_.n_ff;
    const bool pre_norm = model_.arch().norm_placement == NormPlacement::kPre;
    if (pre_norm) {
        for_rows(n, [&](int64_t t) {
            normalize(x_.data() + t * n_embd, layer.ffn_norm, layer.ffn_norm_bias,
                      normed_.data() + t * n_embd, 1);
        });
    }
    const float* input = pre_norm ? normed_.data() : x_.data();
    const bool gelu = model_.arch().activation == Activation::kGeluTanh;
    auto activate = [&](const float* gate, const float* up, float* out) {
        if (gelu) {
            kernels::geglu(gate, up, out, n_ff, isa_);
        } else {
            kernels::swiglu(gate, up, out, n_ff, isa_);
        }
    };
    if (model_.arch().ffn == FfnKind::kPlain) {
        // down(act(up(x) + b_up)) + b_down
        matmul(layer.w_up, input, n, up_.data());
        add_bias(up_.data(), layer.b_up, n, n_ff);
        for_rows(n, [&](int64_t t) {
            float* row = up_.data() + t * n_ff;
            if (gelu) {
                kernels::gelu(row, row, n_ff, isa_);
            } else {
                kernels::silu(row, row, n_ff, isa_);
            }
        });
    } else if (layer.w_gate.data == nullptr) {
        // Fused projection: each row is gate | up.
        matmul(layer.w_up, input, n, gate_.data());
        for_rows(n, [&](int64_t t) {
            const float* row = gate_.data() + t * 2 * n_ff;
            activate(row, row + n_ff, up_.data() + t * n_ff);
        });
    } else {
        const kernels::MatmulOutput gate_up[] = {{&layer.w_gate, gate_.data()},
                                                 {&layer.w_up, up_.data()}};
        kernels::matmul_shared_input(gate_up, input, n, pool_);
        add_bias(up_.data(), layer.b_up, n, n_ff);
        for_rows(n, [&](int64_t t) {
            activate(gate_.data() + t * n_ff, up_.data() + t * n_ff, up_.data() + t * n_ff);
        });
    }
    matmul(layer.w_down, up_.data(), n, proj_.data());
    add_bias(proj_.data(), layer.b_down, n, n_embd);
    for_rows(n, [&](int64_t t) {
        float* out = proj_.data() + t * n_embd;
        if (layer.post_ffn_norm != nullptr) {
            kernels::rms_norm(out, layer.post_ffn_norm, out, 1, n_embd, hp_.norm_eps, isa_);
        }
        float* x = x_.data() + t * n_embd;
        kernels::add(x, out, x, n_embd, isa_);
        if (!pre_norm) normalize(x, layer.ffn_norm, layer.ffn_norm_bias, x, 1);
    });
}

}  // namespace cria::model
