#include "core/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#define CRIA_CPU_RELAX() _mm_pause()
#else
#define CRIA_CPU_RELAX() ((void)0)
#endif

namespace cria {
namespace {
// Workers spin this long (about 0.1-0.3 ms) for the next job before they sleep: the jobs of one
// forward pass come microseconds apart, while a longer spin between requests would only take
// the core from other work on a small machine.
constexpr int kSpinIterations = 1 << 13;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    workers_.reserve(static_cast<size_t>(n_threads_ - 1));
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_.store(true);
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
}

int ThreadPool::default_thread_count() {
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}

void ThreadPool::worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t current = generation_.load(std::memory_order_acquire);
        for (int spin = 0; current == seen && spin < kSpinIterations; ++spin) {
            CRIA_CPU_RELAX();
            current = generation_.load(std::memory_order_acquire);
        }
        if (current == seen) {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return generation_.load() != seen; });
            current = generation_.load();
        }
        seen = current;
        if (stopping_.load()) return;
        (*job_)(index, n_threads_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& fn) {
    if (n_threads_ == 1) {
        fn(0, 1);
        return;
    }
    job_ = &fn;
    pending_.store(n_threads_ - 1, std::memory_order_release);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    wake_.notify_all();
    fn(0, n_threads_);
    // A worker that was descheduled (a busy machine) may take a while: yield the core to it
    // rather than spin through its time slice.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
        if (spin < kSpinIterations) {
            CRIA_CPU_RELAX();
        } else {
            std::this_thread::yield();
        }
    }
    job_ = nullptr;
}

namespace {

// The units [front, back) a thread has yet to run, as one atomic word (front in the low half)
// so that its owner (taking from the front) and thieves (taking from the back) never take the
// same unit. Each on its own cache line.
struct alignas(64) UnitShare {
    std::atomic<uint64_t> range{0};

    static uint64_t pack(uint64_t front, uint64_t back) { return front | (back << 32); }
    static uint64_t front_of(uint64_t range) { return range & 0xFFFFFFFFu; }
    static uint64_t back_of(uint64_t range) { return range >> 32; }

    // The next unit from the front, or false when none is left.
    bool take_front(uint64_t* unit) {
        uint64_t current = range.load(std::memory_order_relaxed);
        for (;;) {
            const uint64_t front = front_of(current), back = back_of(current);
            if (front >= back) return false;
            if (range.compare_exchange_weak(current, pack(front + 1, back),
                                            std::memory_order_acq_rel)) {
                *unit = front;
                return true;
            }
        }
    }
    // The last unit, or false when none is left.
    bool take_back(uint64_t* unit) {
        uint64_t current = range.load(std::memory_order_relaxed);
        for (;;) {
            const uint64_t front = front_of(current), back = back_of(current);
            if (front >= back) return false;
            if (range.compare_exchange_weak(current, pack(front, back - 1),
                                            std::memory_order_acq_rel)) {
                *unit = back - 1;
                return true;
            }
        }
    }
    uint64_t left() const {
        const uint64_t current = range.load(std::memory_order_relaxed);
        const uint64_t front = front_of(current), back = back_of(current);
        return back > front ? back - front : 0;
    }
};

}  // namespace

void ThreadPool::parallel_units(size_t n_units, const UnitFn& fn) {
    if (n_units == 0) return;
    const auto n_shares = static_cast<size_t>(n_threads_);
    if (n_shares == 1 || n_units == 1) {
        for (size_t unit = 0; unit < n_units; ++unit) fn(unit);
        return;
    }
    std::vector<UnitShare> shares(n_shares);
    for (size_t i = 0; i < n_shares; ++i) {
        shares[i].range.store(UnitShare::pack(i * n_units / n_shares, (i + 1) * n_units / n_shares),
                              std::memory_order_relaxed);
    }
    run_on_all([&](int index, int) {
        uint64_t unit;
        UnitShare& own = shares[static_cast<size_t>(index)];
        while (own.take_front(&unit)) fn(unit);
        for (;;) {
            UnitShare* victim = nullptr;
            uint64_t most = 0;
            for (UnitShare& share : shares) {
                const uint64_t left = share.left();
                if (left > most) {
                    most = left;
                    victim = &share;
                }
            }
            if (victim == nullptr) return;
            if (victim->take_back(&unit)) fn(unit);
        }
    });
}

void ThreadPool::parallel_for(size_t n, size_t grain, const RangeFn& fn) {
    if (n == 0) return;
    grain = std::max<size_t>(1, grain);
    const size_t n_chunks = (n + grain - 1) / grain;
    const size_t threads = std::min<size_t>(static_cast<size_t>(n_threads_), n_chunks);
    if (threads <= 1) {
        fn(0, n, 0);
        return;
    }
    const size_t chunks_per_thread = (n_chunks + threads - 1) / threads;
    run_on_all([&](int index, int) {
        const size_t begin = std::min(n, static_cast<size_t>(index) * chunks_per_thread * grain);
        const size_t end = std::min(n, begin + chunks_per_thread * grain);
        if (begin < end) fn(begin, end, index);
    });
}

}  // namespace cria
