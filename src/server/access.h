// Who may talk to the server, decided from a request's headers alone (before its body is read):
//
//   * API key: when CRIA_API_KEY is set (non-empty), every request needs
//     `Authorization: Bearer <key>`, except the liveness checks `GET /health` and `GET|HEAD /`
//     (Ollama's own liveness probe, and the chat page for browsers), the chat page's static
//     files `GET|HEAD /web/FILE` (they hold no data; the page asks for the key and sends it on
//     its API calls), and CORS preflights (browsers never send credentials on those). /metrics
//     needs the key: it tells how the server is used.
//   * Origins (CORS): loopback origins (http or https on localhost, 127.x.x.x or [::1], any port)
//     are always allowed; CRIA_ORIGINS adds a comma-separated list of exact origins
//     ("https://app.example.com:8443"), "*" (every origin), or patterns with one '*' that stands
//     for one or more characters ("http://*.example.com", "http://localhost:*"). A request whose
//     Origin is not allowed is refused with 403, preflight or not: a browser page from another
//     site could otherwise still fire "simple" requests (a form POST to /api/delete) that CORS
//     does not stop, only hides the answer of. Requests without Origin (every non-browser
//     client) are unaffected.
//   * Host names (DNS rebinding): when the server listens on a loopback address, the Host
//     header must name a loopback host (localhost, 127.x.x.x, ::1), a name in
//     CRIA_ALLOWED_HOSTS (comma-separated; exact names, "*.example.com" for subdomains, or "*"),
//     or the host of an explicit CRIA_ORIGINS entry. Without Host (HTTP/1.0) a request passes.
//     On a non-loopback address the server is reached under names it cannot know: the check
//     is on only when CRIA_ALLOWED_HOSTS names them, and then IP literals pass too (a page
//     that rebinds a DNS name to this server sends that name, never an address).
//
// Everything here is pure (no sockets, no environment access except through the lookup a
// caller passes in), so every rule is unit-tested directly.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cria::server {

// Which API's error body a path answers with: OpenAI's {"error":{...}} under /v1 and for
// everything else cria serves, Ollama's {"error":"..."} under /api.
enum class ErrorShape { kOpenAi, kOllama };
ErrorShape error_shape_for_path(std::string_view path);

// The headers an access decision needs; a std::nullopt header was absent.
struct RequestHead {
    std::string_view method;
    std::string_view path;
    std::optional<std::string_view> host;
    std::optional<std::string_view> origin;
    std::optional<std::string_view> authorization;
    std::optional<std::string_view> preflight_method;   // Access-Control-Request-Method
    std::optional<std::string_view> preflight_headers;  // Access-Control-Request-Headers
};

enum class Verdict {
    kProceed,          // route the request normally
    kPreflight,        // answer 204 with the CORS preflight headers
    kUnauthorized,     // 401: missing or wrong API key
    kForbiddenHost,    // 403: Host names something other than this (loopback) server
    kForbiddenOrigin,  // 403: a browser page from an origin that is not allowed
};

struct AccessDecision {
    Verdict verdict = Verdict::kProceed;
    // The Origin to echo in Access-Control-Allow-Origin; empty when no CORS headers are due.
    std::string allow_origin;
    // For a preflight: the value of Access-Control-Allow-Headers.
    std::string allow_headers;
};

// The methods a preflight allows (every method cria routes).
inline constexpr const char* kCorsAllowedMethods = "GET, HEAD, POST, DELETE, OPTIONS";
// Allowed request headers when a preflight names none (or names malformed ones).
inline constexpr const char* kCorsDefaultHeaders = "Authorization, Content-Type";
// How long a browser may cache a preflight answer, in seconds.
inline constexpr int kCorsMaxAgeSeconds = 600;

class AccessPolicy {
  public:
    // Reads an environment variable; std::nullopt when unset.
    using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

    // The default: no key, loopback origins only, no Host check (from_environment turns it on
    // for loopback addresses).
    AccessPolicy() = default;

    // CRIA_API_KEY, CRIA_ORIGINS and CRIA_ALLOWED_HOSTS through `lookup`; the Host check is on
    // when `bound_host` is a loopback address or CRIA_ALLOWED_HOSTS is set. Malformed entries
    // are errors naming them.
    static Expected<AccessPolicy> from_environment(const EnvLookup& lookup,
                                                   std::string_view bound_host);
    // Reads the process environment.
    static EnvLookup process_environment();

    void set_api_key(std::string key) { api_key_ = std::move(key); }
    // An entry as CRIA_ORIGINS takes it; an exact origin's or a pattern's host is also allowed
    // as a Host name ("*" is not: it says nothing about which names reach this server).
    Status allow_origin(std::string_view entry);
    // An entry as CRIA_ALLOWED_HOSTS takes it.
    Status allow_host(std::string_view entry);
    void set_host_check(bool enabled) { check_host_ = enabled; }
    // Whether Host names that are IP addresses pass the check (on non-loopback addresses).
    void allow_ip_hosts(bool allowed) { ip_hosts_ = allowed; }

    bool requires_key() const { return !api_key_.empty(); }
    bool checks_host() const { return check_host_; }

    // The whole decision for one request.
    AccessDecision decide(const RequestHead& request) const;

    // The parts of the decision, each on its own.
    bool key_accepted(std::optional<std::string_view> authorization) const;
    bool origin_allowed(std::string_view origin) const;
    bool host_allowed(std::string_view host_header) const;
    static bool is_open_endpoint(std::string_view method, std::string_view path);

  private:
    std::string api_key_;
    bool check_host_ = false;
    bool ip_hosts_ = false;
    bool any_origin_ = false;
    std::vector<std::string> origin_patterns_;  // lower case, at most one '*' each
    bool any_host_ = false;
    std::vector<std::string> host_patterns_;  // lower case host names, "*." prefix allowed
};

// True for addresses that only this machine can reach: localhost, 127.x.x.x and ::1.
bool is_loopback_host(std::string_view host);

// What `cria serve` must say before it listens on `bound_host` with `policy`, one warning a
// line: serving beyond loopback without an API key hands the models and the store (create,
// delete, pull) to everyone who can reach the address; without CRIA_ALLOWED_HOSTS such a
// server has no defence against DNS rebinding.
std::vector<std::string> exposure_warnings(const AccessPolicy& policy, std::string_view bound_host,
                                           int port);

// Compares two secrets in time that depends only on the length of `given`.
bool constant_time_equal(std::string_view given, std::string_view expected);

// The host name of a Host header value ("name:port", "[v6]:port", "name"), in lower case and
// without brackets; std::nullopt when malformed.
std::optional<std::string> host_header_name(std::string_view host_header);

}  // namespace cria::server
