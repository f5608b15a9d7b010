#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace cria
