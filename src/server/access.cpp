#include "server/access.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

#include "server/web_page.h"

namespace cria::server {
namespace {

// Header values a browser sends are short; these caps keep a hostile one from costing much.
constexpr size_t kMaxPreflightHeaders = 64;
constexpr size_t kMaxPreflightHeadersBytes = 4096;

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::string_view trim(std::string_view text) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && lower(a) == lower(b);
}

// Comma-separated, entries trimmed, empty ones (a trailing comma) dropped.
std::vector<std::string_view> split_list(std::string_view text) {
    std::vector<std::string_view> out;
    while (true) {
        const size_t comma = text.find(',');
        std::string_view entry = trim(text.substr(0, comma));
        if (!entry.empty()) out.push_back(entry);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

bool is_digits(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// A host name as it appears in URLs and Host headers (no brackets, no port).
bool is_host_name(std::string_view name) {
    return !name.empty() &&
           name.find_first_not_of(
               "abcdefghijklmnopqrstuvwxyz"
               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == std::string_view::npos;
}

bool is_ipv6_literal(std::string_view text) {
    return !text.empty() && text.find(':') != std::string_view::npos &&
           text.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos;
}

// A header name as RFC 9110 defines a token.
bool is_token(std::string_view text) {
    return !text.empty() && text.find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "!#$%&'*+-.^_`|~") == std::string_view::npos;
}

// An IPv4 or IPv6 address written out (the Host name without brackets or port).
bool is_ip_address(const std::string& name) {
    unsigned char bytes[16];
    return inet_pton(AF_INET, name.c_str(), bytes) == 1 ||
           inet_pton(AF_INET6, name.c_str(), bytes) == 1;
}

bool is_ipv4_loopback(std::string_view host) {
    int parts = 0;
    while (true) {
        const size_t dot = host.find('.');
        std::string_view part = host.substr(0, dot);
        if (!is_digits(part) || part.size() > 3 || std::atoi(std::string(part).c_str()) > 255) {
            return false;
        }
        if (parts == 0 && part != "127") return false;
        ++parts;
        if (dot == std::string_view::npos) break;
        host.remove_prefix(dot + 1);
    }
    return parts == 4;
}

// "*" matches one or more characters; a pattern without '*' matches itself only.
bool matches_pattern(std::string_view pattern, std::string_view text) {
    const size_t star = pattern.find('*');
    if (star == std::string_view::npos) return pattern == text;
    const std::string_view prefix = pattern.substr(0, star);
    const std::string_view suffix = pattern.substr(star + 1);
    return text.size() > prefix.size() + suffix.size() && text.substr(0, prefix.size()) == prefix &&
           text.substr(text.size() - suffix.size()) == suffix;
}

// Built by appending: GCC 12 warns falsely (-Wrestrict) about `"literal" + std::string`.
std::string quoted(std::string_view text) {
    std::string out = "'";
    out += text;
    out += '\'';
    return out;
}

std::string subdomain_pattern(std::string_view name) {
    std::string out = "*.";
    out += name;
    return out;
}

struct ParsedOrigin {
    std::string scheme;
    std::string host;  // without brackets
    std::string port;  // empty when absent
};

// "scheme://host[:port]" in lower case; std::nullopt for anything else (paths included).
std::optional<ParsedOrigin> parse_origin(std::string_view origin) {
    const size_t separator = origin.find("://");
    if (separator == std::string_view::npos || separator == 0) return std::nullopt;
    ParsedOrigin out;
    out.scheme = lower(origin.substr(0, separator));
    if (out.scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+.-") !=
            std::string::npos ||
        !(out.scheme[0] >= 'a' && out.scheme[0] <= 'z')) {
        return std::nullopt;
    }
    std::optional<std::string> host = host_header_name(origin.substr(separator + 3));
    if (!host) return std::nullopt;
    out.host = *host;
    const std::string_view authority = origin.substr(separator + 3);
    const size_t bracket = authority.rfind(']');
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
        out.port = std::string(authority.substr(colon + 1));
        if (out.port.empty()) return std::nullopt;
    }
    return out;
}

// The host part of a CRIA_ORIGINS entry that is an exact origin or a "*.suffix" host pattern;
// std::nullopt when the entry says nothing about one host (for example "http://*").
std::optional<std::string> origin_entry_host(std::string_view entry) {
    const size_t separator = entry.find("://");
    if (separator == std::string_view::npos) return std::nullopt;
    std::string_view authority = entry.substr(separator + 3);
    // A port pattern (":*") does not change the host.
    if (authority.size() > 2 && authority.substr(authority.size() - 2) == ":*") {
        authority.remove_suffix(2);
    }
    if (authority.substr(0, 2) == "*.") {
        std::optional<std::string> rest = host_header_name(authority.substr(2));
        if (!rest || rest->find('*') != std::string::npos) return std::nullopt;
        return subdomain_pattern(*rest);
    }
    return host_header_name(authority);
}

}  // namespace

ErrorShape error_shape_for_path(std::string_view path) {
    if (path == "/api" || path.substr(0, 5) == "/api/") return ErrorShape::kOllama;
    return ErrorShape::kOpenAi;
}

std::vector<std::string> exposure_warnings(const AccessPolicy& policy, std::string_view bound_host,
                                           int port) {
    std::vector<std::string> warnings;
    if (is_loopback_host(bound_host)) return warnings;
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) about "[" + host + "]".
    std::string address;
    const bool v6 = bound_host.find(':') != std::string_view::npos;
    if (v6) address += '[';
    address += bound_host;
    if (v6) address += ']';
    address += ':';
    address += std::to_string(port);
    if (!policy.requires_key()) {
        warnings.push_back("serving on " + address +
                           " beyond this machine WITHOUT CRIA_API_KEY: anyone who can reach it "
                           "can use the models and change the store (create, delete, pull). "
                           "Set CRIA_API_KEY, or listen on 127.0.0.1.");
    }
    if (!policy.checks_host()) {
        warnings.push_back("no Host check on " + address +
                           ": set CRIA_ALLOWED_HOSTS to the names clients use for this server, "
                           "so that a web page cannot reach it by DNS rebinding.");
    }
    return warnings;
}

bool is_loopback_host(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    return equals_ignoring_case(host, "localhost") || host == "::1" || is_ipv4_loopback(host);
}

bool constant_time_equal(std::string_view given, std::string_view expected) {
    if (expected.empty()) return given.empty();
    // Every byte of `given` is compared (against the expected byte at the same position modulo
    // its length), and differences are OR-ed together, so the time taken says nothing about
    // where the first mismatch is.
    size_t difference = given.size() ^ expected.size();
    for (size_t i = 0; i < given.size(); ++i) {
        difference |= static_cast<unsigned char>(given[i]) ^
                      static_cast<unsigned char>(expected[i % expected.size()]);
    }
    return difference == 0;
}

std::optional<std::string> host_header_name(std::string_view host_header) {
    std::string_view text = trim(host_header);
    std::string_view name;
    std::string_view port;
    bool bracketed = false;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        name = text.substr(1, close - 1);
        std::string_view after = text.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port = after.substr(1);
            if (port.empty()) port = "0";  // "host:" has an empty port, which RFC 3986 allows
        }
        if (!is_ipv6_literal(name)) return std::nullopt;
        bracketed = true;
    } else {
        const size_t colon = text.find(':');
        name = text.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = text.substr(colon + 1);
            if (port.empty()) port = "0";
        }
        if (!is_host_name(name)) return std::nullopt;
    }
    if (!port.empty() && (!is_digits(port) || port.size() > 5)) return std::nullopt;
    std::string out = lower(name);
    if (!bracketed && out.back() == '.') out.pop_back();  // "localhost." is "localhost"
    if (out.empty()) return std::nullopt;
    return out;
}

AccessPolicy::EnvLookup AccessPolicy::process_environment() {
    return [](const char* name) -> std::optional<std::string> {
        const char* value = std::getenv(name);
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

Expected<AccessPolicy> AccessPolicy::from_environment(const EnvLookup& lookup,
                                                      std::string_view bound_host) {
    AccessPolicy policy;
    // Surrounding whitespace is never part of a key (it comes from files that end in newlines).
    if (std::optional<std::string> key = lookup("CRIA_API_KEY")) {
        policy.set_api_key(std::string(trim(*key)));
    }
    if (std::optional<std::string> origins = lookup("CRIA_ORIGINS")) {
        for (std::string_view entry : split_list(*origins)) {
            Status allowed = policy.allow_origin(entry);
            if (!allowed.is_ok()) return invalid_argument("CRIA_ORIGINS: " + allowed.message());
        }
    }
    bool hosts_named = false;
    if (std::optional<std::string> hosts = lookup("CRIA_ALLOWED_HOSTS")) {
        for (std::string_view entry : split_list(*hosts)) {
            Status allowed = policy.allow_host(entry);
            if (!allowed.is_ok()) {
                return invalid_argument("CRIA_ALLOWED_HOSTS: " + allowed.message());
            }
            hosts_named = true;
        }
    }
    const bool loopback = is_loopback_host(bound_host);
    policy.set_host_check(loopback || hosts_named);
    policy.allow_ip_hosts(!loopback);
    return policy;
}

Status AccessPolicy::allow_origin(std::string_view entry) {
    std::string normalized = lower(trim(entry));
    while (normalized.size() > 1 && normalized.back() == '/') normalized.pop_back();
    if (normalized == "*") {
        any_origin_ = true;
        return Status::ok();
    }
    if (normalized == "null") {  // sandboxed frames and file:// pages send "Origin: null"
        origin_patterns_.push_back(normalized);
        return Status::ok();
    }
    const std::string shown = quoted(entry);
    if (std::count(normalized.begin(), normalized.end(), '*') > 1) {
        return invalid_argument(shown + " has more than one '*'");
    }
    // A pattern must still look like an origin once its '*' is replaced by a name (or by a
    // port number after ':').
    std::string sample = normalized;
    const size_t star = sample.find('*');
    if (star != std::string::npos) sample[star] = star > 0 && sample[star - 1] == ':' ? '1' : 'x';
    if (!parse_origin(sample)) {
        return invalid_argument(shown + " is not an origin (scheme://host[:port], no path)");
    }
    origin_patterns_.push_back(normalized);
    if (std::optional<std::string> host = origin_entry_host(normalized)) {
        host_patterns_.push_back(*host);
    }
    return Status::ok();
}

Status AccessPolicy::allow_host(std::string_view entry) {
    std::string_view text = trim(entry);
    if (text == "*") {
        any_host_ = true;
        return Status::ok();
    }
    const bool subdomains = text.substr(0, 2) == "*.";
    if (subdomains) text.remove_prefix(2);
    std::optional<std::string> name = host_header_name(text);
    if (!name) return invalid_argument(quoted(entry) + " is not a host name");
    host_patterns_.push_back(subdomains ? subdomain_pattern(*name) : *name);
    return Status::ok();
}

bool AccessPolicy::is_open_endpoint(std::string_view method, std::string_view path) {
    if (method != "GET" && method != "HEAD") return false;
    if (path == "/health" || path == "/") return true;
    // The chat page's files: exactly one path segment under the prefix, so that no path that
    // leaves it ("/web/../v1/models") is let through however the router reads it.
    if (path.substr(0, kWebFilesPrefix.size()) != kWebFilesPrefix) return false;
    const std::string_view file = path.substr(kWebFilesPrefix.size());
    return !file.empty() && file != "." && file != ".." &&
           file.find_first_of("/\\") == std::string_view::npos;
}

bool AccessPolicy::key_accepted(std::optional<std::string_view> authorization) const {
    if (!requires_key()) return true;
    if (!authorization) return false;
    std::string_view value = trim(*authorization);
    constexpr std::string_view kScheme = "bearer";
    if (value.size() <= kScheme.size() || !equals_ignoring_case(value.substr(0, 6), kScheme) ||
        (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
        return false;
    }
    return constant_time_equal(trim(value.substr(kScheme.size())), api_key_);
}

bool AccessPolicy::origin_allowed(std::string_view origin) const {
    const std::string normalized = lower(trim(origin));
    if (normalized == "null") {
        return any_origin_ || std::find(origin_patterns_.begin(), origin_patterns_.end(), "null") !=
                                  origin_patterns_.end();
    }
    std::optional<ParsedOrigin> parsed = parse_origin(normalized);
    if (!parsed) return false;
    if (any_origin_) return true;
    if ((parsed->scheme == "http" || parsed->scheme == "https") && is_loopback_host(parsed->host)) {
        return true;
    }
    for (const std::string& pattern : origin_patterns_) {
        if (matches_pattern(pattern, normalized)) return true;
    }
    return false;
}

bool AccessPolicy::host_allowed(std::string_view host_header) const {
    if (any_host_) return true;
    std::optional<std::string> name = host_header_name(host_header);
    if (!name) return false;
    if (is_loopback_host(*name)) return true;
    if (ip_hosts_ && is_ip_address(*name)) return true;
    for (const std::string& pattern : host_patterns_) {
        if (pattern.substr(0, 2) == "*.") {
            const std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
            if (name->size() > suffix.size() &&
                std::string_view(*name).substr(name->size() - suffix.size()) == suffix) {
                return true;
            }
        } else if (pattern == *name) {
            return true;
        }
    }
    return false;
}

namespace {

// The request headers a preflight asks for, reflected when every one is a well-formed header
// name: the origin is trusted, and clients send their own (the openai package's x-stainless-*).
std::string preflight_allow_headers(std::optional<std::string_view> requested) {
    if (!requested || requested->size() > kMaxPreflightHeadersBytes) return kCorsDefaultHeaders;
    std::vector<std::string_view> names = split_list(*requested);
    if (names.empty() || names.size() > kMaxPreflightHeaders) return kCorsDefaultHeaders;
    std::string out;
    for (std::string_view name : names) {
        if (!is_token(name)) return kCorsDefaultHeaders;
        if (!out.empty()) out += ", ";
        out += lower(name);
    }
    return out;
}

}  // namespace

AccessDecision AccessPolicy::decide(const RequestHead& request) const {
    AccessDecision decision;
    if (check_host_ && request.host && !host_allowed(*request.host)) {
        decision.verdict = Verdict::kForbiddenHost;
        return decision;
    }
    if (request.origin) {
        if (!origin_allowed(*request.origin)) {
            decision.verdict = Verdict::kForbiddenOrigin;
            return decision;
        }
        decision.allow_origin = std::string(trim(*request.origin));
        if (request.method == "OPTIONS" && request.preflight_method) {
            decision.verdict = Verdict::kPreflight;
            decision.allow_headers = preflight_allow_headers(request.preflight_headers);
            return decision;
        }
    }
    if (!is_open_endpoint(request.method, request.path) && !key_accepted(request.authorization)) {
        decision.verdict = Verdict::kUnauthorized;
    }
    return decision;
}

}  // namespace cria::server
