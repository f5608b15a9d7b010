// Connections under the HTTP layer: request heads httplib would misread are refused, pipelined
// requests are all answered in order, and a client that half-closes after its request still
// gets its answer, streamed or not.
#include "server/connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "server/loopback_server.h"

namespace cria::server {
namespace {

using test::LoopbackServer;
using test::read_answer;
using test::send_raw_request;

std::string head(const std::string& headers) {
    return "POST /v1/x HTTP/1.1\r\n" + headers + "\r\n";
}

TEST(RequestHead, AcceptsOrdinaryHeads) {
    EXPECT_FALSE(request_head_problem(head("Host: a\r\nContent-Length: 12\r\n")));
    EXPECT_FALSE(request_head_problem(head("Host: a\r\nTransfer-Encoding: chunked\r\n")));
    EXPECT_FALSE(request_head_problem(head("host: a\r\ncontent-length:  0 \r\n")));
    // The same length twice is one length (RFC 9110 section 8.6).
    EXPECT_FALSE(
        request_head_problem(head("Host: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n")));
    EXPECT_FALSE(request_head_problem("GET / HTTP/1.0\r\n\r\n"));  // HTTP/1.0 needs no Host
    EXPECT_FALSE(request_head_problem("\r\nGET / HTTP/1.1\nHost: a\n\n"));
}

TEST(RequestHead, RefusesWhatHttplibWouldMisread) {
    for (const char* length :
         {"abc", "-1", "0x10", "", "1 2", "+5", "12a", "99999999999999999999"}) {
        SCOPED_TRACE(length);
        const auto problem = request_head_problem(
            head(std::string("Host: a\r\nContent-Length: ") + length + "\r\n"));
        ASSERT_TRUE(problem);
        EXPECT_EQ(problem->status, 400);
        EXPECT_NE(problem->message.find("Content-Length"), std::string::npos);
    }
    const char* const refused[] = {
        "Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n",
        "Host: a\r\nHost: b\r\n",
        "",  // HTTP/1.1 without Host
        "Host: a\r\nOrigin: http://localhost\r\nOrigin: http://evil\r\n",
        "Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Host: a\r\nContent-Length : 5\r\n",
        "Host: a\r\nX-A: 1\r\n  folded\r\n",
        "Host: a\r\nno colon here\r\n",
    };
    for (const char* headers : refused) {
        SCOPED_TRACE(headers);
        const auto problem = request_head_problem(head(headers));
        ASSERT_TRUE(problem);
        EXPECT_EQ(problem->status, 400);
    }
    const auto gzip = request_head_problem(head("Host: a\r\nTransfer-Encoding: gzip, chunked\r\n"));
    ASSERT_TRUE(gzip);
    EXPECT_EQ(gzip->status, 501);
}

TEST(RequestHead, TargetForTheErrorShape) {
    EXPECT_EQ(request_target("POST /api/chat?x=1 HTTP/1.1\r\n"), "/api/chat?x=1");
    EXPECT_EQ(request_target("\r\nGET / HTTP/1.1\r\n"), "/");
    EXPECT_EQ(request_target("garbage"), "");
}

class Connections : public ::testing::Test {
  protected:
    void SetUp() override {
        server_.router().Get("/n", [this](const httplib::Request& req, httplib::Response& res) {
            res.set_content(req.get_param_value("i") + ";" + std::to_string(++count_),
                            "text/plain");
        });
        server_.router().Post("/api/echo", [](const httplib::Request& req, httplib::Response& res) {
            res.set_content(req.body, "application/json");
        });
        server_.router().Post("/v1/echo", [](const httplib::Request& req, httplib::Response& res) {
            res.set_content(req.body, "application/json");
        });
        // Answers only after the client's side of the connection is known to be shut.
        server_.router().Get(
            "/after-half-close", [](const httplib::Request& req, httplib::Response& res) {
                ClientConnection connection(req);
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                res.set_content(connection.disconnected() ? "gone" : "present", "text/plain");
            });
        server_.router().Get("/stream", [](const httplib::Request&, httplib::Response& res) {
            res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
                for (int i = 0; i < 20; ++i) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                    if (!sink.is_writable() || !sink.write("x", 1)) return false;
                }
                sink.done();
                return true;
            });
        });
        port_ = server_.start();
    }

    LoopbackServer server_;
    std::atomic<int> count_{0};
    int port_ = 0;
};

TEST_F(Connections, PipelinedRequestsAreAllAnsweredInOrder) {
    std::string requests;
    for (int i = 0; i < 4; ++i)
        requests += "GET /n?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    requests += "POST /v1/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    requests += "GET /n?i=last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    const std::string answer = read_answer(send_raw_request(port_, requests), "last;5");
    size_t at = 0;
    for (const char* body : {"0;1", "1;2", "2;3", "3;4", "{\"a\":1}", "last;5"}) {
        const size_t found = answer.find(body, at);
        ASSERT_NE(found, std::string::npos) << body << " in\n" << answer;
        at = found;
    }
    size_t statuses = 0;
    for (size_t i = answer.find("HTTP/1.1 200"); i != std::string::npos;
         i = answer.find("HTTP/1.1 200", i + 1)) {
        ++statuses;
    }
    EXPECT_EQ(statuses, 6u);
}

TEST_F(Connections, BadHeadsAreAnswered400AtOnceInTheirApisShape) {
    for (const char* length : {"abc", "-1", "0x10", ""}) {
        SCOPED_TRACE(length);
        const auto start = std::chrono::steady_clock::now();
        const std::string answer =
            read_answer(send_raw_request(port_, std::string("POST /api/echo HTTP/1.1\r\nHost: a\r\n"
                                                            "Content-Length: ") +
                                                    length + "\r\n\r\n{}"),
                        "\"}");
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
        EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
        EXPECT_NE(answer.find("Connection: close"), std::string::npos);
        EXPECT_NE(answer.find("{\"error\":\"Content-Length must be"), std::string::npos) << answer;
    }
    const std::string openai =
        read_answer(send_raw_request(port_, "GET /n HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "}}");
    EXPECT_EQ(openai.rfind("HTTP/1.1 400", 0), 0u) << openai;
    EXPECT_NE(openai.find("\"type\":\"invalid_request_error\""), std::string::npos) << openai;
    EXPECT_NE(openai.find("more than one Host"), std::string::npos) << openai;
    EXPECT_EQ(count_, 0);  // no handler ran for any of them
}

TEST_F(Connections, AHugeHeadIs431) {
    const std::string answer = read_answer(
        send_raw_request(port_, "GET /n HTTP/1.1\r\nHost: a\r\nX-Big: " +
                                    std::string(kMaxRequestHeadBytes, 'x') + "\r\n\r\n"),
        "}}");
    EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
}

TEST_F(Connections, AHalfClosedClientGetsItsAnswer) {
    int fd = send_raw_request(port_, "GET /after-half-close HTTP/1.1\r\nHost: a\r\n\r\n");
    shutdown(fd, SHUT_WR);
    std::string answer = read_answer(fd, "present");
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
    EXPECT_NE(answer.find("present"), std::string::npos) << answer;

    fd = send_raw_request(port_, "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    shutdown(fd, SHUT_WR);
    answer = read_answer(fd, "\r\n0\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
    size_t xs = 0;
    for (size_t i = answer.find("\r\n\r\n"); i < answer.size(); ++i) xs += answer[i] == 'x';
    EXPECT_EQ(xs, 20u) << answer;
}

// A client that closes while its answer is being made (not right after sending it) is gone.
TEST_F(Connections, AClientThatLeavesLaterIsGone) {
    std::atomic<bool> started{false};
    std::atomic<int> verdict{-1};
    server_.router().Get("/watch", [&](const httplib::Request& req, httplib::Response& res) {
        ClientConnection connection(req);
        started = true;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (!connection.disconnected() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        verdict = connection.disconnected() ? 1 : 0;
        res.set_content("late", "text/plain");
    });
    const int fd = send_raw_request(port_, "GET /watch HTTP/1.1\r\nHost: a\r\n\r\n");
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    shutdown(fd, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (verdict < 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    close(fd);
    EXPECT_EQ(verdict, 1);
}

}  // namespace
}  // namespace cria::server
