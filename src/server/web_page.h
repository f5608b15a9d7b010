// The chat page cria serves to browsers at GET /: one HTML page and its static files, bundled
// from web/ at build time (web/build.mjs) and embedded in the binary (the generated
// web_assets.cpp), so that the page needs nothing but this server, no network and no files on
// disk. Clients that do not ask for HTML (curl, Ollama's liveness probe `HEAD /`) keep getting
// the plain status line.
#pragma once

#include <span>
#include <string_view>

namespace cria::server {

class Router;

// The page's static files live under this prefix, one path segment each ("/web/app.js"). They
// hold no data, so access control leaves them open like the page itself (access.cpp): the page
// asks for the API key and sends it on its API calls.
inline constexpr std::string_view kWebFilesPrefix = "/web/";

// One embedded file.
struct WebAsset {
    std::string_view path;  // "/" for the page, kWebFilesPrefix + name for its files
    std::string_view content_type;
    std::string_view etag;  // a quoted strong validator: a hash of `body`
    std::string_view body;
};

// Every embedded file, the page first; defined by the generated web_assets.cpp.
std::span<const WebAsset> web_assets();

// The file served at `path`; nullptr when there is none.
const WebAsset* find_web_asset(std::string_view path);

// Whether an Accept header asks for HTML, as browsers do when they open a page: text/html or
// application/xhtml+xml named with a non-zero quality. "*/*" alone (curl, fetch) does not.
bool accepts_html(std::string_view accept);

// Whether an If-None-Match header names `etag` (one of a comma-separated list, or "*"); weak
// validators ("W/...") match their strong form, as RFC 9110 asks for this header.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// The Content-Security-Policy of the page: every script, style, font and connection comes from
// this server, inline script and event-handler attributes cannot run, and images are limited to
// this server and the data/blob URLs of attachments the user picks.
inline constexpr const char* kWebPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

// GET / (the page for browsers, the status line for everything else) and GET /web/{file}.
void register_web_page_routes(Router& router);

}  // namespace cria::server
