#include "server/router.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "server/connection.h"
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

namespace {

const char* reason_phrase(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 408:
            return "Request Timeout";
        case 431:
            return "Request Header Fields Too Large";
        case 501:
            return "Not Implemented";
        default:
            return "Error";
    }
}

// Answers a request httplib is not given, in the error shape of the API its path names.
void refuse_head(ConnectionStream& stream, std::string_view target, int status,
                 const std::string& message) {
    httplib::Response res;
    ApiError error = invalid_request(message);
    error.http_status = status;
    send_error_for_path(res, std::string(target.substr(0, target.find('?'))), error);
    const std::string content_type = res.get_header_value("Content-Type");
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    out += "Content-Type: " + (content_type.empty() ? "application/json" : content_type) + "\r\n";
    out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    out += res.body;
    stream.write(out.data(), out.size());
}

}  // namespace

bool Router::process_and_close_socket(socket_t sock) {
    ConnectionStream stream(sock, read_timeout_sec_, write_timeout_sec_);
    // Waiting for the next request is cut into short polls, so that stop() ends idle
    // connections at once instead of after the keep-alive timeout.
    constexpr int kPollMs = 100;
    const auto keep_alive = std::chrono::seconds(keep_alive_timeout_sec_);
    bool ok = true;
    for (size_t served = 0; served < keep_alive_max_count_; ++served) {
        ConnectionStream::Wait wait = ConnectionStream::Wait::kTimeout;
        const auto idle_since = std::chrono::steady_clock::now();
        while (svr_sock_ != INVALID_SOCKET) {
            wait = stream.wait_for_request(kPollMs);
            if (wait != ConnectionStream::Wait::kTimeout) break;
            if (std::chrono::steady_clock::now() - idle_since >= keep_alive) break;
        }
        if (wait != ConnectionStream::Wait::kData) break;
        const ConnectionStream::Head head = stream.buffer_head();
        if (head == ConnectionStream::Head::kTooLarge) {
            refuse_head(stream, "", 431,
                        "The request head is larger than the limit of " +
                            std::to_string(kMaxRequestHeadBytes) + " bytes.");
            break;
        }
        if (head != ConnectionStream::Head::kComplete) {
            // A client that stops in the middle of its head, or leaves: nothing to answer.
            if (head == ConnectionStream::Head::kTimeout) {
                refuse_head(stream, "", 408, "The request head was not received in time.");
            }
            break;
        }
        if (std::optional<HeadProblem> problem = request_head_problem(stream.head())) {
            refuse_head(stream, request_target(stream.head()), problem->status, problem->message);
            break;
        }
        bool connection_closed = false;
        const bool last = served + 1 == keep_alive_max_count_;
        ok = process_request(stream, last, connection_closed, nullptr);
        if (!ok || connection_closed) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
}

}  // namespace cria::server
