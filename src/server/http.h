// The HTTP layer under the API: a cpp-httplib listener with a body-size cap and read timeouts,
// access control in front of every route (API key, CORS, Host check: see access.h), request
// counting for /metrics, JSON error bodies for every failure httplib answers on its own
// (unknown path, oversized body, a throwing handler), server-sent-event framing, and detection
// of clients that went away.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/access.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/router.h"

namespace cria::server {

inline constexpr int kDefaultPort = 11434;
inline constexpr const char* kDefaultHost = "127.0.0.1";

struct HostPort {
    std::string host;
    int port = kDefaultPort;
};

// Parses CRIA_HOST-style addresses: "host:port", "host", ":port", "[::1]:port", with an optional
// "http://" prefix and trailing "/". Port 0 asks the system for a free port.
Expected<HostPort> parse_host_port(std::string_view text);

struct HttpOptions {
    uint64_t max_body_bytes = 16ull << 20;  // chat requests are text: 16 MiB is generous
    // Routes under this prefix stream their bodies to disk (model uploads) and may receive up
    // to max_upload_bytes; they read with a ContentReader and enforce that cap themselves (httplib
    // does not for streamed bodies). 0: no such routes.
    std::string upload_path_prefix = "/api/blobs/";
    uint64_t max_upload_bytes = 0;
    int worker_threads = 16;  // concurrent connections served (others wait)
    // A client that sends nothing for this long (in the middle of its headers or body) is cut
    // off: a stalled upload cannot hold a worker thread for ever.
    int read_timeout_s = 30;
    int write_timeout_s = 30;
    // Checked before a request is routed (and before its body is read).
    AccessPolicy access;
    // When set, every answered request is counted; not owned, must outlive the server.
    Metrics* metrics = nullptr;
};

class HttpServer {
  public:
    explicit HttpServer(const HttpOptions& options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Routes are registered on the underlying server before bind().
    Router& router() { return *server_; }

    // Binds the listening socket; returns the port (the chosen one when `port` is 0).
    Expected<int> bind(const std::string& host, int port);
    // Serves until stop() is called from another thread or a signal handler's thread.
    Status serve();
    void stop();

  private:
    // Answers 413 for a non-upload body declared larger than max_body_bytes, and 404 for a
    // chunked body that no route of the Router reads; true when it did.
    bool body_over_cap(const httplib::Request& req, httplib::Response& res) const;

    HttpOptions options_;
    std::unique_ptr<Router> server_;
};

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body);
void send_error(httplib::Response& res, const ApiError& error);
// The error in the shape of the API that `path` belongs to (see error_shape_for_path): OpenAI's
// object, or Ollama's {"error": message}.
void send_error_for_path(httplib::Response& res, std::string_view path, const ApiError& error);

// Writes server-sent events into a chunked response. Every send reports whether the client
// still takes data; after the first failure all later sends fail too.
class SseWriter {
  public:
    explicit SseWriter(httplib::DataSink& sink) : sink_(sink) {}
    bool send(const nlohmann::ordered_json& payload) { return write(sse_event(payload)); }
    bool send_done() { return write(kSseDone); }
    bool failed() const { return failed_; }

  private:
    bool write(std::string_view frame);
    httplib::DataSink& sink_;
    bool failed_ = false;
};

// Sets the headers of an event stream (no caching, no proxy buffering).
void set_event_stream_headers(httplib::Response& res);

// Tells whether the client behind a request has gone, without reading from it: the socket is
// found by the connection's addresses and polled. A client that shut down its sending side
// before its request was handled (a half-close: it still reads) is gone only when the
// connection breaks; one that closes later, while its answer is being made, is gone at once.
class ClientConnection {
  public:
    explicit ClientConnection(const httplib::Request& req);
    // False when the socket could not be identified: generation then ends only on write errors.
    bool watchable() const { return fd_ >= 0; }
    bool disconnected() const;

  private:
    int fd_ = -1;
    bool half_closed_ = false;  // the client had shut down its sending side when we started
};

}  // namespace cria::server
