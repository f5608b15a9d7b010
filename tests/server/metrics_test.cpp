// Metrics and health: the exact Prometheus text of a snapshot, histogram bucketing, endpoint
// labels, thread safety, the loading guard, and /health and /metrics served over loopback.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "loopback_server.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

TEST(Histogram, BucketsAreInclusiveUpperBounds) {
    Histogram histogram({1, 2.5});
    for (double value : {0.5, 1.0, 1.5, 2.5, 3.0, 100.0}) histogram.observe(value);
    histogram.observe(std::numeric_limits<double>::quiet_NaN());
    histogram.observe(std::numeric_limits<double>::infinity());
    EXPECT_EQ(histogram.bucket_counts, (std::vector<uint64_t>{2, 2, 2}));
    EXPECT_EQ(histogram.count, 6u);
    EXPECT_DOUBLE_EQ(histogram.sum, 108.5);
}

TEST(Metrics, RequestsCountUnderTheRouteTablesLabels) {
    Router router(1 << 20);
    auto ok = [](const httplib::Request&, httplib::Response&) {};
    router.Get("/", ok);
    router.Post("/v1/chat/completions", ok);
    router.Get("/api/tags", ok);
    router.Get("/v1/models/{model+}", ok);
    router.Get("/api/blobs/{digest}", ok);
    router.Get("/v1/responses/{id}/input_items", ok);
    EXPECT_EQ(router.route_label("/v1/chat/completions"), "/v1/chat/completions");
    EXPECT_EQ(router.route_label("/api/tags"), "/api/tags");
    EXPECT_EQ(router.route_label("/"), "/");
    EXPECT_EQ(router.route_label("/v1/models/llama3"), "/v1/models/{model}");
    EXPECT_EQ(router.route_label("/v1/models/user/alias:v1"), "/v1/models/{model}");
    EXPECT_EQ(router.route_label("/api/blobs/sha256:abc"), "/api/blobs/{digest}");
    EXPECT_EQ(router.route_label("/v1/responses/resp_1/input_items"),
              "/v1/responses/{id}/input_items");
    // Paths cria does not serve collapse into one label.
    EXPECT_EQ(router.route_label("/v1/models/"), "other");
    EXPECT_EQ(router.route_label("/api/blobs/a/b"), "other");
    EXPECT_EQ(router.route_label("/wp-login.php"), "other");
    EXPECT_EQ(router.route_label("/v1/chat/completions/"), "other");
    EXPECT_EQ(router.route_label(""), "other");
    // Literal text is literal: a dot is not a wildcard.
    EXPECT_EQ(Router::pattern_regex("/a.b/{x}/{rest+}"), "/a\\.b/([^/]+)/(.+)");

    Metrics metrics;
    metrics.record_request(router.route_label("/v1/models/m"), 200);
    metrics.record_request(router.route_label("/v1/models/n"), 200);
    metrics.record_request(router.route_label("/nope"), 404);
    const std::string text = render_prometheus(metrics.snapshot());
    EXPECT_NE(text.find("endpoint=\"/v1/models/{model}\",status=\"200\"} 2"), std::string::npos)
        << text;
    EXPECT_NE(text.find("endpoint=\"other\",status=\"404\"} 1"), std::string::npos) << text;
}

TEST(Metrics, RenderExactText) {
    MetricsSnapshot snapshot;
    snapshot.requests = {{"/v1/chat/completions", 200, 3}, {"we\"ird\\\nlabel", 404, 1}};
    snapshot.prompt_tokens = 120;
    snapshot.generated_tokens = 45;
    snapshot.queue_depth = 2;
    snapshot.requests_running = 1;
    snapshot.models_loaded = 1;
    snapshot.time_to_first_token = Histogram({0.1, 1});
    snapshot.time_to_first_token.observe(0.05);
    snapshot.time_to_first_token.observe(0.5);
    snapshot.time_to_first_token.observe(2);
    snapshot.generation_rate = Histogram({10});
    snapshot.generation_rate.observe(12.5);
    const std::string expected =
        "# HELP cria_requests_total HTTP requests answered, by route and status code.\n"
        "# TYPE cria_requests_total counter\n"
        "cria_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 3\n"
        "cria_requests_total{endpoint=\"we\\\"ird\\\\\\nlabel\",status=\"404\"} 1\n"
        "# HELP cria_prompt_tokens_total Prompt tokens evaluated.\n"
        "# TYPE cria_prompt_tokens_total counter\n"
        "cria_prompt_tokens_total 120\n"
        "# HELP cria_generated_tokens_total Tokens generated.\n"
        "# TYPE cria_generated_tokens_total counter\n"
        "cria_generated_tokens_total 45\n"
        "# HELP cria_queue_depth Generation requests waiting to start.\n"
        "# TYPE cria_queue_depth gauge\n"
        "cria_queue_depth 2\n"
        "# HELP cria_requests_running Generation requests being decoded.\n"
        "# TYPE cria_requests_running gauge\n"
        "cria_requests_running 1\n"
        "# HELP cria_models_loaded Models loaded in memory.\n"
        "# TYPE cria_models_loaded gauge\n"
        "cria_models_loaded 1\n"
        "# HELP cria_time_to_first_token_seconds Seconds from a generation request's arrival to "
        "its first token.\n"
        "# TYPE cria_time_to_first_token_seconds histogram\n"
        "cria_time_to_first_token_seconds_bucket{le=\"0.1\"} 1\n"
        "cria_time_to_first_token_seconds_bucket{le=\"1\"} 2\n"
        "cria_time_to_first_token_seconds_bucket{le=\"+Inf\"} 3\n"
        "cria_time_to_first_token_seconds_sum 2.55\n"
        "cria_time_to_first_token_seconds_count 3\n"
        "# HELP cria_generation_tokens_per_second Decode rate of each generation request, in "
        "tokens per second.\n"
        "# TYPE cria_generation_tokens_per_second histogram\n"
        "cria_generation_tokens_per_second_bucket{le=\"10\"} 0\n"
        "cria_generation_tokens_per_second_bucket{le=\"+Inf\"} 1\n"
        "cria_generation_tokens_per_second_sum 12.5\n"
        "cria_generation_tokens_per_second_count 1\n";
    EXPECT_EQ(render_prometheus(snapshot), expected);
}

TEST(Metrics, DefaultBucketsRender) {
    const std::string text = Metrics().render();
    EXPECT_NE(text.find("cria_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("cria_time_to_first_token_seconds_bucket{le=\"60\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("cria_generation_tokens_per_second_bucket{le=\"1000\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("cria_time_to_first_token_seconds_sum 0\n"), std::string::npos);
    EXPECT_EQ(text.find("cria_requests_total{"), std::string::npos) << "no requests yet";
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
    Metrics metrics;
    constexpr int kThreads = 4;
    constexpr int kEach = 2000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&metrics, t] {
            for (int i = 0; i < kEach; ++i) {
                metrics.record_request(t % 2 ? "/v1/completions" : "other", 200);
                metrics.add_generated_tokens(2);
                metrics.observe_time_to_first_token(0.2);
                if (i % 100 == 0) (void)metrics.render();
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    MetricsSnapshot snapshot = metrics.snapshot();
    ASSERT_EQ(snapshot.requests.size(), 2u);
    EXPECT_EQ(snapshot.requests[0].endpoint, "/v1/completions");
    EXPECT_EQ(snapshot.requests[0].count, uint64_t{kThreads / 2 * kEach});
    EXPECT_EQ(snapshot.requests[1].endpoint, "other");
    EXPECT_EQ(snapshot.generated_tokens, uint64_t{2 * kThreads * kEach});
    EXPECT_EQ(snapshot.time_to_first_token.count, uint64_t{kThreads * kEach});
}

TEST(Metrics, ModelsLoadedFromASource) {
    Metrics metrics;
    metrics.set_models_loaded(1);
    EXPECT_EQ(metrics.snapshot().models_loaded, 1);
    int64_t loaded = 3;
    metrics.set_models_loaded_source([&loaded] { return loaded; });
    EXPECT_EQ(metrics.snapshot().models_loaded, 3);
    loaded = 0;
    EXPECT_NE(metrics.render().find("\ncria_models_loaded 0\n"), std::string::npos);
}

TEST(Health, LoadingGuardCountsLoadsInProgress) {
    HealthState health;
    EXPECT_TRUE(health.ready());
    {
        LoadingGuard first(health);
        EXPECT_FALSE(health.ready());
        {
            LoadingGuard second(health);
            EXPECT_EQ(health.loads_in_progress(), 2);
        }
        EXPECT_FALSE(health.ready());
    }
    EXPECT_TRUE(health.ready());
}

TEST(ServiceRoutes, HealthAndMetricsOverHttp) {
    Metrics metrics;
    HealthState health;
    HttpOptions options;
    options.metrics = &metrics;
    test::LoopbackServer server(options);
    register_service_routes(server.router(), metrics, health);
    server.router().Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, json::object());
    });
    // Streamed answers are counted too (once, when the stream ends).
    server.router().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
        res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
            SseWriter writer(sink);
            writer.send({{"i", 0}});
            writer.send_done();
            sink.done();
            return true;
        });
    });
    server.start();
    httplib::Client client = server.client();
    // One connection: the server counts a request after writing its answer and before reading
    // the next request on the same connection, so every count is in before the scrape.
    client.set_keep_alive(true);

    auto ready = client.Get("/health");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
    EXPECT_EQ(ready->body, R"({"status":"ok"})");
    {
        LoadingGuard loading(health);
        auto busy = client.Get("/health");
        ASSERT_TRUE(busy);
        EXPECT_EQ(busy->status, 503);
        EXPECT_EQ(busy->body, R"({"status":"loading"})");
    }

    for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Get("/v1/models"));
    for (int i = 0; i < 2; ++i) {
        auto streamed = client.Post("/v1/completions", "{}", "application/json");
        ASSERT_TRUE(streamed);
        EXPECT_EQ(streamed->body, "data: {\"i\":0}\n\ndata: [DONE]\n\n");
    }
    ASSERT_TRUE(client.Get("/no/such/path"));
    ASSERT_TRUE(client.Get("/wp-admin/also/unknown"));
    metrics.add_prompt_tokens(7);
    metrics.set_models_loaded(2);

    auto scraped = client.Get("/metrics");
    ASSERT_TRUE(scraped);
    EXPECT_EQ(scraped->status, 200);
    EXPECT_EQ(scraped->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
    const std::string& text = scraped->body;
    EXPECT_NE(text.find("cria_requests_total{endpoint=\"/v1/models\",status=\"200\"} 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cria_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cria_requests_total{endpoint=\"other\",status=\"404\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cria_requests_total{endpoint=\"/health\",status=\"200\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("cria_requests_total{endpoint=\"/health\",status=\"503\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("cria_prompt_tokens_total 7\n"), std::string::npos);
    EXPECT_NE(text.find("cria_models_loaded 2\n"), std::string::npos);

    // The scrape itself is counted once its answer is written.
    auto again = client.Get("/metrics");
    ASSERT_TRUE(again);
    EXPECT_NE(again->body.find("cria_requests_total{endpoint=\"/metrics\",status=\"200\"} 1\n"),
              std::string::npos);
}

TEST(ServiceRoutes, RefusedRequestsAreCounted) {
    Metrics metrics;
    HealthState health;
    HttpOptions options;
    options.metrics = &metrics;
    options.access.set_api_key("key");
    test::LoopbackServer server(options);
    register_service_routes(server.router(), metrics, health);
    server.start();
    httplib::Client client = server.client();
    client.set_keep_alive(true);
    auto open = client.Get("/health");
    ASSERT_TRUE(open);
    EXPECT_EQ(open->status, 200) << "/health needs no key";
    auto refused = client.Get("/metrics");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401);
    auto scraped = client.Get("/metrics", {{"Authorization", "Bearer key"}});
    ASSERT_TRUE(scraped);
    EXPECT_EQ(scraped->status, 200);
    EXPECT_NE(scraped->body.find("cria_requests_total{endpoint=\"/metrics\",status=\"401\"} 1\n"),
              std::string::npos)
        << scraped->body;
}

}  // namespace
}  // namespace cria::server
