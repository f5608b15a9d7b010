#include "server/router.h"

#include <cstdlib>
#include <utility>

#include "server/http.h"

namespace cria::server {

Router::HandlerWithContentReader Router::capped(Handler handler) const {
    const uint64_t cap = max_body_bytes_;
    return [cap, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                               const httplib::ContentReader& reader) {
        if (req.is_multipart_form_data()) {
            res.set_header("Connection", "close");  // the body is left unread
            ApiError error = invalid_request("multipart/form-data bodies are not accepted");
            error.http_status = 415;
            return send_error_for_path(res, req.path, error);
        }
        httplib::Request with_body = req;
        bool over_cap = false;
        const bool complete = reader([&](const char* data, size_t size) {
            if (with_body.body.size() + size > cap) {
                over_cap = true;
                return false;
            }
            with_body.body.append(data, size);
            return true;
        });
        // httplib stops at its own cap (the larger upload one) for a declared length.
        const std::string length = req.get_header_value("Content-Length");
        over_cap = over_cap || (!complete && !length.empty() &&
                                std::strtoull(length.c_str(), nullptr, 10) > cap);
        if (over_cap || !complete) {
            // Unread bytes may follow: the connection cannot carry another request.
            res.set_header("Connection", "close");
            if (over_cap) return send_error_for_path(res, req.path, body_too_large(cap));
            ApiError error = invalid_request("The request body could not be read.");
            return send_error_for_path(res, req.path, error);
        }
        handler(with_body, res);
    };
}

// The plain handler is registered too: httplib routes a request that it expects no body for
// (a DELETE without one) to the plain handlers only.
bool Router::reads_body(const std::string& method, const std::string& path) const {
    for (const auto& [route_method, pattern] : body_routes_) {
        if (route_method == method && std::regex_match(path, pattern)) return true;
    }
    return false;
}

Router& Router::Post(const std::string& pattern, Handler handler) {
    body_routes_.emplace_back("POST", std::regex(pattern));
    httplib::Server::Post(pattern, capped(handler));
    httplib::Server::Post(pattern, std::move(handler));
    return *this;
}

Router& Router::Post(const std::string& pattern, HandlerWithContentReader handler) {
    body_routes_.emplace_back("POST", std::regex(pattern));
    httplib::Server::Post(pattern, std::move(handler));
    return *this;
}

Router& Router::Delete(const std::string& pattern, Handler handler) {
    body_routes_.emplace_back("DELETE", std::regex(pattern));
    httplib::Server::Delete(pattern, capped(handler));
    httplib::Server::Delete(pattern, std::move(handler));
    return *this;
}

Router& Router::Delete(const std::string& pattern, HandlerWithContentReader handler) {
    body_routes_.emplace_back("DELETE", std::regex(pattern));
    httplib::Server::Delete(pattern, std::move(handler));
    return *this;
}

}  // namespace cria::server
