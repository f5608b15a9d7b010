// Access control: the pure decisions of AccessPolicy (key, origins, Host names, environment), then
// the same rules enforced by HttpServer over a loopback socket, in both APIs' error shapes.
#include "server/access.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "loopback_server.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

AccessPolicy::EnvLookup fake_environment(std::map<std::string, std::string> values) {
    return [values](const char* name) -> std::optional<std::string> {
        auto found = values.find(name);
        if (found == values.end()) return std::nullopt;
        return found->second;
    };
}

AccessPolicy policy_from(std::map<std::string, std::string> values,
                         std::string_view bound_host = "127.0.0.1") {
    auto policy = AccessPolicy::from_environment(fake_environment(std::move(values)), bound_host);
    EXPECT_TRUE(policy.has_value()) << policy.status().message();
    return policy.has_value() ? std::move(policy).value() : AccessPolicy();
}

TEST(Access, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("secret", "secret"));
    EXPECT_FALSE(constant_time_equal("secreT", "secret"));
    EXPECT_FALSE(constant_time_equal("secret2", "secret"));
    EXPECT_FALSE(constant_time_equal("secretsecret", "secret"));  // a repetition is not a match
    EXPECT_FALSE(constant_time_equal("secre", "secret"));
    EXPECT_FALSE(constant_time_equal("", "secret"));
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_FALSE(constant_time_equal("x", ""));
}

TEST(Access, LoopbackHosts) {
    for (const char* host :
         {"localhost", "LocalHost", "localhost.", "127.0.0.1", "127.1.2.3", "::1", "[::1]"}) {
        EXPECT_TRUE(is_loopback_host(host)) << host;
    }
    for (const char* host : {"0.0.0.0", "::", "", "10.0.0.1", "127.0.0", "127.0.0.256",
                             "127.0.0.1.evil.example", "localhost.evil.example", "128.0.0.1"}) {
        EXPECT_FALSE(is_loopback_host(host)) << host;
    }
}

TEST(Access, HostHeaderNames) {
    EXPECT_EQ(host_header_name("Example.COM:8080"), "example.com");
    EXPECT_EQ(host_header_name("localhost"), "localhost");
    EXPECT_EQ(host_header_name("[::1]:11434"), "::1");
    EXPECT_EQ(host_header_name("127.0.0.1:"), "127.0.0.1");
    for (const char* bad : {"", ":80", "a b", "evil.example:80:80", "[::1", "[nothex]:1", "h:x",
                            "h:123456", "evil/.example"}) {
        EXPECT_FALSE(host_header_name(bad).has_value()) << bad;
    }
}

TEST(Access, ErrorShapeByPath) {
    EXPECT_EQ(error_shape_for_path("/api/tags"), ErrorShape::kOllama);
    EXPECT_EQ(error_shape_for_path("/api"), ErrorShape::kOllama);
    EXPECT_EQ(error_shape_for_path("/v1/models"), ErrorShape::kOpenAi);
    EXPECT_EQ(error_shape_for_path("/apiary"), ErrorShape::kOpenAi);
    EXPECT_EQ(error_shape_for_path("/metrics"), ErrorShape::kOpenAi);
}

TEST(AccessPolicy, KeyFromTheEnvironment) {
    AccessPolicy open = policy_from({});
    EXPECT_FALSE(open.requires_key());
    EXPECT_TRUE(open.key_accepted(std::nullopt));

    AccessPolicy empty = policy_from({{"CRIA_API_KEY", "  "}});
    EXPECT_FALSE(empty.requires_key()) << "an empty key means no key";

    AccessPolicy keyed = policy_from({{"CRIA_API_KEY", "s3cret\n"}});
    EXPECT_TRUE(keyed.requires_key());
    EXPECT_TRUE(keyed.key_accepted("Bearer s3cret"));
    EXPECT_TRUE(keyed.key_accepted("bearer  s3cret "));
    EXPECT_FALSE(keyed.key_accepted(std::nullopt));
    EXPECT_FALSE(keyed.key_accepted("s3cret"));
    EXPECT_FALSE(keyed.key_accepted("Basic s3cret"));
    EXPECT_FALSE(keyed.key_accepted("Bearers3cret"));
    EXPECT_FALSE(keyed.key_accepted("Bearer s3cre"));
    EXPECT_FALSE(keyed.key_accepted("Bearer S3CRET"));
    EXPECT_FALSE(keyed.key_accepted("Bearer "));
}

TEST(AccessPolicy, Origins) {
    AccessPolicy policy = policy_from({{"CRIA_ORIGINS",
                                        "https://app.example.com, http://*.corp.example,"
                                        "http://tools.example:*, app://bundle/,"}});
    for (const char* origin :
         {"http://localhost", "http://localhost:3000", "https://127.0.0.1:8443",
          "http://[::1]:5173", "http://127.0.0.2", "HTTP://LOCALHOST:1", "https://app.example.com",
          "http://a.corp.example", "http://a.b.corp.example", "http://tools.example:9000",
          "app://bundle"}) {
        EXPECT_TRUE(policy.origin_allowed(origin)) << origin;
    }
    for (const char* origin :
         {"http://evil.example", "https://app.example.com:444", "http://app.example.com",
          "https://corp.example", "http://.corp.example.evil", "http://evilcorp.example",
          "ftp://localhost", "http://localhost.evil.example", "null", "localhost",
          "http://localhost/path", "http://tools.example"}) {
        EXPECT_FALSE(policy.origin_allowed(origin)) << origin;
    }
    AccessPolicy any = policy_from({{"CRIA_ORIGINS", "*"}});
    EXPECT_TRUE(any.origin_allowed("https://anything.example"));
    EXPECT_TRUE(any.origin_allowed("null"));
    EXPECT_FALSE(any.origin_allowed("not an origin"));
}

TEST(AccessPolicy, MalformedEntriesAreErrors) {
    for (const char* origins : {"example.com", "http://a/b", "http://*.*.example", "http://a b"}) {
        auto policy = AccessPolicy::from_environment(fake_environment({{"CRIA_ORIGINS", origins}}),
                                                     "127.0.0.1");
        ASSERT_FALSE(policy.has_value()) << origins;
        EXPECT_NE(policy.status().message().find("CRIA_ORIGINS"), std::string::npos);
    }
    auto hosts = AccessPolicy::from_environment(
        fake_environment({{"CRIA_ALLOWED_HOSTS", "ok.example, bad host"}}), "127.0.0.1");
    ASSERT_FALSE(hosts.has_value());
    EXPECT_NE(hosts.status().message().find("bad host"), std::string::npos);
}

TEST(AccessPolicy, HostNames) {
    AccessPolicy policy =
        policy_from({{"CRIA_ALLOWED_HOSTS", "box.lan, *.internal.example"},
                     {"CRIA_ORIGINS", "https://app.example.com, http://*.corp.example, *"}});
    EXPECT_TRUE(policy.checks_host());
    for (const char* host :
         {"localhost:11434", "127.0.0.1:11434", "[::1]:11434", "localhost", "box.lan", "BOX.LAN:80",
          "a.internal.example", "app.example.com:443", "x.corp.example"}) {
        EXPECT_TRUE(policy.host_allowed(host)) << host;
    }
    for (const char* host : {"evil.example", "internal.example", "box.lan.evil.example",
                             "corp.example", "", "bad host"}) {
        EXPECT_FALSE(policy.host_allowed(host)) << host;
    }
    EXPECT_TRUE(policy_from({{"CRIA_ALLOWED_HOSTS", "*"}}).host_allowed("anything.example"));
    EXPECT_FALSE(policy_from({}, "0.0.0.0").checks_host());
    EXPECT_FALSE(policy_from({}, "192.168.1.5").checks_host());
    EXPECT_TRUE(policy_from({}, "localhost").checks_host());
    EXPECT_TRUE(policy_from({}, "::1").checks_host());
}

// Beyond loopback, the names in CRIA_ALLOWED_HOSTS keep the Host check on; addresses pass (a
// rebinding page sends its DNS name), other names do not.
TEST(AccessPolicy, HostCheckBeyondLoopbackWithAllowedHosts) {
    for (const char* bound : {"0.0.0.0", "192.168.1.5", "::"}) {
        SCOPED_TRACE(bound);
        AccessPolicy policy = policy_from({{"CRIA_ALLOWED_HOSTS", "box.lan"}}, bound);
        EXPECT_TRUE(policy.checks_host());
        for (const char* host : {"box.lan:11434", "localhost", "192.168.1.5:11434", "10.0.0.7",
                                 "[fe80::1]:11434", "[::1]"}) {
            EXPECT_TRUE(policy.host_allowed(host)) << host;
        }
        for (const char* host : {"evil.example", "box.lan.evil.example", "192.168.1.5.nip.io"}) {
            EXPECT_FALSE(policy.host_allowed(host)) << host;
        }
    }
    // On loopback an address other than a loopback one is no name of this server.
    EXPECT_FALSE(policy_from({{"CRIA_ALLOWED_HOSTS", "box.lan"}}).host_allowed("10.0.0.7"));
}

TEST(AccessPolicy, ExposureWarnings) {
    EXPECT_TRUE(exposure_warnings(policy_from({}), "127.0.0.1", 11434).empty());
    EXPECT_TRUE(exposure_warnings(policy_from({}, "localhost"), "localhost", 11434).empty());
    const auto open = exposure_warnings(policy_from({}, "0.0.0.0"), "0.0.0.0", 11434);
    ASSERT_EQ(open.size(), 2u);
    EXPECT_NE(open[0].find("0.0.0.0:11434"), std::string::npos);
    EXPECT_NE(open[0].find("WITHOUT CRIA_API_KEY"), std::string::npos);
    EXPECT_NE(open[1].find("CRIA_ALLOWED_HOSTS"), std::string::npos);
    const auto keyed = exposure_warnings(
        policy_from({{"CRIA_API_KEY", "k"}, {"CRIA_ALLOWED_HOSTS", "box.lan"}}, "::"), "::", 80);
    EXPECT_TRUE(keyed.empty());
    const auto v6 = exposure_warnings(policy_from({{"CRIA_API_KEY", "k"}}, "::"), "::", 80);
    ASSERT_EQ(v6.size(), 1u);
    EXPECT_NE(v6[0].find("[::]:80"), std::string::npos);
}

RequestHead head(std::string_view method, std::string_view path) {
    RequestHead out;
    out.method = method;
    out.path = path;
    return out;
}

RequestHead with_origin(RequestHead request, std::string_view origin) {
    request.origin = origin;
    return request;
}

TEST(AccessPolicy, Decisions) {
    AccessPolicy policy = policy_from({{"CRIA_API_KEY", "k"}});
    auto decide = [&](const RequestHead& request) { return policy.decide(request).verdict; };
    RequestHead chat = head("POST", "/v1/chat/completions");
    chat.host = "127.0.0.1:11434";
    EXPECT_EQ(decide(chat), Verdict::kUnauthorized);
    chat.authorization = "Bearer k";
    EXPECT_EQ(decide(chat), Verdict::kProceed);
    chat.host = "evil.example:11434";
    EXPECT_EQ(decide(chat), Verdict::kForbiddenHost) << "the Host check comes before the key";
    chat.host = std::nullopt;
    EXPECT_EQ(decide(chat), Verdict::kProceed) << "HTTP/1.0 requests may omit Host";

    EXPECT_EQ(decide(head("GET", "/health")), Verdict::kProceed);
    EXPECT_EQ(decide(head("HEAD", "/")), Verdict::kProceed);
    EXPECT_EQ(decide(head("GET", "/")), Verdict::kProceed);
    EXPECT_EQ(decide(head("POST", "/health")), Verdict::kUnauthorized);
    // The chat page's files: one segment under /web/, read only.
    EXPECT_EQ(decide(head("GET", "/web/app.js")), Verdict::kProceed);
    EXPECT_EQ(decide(head("HEAD", "/web/app.css")), Verdict::kProceed);
    EXPECT_EQ(decide(head("POST", "/web/app.js")), Verdict::kUnauthorized);
    for (const char* path : {"/web/", "/web/..", "/web/.", "/web/../v1/models", "/web/a/b",
                             "/web/..\\v1", "/webapp.js", "/web"}) {
        EXPECT_EQ(decide(head("GET", path)), Verdict::kUnauthorized) << path;
    }
    EXPECT_EQ(decide(head("GET", "/metrics")), Verdict::kUnauthorized);
    EXPECT_EQ(decide(head("GET", "/api/tags")), Verdict::kUnauthorized);

    // A preflight carries no credentials; an allowed origin gets its answer without a key.
    RequestHead preflight =
        with_origin(head("OPTIONS", "/v1/chat/completions"), "http://localhost:5173");
    preflight.preflight_method = "POST";
    preflight.preflight_headers = "Authorization, Content-Type, X-Stainless-OS";
    AccessDecision answer = policy.decide(preflight);
    EXPECT_EQ(answer.verdict, Verdict::kPreflight);
    EXPECT_EQ(answer.allow_origin, "http://localhost:5173");
    EXPECT_EQ(answer.allow_headers, "authorization, content-type, x-stainless-os");
    preflight.preflight_headers = "Authorization, bad header";
    EXPECT_EQ(policy.decide(preflight).allow_headers, kCorsDefaultHeaders);
    preflight.preflight_headers = std::nullopt;
    EXPECT_EQ(policy.decide(preflight).allow_headers, kCorsDefaultHeaders);
    preflight.origin = "https://evil.example";
    EXPECT_EQ(decide(preflight), Verdict::kForbiddenOrigin);

    // An OPTIONS request that is not a preflight is an ordinary request.
    EXPECT_EQ(decide(with_origin(head("OPTIONS", "/v1/models"), "http://localhost")),
              Verdict::kUnauthorized);

    // A simple (non-preflighted) request from a foreign page is refused too.
    RequestHead form = with_origin(head("POST", "/api/delete"), "https://evil.example");
    EXPECT_EQ(decide(form), Verdict::kForbiddenOrigin);
    form.origin = "http://127.0.0.1:8080";
    form.authorization = "Bearer k";
    AccessDecision allowed = policy.decide(form);
    EXPECT_EQ(allowed.verdict, Verdict::kProceed);
    EXPECT_EQ(allowed.allow_origin, "http://127.0.0.1:8080");
}

// ---- Over HTTP -------------------------------------------------------------------------------

HttpOptions options_with(std::map<std::string, std::string> environment) {
    HttpOptions options;
    options.access = policy_from(std::move(environment));
    return options;
}

void add_test_routes(httplib::Server& router) {
    auto ok = [](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, json{{"ok", true}});
    };
    router.Get("/v1/models", ok);
    router.Post("/v1/chat/completions", ok);
    router.Get("/api/tags", ok);
    router.Get("/health", ok);
    router.Get("/", ok);
}

TEST(AccessOverHttp, ApiKeyInBothErrorShapes) {
    test::LoopbackServer server(options_with({{"CRIA_API_KEY", "right-key"}}));
    add_test_routes(server.router());
    server.start();
    httplib::Client client = server.client();

    auto missing = client.Get("/v1/models");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 401);
    EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer");
    json openai = json::parse(missing->body);
    EXPECT_EQ(openai["error"]["type"], "invalid_request_error");
    EXPECT_EQ(openai["error"]["code"], "invalid_api_key");
    EXPECT_TRUE(openai["error"]["param"].is_null());
    EXPECT_TRUE(openai["error"]["message"].is_string());

    auto wrong = client.Get("/v1/models", {{"Authorization", "Bearer wrong-key"}});
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401);
    EXPECT_EQ(json::parse(wrong->body)["error"]["code"], "invalid_api_key");

    auto right = client.Get("/v1/models", {{"Authorization", "Bearer right-key"}});
    ASSERT_TRUE(right);
    EXPECT_EQ(right->status, 200);

    auto ollama = client.Get("/api/tags", {{"Authorization", "Bearer wrong-key"}});
    ASSERT_TRUE(ollama);
    EXPECT_EQ(ollama->status, 401);
    json ollama_body = json::parse(ollama->body);
    ASSERT_TRUE(ollama_body["error"].is_string()) << ollama->body;
    EXPECT_EQ(ollama_body.size(), 1u);

    auto ollama_ok = client.Get("/api/tags", {{"Authorization", "Bearer right-key"}});
    ASSERT_TRUE(ollama_ok);
    EXPECT_EQ(ollama_ok->status, 200);

    // Unknown paths are refused before routing: without the key nobody learns what exists.
    auto unknown = client.Get("/v1/secret");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 401);

    for (const char* open : {"/health", "/"}) {
        auto res = client.Get(open);
        ASSERT_TRUE(res) << open;
        EXPECT_EQ(res->status, 200) << open;
    }
    auto head = client.Head("/");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
}

TEST(AccessOverHttp, RefusedBodyDoesNotCorruptTheConnection) {
    // A refused POST's body is never read; the server must not parse it as the next request.
    test::LoopbackServer server(options_with({{"CRIA_API_KEY", "right-key"}}));
    add_test_routes(server.router());
    server.start();
    httplib::Client client = server.client();
    client.set_keep_alive(true);
    const std::string body = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
    auto refused = client.Post("/v1/chat/completions", body, "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401);
    auto next = client.Post("/v1/chat/completions", {{"Authorization", "Bearer right-key"}}, body,
                            "application/json");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body, R"({"ok":true})");
}

TEST(AccessOverHttp, CorsPreflightAndHeaders) {
    test::LoopbackServer server(options_with({{"CRIA_API_KEY", "right-key"}}));
    add_test_routes(server.router());
    server.start();
    httplib::Client client = server.client();

    auto preflight = client.Options(
        "/v1/chat/completions",
        {{"Origin", "http://localhost:5173"},
         {"Access-Control-Request-Method", "POST"},
         {"Access-Control-Request-Headers", "authorization,content-type,x-stainless-arch"}});
    ASSERT_TRUE(preflight);
    EXPECT_EQ(preflight->status, 204);
    EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), "http://localhost:5173");
    EXPECT_EQ(preflight->get_header_value("Vary"), "Origin");
    EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Methods"), kCorsAllowedMethods);
    EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Headers"),
              "authorization, content-type, x-stainless-arch");

    auto denied = client.Options(
        "/v1/chat/completions",
        {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 403);
    EXPECT_FALSE(denied->has_header("Access-Control-Allow-Origin"));
    EXPECT_EQ(json::parse(denied->body)["error"]["code"], "origin_not_allowed");

    // The actual request from an allowed page carries the CORS headers, errors included.
    auto allowed = client.Get(
        "/v1/models", {{"Origin", "http://127.0.0.1:3000"}, {"Authorization", "Bearer right-key"}});
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->status, 200);
    EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), "http://127.0.0.1:3000");
    auto unauthorized = client.Get("/v1/models", {{"Origin", "http://127.0.0.1:3000"}});
    ASSERT_TRUE(unauthorized);
    EXPECT_EQ(unauthorized->status, 401);
    EXPECT_EQ(unauthorized->get_header_value("Access-Control-Allow-Origin"),
              "http://127.0.0.1:3000");
    auto not_found = client.Get("/v1/nothing", {{"Origin", "http://127.0.0.1:3000"},
                                                {"Authorization", "Bearer right-key"}});
    ASSERT_TRUE(not_found);
    EXPECT_EQ(not_found->status, 404);
    EXPECT_EQ(not_found->get_header_value("Access-Control-Allow-Origin"), "http://127.0.0.1:3000");

    // A foreign page's request is refused (with the key too) and gets no CORS headers.
    auto foreign = client.Get(
        "/api/tags", {{"Origin", "https://evil.example"}, {"Authorization", "Bearer right-key"}});
    ASSERT_TRUE(foreign);
    EXPECT_EQ(foreign->status, 403);
    EXPECT_FALSE(foreign->has_header("Access-Control-Allow-Origin"));
    EXPECT_TRUE(json::parse(foreign->body)["error"].is_string()) << "Ollama's shape under /api";

    // No Origin: no CORS headers, nothing else changes.
    auto plain = client.Get("/health");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->status, 200);
    EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));
}

TEST(AccessOverHttp, ConfiguredOriginIsAllowed) {
    test::LoopbackServer server(options_with({{"CRIA_ORIGINS", "https://*.example.com"}}));
    add_test_routes(server.router());
    server.start();
    auto res = server.client().Get(
        "/v1/models", {{"Origin", "https://app.example.com"}, {"Host", "app.example.com"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "https://app.example.com");
}

TEST(AccessOverHttp, ForeignHostIsForbiddenOnLoopback) {
    test::LoopbackServer server(options_with({{"CRIA_ALLOWED_HOSTS", "cria.lan"}}));
    add_test_routes(server.router());
    server.start();
    httplib::Client client = server.client();

    auto evil = client.Get("/v1/models", {{"Host", "evil.example"}});
    ASSERT_TRUE(evil);
    EXPECT_EQ(evil->status, 403);
    EXPECT_EQ(json::parse(evil->body)["error"]["code"], "host_not_allowed");
    auto evil_ollama = client.Get("/api/tags", {{"Host", "evil.example:11434"}});
    ASSERT_TRUE(evil_ollama);
    EXPECT_EQ(evil_ollama->status, 403);
    EXPECT_TRUE(json::parse(evil_ollama->body)["error"].is_string());
    auto evil_health = client.Get("/health", {{"Host", "evil.example"}});
    ASSERT_TRUE(evil_health);
    EXPECT_EQ(evil_health->status, 403);

    for (const char* host : {"localhost:11434", "cria.lan", "127.0.0.1"}) {
        auto res = client.Get("/v1/models", {{"Host", host}});
        ASSERT_TRUE(res) << host;
        EXPECT_EQ(res->status, 200) << host;
    }
}

TEST(AccessOverHttp, NoHostCheckWhenBoundElsewhere) {
    HttpOptions options;
    options.access = policy_from({}, "0.0.0.0");
    test::LoopbackServer server(options);
    add_test_routes(server.router());
    server.start();
    auto res = server.client().Get("/v1/models", {{"Host", "evil.example"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace cria::server
