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

class Router : public httplib::Server {
  public:
    explicit Router(uint64_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

    // These hide httplib's overloads of the same names: a plain handler gets the request with
    // its body read under the cap (413 in the API's error shape beyond it); a handler with a
    // ContentReader reads the body itself and enforces its own cap.
    Router& Post(const std::string& pattern, Handler handler);
    Router& Post(const std::string& pattern, HandlerWithContentReader handler);
    Router& Delete(const std::string& pattern, Handler handler);
    Router& Delete(const std::string& pattern, HandlerWithContentReader handler);

    // Whether a route registered here reads the body of a `method` request for `path`. Routes
    // registered through httplib::Server's own methods are not known here.
    bool reads_body(const std::string& method, const std::string& path) const;

  private:
    HandlerWithContentReader capped(Handler handler) const;

    uint64_t max_body_bytes_;
    std::vector<std::pair<std::string, std::regex>> body_routes_;  // method, pattern
};

}  // namespace cria::server
