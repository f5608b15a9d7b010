// An HttpServer on a free 127.0.0.1 port, serving on its own thread for a test's lifetime.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "server/http.h"

namespace cria::server::test {

class LoopbackServer {
  public:
    explicit LoopbackServer(const HttpOptions& options = {}) : http_(options) {}
    ~LoopbackServer() {
        http_.stop();
        if (thread_.joinable()) thread_.join();
    }
    Router& router() { return http_.router(); }
    int start() {
        auto port = http_.bind("127.0.0.1", 0);
        EXPECT_TRUE(port.has_value());
        port_ = port.has_value() ? *port : 0;
        thread_ = std::thread([this] { (void)http_.serve(); });
        return port_;
    }
    int port() const { return port_; }
    httplib::Client client() const { return httplib::Client("127.0.0.1", port_); }

  private:
    HttpServer http_;
    std::thread thread_;
    int port_ = 0;
};

// Sends a raw request over a socket and returns the socket without reading the answer.
inline int send_raw_request(int port, const std::string& request) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    return fd;
}

// Reads the answer to a raw request until `end` appears (or the server closes).
inline std::string read_answer(int fd, const std::string& end) {
    std::string answer;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        answer.append(buffer, static_cast<size_t>(n));
        if (answer.find(end) != std::string::npos) break;
    }
    close(fd);
    return answer;
}

}  // namespace cria::server::test
