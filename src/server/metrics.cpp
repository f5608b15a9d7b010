#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace cria::server {

Histogram::Histogram(std::vector<double> bounds)
    : upper_bounds(std::move(bounds)), bucket_counts(upper_bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
    if (!std::isfinite(value)) return;
    // The first bucket whose upper bound is >= value ("le" is inclusive); past all: +Inf.
    const size_t bucket =
        std::lower_bound(upper_bounds.begin(), upper_bounds.end(), value) - upper_bounds.begin();
    ++bucket_counts[bucket];
    sum += value;
    ++count;
}

const std::vector<double>& time_to_first_token_buckets() {
    // From a cached short prompt on a small model (tens of ms) to a long prompt on a big model
    // on a CPU (a minute).
    static const std::vector<double> bounds = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    return bounds;
}

const std::vector<double>& generation_rate_buckets() {
    // From a large model on a few cores (about 1 token/s) to a tiny one (hundreds).
    static const std::vector<double> bounds = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
    return bounds;
}

void Metrics::record_request(std::string route, int status) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_[{std::move(route), status}];
}

void Metrics::observe_time_to_first_token(double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    time_to_first_token_.observe(seconds);
}

void Metrics::observe_generation_rate(double tokens_per_second) {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_rate_.observe(tokens_per_second);
}

void Metrics::set_models_loaded_source(std::function<int64_t()> source) {
    std::lock_guard<std::mutex> lock(mutex_);
    models_loaded_source_ = std::move(source);
}

void Metrics::set_load_source(std::function<LoadGauges()> source) {
    std::lock_guard<std::mutex> lock(mutex_);
    load_source_ = std::move(source);
}

MetricsSnapshot Metrics::snapshot() const {
    MetricsSnapshot out;
    std::function<int64_t()> models_loaded_source;
    std::function<LoadGauges()> load_source;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        models_loaded_source = models_loaded_source_;
        load_source = load_source_;
        out.requests.reserve(requests_.size());
        for (const auto& [key, count] : requests_) {
            out.requests.push_back({key.first, key.second, count});
        }
        out.time_to_first_token = time_to_first_token_;
        out.generation_rate = generation_rate_;
    }
    out.prompt_tokens = prompt_tokens_.load();
    out.generated_tokens = generated_tokens_.load();
    out.queue_depth = queue_depth_.load();
    out.requests_running = running_.load();
    // Called without the lock held: the source takes its own owner's locks.
    out.models_loaded = models_loaded_source ? models_loaded_source() : models_loaded_.load();
    if (load_source) {
        const LoadGauges gauges = load_source();
        out.queue_depth = gauges.queue_depth;
        out.requests_running = gauges.running;
    }
    return out;
}

namespace {

// Shortest text that reads back as the same double; Prometheus spells infinity "+Inf".
std::string format_number(double value) {
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (std::isnan(value)) return "NaN";
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    return std::string(buffer, result.ptr);
}

// Label values escape backslash, double quote and line feed.
std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void write_header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void write_scalar(std::string& out, const char* name, const char* type, const char* help,
                  const std::string& value) {
    write_header(out, name, type, help);
    out += name;
    out += ' ';
    out += value;
    out += '\n';
}

void write_histogram(std::string& out, const char* name, const char* help,
                     const Histogram& histogram) {
    write_header(out, name, "histogram", help);
    // Buckets are cumulative in the exposition: each counts every observation <= its bound.
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= histogram.upper_bounds.size(); ++i) {
        cumulative += histogram.bucket_counts[i];
        const std::string bound = i < histogram.upper_bounds.size()
                                      ? format_number(histogram.upper_bounds[i])
                                      : std::string("+Inf");
        out += name;
        out += "_bucket{le=\"" + bound + "\"} " + std::to_string(cumulative) + '\n';
    }
    out += name;
    out += "_sum " + format_number(histogram.sum) + '\n';
    out += name;
    out += "_count " + std::to_string(histogram.count) + '\n';
}

}  // namespace

std::string render_prometheus(const MetricsSnapshot& snapshot) {
    std::string out;
    write_header(out, "cria_requests_total", "counter",
                 "HTTP requests answered, by route and status code.");
    for (const RequestCount& row : snapshot.requests) {
        out += "cria_requests_total{endpoint=\"" + escape_label_value(row.endpoint) +
               "\",status=\"" + std::to_string(row.status) + "\"} " + std::to_string(row.count) +
               '\n';
    }
    write_scalar(out, "cria_prompt_tokens_total", "counter", "Prompt tokens evaluated.",
                 std::to_string(snapshot.prompt_tokens));
    write_scalar(out, "cria_generated_tokens_total", "counter", "Tokens generated.",
                 std::to_string(snapshot.generated_tokens));
    write_scalar(out, "cria_queue_depth", "gauge", "Generation requests waiting to start.",
                 std::to_string(snapshot.queue_depth));
    write_scalar(out, "cria_requests_running", "gauge", "Generation requests being decoded.",
                 std::to_string(snapshot.requests_running));
    write_scalar(out, "cria_models_loaded", "gauge", "Models loaded in memory.",
                 std::to_string(snapshot.models_loaded));
    write_histogram(out, "cria_time_to_first_token_seconds",
                    "Seconds from a generation request's arrival to its first token.",
                    snapshot.time_to_first_token);
    write_histogram(out, "cria_generation_tokens_per_second",
                    "Decode rate of each generation request, in tokens per second.",
                    snapshot.generation_rate);
    return out;
}

void register_service_routes(Router& router, const Metrics& metrics, const HealthState& health) {
    router.Get("/health", [&health](const httplib::Request&, httplib::Response& res) {
        const bool ready = health.ready();
        res.status = ready ? 200 : 503;
        res.set_content(nlohmann::json{{"status", ready ? "ok" : "loading"}}.dump(),
                        "application/json");
    });
    router.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
        res.status = 200;
        res.set_content(metrics.render(), kPrometheusContentType);
    });
}

}  // namespace cria::server
