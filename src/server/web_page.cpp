#include "server/web_page.h"

#include <string>

#include "server/router.h"

namespace cria::server {
namespace {

std::string_view trim(std::string_view text) {
    auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Calls `visit` with each trimmed, non-empty entry of a comma-separated header value until it
// returns true; returns whether one did.
template <typename Visit>
bool any_entry(std::string_view list, Visit visit) {
    while (true) {
        const size_t comma = list.find(',');
        const std::string_view entry = trim(list.substr(0, comma));
        if (!entry.empty() && visit(entry)) return true;
        if (comma == std::string_view::npos) return false;
        list.remove_prefix(comma + 1);
    }
}

// A q parameter of "0" (or "0.0", "0.000") refuses the media range it follows.
bool refused_by_quality(std::string_view parameters) {
    while (!parameters.empty()) {
        const size_t semicolon = parameters.find(';');
        const std::string_view parameter = trim(parameters.substr(0, semicolon));
        if (parameter.size() > 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
            parameter[1] == '=') {
            const std::string_view value = parameter.substr(2);
            return value.find_first_not_of("0.") == std::string_view::npos;
        }
        if (semicolon == std::string_view::npos) break;
        parameters.remove_prefix(semicolon + 1);
    }
    return false;
}

void set_common_headers(httplib::Response& res, const WebAsset& asset) {
    res.set_header("ETag", std::string(asset.etag));
    // Revalidated on every load (a 304 on loopback costs nothing), so a new cria binary's page
    // is never mixed with an old one's scripts.
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
}

void send_asset(const httplib::Request& req, httplib::Response& res, const WebAsset& asset) {
    set_common_headers(res, asset);
    if (req.has_header("If-None-Match") &&
        etag_matches(req.get_header_value("If-None-Match"), asset.etag)) {
        res.status = 304;
        return;
    }
    res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
}

}  // namespace

const WebAsset* find_web_asset(std::string_view path) {
    for (const WebAsset& asset : web_assets()) {
        if (asset.path == path) return &asset;
    }
    return nullptr;
}

bool accepts_html(std::string_view accept) {
    return any_entry(accept, [](std::string_view range) {
        const size_t semicolon = range.find(';');
        const std::string_view type = trim(range.substr(0, semicolon));
        if (!equals_ignoring_case(type, "text/html") &&
            !equals_ignoring_case(type, "application/xhtml+xml")) {
            return false;
        }
        return semicolon == std::string_view::npos ||
               !refused_by_quality(range.substr(semicolon + 1));
    });
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    return any_entry(if_none_match, [etag](std::string_view candidate) {
        if (candidate == "*") return true;
        if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
        return candidate == etag;
    });
}

void register_web_page_routes(Router& router) {
    // Also the liveness check (GET and HEAD: httplib answers HEAD from the GET route without a
    // body), which must keep answering the status line to everything that is not a browser.
    router.Get("/", [](const httplib::Request& req, httplib::Response& res) {
        // Caches must not hand the page to curl or the status line to a browser.
        res.set_header("Vary", "Accept");
        const WebAsset* page = find_web_asset("/");
        if (page == nullptr || !accepts_html(req.get_header_value("Accept"))) {
            res.set_content("cria is running", "text/plain");
            return;
        }
        res.set_header("Content-Security-Policy", kWebPagePolicy);
        res.set_header("Referrer-Policy", "no-referrer");
        res.set_header("X-Frame-Options", "DENY");
        send_asset(req, res, *page);
    });
    router.Get(std::string(kWebFilesPrefix) + "{file}",
               [](const httplib::Request& req, httplib::Response& res) {
                   const WebAsset* asset = find_web_asset(req.path);
                   // The server's own 404 (an error body in the usual shape) when none.
                   if (asset == nullptr) {
                       res.status = 404;
                       return;
                   }
                   send_asset(req, res, *asset);
               });
}

}  // namespace cria::server
