// An HttpServer on a free 127.0.0.1 port, serving on its own thread for a test's lifetime.
#pragma once

#include <gtest/gtest.h>

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

}  // namespace cria::server::test
