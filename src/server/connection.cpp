#include "server/connection.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace cria::server {
namespace {

constexpr size_t kReadChunk = 16 * 1024;

// poll() one event on `fd`, retrying on EINTR; the revents, or 0 on a timeout or an error.
short poll_one(int fd, short events, int timeout_ms) {
    pollfd probe{fd, events, 0};
    int n = 0;
    do {
        n = ::poll(&probe, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? probe.revents : 0;
}

void describe(const sockaddr_storage& address, socklen_t length, std::string& ip, int& port) {
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof(host),
                    service, sizeof(service), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        ip = host;
        port = std::atoi(service);
    }
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::optional<HeadProblem> bad(std::string message, int status = 400) {
    return HeadProblem{status, std::move(message)};
}

}  // namespace

ConnectionStream::ConnectionStream(int fd, time_t read_timeout_s, time_t write_timeout_s)
    : fd_(fd),
      read_timeout_ms_(static_cast<int>(read_timeout_s * 1000)),
      write_timeout_ms_(static_cast<int>(write_timeout_s * 1000)) {}

bool ConnectionStream::is_readable() const {
    return buffered() > 0 || (poll_one(fd_, POLLIN, read_timeout_ms_) & POLLIN) != 0;
}

bool ConnectionStream::is_writable() const {
    const short revents = poll_one(fd_, POLLOUT, write_timeout_ms_);
    return (revents & POLLOUT) != 0 && (revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
}

ssize_t ConnectionStream::fill(int timeout_ms) {
    if ((poll_one(fd_, POLLIN, timeout_ms) & (POLLIN | POLLHUP | POLLERR)) == 0) return -1;
    if (start_ > 0 && start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    }
    const size_t old_size = buffer_.size();
    buffer_.resize(old_size + kReadChunk);
    ssize_t n = 0;
    do {
        n = ::recv(fd_, buffer_.data() + old_size, kReadChunk, 0);
    } while (n < 0 && errno == EINTR);
    buffer_.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    return n;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
    if (buffered() == 0) {
        // A large read (a body) goes straight to the caller once the read-ahead is used up.
        if (size >= kReadChunk) {
            if ((poll_one(fd_, POLLIN, read_timeout_ms_) & (POLLIN | POLLHUP | POLLERR)) == 0) {
                return -1;
            }
            ssize_t n = 0;
            do {
                n = ::recv(fd_, ptr, size, 0);
            } while (n < 0 && errno == EINTR);
            return n;
        }
        const ssize_t n = fill(read_timeout_ms_);
        if (n <= 0) return n;
    }
    const size_t take = std::min(size, buffered());
    std::memcpy(ptr, buffer_.data() + start_, take);
    start_ += take;
    head_ = {};
    return static_cast<ssize_t>(take);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
    size_t done = 0;
    while (done < size) {
        if (!is_writable()) return done > 0 ? static_cast<ssize_t>(done) : -1;
        const ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
        done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        describe(address, length, ip, port);
    }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        describe(address, length, ip, port);
    }
}

ConnectionStream::Wait ConnectionStream::wait_for_request(int timeout_ms) {
    if (buffered() > 0) return Wait::kData;
    const short revents = poll_one(fd_, POLLIN, timeout_ms);
    if (revents == 0) return Wait::kTimeout;
    return fill(0) > 0 ? Wait::kData : Wait::kClosed;
}

ConnectionStream::Head ConnectionStream::buffer_head() {
    // The whole head must arrive within one read timeout, however it is trickled.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(read_timeout_ms_);
    while (true) {
        const std::string_view unread(buffer_.data() + start_, buffered());
        // The head ends at the first empty line after the request line; the parser skips empty
        // lines before the request line (RFC 9112 section 2.2) and takes bare line feeds.
        size_t begin = 0;
        while (begin < unread.size() && (unread[begin] == '\r' || unread[begin] == '\n')) ++begin;
        const size_t crlf = unread.find("\r\n\r\n", begin);
        const size_t lf = unread.find("\n\n", begin);
        const size_t end = std::min(crlf == std::string_view::npos ? crlf : crlf + 4,
                                    lf == std::string_view::npos ? lf : lf + 2);
        if (end != std::string_view::npos) {
            if (end > kMaxRequestHeadBytes) return Head::kTooLarge;
            head_ = unread.substr(0, end);
            return Head::kComplete;
        }
        if (unread.size() > kMaxRequestHeadBytes) return Head::kTooLarge;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return Head::kTimeout;
        const ssize_t n = fill(static_cast<int>(left.count()));
        if (n == 0) return Head::kClosed;
        if (n < 0) return Head::kTimeout;
    }
}

std::string_view request_target(std::string_view head) {
    while (!head.empty() && (head.front() == '\r' || head.front() == '\n')) head.remove_prefix(1);
    const std::string_view line = head.substr(0, head.find('\n'));
    const size_t first = line.find(' ');
    if (first == std::string_view::npos) return {};
    const size_t second = line.find(' ', first + 1);
    return line.substr(
        first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1);
}

std::optional<HeadProblem> request_head_problem(std::string_view head) {
    while (!head.empty() && (head.front() == '\r' || head.front() == '\n')) head.remove_prefix(1);
    size_t line_end = head.find('\n');
    if (line_end == std::string_view::npos) return std::nullopt;  // httplib answers this one
    std::string_view request_line = head.substr(0, line_end);
    if (!request_line.empty() && request_line.back() == '\r') request_line.remove_suffix(1);
    const bool http11 =
        request_line.size() >= 8 && request_line.substr(request_line.size() - 8) == "HTTP/1.1";

    int hosts = 0;
    int origins = 0;
    std::optional<std::string_view> content_length;
    bool transfer_encoding = false;
    size_t at = line_end + 1;
    while (at < head.size()) {
        size_t end = head.find('\n', at);
        if (end == std::string_view::npos) end = head.size();
        std::string_view line = head.substr(at, end - at);
        at = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // the blank line that ends the head
        if (line.front() == ' ' || line.front() == '\t') {
            return bad("folded header lines are not accepted");
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return bad("a header line has no name and colon");
        }
        const std::string_view name = line.substr(0, colon);
        if (name.back() == ' ' || name.back() == '\t') {
            return bad("a header name is followed by whitespace before its colon");
        }
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "Content-Length")) {
            if (value.empty() || value.size() > 18 ||
                !std::all_of(value.begin(), value.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
                return bad("Content-Length must be a decimal number of bytes");
            }
            if (content_length && *content_length != value) {
                return bad("the request has two different Content-Length headers");
            }
            content_length = value;
        } else if (iequals(name, "Transfer-Encoding")) {
            if (transfer_encoding || !iequals(value, "chunked")) {
                return bad("only the chunked transfer coding is accepted", 501);
            }
            transfer_encoding = true;
        } else if (iequals(name, "Host")) {
            ++hosts;
        } else if (iequals(name, "Origin")) {
            ++origins;
        }
    }
    if (content_length && transfer_encoding) {
        return bad("Content-Length and Transfer-Encoding exclude each other");
    }
    if (hosts > 1) return bad("the request has more than one Host header");
    if (hosts == 0 && http11) return bad("an HTTP/1.1 request needs a Host header");
    if (origins > 1) return bad("the request has more than one Origin header");
    return std::nullopt;
}

}  // namespace cria::server
