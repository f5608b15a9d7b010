// One client connection under the HTTP layer: the byte stream httplib parses requests from,
// kept for the connection's whole life, and the checks of a request's head that httplib does
// not make.
//
// httplib (0.11) reads each request through a stream of its own with a read-ahead buffer, and
// drops that buffer when the request is done: the requests a client pipelined behind the first
// were lost. It also parses Content-Length leniently ("abc" as 0, "0x10" as 0, two different
// values with the first winning) and takes the first of repeated Host and Origin headers,
// which lets a request mean one thing to a proxy and another here. ConnectionStream keeps the
// read-ahead for the next request, and request_head_problem() refuses such heads before
// httplib sees them.
#pragma once

#include <httplib.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace cria::server {

// The largest request head (request line and headers) read; a longer one is refused with 431.
inline constexpr size_t kMaxRequestHeadBytes = 64 * 1024;

class ConnectionStream final : public httplib::Stream {
  public:
    ConnectionStream(int fd, time_t read_timeout_s, time_t write_timeout_s);

    // httplib::Stream. A half-closed client (one that shut down its sending side after its
    // request) can still be written to: writability looks at the sending side only.
    bool is_readable() const override;
    bool is_writable() const override;
    ssize_t read(char* ptr, size_t size) override;
    ssize_t write(const char* ptr, size_t size) override;
    void get_remote_ip_and_port(std::string& ip, int& port) const override;
    void get_local_ip_and_port(std::string& ip, int& port) const override;
    int socket() const override { return fd_; }

    enum class Wait { kData, kClosed, kTimeout };
    // Waits up to `timeout_ms` for the first byte of another request (buffered bytes count).
    Wait wait_for_request(int timeout_ms);

    enum class Head { kComplete, kTooLarge, kClosed, kTimeout };
    // Reads until the buffered bytes hold a whole request head (up to the blank line), all of
    // it within the read timeout; on kComplete, head() views it. Nothing is consumed.
    Head buffer_head();
    std::string_view head() const { return head_; }

  private:
    // Reads what the socket has (waiting up to `timeout_ms`) onto the end of buffer_; the
    // number of bytes read, 0 at the end of the stream, -1 on an error or a timeout.
    ssize_t fill(int timeout_ms);
    size_t buffered() const { return buffer_.size() - start_; }

    int fd_;
    int read_timeout_ms_;
    int write_timeout_ms_;
    std::string buffer_;  // bytes read ahead; the unread ones are [start_, size())
    size_t start_ = 0;
    std::string_view head_;
};

// A request head that must be refused: the status and the reason for the client.
struct HeadProblem {
    int status = 400;
    std::string message;
};

// The checks httplib's parser does not make (RFC 9112 sections 3.2 and 6.3): Content-Length
// must be digits, and one value however often it is repeated; Content-Length and
// Transfer-Encoding exclude each other and only the chunked coding is accepted; exactly one
// Host on HTTP/1.1; at most one Origin; no whitespace before a header's colon and no folded
// lines. `head` is the request line and headers, up to the blank line.
std::optional<HeadProblem> request_head_problem(std::string_view head);

// The request target of a head's request line ("" when there is none), for the error shape.
std::string_view request_target(std::string_view head);

}  // namespace cria::server
