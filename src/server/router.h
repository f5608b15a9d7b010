// The route table under the HTTP layer: httplib's server, with the routes that take a body
// (POST and DELETE) reading it under the body cap whether it comes with a Content-Length or
// chunked. httplib caps only bodies of declared length; a chunked body would otherwise be read
// into memory whole, however large.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace cria::server {

// Routes are written as paths with named parameters, "/api/blobs/{digest}" (one path segment)
// or "/v1/models/{model+}" (the rest of the path, slashes included); each parameter is a regex
// group, in order, in req.matches. The pattern as written (without '+') is the route's label,
// so that metrics count requests by route from the table itself.
class Router : public httplib::Server {
  public:
    explicit Router(uint64_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

    // These hide httplib's overloads of the same names. Post and Delete: a plain handler gets
    // the request with its body read under the cap (413 in the API's error shape beyond it); a
    // handler with a ContentReader reads the body itself and enforces its own cap.
    Router& Get(const std::string& pattern, Handler handler);
    Router& Post(const std::string& pattern, Handler handler);
    Router& Post(const std::string& pattern, HandlerWithContentReader handler);
    Router& Delete(const std::string& pattern, Handler handler);
    Router& Delete(const std::string& pattern, HandlerWithContentReader handler);

    // Whether a route registered here reads the body of a `method` request for `path`. Routes
    // registered through httplib::Server's own methods are not known here.
    bool reads_body(const std::string& method, const std::string& path) const;

    // The label of the first route whose pattern matches `path` ("/v1/models/{model}"), or
    // "other": a bounded set, whatever paths clients probe.
    std::string route_label(const std::string& path) const;

    // "/v1/models/{model+}" -> the regex "/v1/models/(.+)"; exposed for tests.
    static std::string pattern_regex(const std::string& pattern);

  private:
    // httplib calls this for each accepted connection: its requests are served in order,
    // pipelined ones included, through one ConnectionStream, and a head that
    // request_head_problem() refuses is answered 400 and ends the connection (its framing is
    // unknown).
    bool process_and_close_socket(socket_t sock) override;

    struct Route {
        std::string method;
        std::string label;
        std::regex regex;
    };
    // Records the route; returns the regex httplib matches it with.
    std::string add_route(const char* method, const std::string& pattern);
    HandlerWithContentReader capped(Handler handler) const;

    uint64_t max_body_bytes_;
    std::vector<Route> routes_;  // in registration order
};

}  // namespace cria::server
