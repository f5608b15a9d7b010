// Kernel throughput: matvec (one token, memory-bound) in GB/s of weights streamed, and matmul
// (a prompt of many tokens, compute-bound) in GFLOP/s, per weight type and ISA.
//
//   ninja -C <build> kernels_bench && <build>/bench/kernels_bench --benchmark_filter=Matvec
//
// The matvec cycles through enough copies of the matrix to exceed the last-level cache, so the
// figure is the memory bandwidth the kernel sustains, not the cache's.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/test_data.h"

namespace cria::kernels {
namespace {

using test::random_floats;
using test::random_weights;

constexpr size_t kWorkingSetBytes = 256ull << 20;  // well above a 32 MiB L3

struct WeightSet {
    std::vector<std::vector<uint8_t>> copies;  // each [n_out][row_bytes]
    Matrix matrix;
};

WeightSet make_weights(TensorType type, int64_t n_out, int64_t n_in, size_t min_total_bytes) {
    WeightSet set;
    const size_t bytes = gguf::row_bytes(type, n_in) * static_cast<size_t>(n_out);
    const size_t n_copies = std::max<size_t>(1, (min_total_bytes + bytes - 1) / bytes);
    const auto first = random_weights(type, n_out, n_in, 1);
    for (size_t i = 0; i < n_copies; ++i) set.copies.push_back(first);
    set.matrix.type = type;
    set.matrix.n_in = n_in;
    set.matrix.n_out = n_out;
    set.matrix.row_bytes = gguf::row_bytes(type, n_in);
    return set;
}

// The memory bandwidth the kernels are measured against: the F32 matvec kernel's inner loop
// without arithmetic, i.e. summing 256 MiB of floats with 8 independent vector accumulators.
// Arg: threads.
void BM_StreamRead(benchmark::State& state) {
    const int threads = static_cast<int>(state.range(0));
    const size_t n = kWorkingSetBytes / sizeof(float);
    std::vector<float> data(n, 1.0f);
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

// Args: weight type id, isa, threads. Shapes of Llama 3.2 1B's FFN (2048 -> 8192).
void BM_Matvec(benchmark::State& state) {
    const auto type = static_cast<TensorType>(state.range(0));
    const auto isa = static_cast<Isa>(state.range(1));
    const int threads = static_cast<int>(state.range(2));
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported");
        return;
    }
    const int64_t n_in = 2048, n_out = 8192;
    WeightSet set = make_weights(type, n_out, n_in, kWorkingSetBytes);
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
    const double bytes = double(set.matrix.row_bytes) * double(n_out);
    state.counters["GB/s"] =
        benchmark::Counter(bytes * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
    state.SetLabel(std::string(gguf::tensor_type_name(type)) + " " + isa_name(isa));
}

// Args: weight type id, isa. One thread on a matrix that stays in L2 (256 x 2048): the kernel's
// own speed, without the memory system's limit.
void BM_MatvecHot(benchmark::State& state) {
    const auto type = static_cast<TensorType>(state.range(0));
    const auto isa = static_cast<Isa>(state.range(1));
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported");
        return;
    }
    const int64_t n_in = 2048, n_out = 256;
    WeightSet set = make_weights(type, n_out, n_in, 0);
    set.matrix.data = set.copies[0].data();
    const auto x = random_floats(static_cast<size_t>(n_in), 2);
    std::vector<float> y(static_cast<size_t>(n_out));
    ThreadPool pool(1);
    for (auto _ : state) {
        matmul(set.matrix, x.data(), 1, y.data(), pool, isa);
        benchmark::DoNotOptimize(y.data());
    }
    const double bytes = double(set.matrix.row_bytes) * double(n_out);
    state.counters["GB/s"] =
        benchmark::Counter(bytes * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
    state.SetLabel(std::string(gguf::tensor_type_name(type)) + " " + isa_name(isa));
}

// Args: weight type id, isa, threads, tokens. 2048 -> 2048 (a Llama 3.2 1B attention matrix).
void BM_Matmul(benchmark::State& state) {
    const auto type = static_cast<TensorType>(state.range(0));
    const auto isa = static_cast<Isa>(state.range(1));
    const int threads = static_cast<int>(state.range(2));
    const int64_t n_tokens = state.range(3);
    if (!isa_supported(isa)) {
        state.SkipWithError("ISA not supported");
        return;
    }
    const int64_t n_in = 2048, n_out = 2048;
    WeightSet set = make_weights(type, n_out, n_in, 0);
    set.matrix.data = set.copies[0].data();
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
    state.SetLabel(std::string(gguf::tensor_type_name(type)) + " " + isa_name(isa));
}

template <int kThreads>
void matvec_args(benchmark::internal::Benchmark* b) {
    for (TensorType type : test::all_types()) {
        for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
            b->Args({static_cast<int64_t>(type), static_cast<int64_t>(isa), kThreads});
        }
    }
}

void matvec_hot_args(benchmark::internal::Benchmark* b) {
    for (TensorType type : test::all_types()) {
        for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
            b->Args({static_cast<int64_t>(type), static_cast<int64_t>(isa)});
        }
    }
}

void matmul_args(benchmark::internal::Benchmark* b) {
    for (TensorType type : test::all_types()) {
        for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
            for (int threads : {1, 2}) {
                b->Args({static_cast<int64_t>(type), static_cast<int64_t>(isa), threads, 128});
            }
        }
    }
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

}  // namespace
}  // namespace cria::kernels

BENCHMARK_MAIN();
