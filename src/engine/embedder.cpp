#include "engine/embedder.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <span>

namespace cria::engine {
namespace {

// One embed() call as both threads see it.
struct Job {
    std::vector<std::vector<int32_t>> inputs;
    std::vector<std::vector<float>> outputs;  // [inputs][width]
    size_t next = 0;                          // first input not yet handed to a pass
    size_t done = 0;                          // inputs whose outputs are filled
    std::optional<Status> failure;
    bool abandoned = false;  // the caller gave up: its remaining inputs are skipped
};

}  // namespace

struct Embedder::State {
    std::mutex mutex;
    std::condition_variable work;  // the worker waits for jobs
    std::condition_variable done;  // callers wait for their outputs
    std::deque<std::shared_ptr<Job>> queue;
    bool stopping = false;
    Counters counters;
};

Embedder::Embedder(Engine& engine) : engine_(engine), state_(std::make_shared<State>()) {
    worker_ = std::thread([this] {
        State& s = *state_;
        std::unique_lock<std::mutex> lock(s.mutex);
        for (;;) {
            s.work.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
            if (s.stopping) break;
            // Take inputs oldest first until the next one would overflow the pass.
            struct Item {
                std::shared_ptr<Job> job;
                size_t index;
            };
            std::vector<Item> items;
            int64_t tokens = 0;
            const int64_t budget = engine_.max_batch();
            while (!s.queue.empty()) {
                std::shared_ptr<Job> job = s.queue.front();
                if (job->abandoned || job->failure || job->next == job->inputs.size()) {
                    s.queue.pop_front();
                    continue;
                }
                const auto size = static_cast<int64_t>(job->inputs[job->next].size());
                if (!items.empty() && tokens + size > budget) break;
                items.push_back({job, job->next++});
                tokens += size;
            }
            if (items.empty()) continue;
            lock.unlock();
            std::vector<std::span<const int32_t>> inputs;
            std::vector<float*> outputs;
            for (const Item& item : items) {
                inputs.emplace_back(item.job->inputs[item.index]);
                outputs.push_back(item.job->outputs[item.index].data());
            }
            const Status status = engine_.embed(inputs, outputs);
            lock.lock();
            ++s.counters.passes;
            s.counters.inputs += static_cast<int64_t>(items.size());
            for (const Item& item : items) {
                if (!status.is_ok() && !item.job->failure) item.job->failure = status;
                ++item.job->done;
            }
            s.done.notify_all();
        }
        for (const std::shared_ptr<Job>& job : s.queue) {
            if (!job->failure) job->failure = unavailable("the model was unloaded");
        }
        s.queue.clear();
        s.done.notify_all();
    });
}

Embedder::~Embedder() {
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->stopping = true;
    }
    state_->work.notify_all();
    if (worker_.joinable()) worker_.join();
}

Embedder::Counters Embedder::counters() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->counters;
}

Expected<std::vector<std::vector<float>>> Embedder::embed(std::vector<std::vector<int32_t>> inputs,
                                                          const std::function<bool()>& cancelled) {
    const int64_t limit = max_input_tokens();
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto n = static_cast<int64_t>(inputs[i].size());
        if (n < 1 || n > limit) {
            return Status(invalid_argument("input " + std::to_string(i) + " holds " +
                                           std::to_string(n) + " tokens; it must hold 1 to " +
                                           std::to_string(limit)));
        }
    }
    if (inputs.empty()) return std::vector<std::vector<float>>();
    auto job = std::make_shared<Job>();
    job->outputs.assign(inputs.size(), std::vector<float>(static_cast<size_t>(width())));
    job->inputs = std::move(inputs);
    State& s = *state_;
    std::unique_lock<std::mutex> lock(s.mutex);
    if (s.stopping) return Status(unavailable("the model is unloading"));
    s.queue.push_back(job);
    s.work.notify_all();
    for (;;) {
        // Inputs already in a pass finish before the job is given up (their outputs are
        // written by the worker).
        const size_t in_flight = job->next - job->done;
        if (job->done == job->inputs.size() || (job->failure && in_flight == 0)) break;
        if (job->abandoned && in_flight == 0) break;
        s.done.wait_for(lock, std::chrono::milliseconds(50));
        if (!job->abandoned && cancelled) {
            lock.unlock();
            const bool gone = cancelled();
            lock.lock();
            if (gone) job->abandoned = true;
        }
    }
    if (job->failure) return *job->failure;
    if (job->abandoned) return Status(cria::cancelled("the request was cancelled"));
    return std::move(job->outputs);
}

void l2_normalize(std::vector<float>& v) {
    double sum = 0.0;
    for (float x : v) sum += static_cast<double>(x) * x;
    if (sum <= 0.0) return;
    const double inv = 1.0 / std::sqrt(sum);
    for (float& x : v) x = static_cast<float>(x * inv);
}

}  // namespace cria::engine
