// The matmul driver: converts the activations once per call into the format the weight type's
// dot products consume, then splits the output rows over the thread pool. Kernels are chosen per
// call from the requested ISA, falling back to the next lower ISA where a type has no
// specialized version, so every ISA path is always complete.
#include "kernels/kernels.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "kernels/activations.h"
#include "kernels/kernel_table.h"
#include "kernels/ref/ref.h"
#include "kernels/row_groups.h"

namespace cria::kernels {
namespace {

Isa usable_isa(Isa wanted) {
    if (wanted == Isa::kAvx512 && !avx512_kernels_usable()) wanted = Isa::kAvx2;
    if (wanted == Isa::kAvx2 && !isa_supported(Isa::kAvx2)) wanted = Isa::kScalar;
    return wanted;
}

GemmFn select_gemm(TensorType type, Isa isa) {
    if (isa == Isa::kAvx512) {
        if (type == TensorType::kBF16 && cpu_features().avx512bf16) {
            if (GemmFn fn = gemm_avx512_bf16(type)) return fn;
        }
        if (GemmFn fn = gemm_avx512(type)) return fn;
    }
    if (isa == Isa::kAvx512 || isa == Isa::kAvx2) {
        if (GemmFn fn = gemm_avx2(type)) return fn;
    }
    return gemm_ref(type);
}

// One token: the matrix-vector kernel where the ISA has one for the type, else the GEMM.
GemmFn select_matvec(TensorType type, Isa isa) {
    if (isa == Isa::kAvx512) {
        if (GemmFn fn = matvec_avx512(type)) return fn;
    }
    return select_gemm(type, isa);
}

void convert_row(ActFormat format, Isa isa, const float* x, uint8_t* dst, int64_t n) {
    ConvertActFn fn = nullptr;
    if (isa == Isa::kAvx512) fn = convert_act_avx512(format);
    if (fn == nullptr && (isa == Isa::kAvx512 || isa == Isa::kAvx2)) fn = convert_act_avx2(format);
    if (fn != nullptr) {
        fn(format, x, dst, n);
    } else {
        convert_act_ref(format, x, dst, n);
    }
}

struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using AlignedBytes = std::unique_ptr<uint8_t[], AlignedDelete>;

AlignedBytes allocate_aligned(size_t bytes) {
    return AlignedBytes(static_cast<uint8_t*>(::operator new[](bytes, std::align_val_t{64})));
}

// Bytes of weights per work unit: about 32 units per thread over all the matrices of a call.
// Each thread runs a contiguous share of the units in order (ThreadPool::parallel_units), so
// units can be small: a thread delayed by the OS or by slower memory leaves only a small unit to
// wait for.
size_t bytes_per_unit(size_t total_bytes, int n_threads) {
    const size_t units_wanted = static_cast<size_t>(n_threads) * 32;
    return std::max<size_t>(1, (total_bytes + units_wanted - 1) / units_wanted);
}

// Rows per work unit of a matrix: about unit_bytes of its rows, a multiple of the row groups
// (16), so that the units of matrices with different row sizes cost about the same.
int64_t rows_per_unit(size_t row_bytes, size_t unit_bytes) {
    const auto rows = static_cast<int64_t>((unit_bytes + row_bytes - 1) / row_bytes);
    return std::clamp<int64_t>((rows + 15) / 16 * 16, 16, 512);
}

// The scalar path of the row-group layout: each row unpacked to its GGUF bytes, then the
// reference dot products.
void gemm_row_groups_scalar(const GemmArgs& g, int64_t row_begin, int64_t row_end) {
    Matrix packed;
    packed.type = g.type;
    packed.data = g.w;
    packed.n_in = g.n_in;
    packed.n_out = g.n_out;
    packed.row_bytes = g.w_row_bytes;
    packed.layout = WeightLayout::kRowGroups;
    std::vector<uint8_t> row(g.w_row_bytes);
    for (int64_t r = row_begin; r < row_end; ++r) {
        copy_gguf_row(packed, r, row.data());
        for (int64_t t = 0; t < g.n_tokens; ++t) {
            g.y[t * g.y_stride + r] = ref::dot(
                g.type, row.data(), g.act + static_cast<size_t>(t) * g.act_row_bytes, g.n_in);
        }
    }
}

}  // namespace

// The AVX-512 kernels use VNNI throughout, so they need it in addition to isa_supported().
bool avx512_kernels_usable() {
    return isa_supported(Isa::kAvx512) && cpu_features().avx512vnni;
}

bool is_supported(TensorType type) {
    switch (type) {
        case TensorType::kF32:
        case TensorType::kF16:
        case TensorType::kBF16:
        case TensorType::kQ8_0:
        case TensorType::kQ4_0:
        case TensorType::kQ4_1:
        case TensorType::kQ5_0:
        case TensorType::kQ5_1:
        case TensorType::kQ2_K:
        case TensorType::kQ3_K:
        case TensorType::kQ4_K:
        case TensorType::kQ5_K:
        case TensorType::kQ6_K:
        case TensorType::kIQ4_NL:
        case TensorType::kIQ4_XS:
            return true;
        default:
            return false;
    }
}

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
    assert(is_supported(type));
    ref::dequantize_row(type, src, dst, n);
}

bool can_quantize(TensorType type) {
    return ref::can_quantize(type);
}

bool quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
    return ref::quantize_row(type, src, dst, n);
}

Isa matmul_isa() {
    return usable_isa(selected_isa());
}

void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
    matmul(w, x, n_tokens, y, pool, selected_isa());
}

void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            Isa isa) {
    const MatmulOutput output{&w, y};
    matmul_shared_input(std::span<const MatmulOutput>(&output, 1), x, n_tokens, pool, isa);
}

void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, int64_t n_tokens,
                         ThreadPool& pool) {
    matmul_shared_input(outputs, x, n_tokens, pool, selected_isa());
}

void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, int64_t n_tokens,
                         ThreadPool& pool, Isa isa) {
    if (n_tokens <= 0 || outputs.empty()) return;
    isa = usable_isa(isa);
    const int64_t n_in = outputs.front().w->n_in;

    // The activations in each format the matrices' dot products consume (at most a few formats;
    // most calls have one).
    struct Converted {
        ActFormat format;
        const uint8_t* act;
        size_t act_row_bytes;
    };
    std::vector<Converted> converted;
    std::vector<AlignedBytes> storage;
    auto activations_for = [&](ActFormat format) -> Converted {
        for (const Converted& c : converted) {
            if (c.format == format) return c;
        }
        if (format == ActFormat::kF32) {
            // Already in the format: used in place.
            converted.push_back({format, reinterpret_cast<const uint8_t*>(x),
                                 static_cast<size_t>(n_in) * sizeof(float)});
            return converted.back();
        }
        const size_t act_row_bytes = act_layout(format, n_in).row_bytes;
        storage.push_back(allocate_aligned(act_row_bytes * static_cast<size_t>(n_tokens)));
        uint8_t* act = storage.back().get();
        auto convert_range = [&](size_t begin, size_t end, int) {
            for (size_t t = begin; t < end; ++t) {
                convert_row(format, isa, x + t * static_cast<size_t>(n_in), act + t * act_row_bytes,
                            n_in);
            }
        };
        if (n_tokens >= 4) {
            pool.parallel_for(static_cast<size_t>(n_tokens), 1, std::ref(convert_range));
        } else {
            convert_range(0, static_cast<size_t>(n_tokens), 0);
        }
        converted.push_back({format, act, act_row_bytes});
        return converted.back();
    };

    // Per matrix: rows in groups of 16 (row-group layout) go to the kernels of that layout; the
    // other rows (all of them in the GGUF layout) to the row kernels, through a view of just
    // those rows. Units of the matrices are numbered one after the other, in the order given.
    struct Plan {
        GemmArgs grouped_args, rest_args;
        GemmFn grouped = nullptr, row_gemm = nullptr;
        int64_t grouped_rows = 0, rest_rows = 0;
        int64_t unit_rows = 0, grouped_units = 0;
        size_t first_unit = 0;  // of this matrix in the combined numbering
    };
    std::vector<Plan> plans;
    plans.reserve(outputs.size());
    size_t total_bytes = 0;
    for (const MatmulOutput& out : outputs) {
        total_bytes += out.w->row_bytes * static_cast<size_t>(std::max<int64_t>(out.w->n_out, 0));
    }
    const size_t unit_bytes = bytes_per_unit(total_bytes, pool.size());
    size_t n_units = 0;
    for (const MatmulOutput& out : outputs) {
        const Matrix& w = *out.w;
        assert(is_supported(w.type));
        assert(w.n_in == n_in);
        assert(w.n_in % gguf::tensor_type_info(w.type).block_size == 0);
        assert(w.row_bytes >= gguf::row_bytes(w.type, w.n_in));
        assert(w.layout == WeightLayout::kGguf || has_row_group_layout(w.type));
        if (w.n_out <= 0) continue;

        const Converted act = activations_for(act_format_for(w.type));
        Plan plan;
        GemmArgs& args = plan.grouped_args;
        args.type = w.type;
        args.w = static_cast<const uint8_t*>(w.data);
        args.w_row_bytes = w.row_bytes;
        args.n_out = w.n_out;
        args.n_in = w.n_in;
        args.n_tokens = n_tokens;
        args.y = out.y;
        args.y_stride = w.n_out;
        args.act = act.act;
        args.act_row_bytes = act.act_row_bytes;
        plan.rest_args = args;
        if (w.layout == WeightLayout::kRowGroups) {
            plan.grouped_rows = w.n_out / kGroupRows * kGroupRows;
            args.w_group_bytes = row_group_bytes(w.type, w.n_in);
            plan.grouped = isa == Isa::kAvx512 ? gemm_row_groups_avx512(w.type) : nullptr;
            if (plan.grouped == nullptr) plan.grouped = &gemm_row_groups_scalar;
            GemmArgs& rest = plan.rest_args;
            rest.w =
                args.w + static_cast<size_t>(plan.grouped_rows / kGroupRows) * args.w_group_bytes;
            rest.n_out = w.n_out - plan.grouped_rows;
            rest.y = out.y + plan.grouped_rows;
        }
        plan.rest_rows = w.n_out - plan.grouped_rows;
        plan.row_gemm = n_tokens == 1 ? select_matvec(w.type, isa) : select_gemm(w.type, isa);
        plan.unit_rows = rows_per_unit(w.row_bytes, unit_bytes);
        plan.grouped_units = (plan.grouped_rows + plan.unit_rows - 1) / plan.unit_rows;
        plan.first_unit = n_units;
        n_units += static_cast<size_t>(plan.grouped_units +
                                       (plan.rest_rows + plan.unit_rows - 1) / plan.unit_rows);
        plans.push_back(plan);
    }

    auto run_index = [&](size_t index) {
        size_t p = plans.size() - 1;
        while (plans[p].first_unit > index) --p;
        const Plan& plan = plans[p];
        const auto unit = static_cast<int64_t>(index - plan.first_unit);
        if (unit < plan.grouped_units) {
            plan.grouped(plan.grouped_args, unit * plan.unit_rows,
                         std::min(plan.grouped_rows, (unit + 1) * plan.unit_rows));
        } else {
            const int64_t begin = (unit - plan.grouped_units) * plan.unit_rows;
            plan.row_gemm(plan.rest_args, begin, std::min(plan.rest_rows, begin + plan.unit_rows));
        }
    };
    // By reference: a std::function holding the lambda itself would allocate on every call.
    pool.parallel_units(n_units, std::ref(run_index));
}

void dequantize_matrix_row(const Matrix& w, int64_t r, float* dst) {
    if (w.layout == WeightLayout::kGguf) {
        dequantize_row(w.type,
                       static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * w.row_bytes,
                       dst, w.n_in);
        return;
    }
    std::vector<uint8_t> row(w.row_bytes);
    copy_gguf_row(w, r, row.data());
    dequantize_row(w.type, row.data(), dst, w.n_in);
}

bool prefers_row_groups(TensorType type, Isa isa) {
    return usable_isa(isa) == Isa::kAvx512 && gemm_row_groups_avx512(type) != nullptr;
}

}  // namespace cria::kernels
