// What the server reports about itself: the readiness that GET /health answers with, and the
// counters, gauges and histograms that GET /metrics renders in Prometheus' text exposition
// format (version 0.0.4):
//
//   cria_requests_total{endpoint,status}      counter: HTTP requests answered, by route
//   cria_prompt_tokens_total                  counter: prompt tokens evaluated
//   cria_generated_tokens_total               counter: tokens generated
//   cria_queue_depth                          gauge: generation requests waiting
//   cria_requests_running                     gauge: generation requests being decoded
//   cria_models_loaded                        gauge: models in memory
//   cria_time_to_first_token_seconds          histogram: request arrival to first token
//   cria_generation_tokens_per_second         histogram: per-request decode rate
//
// The HTTP layer counts requests; generation code reports tokens, timings and queue state
// through the same Metrics object. Rendering is a pure function of a snapshot.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/router.h"

namespace cria::server {

// Counts observations into buckets with fixed upper bounds (Prometheus' "le").
struct Histogram {
    explicit Histogram(std::vector<double> bounds = {});
    // Non-finite values are dropped (they would poison the sum); the rest are counted.
    void observe(double value);

    std::vector<double> upper_bounds;     // ascending; +Inf is implicit
    std::vector<uint64_t> bucket_counts;  // [upper_bounds.size() + 1], not cumulative
    double sum = 0.0;
    uint64_t count = 0;
};

// Bucket bounds: time to first token in seconds, decode rate in tokens per second.
const std::vector<double>& time_to_first_token_buckets();
const std::vector<double>& generation_rate_buckets();

struct RequestCount {
    std::string endpoint;
    int status = 0;
    uint64_t count = 0;
};

struct MetricsSnapshot {
    std::vector<RequestCount> requests;  // sorted by endpoint, then status
    uint64_t prompt_tokens = 0;
    uint64_t generated_tokens = 0;
    int64_t queue_depth = 0;
    int64_t requests_running = 0;
    int64_t models_loaded = 0;
    Histogram time_to_first_token{time_to_first_token_buckets()};
    Histogram generation_rate{generation_rate_buckets()};
};

// The Prometheus text exposition of a snapshot: HELP and TYPE lines, then the samples.
std::string render_prometheus(const MetricsSnapshot& snapshot);
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Thread-safe: every method may be called from any thread at any time.
class Metrics {
  public:
    Metrics() = default;
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // One answered HTTP request, counted under its route's label (Router::route_label: the
    // route table's own patterns, or "other" for paths cria does not serve).
    void record_request(std::string route, int status);
    void add_prompt_tokens(uint64_t count) { prompt_tokens_ += count; }
    void add_generated_tokens(uint64_t count) { generated_tokens_ += count; }
    void observe_time_to_first_token(double seconds);
    void observe_generation_rate(double tokens_per_second);
    void set_queue_depth(int64_t depth) { queue_depth_ = depth; }
    void set_running(int64_t running) { running_ = running; }
    void set_models_loaded(int64_t count) { models_loaded_ = count; }
    // Reads cria_models_loaded from `source` at every snapshot instead (for a set of models
    // that loads and unloads on its own); `source` must be thread-safe and outlive this object.
    void set_models_loaded_source(std::function<int64_t()> source);
    // Reads cria_queue_depth and cria_requests_running from `source` at every snapshot
    // instead, summed over the models by their schedulers; same rules as above.
    struct LoadGauges {
        int64_t queue_depth = 0;
        int64_t running = 0;
    };
    void set_load_source(std::function<LoadGauges()> source);

    MetricsSnapshot snapshot() const;
    std::string render() const { return render_prometheus(snapshot()); }

  private:
    mutable std::mutex mutex_;  // guards the four members below
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    Histogram time_to_first_token_{time_to_first_token_buckets()};
    Histogram generation_rate_{generation_rate_buckets()};
    std::function<int64_t()> models_loaded_source_;
    std::function<LoadGauges()> load_source_;

    std::atomic<uint64_t> prompt_tokens_{0};
    std::atomic<uint64_t> generated_tokens_{0};
    std::atomic<int64_t> queue_depth_{0};
    std::atomic<int64_t> running_{0};
    std::atomic<int64_t> models_loaded_{0};
};

// Whether the server can answer generation requests now: not while a model is loading.
class HealthState {
  public:
    bool ready() const { return loads_in_progress_.load() == 0; }
    int loads_in_progress() const { return loads_in_progress_.load(); }

  private:
    friend class LoadingGuard;
    std::atomic<int> loads_in_progress_{0};
};

// Marks a model load in progress for its lifetime: wrap every load in one, e.g.
//   { LoadingGuard loading(health); model = ServedModel::load(...); }
class LoadingGuard {
  public:
    explicit LoadingGuard(HealthState& health) : health_(health) { ++health_.loads_in_progress_; }
    ~LoadingGuard() { --health_.loads_in_progress_; }
    LoadingGuard(const LoadingGuard&) = delete;
    LoadingGuard& operator=(const LoadingGuard&) = delete;

  private:
    HealthState& health_;
};

// GET /health: 200 {"status":"ok"} when ready, 503 {"status":"loading"} while a model loads.
// GET /metrics: render() as text/plain; version=0.0.4.
// Both objects must outlive the server.
void register_service_routes(Router& router, const Metrics& metrics, const HealthState& health);

}  // namespace cria::server
