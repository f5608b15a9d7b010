#include "server/router.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>
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

std::string Router::pattern_regex(const std::string& pattern) {
    std::string regex;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '{') {
            const size_t close = pattern.find('}', i);
            const bool rest =
                close != std::string::npos && close > i + 1 && pattern[close - 1] == '+';
            regex += rest ? "(.+)" : "([^/]+)";
            i = close == std::string::npos ? pattern.size() : close;
            continue;
        }
        // Everything else is literal text.
        if (std::string_view(".^$|()[]*+?\\").find(c) != std::string_view::npos) regex += '\\';
        regex += c;
    }
    return regex;
}

std::string Router::add_route(const char* method, const std::string& pattern) {
    std::string label = pattern;
    label.erase(std::remove(label.begin(), label.end(), '+'), label.end());
    std::string regex = pattern_regex(pattern);
    routes_.push_back({method, std::move(label), std::regex(regex)});
    return regex;
}

std::string Router::route_label(const std::string& path) const {
    for (const Route& route : routes_) {
        if (std::regex_match(path, route.regex)) return route.label;
    }
    return "other";
}

// The plain handler is registered too: httplib routes a request that it expects no body for
// (a DELETE without one) to the plain handlers only.
bool Router::reads_body(const std::string& method, const std::string& path) const {
    for (const Route& route : routes_) {
        if ((method == "POST" || method == "DELETE") && route.method == method &&
            std::regex_match(path, route.regex)) {
            return true;
        }
    }
    return false;
}

Router& Router::Get(const std::string& pattern, Handler handler) {
    httplib::Server::Get(add_route("GET", pattern), std::move(handler));
    return *this;
}

Router& Router::Post(const std::string& pattern, Handler handler) {
    const std::string regex = add_route("POST", pattern);
    httplib::Server::Post(regex, capped(handler));
    httplib::Server::Post(regex, std::move(handler));
    return *this;
}

Router& Router::Post(const std::string& pattern, HandlerWithContentReader handler) {
    httplib::Server::Post(add_route("POST", pattern), std::move(handler));
    return *this;
}

Router& Router::Delete(const std::string& pattern, Handler handler) {
    const std::string regex = add_route("DELETE", pattern);
    httplib::Server::Delete(regex, capped(handler));
    httplib::Server::Delete(regex, std::move(handler));
    return *this;
}

Router& Router::Delete(const std::string& pattern, HandlerWithContentReader handler) {
    httplib::Server::Delete(add_route("DELETE", pattern), std::move(handler));
    return *this;
}

}  // namespace cria::server
