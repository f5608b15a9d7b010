// The decoder's f32 operations, written once for the AVX2 and AVX-512 op files. Each of those
// files defines a vector-traits struct (see ops_avx2.cpp, ops_avx512.cpp) and includes this file
// inside its anonymous namespace, so that every instantiation is compiled with that file's
// instruction-set flags and is never shared between ISAs by the linker.
//
// A traits struct S provides:
//   F, Mask                       a float vector of S::kLanes lanes and a lane mask
//   kLanes                        lanes per vector
//   kValueVectors                 value vectors per row kept in registers by blocked attention
//   kExpLow, kExpHigh             the range exp() clamps its input to
//   zero, set1, load (aligned), loadu, store (aligned), storeu
//   tail(remaining)               mask of the first min(remaining, kLanes) lanes
//   load_tail(p, m), store_tail   masked load (zeros elsewhere) and masked store
//   add, sub, mul, div, max, min, fmadd (a*b+c), fnmadd (c-a*b), fmsub (a*b-c)
//   add_tail(acc, m, v)           acc + v in the lanes of m, acc elsewhere
//   round_nearest(x), scale_pow2(y, n)  round to integer; y * 2^n for integral n
//   reduce_add, reduce_max        horizontal sum and maximum
//   fp16_to_f32(p)                kLanes fp16 values as floats
//   keep_visible(key, pos, window, score, hidden)  score where key <= pos and pos - key < window,
//                                 else hidden
//   keep_greater(s, threshold, e) e where s > threshold, else 0

// ---- Elementwise ----------------------------------------------------------------------------

// e^x with a degree-6 polynomial on [-ln2/2, ln2/2] after range reduction; relative error about
// 2e-7 over the clamped range.
template <class S>
inline typename S::F exp_ps(typename S::F x) {
    x = S::max(S::min(x, S::set1(S::kExpHigh)), S::set1(S::kExpLow));
    const auto n = S::round_nearest(S::mul(x, S::set1(1.44269504088896341f)));
    auto r = S::fnmadd(n, S::set1(0.693359375f), x);
    r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);
    auto p = S::set1(1.9875691500e-4f);
    p = S::fmadd(p, r, S::set1(1.3981999507e-3f));
    p = S::fmadd(p, r, S::set1(8.3334519073e-3f));
    p = S::fmadd(p, r, S::set1(4.1665795894e-2f));
    p = S::fmadd(p, r, S::set1(1.6666665459e-1f));
    p = S::fmadd(p, r, S::set1(5.0000001201e-1f));
    const auto y = S::add(S::fmadd(p, S::mul(r, r), r), S::set1(1.0f));
    return S::scale_pow2(y, n);
}

// tanh(x) = 1 - 2 / (e^2x + 1): saturates cleanly to +-1 for large |x|.
template <class S>
inline typename S::F tanh_ps(typename S::F x) {
    const auto e = exp_ps<S>(S::add(x, x));
    return S::sub(S::set1(1.0f), S::div(S::set1(2.0f), S::add(e, S::set1(1.0f))));
}

template <class S>
inline typename S::F silu_ps(typename S::F x) {
    const auto e = exp_ps<S>(S::sub(S::zero(), x));
    return S::div(x, S::add(S::set1(1.0f), e));
}

template <class S>
inline typename S::F gelu_ps(typename S::F x) {
    const auto x2 = S::mul(x, x);
    const auto inner = S::mul(S::mul(x, S::set1(0.79788456080286535588f)),
                              S::fmadd(x2, S::set1(0.044715f), S::set1(1.0f)));
    const auto half_x = S::mul(x, S::set1(0.5f));
    return S::fmadd(half_x, tanh_ps<S>(inner), half_x);
}

// y[i] = fn(x[i]) over whole vectors, the last one masked.
template <class S, class Fn>
inline void map_unary(const float* x, float* y, int64_t n, Fn fn) {
    for (int64_t i = 0; i < n; i += S::kLanes) {
        const auto m = S::tail(n - i);
        S::store_tail(y + i, m, fn(S::load_tail(x + i, m)));
    }
}

// out[i] = fn(a[i], b[i]).
template <class S, class Fn>
inline void map_binary(const float* a, const float* b, float* out, int64_t n, Fn fn) {
    for (int64_t i = 0; i < n; i += S::kLanes) {
        const auto m = S::tail(n - i);
        S::store_tail(out + i, m, fn(S::load_tail(a + i, m), S::load_tail(b + i, m)));
    }
}

template <class S>
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
    auto sum0 = S::zero();
    auto sum1 = S::zero();
    int64_t i = 0;
    for (; i + 2 * S::kLanes <= n; i += 2 * S::kLanes) {
        const auto a = S::loadu(x + i);
        const auto b = S::loadu(x + i + S::kLanes);
        sum0 = S::fmadd(a, a, sum0);
        sum1 = S::fmadd(b, b, sum1);
    }
    for (; i < n; i += S::kLanes) {
        const auto a = S::load_tail(x + i, S::tail(n - i));
        sum0 = S::fmadd(a, a, sum0);
    }
    const float mean = S::reduce_add(S::add(sum0, sum1)) / static_cast<float>(n);
    const auto inv = S::set1(1.0f / std::sqrt(mean + eps));
    for (i = 0; i < n; i += S::kLanes) {
        const auto m = S::tail(n - i);
        auto v = S::mul(S::load_tail(x + i, m), inv);
        if (weight != nullptr) v = S::mul(v, S::load_tail(weight + i, m));
        S::store_tail(y + i, m, v);
    }
}

template <class S>
void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n,
                float eps) {
    auto sum = S::zero();
    for (int64_t i = 0; i < n; i += S::kLanes)
        sum = S::add(sum, S::load_tail(x + i, S::tail(n - i)));
    const float mean = S::reduce_add(sum) / static_cast<float>(n);
    const auto mean_v = S::set1(mean);
    auto squares = S::zero();
    for (int64_t i = 0; i < n; i += S::kLanes) {
        const auto m = S::tail(n - i);
        // Masked lanes load 0 and would add mean^2: keep them out.
        const auto d = S::sub(S::load_tail(x + i, m), mean_v);
        squares = S::add_tail(squares, m, S::mul(d, d));
    }
    const auto inv =
        S::set1(1.0f / std::sqrt(S::reduce_add(squares) / static_cast<float>(n) + eps));
    for (int64_t i = 0; i < n; i += S::kLanes) {
        const auto m = S::tail(n - i);
        auto v = S::mul(S::sub(S::load_tail(x + i, m), mean_v), inv);
        if (weight != nullptr) v = S::mul(v, S::load_tail(weight + i, m));
        if (bias != nullptr) v = S::add(v, S::load_tail(bias + i, m));
        S::store_tail(y + i, m, v);
    }
}

template <class S>
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    map_binary<S>(gate, up, out, n, [](auto g, auto u) { return S::mul(silu_ps<S>(g), u); });
}

template <class S>
void geglu(const float* gate, const float* up, float* out, int64_t n) {
    map_binary<S>(gate, up, out, n, [](auto g, auto u) { return S::mul(gelu_ps<S>(g), u); });
}

template <class S>
void silu(const float* x, float* y, int64_t n) {
    map_unary<S>(x, y, n, [](auto v) { return silu_ps<S>(v); });
}

template <class S>
void gelu(const float* x, float* y, int64_t n) {
    map_unary<S>(x, y, n, [](auto v) { return gelu_ps<S>(v); });
}

template <class S>
void softcap(float* x, int64_t n, float cap) {
    const auto c = S::set1(cap);
    const auto inv = S::set1(1.0f / cap);
    map_unary<S>(x, x, n, [&](auto v) { return S::mul(c, tanh_ps<S>(S::mul(v, inv))); });
}

template <class S>
void scale(float* x, int64_t n, float s) {
    const auto f = S::set1(s);
    map_unary<S>(x, x, n, [&](auto v) { return S::mul(v, f); });
}

template <class S>
void add(const float* a, const float* b, float* y, int64_t n) {
    map_binary<S>(a, b, y, n, [](auto u, auto v) { return S::add(u, v); });
}

template <class S>
void softmax(float* x, int64_t n) {
    if (n <= 0) return;
    auto max_v = S::set1(-INFINITY);
    int64_t i = 0;
    for (; i + S::kLanes <= n; i += S::kLanes) max_v = S::max(max_v, S::loadu(x + i));
    float max_value = S::reduce_max(max_v);
    for (; i < n; ++i) max_value = std::fmax(max_value, x[i]);
    const auto max_b = S::set1(max_value);
    auto sum = S::zero();
    for (i = 0; i < n; i += S::kLanes) {
        const auto m = S::tail(n - i);
        const auto e = exp_ps<S>(S::sub(S::load_tail(x + i, m), max_b));
        S::store_tail(x + i, m, e);
        sum = S::add_tail(sum, m, e);
    }
    scale<S>(x, n, 1.0f / S::reduce_add(sum));
}

// ---- Attention, one query per head (decoding) -------------------------------------------------

// The floats of one key or value head: a pointer into the cache for F32, else converted into
// `buffer`. Inlined: attention calls it once per key, and a call per key costs more than the
// conversion of a short head.
template <class S>
[[gnu::always_inline]] inline const float* head_as_f32(gguf::TensorType type, const uint8_t* row,
                                                       int64_t first, int64_t n, float* buffer) {
    switch (type) {
        case gguf::TensorType::kF32:
            return reinterpret_cast<const float*>(row) + first;
        case gguf::TensorType::kF16: {
            const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + first;
            int64_t d = 0;
            for (; d + S::kLanes <= n; d += S::kLanes) S::store(buffer + d, S::fp16_to_f32(h + d));
            for (; d < n; ++d) buffer[d] = fp16_to_fp32(h[d]);
            return buffer;
        }
        default:
            dequantize_row(type, row + gguf::row_bytes(type, first), buffer, n);
            return buffer;
    }
}

template <class S>
inline float dot_f32(const float* a, const float* b, int64_t n) {
    auto acc0 = S::zero();
    auto acc1 = S::zero();
    int64_t d = 0;
    for (; d + 2 * S::kLanes <= n; d += 2 * S::kLanes) {
        acc0 = S::fmadd(S::loadu(a + d), S::loadu(b + d), acc0);
        acc1 = S::fmadd(S::loadu(a + d + S::kLanes), S::loadu(b + d + S::kLanes), acc1);
    }
    for (; d < n; d += S::kLanes) {
        const auto m = S::tail(n - d);
        acc0 = S::fmadd(S::load_tail(a + d, m), S::load_tail(b + d, m), acc0);
    }
    return S::reduce_add(S::add(acc0, acc1));
}

// Any head sizes: one dot product per key and head, probabilities normalized before they weigh
// the values, accumulators in scratch.
template <class S>
void attend_any_shape(const AttentionShape& shape, const float* q, int64_t position,
                      const KvSpan& kv, int kv_head, float* out, float* scratch) {
    const int group = shape.n_head / shape.n_head_kv;
    const KeyRange keys_seen = attention_keys(shape, position, kv.n_kv);
    const int64_t first = keys_seen.first;
    const int64_t n_keys = keys_seen.count;
    const size_t scores_stride = (static_cast<size_t>(n_keys) + 15) & ~size_t{15};
    const int64_t hd_k = shape.head_dim_k;
    const int64_t hd_v = shape.head_dim_v;
    float* scores = scratch;  // [group][scores_stride]
    float* row = scratch + static_cast<size_t>(group) * scores_stride;
    const size_t head = static_cast<size_t>(hd_k > hd_v ? hd_k : hd_v);
    float* acc = row + 16 * ((head + 15) & ~size_t{15});  // [group][acc_stride]
    const size_t acc_stride = (static_cast<size_t>(hd_v) + 15) & ~size_t{15};

    for (int64_t j = 0; j < n_keys; ++j) {
        const float* k =
            head_as_f32<S>(kv.type, kv.k + static_cast<size_t>(first + j) * kv.k_row_bytes,
                           kv_head * hd_k, hd_k, row);
        for (int g = 0; g < group; ++g) {
            scores[static_cast<size_t>(g) * scores_stride + j] =
                dot_f32<S>(q + g * hd_k, k, hd_k) * shape.scale;
        }
    }
    for (int g = 0; g < group; ++g) {
        float* sg = scores + static_cast<size_t>(g) * scores_stride;
        if (shape.softcap > 0.0f) softcap<S>(sg, n_keys, shape.softcap);
        softmax<S>(sg, n_keys);
        float* ag = acc + static_cast<size_t>(g) * acc_stride;
        for (size_t d = 0; d < acc_stride; d += S::kLanes) S::store(ag + d, S::zero());
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* v =
            head_as_f32<S>(kv.type, kv.v + static_cast<size_t>(first + j) * kv.v_row_bytes,
                           kv_head * hd_v, hd_v, row);
        for (int g = 0; g < group; ++g) {
            const auto p = S::set1(scores[static_cast<size_t>(g) * scores_stride + j]);
            float* ag = acc + static_cast<size_t>(g) * acc_stride;
            for (int64_t d = 0; d < hd_v; d += S::kLanes) {
                const auto vv = S::load_tail(v + d, S::tail(hd_v - d));
                S::store(ag + d, S::fmadd(p, vv, S::load(ag + d)));
            }
        }
    }
    for (int g = 0; g < group; ++g) {
        const float* ag = acc + static_cast<size_t>(g) * acc_stride;
        float* og = out + g * hd_v;
        for (int64_t d = 0; d < hd_v; d += S::kLanes) {
            S::store_tail(og + d, S::tail(hd_v - d), S::load(ag + d));
        }
    }
}

// ---- Blocked attention (prompt processing) ---------------------------------------------------
//
// The queries of the block are transposed (qt[d][row]) so that one FMA chain per key yields the
// scores of kLanes rows at once, without horizontal sums; scores are kept key-major
// (st[key][row]), which makes the softmax vectorized across rows too. The values are converted
// to f32 once and then applied to a few rows at a time with register-resident accumulators.

// Scores of row vectors [rv0, rv0 + kVecs) for every key, masked and soft-capped.
template <class S, int kVecs>
void block_scores(const AttentionShape& shape, const float* qt, size_t rs, int rv0,
                  const KvSpan& kv, int kv_head, int64_t first_key, int64_t n_keys,
                  const float* row_pos, float* st, float* k0_buf, float* k1_buf) {
    using F = typename S::F;
    const int64_t hd_k = shape.head_dim_k;
    const F neg_inf = S::set1(-INFINITY);
    const F cap = S::set1(shape.softcap);
    const F inv_cap = S::set1(shape.softcap > 0.0f ? 1.0f / shape.softcap : 0.0f);
    // Positions are below 2^24, so they and their differences are exact in floats.
    const F window = S::set1(shape.window > 0 ? static_cast<float>(shape.window) : INFINITY);
    F pos[kVecs];
    for (int v = 0; v < kVecs; ++v) {
        pos[v] = S::load(row_pos + static_cast<size_t>(rv0 + v) * S::kLanes);
    }
    auto finish = [&](int64_t j, F* acc) {
        const F key = S::set1(static_cast<float>(first_key + j));
        for (int v = 0; v < kVecs; ++v) {
            F score = acc[v];
            if (shape.softcap > 0.0f) score = S::mul(cap, tanh_ps<S>(S::mul(score, inv_cap)));
            S::store(st + static_cast<size_t>(j) * rs + static_cast<size_t>(rv0 + v) * S::kLanes,
                     S::keep_visible(key, pos[v], window, score, neg_inf));
        }
    };
    auto key_row = [&](int64_t j, float* buffer) {
        return head_as_f32<S>(kv.type, kv.k + static_cast<size_t>(first_key + j) * kv.k_row_bytes,
                              kv_head * hd_k, hd_k, buffer);
    };
    int64_t j = 0;
    for (; j + 2 <= n_keys; j += 2) {
        const float* k0 = key_row(j, k0_buf);
        const float* k1 = key_row(j + 1, k1_buf);
        F a0[kVecs], a1[kVecs];
        for (int v = 0; v < kVecs; ++v) a0[v] = a1[v] = S::zero();
        for (int64_t d = 0; d < hd_k; ++d) {
            const F b0 = S::set1(k0[d]);
            const F b1 = S::set1(k1[d]);
            const float* qd =
                qt + static_cast<size_t>(d) * rs + static_cast<size_t>(rv0) * S::kLanes;
            for (int v = 0; v < kVecs; ++v) {
                const F qv = S::load(qd + v * S::kLanes);
                a0[v] = S::fmadd(qv, b0, a0[v]);
                a1[v] = S::fmadd(qv, b1, a1[v]);
            }
        }
        finish(j, a0);
        finish(j + 1, a1);
    }
    if (j < n_keys) {
        const float* k0 = key_row(j, k0_buf);
        F a0[kVecs];
        for (int v = 0; v < kVecs; ++v) a0[v] = S::zero();
        for (int64_t d = 0; d < hd_k; ++d) {
            const F b0 = S::set1(k0[d]);
            const float* qd =
                qt + static_cast<size_t>(d) * rs + static_cast<size_t>(rv0) * S::kLanes;
            for (int v = 0; v < kVecs; ++v)
                a0[v] = S::fmadd(S::load(qd + v * S::kLanes), b0, a0[v]);
        }
        finish(j, a0);
    }
}

// acc[kRows][kDv vectors] = sum over keys of p[key][row] * v[key][d0 ..], for rows r0.. .
template <class S, int kRows, int kDv>
void block_values(const float* st, size_t rs, const float* vf, int64_t hd_v, int64_t n_keys,
                  int64_t d0, int r0, const float* inv_sums, const AttentionBlock& block,
                  int row_limit) {
    using F = typename S::F;
    F acc[kRows][kDv];
    for (int r = 0; r < kRows; ++r) {
        for (int v = 0; v < kDv; ++v) acc[r][v] = S::zero();
    }
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* vj = vf + static_cast<size_t>(j) * hd_v + d0;
        F vv[kDv];
        for (int v = 0; v < kDv; ++v) vv[v] = S::load(vj + v * S::kLanes);
        const float* pj = st + static_cast<size_t>(j) * rs + r0;
        for (int r = 0; r < kRows; ++r) {
            const F p = S::set1(pj[r]);
            for (int v = 0; v < kDv; ++v) acc[r][v] = S::fmadd(p, vv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < kRows && r0 + r < row_limit; ++r) {
        const int row = r0 + r;
        const int64_t t = row / block.n_heads;
        const int h = row % block.n_heads;
        float* out = block.out + static_cast<size_t>(t) * block.out_stride +
                     static_cast<size_t>(h) * hd_v + d0;
        const F inv = S::set1(inv_sums[row]);
        for (int v = 0; v < kDv; ++v) S::storeu(out + v * S::kLanes, S::mul(acc[r][v], inv));
    }
}

template <class S, int kDv>
void block_values_all_rows(const float* st, size_t rs, const float* vf, int64_t hd_v,
                           int64_t n_keys, int64_t d0, int rows, const float* inv_sums,
                           const AttentionBlock& block) {
    int r0 = 0;
    for (; r0 + 4 <= rows; r0 += 4) {
        block_values<S, 4, kDv>(st, rs, vf, hd_v, n_keys, d0, r0, inv_sums, block, rows);
    }
    for (; r0 < rows; ++r0) {
        block_values<S, 1, kDv>(st, rs, vf, hd_v, n_keys, d0, r0, inv_sums, block, rows);
    }
}

// Value columns [d0, d0 + kDv * kLanes) with the widest register tile that fits what is left.
template <class S, int kDv>
void block_values_columns(const float* st, size_t rs, const float* vf, int64_t hd_v, int64_t n_keys,
                          int64_t d0, int rows, const float* inv_sums,
                          const AttentionBlock& block) {
    if constexpr (kDv > 1) {
        if (hd_v - d0 < int64_t{kDv} * S::kLanes) {
            block_values_columns<S, kDv - 1>(st, rs, vf, hd_v, n_keys, d0, rows, inv_sums, block);
            return;
        }
    }
    block_values_all_rows<S, kDv>(st, rs, vf, hd_v, n_keys, d0, rows, inv_sums, block);
}

template <class S>
void attend_block(const AttentionShape& shape, const AttentionBlock& block, const KvSpan& kv,
                  float* scratch) {
    using F = typename S::F;
    constexpr int kLanes = S::kLanes;
    const int64_t hd_k = shape.head_dim_k;
    const int64_t hd_v = shape.head_dim_v;
    const int rows = static_cast<int>(block.n_tokens) * block.n_heads;
    const int n_vecs = (rows + kLanes - 1) / kLanes;
    const size_t rs = static_cast<size_t>(n_vecs) * kLanes;
    const int64_t last_key = block.pos0 + block.n_tokens - 1;
    const int64_t first_key = attention_first_key(shape, block.pos0);
    const int64_t n_keys = last_key - first_key + 1;

    float* qt = scratch;                                // [hd_k][rs]
    float* st = qt + static_cast<size_t>(hd_k) * rs;    // [n_keys][rs]
    float* vf = st + static_cast<size_t>(n_keys) * rs;  // [n_keys][hd_v]
    float* k0_buf = vf + static_cast<size_t>(n_keys) * hd_v;
    const size_t k_round = (static_cast<size_t>(hd_k) + 15) & ~size_t{15};
    float* k1_buf = k0_buf + k_round;
    float* row_pos = k1_buf + k_round;  // [rs]
    float* sums = row_pos + rs;         // [rs]

    // Transposed, pre-scaled queries (head sizes are multiples of 16); padding rows are zero and
    // see no key.
    const F scale = S::set1(shape.scale);
    for (int64_t d = 0; d < hd_k; ++d) {
        for (size_t r = static_cast<size_t>(rows); r < rs; ++r)
            qt[static_cast<size_t>(d) * rs + r] = 0.0f;
    }
    for (int r = 0; r < rows; ++r) {
        const int64_t t = r / block.n_heads;
        const int h = r % block.n_heads;
        const float* q =
            block.q + static_cast<size_t>(t) * block.q_stride + static_cast<size_t>(h) * hd_k;
        for (int64_t d = 0; d < hd_k; d += kLanes) {
            alignas(64) float tmp[kLanes];
            S::store(tmp, S::mul(S::loadu(q + d), scale));
            for (int i = 0; i < kLanes; ++i) qt[static_cast<size_t>(d + i) * rs + r] = tmp[i];
        }
        row_pos[r] = static_cast<float>(block.pos0 + t);
    }
    for (size_t r = static_cast<size_t>(rows); r < rs; ++r) row_pos[r] = -1.0f;

    for (int rv = 0; rv < n_vecs; rv += 4) {
        switch (std::min(4, n_vecs - rv)) {
            case 4:
                block_scores<S, 4>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                   st, k0_buf, k1_buf);
                break;
            case 3:
                block_scores<S, 3>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                   st, k0_buf, k1_buf);
                break;
            case 2:
                block_scores<S, 2>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                   st, k0_buf, k1_buf);
                break;
            default:
                block_scores<S, 1>(shape, qt, rs, rv, kv, block.kv_head, first_key, n_keys, row_pos,
                                   st, k0_buf, k1_buf);
                break;
        }
    }

    // Softmax down each column (row of the block), vectorized across rows. Masked scores are
    // -inf and become exact zeros.
    const F neg_inf = S::set1(-INFINITY);
    for (int v = 0; v < n_vecs; ++v) {
        float* column = st + static_cast<size_t>(v) * kLanes;
        F max_v = neg_inf;
        for (int64_t j = 0; j < n_keys; ++j) {
            max_v = S::max(max_v, S::load(column + static_cast<size_t>(j) * rs));
        }
        F sum = S::zero();
        for (int64_t j = 0; j < n_keys; ++j) {
            float* p = column + static_cast<size_t>(j) * rs;
            const F s = S::load(p);
            const F e = S::keep_greater(s, neg_inf, exp_ps<S>(S::sub(s, max_v)));
            S::store(p, e);
            sum = S::add(sum, e);
        }
        S::store(sums + static_cast<size_t>(v) * kLanes, S::div(S::set1(1.0f), sum));
    }

    for (int64_t j = 0; j < n_keys; ++j) {
        float* dst = vf + static_cast<size_t>(j) * hd_v;
        const float* v =
            head_as_f32<S>(kv.type, kv.v + static_cast<size_t>(first_key + j) * kv.v_row_bytes,
                           block.kv_head * hd_v, hd_v, dst);
        if (v != dst) std::memcpy(dst, v, static_cast<size_t>(hd_v) * sizeof(float));
    }
    for (int64_t d0 = 0; d0 < hd_v; d0 += int64_t{S::kValueVectors} * kLanes) {
        block_values_columns<S, S::kValueVectors>(st, rs, vf, hd_v, n_keys, d0, rows, sums, block);
    }
}
