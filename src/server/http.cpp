#include "server/http.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include "core/log.h"

namespace cria::server {

Expected<HostPort> parse_host_port(std::string_view text) {
    HostPort out;
    out.host = kDefaultHost;
    std::string_view rest = text;
    for (std::string_view scheme : {"http://", "https://"}) {
        if (rest.substr(0, scheme.size()) == scheme) rest.remove_prefix(scheme.size());
    }
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.empty()) return out;
    // A port alone ("12345") listens on the default host.
    if (rest.find_first_not_of("0123456789") == std::string_view::npos) {
        return parse_host_port(":" + std::string(rest));
    }

    std::string_view host = rest;
    std::string_view port;
    if (rest.front() == '[') {
        const size_t close = rest.find(']');
        if (close == std::string_view::npos) {
            return invalid_argument("address '" + std::string(text) + "' has an unclosed '['");
        }
        host = rest.substr(1, close - 1);
        std::string_view after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return invalid_argument("address '" + std::string(text) +
                                        "': expected ':' after ']'");
            }
            port = after.substr(1);
        }
    } else {
        const size_t colon = rest.rfind(':');
        if (colon != std::string_view::npos) {
            if (rest.find(':') != colon) {
                return invalid_argument("address '" + std::string(text) +
                                        "': write IPv6 addresses as [addr]:port");
            }
            host = rest.substr(0, colon);
            port = rest.substr(colon + 1);
        }
    }
    if (!host.empty()) out.host = std::string(host);
    if (!port.empty()) {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
            return invalid_argument("address '" + std::string(text) + "' has an invalid port");
        }
        const int value = std::atoi(std::string(port).c_str());
        if (value > 65535) {
            return invalid_argument("address '" + std::string(text) + "': port above 65535");
        }
        out.port = value;
    }
    return out;
}

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
                    "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) {
    send_json(res, error.http_status, error_json(error));
}

void send_error_for_path(httplib::Response& res, std::string_view path, const ApiError& error) {
    if (error_shape_for_path(path) == ErrorShape::kOllama) {
        send_json(res, error.http_status, nlohmann::ordered_json{{"error", error.message}});
    } else {
        send_error(res, error);
    }
}

namespace {

// How long an idle keep-alive connection is kept, at most (httplib's default).
constexpr int kKeepAliveTimeoutSeconds = 5;
constexpr size_t kKeepAliveMaxRequests = 10000;

// The header's value, std::nullopt when absent.
std::optional<std::string> header(const httplib::Request& req, const char* name) {
    if (!req.has_header(name)) return std::nullopt;
    return req.get_header_value(name);
}

std::optional<std::string_view> view(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    return std::string_view(*text);
}

// The access decision for a request (see access.h).
AccessDecision decide_access(const AccessPolicy& policy, const httplib::Request& req) {
    const std::optional<std::string> host = header(req, "Host");
    const std::optional<std::string> origin = header(req, "Origin");
    const std::optional<std::string> authorization = header(req, "Authorization");
    const std::optional<std::string> preflight_method =
        header(req, "Access-Control-Request-Method");
    const std::optional<std::string> preflight_headers =
        header(req, "Access-Control-Request-Headers");
    RequestHead head;
    head.method = req.method;
    head.path = req.path;
    head.host = view(host);
    head.origin = view(origin);
    head.authorization = view(authorization);
    head.preflight_method = view(preflight_method);
    head.preflight_headers = view(preflight_headers);
    return policy.decide(head);
}

ApiError unknown_url(const httplib::Request& req) {
    ApiError error = invalid_request("Unknown request URL: " + req.method + " " + req.path + ".");
    error.http_status = 404;
    error.code = "unknown_url";
    return error;
}

ApiError access_error(int status, std::string message, std::string code) {
    ApiError error = invalid_request(std::move(message), std::nullopt, std::move(code));
    error.http_status = status;
    return error;
}

// Answers a request that the access policy stops before routing.
void answer_refused(const httplib::Request& req, httplib::Response& res,
                    const AccessDecision& decision) {
    switch (decision.verdict) {
        case Verdict::kUnauthorized:
            res.set_header("WWW-Authenticate", "Bearer");
            send_error_for_path(
                res, req.path,
                access_error(401,
                             req.has_header("Authorization") ? "Incorrect API key provided."
                                                             : "Missing API key: send it as "
                                                               "'Authorization: Bearer <key>' "
                                                               "(the server's CRIA_API_KEY).",
                             "invalid_api_key"));
            break;
        case Verdict::kForbiddenHost:
            send_error_for_path(res, req.path,
                                access_error(403,
                                             "Host '" + req.get_header_value("Host") +
                                                 "' is not allowed (add it to "
                                                 "CRIA_ALLOWED_HOSTS).",
                                             "host_not_allowed"));
            break;
        case Verdict::kForbiddenOrigin:
            send_error_for_path(res, req.path,
                                access_error(403,
                                             "Origin '" + req.get_header_value("Origin") +
                                                 "' is not allowed (add it to CRIA_ORIGINS).",
                                             "origin_not_allowed"));
            break;
        case Verdict::kPreflight:
        case Verdict::kProceed:
            break;
    }
    // The request's body was not read, so the rest of the connection would be read as the next
    // request: tell the client to open a new one.
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
        res.set_header("Connection", "close");
    }
}

}  // namespace

bool HttpServer::body_over_cap(const httplib::Request& req, httplib::Response& res) const {
    const bool upload = options_.max_upload_bytes > 0 && !options_.upload_path_prefix.empty() &&
                        req.path.rfind(options_.upload_path_prefix, 0) == 0;
    const bool chunked =
        req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
    if (chunked && !server_->reads_body(req.method, req.path)) {
        // A chunked body for no route: httplib would read it whole before finding none.
        res.set_header("Connection", "close");
        send_error_for_path(res, req.path, unknown_url(req));
        return true;
    }
    if (upload || options_.max_upload_bytes <= options_.max_body_bytes) return false;
    // httplib would read up to the upload cap: refuse larger bodies before reading them.
    const std::string length = req.get_header_value("Content-Length");
    char* end = nullptr;
    const unsigned long long declared = std::strtoull(length.c_str(), &end, 10);
    if (!length.empty() && (*end != '\0' || declared > options_.max_body_bytes)) {
        res.set_header("Connection", "close");
        send_error_for_path(res, req.path, body_too_large(options_.max_body_bytes));
        return true;
    }
    return false;
}

HttpServer::HttpServer(const HttpOptions& options)
    : options_(options), server_(std::make_unique<Router>(options.max_body_bytes)) {
    const int threads = options_.worker_threads;
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // httplib's default sets SO_REUSEPORT, with which a second server binds the same port and
    // the kernel splits connections between the two. SO_REUSEADDR alone still allows a restart
    // while old connections linger in TIME_WAIT, but not two listeners.
    server_->set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // httplib has one payload cap for every route: the larger of the two, with the smaller one
    // enforced below, before routing, for everything that is not an upload.
    server_->set_payload_max_length(std::max(options_.max_body_bytes, options_.max_upload_bytes));
    server_->set_read_timeout(options_.read_timeout_s, 0);
    // An idle keep-alive connection is a client staying silent too (and httplib keeps one open
    // even after a request it could not read): never wait on it longer than on a request.
    server_->set_keep_alive_timeout(std::min(kKeepAliveTimeoutSeconds, options_.read_timeout_s));
    // A client may send many requests on one connection (pipelined or not): httplib closes
    // after 5 by default.
    server_->set_keep_alive_max_count(kKeepAliveMaxRequests);
    server_->set_write_timeout(options_.write_timeout_s, 0);
    const uint64_t cap = options_.max_body_bytes;
    // httplib answers some failures itself (no route, body over the cap, a bad request line)
    // with an empty body; give those the same JSON error shape as everything else. Responses a
    // handler already filled in are left alone.
    using ErrorHandler = httplib::Server::HandlerWithResponse;
    server_->set_error_handler(ErrorHandler([cap](const httplib::Request& req,
                                                  httplib::Response& res) {
        if (!res.body.empty() || res.content_provider_ != nullptr) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        // After a request httplib could not read (a stalled or oversized body, a malformed
        // head) the connection is in an unknown state: tell the client not to send another
        // request on it (httplib itself keeps it open until the keep-alive timeout).
        if (res.status == 400 || res.status == 408 || res.status == 413 || res.status == 414) {
            res.set_header("Connection", "close");
        }
        if (res.status == 413) {
            send_error_for_path(res, req.path, body_too_large(cap));
        } else if (res.status == 404) {
            send_error_for_path(res, req.path, unknown_url(req));
        } else if (res.status == 500) {
            send_error_for_path(res, req.path,
                                internal_fault("The server had an error processing the request."));
        } else {
            ApiError error = invalid_request("The request could not be read (HTTP " +
                                             std::to_string(res.status) + ").");
            error.http_status = res.status;
            send_error_for_path(res, req.path, error);
        }
        return httplib::Server::HandlerResponse::Handled;
    }));
    // Access control runs before routing, so it covers every route, unknown paths included,
    // and refuses a request before reading its body.
    server_->set_pre_routing_handler(
        ErrorHandler([this](const httplib::Request& req, httplib::Response& res) {
            const AccessDecision decision = decide_access(options_.access, req);
            if (decision.verdict == Verdict::kProceed) {
                if (body_over_cap(req, res)) return httplib::Server::HandlerResponse::Handled;
                return httplib::Server::HandlerResponse::Unhandled;
            }
            if (decision.verdict == Verdict::kPreflight) {
                res.status = 204;
                res.set_header("Access-Control-Allow-Methods", kCorsAllowedMethods);
                res.set_header("Access-Control-Allow-Headers", decision.allow_headers);
                res.set_header("Access-Control-Max-Age", std::to_string(kCorsMaxAgeSeconds));
            } else {
                answer_refused(req, res, decision);
            }
            return httplib::Server::HandlerResponse::Handled;
        }));
    // Runs for every response (handlers', errors', preflights'): an allowed browser origin may
    // read it.
    server_->set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!req.has_header("Origin")) return;
        const AccessDecision decision = decide_access(options_.access, req);
        if (decision.allow_origin.empty() || res.has_header("Access-Control-Allow-Origin")) {
            return;
        }
        res.set_header("Access-Control-Allow-Origin", decision.allow_origin);
        res.set_header("Vary", "Origin");
    });
    if (options_.metrics != nullptr) {
        Metrics* metrics = options_.metrics;
        // The logger sees every response once, after it was written.
        const Router* router = server_.get();
        server_->set_logger(
            [metrics, router](const httplib::Request& req, const httplib::Response& res) {
                metrics->record_request(router->route_label(req.path), res.status);
            });
    }
    server_->set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "unknown exception";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            CRIA_LOG_ERROR("internal error serving %s %s: %s", req.method.c_str(), req.path.c_str(),
                           what.c_str());
            send_error(res, internal_fault("The server had an error processing the request."));
        });
}

HttpServer::~HttpServer() {
    stop();
}

Expected<int> HttpServer::bind(const std::string& host, int port) {
    if (port == 0) {
        const int chosen = server_->bind_to_any_port(host);
        if (chosen <= 0) return io_error("cannot listen on " + host + " (no free port)");
        return chosen;
    }
    errno = 0;
    if (!server_->bind_to_port(host, port)) {
        const int error = errno;
        return io_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                        (error == EADDRINUSE ? std::string("address already in use")
                         : error != 0        ? std::string(std::strerror(error))
                                             : std::string("address not available")));
    }
    return port;
}

Status HttpServer::serve() {
    if (!server_->listen_after_bind()) return io_error("the listener stopped on an error");
    return Status::ok();
}

void HttpServer::stop() {
    if (server_->is_running()) server_->stop();
}

bool SseWriter::write(std::string_view frame) {
    if (failed_) return false;
    if (!sink_.is_writable() || !sink_.write(frame.data(), frame.size())) failed_ = true;
    return !failed_;
}

void set_event_stream_headers(httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
}

namespace {

// The numeric host and port of a socket address, written as httplib writes them for Request.
bool describe(const sockaddr_storage& address, socklen_t length, std::string* host, int* port) {
    char host_buf[NI_MAXHOST];
    char port_buf[NI_MAXSERV];
    if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host_buf, sizeof(host_buf),
                    port_buf, sizeof(port_buf), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return false;
    }
    *host = host_buf;
    *port = std::atoi(port_buf);
    return true;
}

// httplib does not hand its handlers the connection's socket. A TCP connection is named
// uniquely by its two endpoints, so the server's end is the one open descriptor whose local
// end is the request's local address and whose peer is the request's remote address (a client
// in this same process holds the mirror image, which does not match).
int find_connection_socket(const httplib::Request& req) {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return -1;
    int found = -1;
    while (dirent* entry = readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0') continue;
        sockaddr_storage address{};
        socklen_t length = sizeof(address);
        std::string host;
        int port = -1;
        if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&address), &length) !=
                0 ||
            !describe(address, length, &host, &port) || port != req.remote_port ||
            host != req.remote_addr) {
            continue;
        }
        length = sizeof(address);
        if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&address), &length) !=
                0 ||
            !describe(address, length, &host, &port) || port != req.local_port ||
            host != req.local_addr) {
            continue;
        }
        found = static_cast<int>(fd);
        break;
    }
    closedir(dir);
    return found;
}

}  // namespace

ClientConnection::ClientConnection(const httplib::Request& req) : fd_(find_connection_socket(req)) {
    if (fd_ < 0) {
        CRIA_LOG_DEBUG("cannot identify the socket of %s:%d; disconnects show only on writes",
                       req.remote_addr.c_str(), req.remote_port);
        return;
    }
    pollfd probe{fd_, POLLRDHUP, 0};
    half_closed_ = poll(&probe, 1, 0) > 0 && (probe.revents & POLLRDHUP) != 0;
}

bool ClientConnection::disconnected() const {
    if (fd_ < 0) return false;
    pollfd probe{fd_, POLLRDHUP, 0};
    if (poll(&probe, 1, 0) <= 0) return false;
    const short broken = POLLHUP | POLLERR | POLLNVAL;
    return (probe.revents & (half_closed_ ? broken : broken | POLLRDHUP)) != 0;
}

}  // namespace cria::server
