// A fixed pool of worker threads for data-parallel kernels. parallel_for splits [0, n) into one
// contiguous range per thread and runs them at once; the calling thread takes the first range.
// Workers spin briefly before sleeping because a decode step issues hundreds of short jobs and
// waking a sleeping thread costs more than the job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cria {

class ThreadPool {
  public:
    // Called with (begin, end, thread_index).
    using RangeFn = std::function<void(size_t, size_t, int)>;

    explicit ThreadPool(int n_threads);
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;
    ~ThreadPool();

    int size() const { return n_threads_; }

    // Splits [0, n) into size() ranges aligned to `grain` elements (the last may be shorter) and
    // blocks until all of them ran. Not reentrant: one parallel_for at a time per pool.
    void parallel_for(size_t n, size_t grain, const RangeFn& fn);

    // Runs fn(thread_index, n_threads) once on every thread.
    void run_on_all(const std::function<void(int, int)>& fn);

    // Calls fn(unit) once for every unit in [0, n_units) (n_units < 2^32) and blocks until all
    // ran. Each thread owns a contiguous share of the units and runs it in order, so that what
    // it reads is one sequential stream; a thread that runs out takes units from the end of the
    // share with the most left, so that a thread slowed by the OS or the memory system holds
    // the others up by at most one unit.
    using UnitFn = std::function<void(size_t)>;
    void parallel_units(size_t n_units, const UnitFn& fn);

    static int default_thread_count();

  private:
    void worker_loop(int index);

    const int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stopping_{false};
    const std::function<void(int, int)>* job_ = nullptr;
};

}  // namespace cria
