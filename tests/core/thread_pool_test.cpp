#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace cria {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
    for (int threads : {1, 2, 3, 8}) {
        ThreadPool pool(threads);
        for (size_t n : {1u, 7u, 64u, 1000u}) {
            for (size_t grain : {1u, 4u, 32u}) {
                std::vector<std::atomic<int>> hits(n);
                pool.parallel_for(n, grain, [&](size_t begin, size_t end, int) {
                    for (size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
                });
                for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
            }
        }
    }
}

TEST(ThreadPool, ManySmallJobs) {
    ThreadPool pool(2);
    std::atomic<long> total{0};
    for (int job = 0; job < 5000; ++job) {
        pool.run_on_all([&](int index, int n) { total.fetch_add(index + 1); });
    }
    EXPECT_EQ(total.load(), 5000L * 3);
}

TEST(ThreadPool, ParallelUnitsRunsEveryUnitOnce) {
    for (int threads : {1, 2, 3, 8}) {
        ThreadPool pool(threads);
        for (size_t n : {1u, 2u, 7u, 64u, 1001u}) {
            std::vector<std::atomic<int>> hits(n);
            pool.parallel_units(n, [&](size_t unit) { hits[unit].fetch_add(1); });
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
        }
        pool.parallel_units(0, [](size_t) { FAIL() << "no unit to run"; });
    }
}

// A thread that takes long on its first unit leaves the rest of its share to the others, and
// each thread runs its own share in increasing order.
TEST(ThreadPool, ParallelUnitsStealsFromASlowThread) {
    ThreadPool pool(2);
    const size_t n = 40;
    std::vector<std::thread::id> runner(n);
    std::mutex mutex;
    std::vector<size_t> second_share_order;
    pool.parallel_units(n, [&](size_t unit) {
        if (unit == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::lock_guard<std::mutex> lock(mutex);
        runner[unit] = std::this_thread::get_id();
        if (unit >= n / 2) second_share_order.push_back(unit);
    });
    // Units 0..19 were the first thread's share: while it slept on unit 0, the other thread ran
    // its own share and then nearly all of the first one's.
    size_t stolen = 0;
    for (size_t unit = 1; unit < n / 2; ++unit) stolen += runner[unit] != runner[0] ? 1 : 0;
    EXPECT_GE(stolen, n / 2 - 3);
    ASSERT_EQ(second_share_order.size(), n / 2);
    for (size_t i = 1; i < second_share_order.size(); ++i) {
        EXPECT_LT(second_share_order[i - 1], second_share_order[i]);
    }
}

}  // namespace
}  // namespace cria
