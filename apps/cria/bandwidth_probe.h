// The memory read bandwidth probe of the benchmarks (`cria bench`, `cria embed --bench`).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "core/large_buffer.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"

namespace cria::app {

// Reads a buffer far larger than the caches to measure the memory read bandwidth. On a shared
// machine the bandwidth varies from second to second, so the bench probes it right before and
// right after each timed generation and compares each run with the higher of the two: the
// bandwidth of its own moment, and where it changed during the run, the better side (so that a
// drop seen only by one probe does not flatter the efficiency). The buffer is
// memory of the kind the model's repacked weights live in (huge pages where the system gives
// them), so that the probe is not slowed by TLB misses the weights do not suffer.
class BandwidthProbe {
  public:
    static Expected<std::unique_ptr<BandwidthProbe>> create(int threads) {
        CRIA_ASSIGN_OR_RETURN(LargeBuffer buffer, LargeBuffer::allocate(size_t{1} << 30));
        auto* words = reinterpret_cast<uint64_t*>(buffer.data());
        const size_t n_words = buffer.size() / sizeof(uint64_t);
        for (size_t i = 0; i < n_words; ++i) words[i] = i;
        return std::unique_ptr<BandwidthProbe>(new BandwidthProbe(threads, std::move(buffer)));
    }
    int threads() const { return pool_.size(); }
    // Bytes per second, best of `passes` reads of the whole buffer.
    double measure(int passes);

  private:
    BandwidthProbe(int threads, LargeBuffer buffer) : pool_(threads), buffer_(std::move(buffer)) {}

    ThreadPool pool_;
    LargeBuffer buffer_;  // [1 GiB / 8] uint64
};

// Each thread sums its own slice so that the reads cannot be optimized away.
inline double BandwidthProbe::measure(int passes) {
    ThreadPool& pool = pool_;
    const uint64_t* words = reinterpret_cast<const uint64_t*>(buffer_.data());
    const size_t n_words = buffer_.size() / sizeof(uint64_t);
    const size_t kBytes = n_words * sizeof(uint64_t);
    std::vector<uint64_t> sums(static_cast<size_t>(pool.size()));
    double best = 0.0;
    for (int pass = 0; pass < passes; ++pass) {
        const auto start = std::chrono::steady_clock::now();
        pool.run_on_all([&](int index, int n_threads) {
            const size_t per_thread = n_words / static_cast<size_t>(n_threads);
            sums[static_cast<size_t>(index)] = kernels::sum_words(
                words + static_cast<size_t>(index) * per_thread, static_cast<int64_t>(per_thread));
        });
        best = std::max(
            best,
            static_cast<double>(kBytes) /
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    uint64_t total = 0;
    for (uint64_t s : sums) total += s;
    // Word i holds i: the sum of the words read is known, which keeps the read honest.
    const size_t read = n_words / sums.size() * sums.size();
    if (total != static_cast<uint64_t>(read) * (read - 1) / 2) {
        std::fprintf(stderr, "cria: bandwidth probe read wrong data\n");
    }
    return best;
}

}  // namespace cria::app
