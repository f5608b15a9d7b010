// The HTTP layer on a loopback port: address parsing, JSON bodies for the errors httplib answers
// itself, the body cap, server-sent events, and noticing a client that hung up.
#include "server/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "server/loopback_server.h"

namespace cria::server {
namespace {

using test::LoopbackServer;
using test::read_answer;
using test::send_raw_request;

using json = nlohmann::ordered_json;

TEST(HostPort, Forms) {
    auto check = [](const char* text, const char* host, int port) {
        auto parsed = parse_host_port(text);
        ASSERT_TRUE(parsed.has_value()) << text << ": " << parsed.status().message();
        EXPECT_EQ(parsed->host, host) << text;
        EXPECT_EQ(parsed->port, port) << text;
    };
    check("", "127.0.0.1", 11434);
    check("0.0.0.0", "0.0.0.0", 11434);
    check("127.0.0.1:8080", "127.0.0.1", 8080);
    check(":9000", "127.0.0.1", 9000);
    check("http://localhost:1234/", "localhost", 1234);
    check("[::1]:5000", "::1", 5000);
    check("[::1]", "::1", 11434);
    check("127.0.0.1:0", "127.0.0.1", 0);
    check("12345", "127.0.0.1", 12345);
    check("http://8080/", "127.0.0.1", 8080);
    for (const char* bad :
         {"host:port", "host:99999", "::1:80", "[::1", "[::1]x", "h:-1", "99999"}) {
        EXPECT_FALSE(parse_host_port(bad).has_value()) << bad;
    }
}

TEST(HttpServer, SecondListenerOnABusyPortFails) {
    LoopbackServer first;
    const int port = first.start();
    ASSERT_TRUE(first.client().Get("/"));  // serving: stop() then ends it
    HttpServer second{HttpOptions{}};
    Expected<int> bound = second.bind("127.0.0.1", port);
    ASSERT_FALSE(bound.has_value());
    EXPECT_NE(bound.status().message().find("address already in use"), std::string::npos)
        << bound.status().message();
}

TEST(HttpServer, UnknownPathIsJson404) {
    LoopbackServer server;
    server.start();
    auto res = server.client().Get("/no/such/path");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
    json body = json::parse(res->body);
    EXPECT_EQ(body["error"]["code"], "unknown_url");
    // Under /api, Ollama's shape: {"error": "..."}.
    res = server.client().Post("/api/no-such-route", "{}", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
    body = json::parse(res->body);
    ASSERT_TRUE(body["error"].is_string()) << res->body;
    EXPECT_NE(body["error"].get<std::string>().find("/api/no-such-route"), std::string::npos);
}

TEST(HttpServer, HandlerErrorsAreKept) {
    LoopbackServer server;
    server.router().Get("/bad", [](const httplib::Request&, httplib::Response& res) {
        send_error(res, invalid_request("nope", "field"));
    });
    server.start();
    auto res = server.client().Get("/bad");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(json::parse(res->body)["error"]["param"], "field");
}

TEST(HttpServer, ThrowingHandlerGivesJson500) {
    LoopbackServer server;
    server.router().Get("/throw", [](const httplib::Request&, httplib::Response&) {
        throw std::runtime_error("boom");
    });
    server.start();
    auto res = server.client().Get("/throw");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 500);
    EXPECT_EQ(json::parse(res->body)["error"]["type"], "server_error");
}

TEST(HttpServer, BodyOverTheCapIs413) {
    HttpOptions options;
    options.max_body_bytes = 1024;
    LoopbackServer server(options);
    server.router().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
        send_json(res, 200, json{{"bytes", req.body.size()}});
    });
    server.start();
    auto small = server.client().Post("/echo", std::string(1000, 'x'), "application/json");
    ASSERT_TRUE(small);
    EXPECT_EQ(small->status, 200);
    auto big = server.client().Post("/echo", std::string(4096, 'x'), "application/json");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 413);
    EXPECT_EQ(json::parse(big->body)["error"]["code"], "request_too_large");
}

TEST(HttpServer, UploadsMayExceedTheBodyCapOtherRoutesMayNot) {
    HttpOptions options;
    options.max_body_bytes = 1024;
    options.max_upload_bytes = 1 << 20;
    LoopbackServer server(options);
    auto count = [](const httplib::Request& req, httplib::Response& res,
                    const httplib::ContentReader& reader) {
        size_t bytes = 0;
        reader([&bytes](const char*, size_t n) {
            bytes += n;
            return true;
        });
        send_json(res, 201, json{{"bytes", bytes}});
    };
    server.router().Post("/api/blobs/x", count);
    server.router().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
        send_json(res, 200, json{{"bytes", req.body.size()}});
    });
    server.start();
    auto upload = server.client().Post("/api/blobs/x", std::string(200000, 'x'), "text/plain");
    ASSERT_TRUE(upload);
    EXPECT_EQ(upload->status, 201);
    EXPECT_EQ(json::parse(upload->body)["bytes"], 200000);
    // Everything else keeps the small cap, and is refused before its body is read.
    auto big = server.client().Post("/echo", std::string(4096, 'x'), "application/json");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 413);
    EXPECT_EQ(json::parse(big->body)["error"]["code"], "request_too_large");
    auto big_ollama = server.client().Post("/api/chat", std::string(4096, 'x'), "application/json");
    ASSERT_TRUE(big_ollama);
    EXPECT_EQ(big_ollama->status, 413);
    EXPECT_TRUE(json::parse(big_ollama->body)["error"].is_string());  // Ollama's shape
}

TEST(HttpServer, ServerSentEvents) {
    LoopbackServer server;
    server.router().Get("/events", [](const httplib::Request&, httplib::Response& res) {
        set_event_stream_headers(res);
        res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
            SseWriter writer(sink);
            for (int i = 0; i < 3; ++i) writer.send({{"i", i}});
            writer.send_done();
            sink.done();
            return true;
        });
    });
    server.start();
    auto res = server.client().Get("/events");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    EXPECT_EQ(res->body,
              "data: {\"i\":0}\n\ndata: {\"i\":1}\n\ndata: {\"i\":2}\n\ndata: [DONE]\n\n");
}

TEST(HttpServer, ChunkedBodiesAreReadUnderTheCap) {
    HttpOptions options;
    options.max_body_bytes = 1024;
    options.max_upload_bytes = 1 << 20;
    LoopbackServer server(options);
    auto echo = [](const httplib::Request& req, httplib::Response& res) {
        send_json(res, 200, json{{"body", req.body}});
    };
    server.router().Post("/echo", echo);
    server.router().Post("/api/echo", echo);
    server.router().Delete("/gone", echo);
    const int port = server.start();
    for (const char* method_path : {"POST /echo"}) {
        const int fd = send_raw_request(port, std::string(method_path) +
                                                  " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                  "Content-Type: application/json\r\n"
                                                  "Transfer-Encoding: chunked\r\n\r\n"
                                                  "2\r\n{\"\r\n4\r\na\":1\r\n1\r\n}\r\n0\r\n\r\n");
        const std::string answer = read_answer(fd, "}\"}");
        EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << method_path << ": " << answer;
        EXPECT_NE(answer.find(R"({"body":"{\"a\":1}"})"), std::string::npos) << answer;
    }
    // A chunked body for no route is not read: 404 (Ollama's shape under /api).
    const int unknown = send_raw_request(port,
                                         "POST /api/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    const std::string refused = read_answer(unknown, "\"}");
    EXPECT_EQ(refused.rfind("HTTP/1.1 404", 0), 0u) << refused;
    EXPECT_NE(refused.find(R"({"error":"Unknown request URL: POST /api/nope.")"), std::string::npos)
        << refused;
    // A DELETE without a body still reaches its route. (httplib 0.11 reads no chunked body for
    // a DELETE at all: DELETE bodies need a Content-Length.)
    auto res = server.client().Delete("/gone");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    // Beyond the cap: 413, in the error shape of the path's API, and the connection closes.
    const std::string chunk(600, 'x');
    char size_line[16];
    std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
    const std::string body = size_line + chunk + "\r\n" + size_line + chunk + "\r\n0\r\n\r\n";
    const int fd = send_raw_request(port,
                                    "POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n" +
                                        body);
    const std::string answer = read_answer(fd, "\"}");
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    EXPECT_NE(answer.find(R"({"error":"The request body is larger)"), std::string::npos) << answer;
}

TEST(ClientConnection, NoticesAHangUpWithoutWriting) {
    std::atomic<bool> watchable{false};
    std::atomic<bool> saw_disconnect{false};
    std::atomic<bool> handler_started{false};
    LoopbackServer server;
    server.router().Get("/slow", [&](const httplib::Request& req, httplib::Response& res) {
        ClientConnection connection(req);
        watchable = connection.watchable();
        handler_started = true;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (std::chrono::steady_clock::now() < deadline) {
            if (connection.disconnected()) {
                saw_disconnect = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        res.set_content("late", "text/plain");
    });
    const int port = server.start();
    const int fd = send_raw_request(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    while (!handler_started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(saw_disconnect);  // still connected: no false alarm
    close(fd);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!saw_disconnect && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(watchable);
    EXPECT_TRUE(saw_disconnect);
}

TEST(HttpServer, StalledBodyIsCutOff) {
    // A client that announces a body and stops sending it must not hold a worker for ever.
    HttpOptions options;
    options.read_timeout_s = 1;
    LoopbackServer server(options);
    std::atomic<bool> handled{false};
    server.router().Post("/echo", [&](const httplib::Request&, httplib::Response& res) {
        handled = true;
        send_json(res, 200, json::object());
    });
    const int port = server.start();
    const auto start = std::chrono::steady_clock::now();
    const int fd = send_raw_request(port,
                                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                    "application/json\r\nContent-Length: 1000\r\n\r\n{\"par");
    // Bounds the test if the server never gives up.
    timeval limit{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    std::string answer;
    char buffer[4096];
    ssize_t got = 0;
    while ((got = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, got);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    close(fd);
    EXPECT_EQ(got, 0) << "the server closed the connection";
    EXPECT_FALSE(handled);
    // One second to give up on the body, at most one more waiting for a next request.
    EXPECT_GE(elapsed, 0.9);
    EXPECT_LT(elapsed, 4.0);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
}

TEST(SseWriter, ReportsAClosedStream) {
    std::atomic<int> sent_before_failure{-1};
    std::atomic<bool> started{false};
    LoopbackServer server;
    server.router().Get("/endless", [&](const httplib::Request&, httplib::Response& res) {
        res.set_chunked_content_provider("text/event-stream", [&](size_t, httplib::DataSink& sink) {
            SseWriter writer(sink);
            started = true;
            for (int i = 0; i < 100000; ++i) {
                if (!writer.send({{"i", i}, {"pad", std::string(512, 'x')}})) {
                    sent_before_failure = i;
                    return false;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            sink.done();
            return true;
        });
    });
    const int port = server.start();
    const int fd = send_raw_request(port, "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    close(fd);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sent_before_failure < 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(sent_before_failure, 0);
    EXPECT_LT(sent_before_failure, 5000);
}

}  // namespace
}  // namespace cria::server
