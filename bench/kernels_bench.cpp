// Kernel throughput: matvec (one token, memory-bound) in GB/s of weights streamed, matmul (a
// prompt of many tokens, compute-bound) in GFLOP/s, per weight type and ISA; and attention over
// an F16 cache in keys per second, per ISA.
//
//   ninja -C <build> kernels_bench && <build>/bench/kernels_bench --benchmark_filter=Matvec
//
// The matvec cycles through enough copies of the matrix to exceed the last-level cache, so the
// figure is the memory bandwidth the kernel sustains, not the cache's.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "core/large_buffer.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "kernels/row_groups.h"
#include "kernels/test_data.h"

namespace cria::kernels {
namespace {

using test::random_floats;
using test::random_weights;

constexpr size_t kWorkingSetBytes = 256ull << 20;  // well above a 32 MiB L3

std::string label(TensorType type, Isa isa, WeightLayout layout) {
    return std::string(gguf::tensor_type_name(type)) + " " + isa_name(isa) +
           (layout == WeightLayout::kRowGroups ? " row-groups" : "");
}

// Weights live in LargeBuffer memory, as a loaded model's do.
struct WeightSet {
    std::vector<LargeBuffer> copies;  // each the whole matrix in `matrix.layout`
    Matrix matrix;
    size_t bytes = 0;  // of one copy
};

// Copies of one random matrix, in the row-group layout when `layout` asks for it and the type
// has one (else the set is empty).
WeightSet make_weights(TensorType type, int64_t n_out, int64_t n_in, size_t min_total_bytes,
                       WeightLayout layout = WeightLayout::kGguf) {
    WeightSet set;
    const auto first = random_weights(type, n_out, n_in, 1);
    set.matrix.type = type;
    set.matrix.data = first.data();
    set.matrix.n_in = n_in;
    set.matrix.n_out = n_out;
    set.matrix.row_bytes = gguf::row_bytes(type, n_in);
    const bool grouped = layout == WeightLayout::kRowGroups;
    if (grouped && !has_row_group_layout(type)) return set;
    set.bytes = grouped ? row_group_matrix_bytes(type, n_in, n_out) : first.size();
    const size_t n_copies = std::max<size_t>(1, (min_total_bytes + set.bytes - 1) / set.bytes);
    Matrix view = set.matrix;
    for (size_t i = 0; i < n_copies; ++i) {
        Expected<LargeBuffer> buffer = LargeBuffer::allocate(set.bytes);
        if (!buffer.has_value()) std::abort();
        set.copies.push_back(std::move(buffer.value()));
        if (grouped) {
            view = pack_row_groups(set.matrix, set.copies.back().data());
        } else {
            std::memcpy(set.copies.back().data(), first.data(), set.bytes);
        }
    }
    set.matrix = view;
    set.matrix.data = set.copies[0].data();
    return set;
}

bool layout_available(benchmark::State& state, const WeightSet& set) {
    if (set.copies.empty()) {
        state.SkipWithError("no row-group layout for this type");
        return false;
    }
    return true;
}

// The memory bandwidth the kernels are measured against: the F32 matvec kernel's inner loop
// without arithmetic, i.e. summing 256 MiB of floats with 8 independent vector accumulators.
// Arg: threads.
void BM_StreamRead(benchmark::State& state) {
    const int threads = static_cast<int>(state.range(0));
    const size_t n = kWorkingSetBytes / sizeof(float);
    Expected<LargeBuffer> buffer = LargeBuffer::allocate(kWorkingSetBytes);
    if (!buffer.has_value()) std::abort();
    float* data = reinterpret_cast<float*>(buffer.value().data());
    std::fill(data, data + n, 1.0f);
    ThreadPool pool(threads);
    std::vector<double> partial(static_cast<size_t>(threads));
    for (auto _ : state) {
        pool.parallel_for(n, 4096, [&](size_t begin, size_t end, int index) {
            float acc[16] = {};
            for (size_t i = begin; i + 16 <= end; i += 16) {
                for (int k = 0; k < 16; ++k) acc[k] += data[i + k];
            }
            double sum = 0.0;
            for (float a : acc) sum += a;
            partial[static_cast<size_t>(index)] = sum;
        });
        benchmark::DoNotOptimize(partial.data());
    }
    state.counters["GB/s"] = benchmark::Counter(
        double(n * sizeof(float)) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// Args: weight type id, isa, threads, layout. Shapes of Llama 3.2 1B's FFN (2048 -> 8192).
void BM_Matvec(benchmark::State& state) {
    const auto type = static_cast<TensorType>(state.range(0));
    const auto isa = static_cast<Isa>(state.range(1));
    const int threads = static_cast<int>(state.range(2));
    const auto layout = static_cast<WeightLayout>(state.range(3));
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported");
        return;
    }
    const int64_t n_in = 2048, n_out = 8192;
    WeightSet set = make_weights(type, n_out, n_in, kWorkingSetBytes, layout);
    if (!layout_available(state, set)) return;
    const auto x = random_floats(static_cast<size_t>(n_in), 2);
    std::vector<float> y(static_cast<size_t>(n_out));
    ThreadPool pool(threads);
    size_t next = 0;
    for (auto _ : state) {
        set.matrix.data = set.copies[next].data();
        next = (next + 1) % set.copies.size();
        matmul(set.matrix, x.data(), 1, y.data(), pool, isa);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GB/s"] = benchmark::Counter(
        double(set.bytes) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
    state.SetLabel(label(type, isa, layout));
}

// Args: weight type id, isa, layout. One thread on a matrix that stays in L2 (256 x 2048): the
// kernel's own speed, without the memory system's limit.
void BM_MatvecHot(benchmark::State& state) {
    const auto type = static_cast<TensorType>(state.range(0));
    const auto isa = static_cast<Isa>(state.range(1));
    const auto layout = static_cast<WeightLayout>(state.range(2));
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported");
        return;
    }
    const int64_t n_in = 2048, n_out = 256;
    WeightSet set = make_weights(type, n_out, n_in, 0, layout);
    if (!layout_available(state, set)) return;
    const auto x = random_floats(static_cast<size_t>(n_in), 2);
    std::vector<float> y(static_cast<size_t>(n_out));
    ThreadPool pool(1);
    for (auto _ : state) {
        matmul(set.matrix, x.data(), 1, y.data(), pool, isa);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GB/s"] = benchmark::Counter(
        double(set.bytes) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
    state.SetLabel(label(type, isa, layout));
}

// Args: weight type id, isa, threads, tokens, layout. 2048 -> 2048 (a Llama 3.2 1B attention
// matrix).
void BM_Matmul(benchmark::State& state) {
    const auto type = static_cast<TensorType>(state.range(0));
    const auto isa = static_cast<Isa>(state.range(1));
    const int threads = static_cast<int>(state.range(2));
    const int64_t n_tokens = state.range(3);
    const auto layout = static_cast<WeightLayout>(state.range(4));
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported");
        return;
    }
    const int64_t n_in = 2048, n_out = 2048;
    WeightSet set = make_weights(type, n_out, n_in, 0, layout);
    if (!layout_available(state, set)) return;
    const auto x = random_floats(static_cast<size_t>(n_in * n_tokens), 2);
    std::vector<float> y(static_cast<size_t>(n_out * n_tokens));
    ThreadPool pool(threads);
    for (auto _ : state) {
        matmul(set.matrix, x.data(), n_tokens, y.data(), pool, isa);
        benchmark::DoNotOptimize(y.data());
    }
    const double flops = 2.0 * double(n_in) * double(n_out) * double(n_tokens);
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
    state.SetLabel(label(type, isa, layout));
}

// Every type and ISA in the GGUF layout, and the AVX-512 kernels of the row-group layout.
template <class Fn>
void for_each_path(Fn&& add) {
    for (TensorType type : test::all_types()) {
        for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
            add(type, isa, WeightLayout::kGguf);
        }
        if (has_row_group_layout(type)) add(type, Isa::kAvx512, WeightLayout::kRowGroups);
    }
}

constexpr int64_t id(TensorType type) {
    return static_cast<int64_t>(type);
}
constexpr int64_t id(Isa isa) {
    return static_cast<int64_t>(isa);
}
constexpr int64_t id(WeightLayout layout) {
    return static_cast<int64_t>(layout);
}

template <int kThreads>
void matvec_args(benchmark::internal::Benchmark* b) {
    for_each_path([b](TensorType type, Isa isa, WeightLayout layout) {
        b->Args({id(type), id(isa), kThreads, id(layout)});
    });
}

void matvec_hot_args(benchmark::internal::Benchmark* b) {
    for_each_path([b](TensorType type, Isa isa, WeightLayout layout) {
        b->Args({id(type), id(isa), id(layout)});
    });
}

void matmul_args(benchmark::internal::Benchmark* b) {
    for_each_path([b](TensorType type, Isa isa, WeightLayout layout) {
        for (int threads : {1, 2}) b->Args({id(type), id(isa), threads, 128, id(layout)});
    });
}

// Args: isa, query tokens. Attention of Llama 3.2 1B's shape (32 query heads, 8 key/value
// heads of 64) over 2048 positions of an F16 cache, one thread: one token is a decoding step's
// attention for a layer, 64 tokens a block of a prompt at the end of the context. Keys per
// second counts every (query token, key position) pair.
void BM_Attention(benchmark::State& state) {
    const auto isa = static_cast<Isa>(state.range(0));
    const int64_t n_tokens = state.range(1);
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported");
        return;
    }
    AttentionShape shape;
    shape.n_head = 32;
    shape.n_head_kv = 8;
    shape.head_dim_k = shape.head_dim_v = 64;
    shape.scale = 0.125f;
    const int64_t n_kv = 2048;
    const int64_t width = int64_t{shape.n_head_kv} * shape.head_dim_k;
    const size_t row_bytes = gguf::row_bytes(TensorType::kF16, width);
    std::vector<uint8_t> k(row_bytes * n_kv), v(row_bytes * n_kv);
    const auto values = random_floats(static_cast<size_t>(width), 3);
    for (int64_t j = 0; j < n_kv; ++j) {
        quantize_row(TensorType::kF16, values.data(), k.data() + j * row_bytes, width);
        quantize_row(TensorType::kF16, values.data(), v.data() + j * row_bytes, width);
    }
    const KvSpan kv{TensorType::kF16, k.data(), v.data(), row_bytes, row_bytes, n_kv};
    const auto q =
        random_floats(static_cast<size_t>(n_tokens * shape.n_head * shape.head_dim_k), 4);
    std::vector<float> out(static_cast<size_t>(n_tokens * shape.n_head * shape.head_dim_v));
    ThreadPool pool(1);
    AttentionScratch scratch;
    for (auto _ : state) {
        attention(shape, q.data(), n_tokens, n_kv - n_tokens, kv, out.data(), pool, scratch, isa);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["keys/s"] = benchmark::Counter(
        double(n_tokens * n_kv) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.SetLabel(isa_name(isa));
}

BENCHMARK(BM_StreamRead)->Arg(1)->MinTime(0.5);
BENCHMARK(BM_StreamRead)->Arg(2)->UseRealTime()->MinTime(0.5);
// One thread: CPU time, which stays meaningful on a busy machine (it includes the waits for
// memory but not the time the thread is descheduled). Two threads: wall-clock time.
BENCHMARK(BM_Matvec)->Apply(matvec_args<1>)->MinTime(0.3);
BENCHMARK(BM_Matvec)->Apply(matvec_args<2>)->UseRealTime()->MinTime(0.3);
BENCHMARK(BM_MatvecHot)->Apply(matvec_hot_args)->MinTime(0.2);
// Single-threaded runs report CPU time (robust to a busy machine); two-threaded ones real time.
BENCHMARK(BM_Matmul)->Apply(matmul_args)->MinTime(0.3);
BENCHMARK(BM_Attention)->ArgsProduct({{id(Isa::kAvx2), id(Isa::kAvx512)}, {1, 64}})->MinTime(0.3);

}  // namespace
}  // namespace cria::kernels

BENCHMARK_MAIN();
