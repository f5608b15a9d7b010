// The chat page's routes: which clients get the page and which the status line, the embedded
// files with their content types and validators, conditional requests, the page's security
// headers, and the files staying open when an API key closes everything else.
#include "server/web_page.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "server/http.h"
#include "server/loopback_server.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;
using test::LoopbackServer;

TEST(WebPage, AcceptsHtml) {
    // What browsers send when they open a page.
    EXPECT_TRUE(accepts_html(
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"));
    EXPECT_TRUE(accepts_html("text/html"));
    EXPECT_TRUE(accepts_html("TEXT/HTML; charset=utf-8"));
    EXPECT_TRUE(accepts_html("application/xhtml+xml"));
    EXPECT_TRUE(accepts_html("application/json, text/html;q=0.5"));
    EXPECT_TRUE(accepts_html("text/html;level=1;q=0.1"));
    // curl, fetch() and API clients.
    EXPECT_FALSE(accepts_html(""));
    EXPECT_FALSE(accepts_html("*/*"));
    EXPECT_FALSE(accepts_html("text/*"));
    EXPECT_FALSE(accepts_html("application/json"));
    EXPECT_FALSE(accepts_html("text/plain, text/htmlx"));
    // Refused with quality 0.
    EXPECT_FALSE(accepts_html("text/html;q=0"));
    EXPECT_FALSE(accepts_html("text/html; q=0.000, */*"));
}

TEST(WebPage, EtagMatches) {
    EXPECT_TRUE(etag_matches("\"abc\"", "\"abc\""));
    EXPECT_TRUE(etag_matches("W/\"abc\"", "\"abc\""));
    EXPECT_TRUE(etag_matches("\"x\", \"abc\"", "\"abc\""));
    EXPECT_TRUE(etag_matches("*", "\"abc\""));
    EXPECT_FALSE(etag_matches("", "\"abc\""));
    EXPECT_FALSE(etag_matches("\"abd\"", "\"abc\""));
    EXPECT_FALSE(etag_matches("abc", "\"abc\""));
}

TEST(WebPage, EmbeddedFiles) {
    std::set<std::string_view> paths;
    for (const WebAsset& asset : web_assets()) {
        EXPECT_TRUE(paths.insert(asset.path).second) << "twice: " << asset.path;
        EXPECT_FALSE(asset.body.empty()) << asset.path;
        EXPECT_FALSE(asset.content_type.empty()) << asset.path;
        ASSERT_GE(asset.etag.size(), 3u) << asset.path;
        EXPECT_EQ(asset.etag.front(), '"');
        EXPECT_EQ(asset.etag.back(), '"');
        if (asset.path != "/") {
            EXPECT_EQ(asset.path.substr(0, kWebFilesPrefix.size()), kWebFilesPrefix);
        }
        EXPECT_EQ(find_web_asset(asset.path), &asset);
    }
    ASSERT_NE(find_web_asset("/"), nullptr);
    const std::string_view page = find_web_asset("/")->body;
    EXPECT_EQ(page.substr(0, 15), "<!doctype html>");
    // Every file the page names is embedded (as relative URLs: the page lives at /).
    for (const char* file : {"/web/app.js", "/web/app.css", "/web/icon.svg"}) {
        ASSERT_NE(find_web_asset(file), nullptr) << file;
        EXPECT_NE(page.find(std::string_view(file).substr(1)), std::string_view::npos) << file;
    }
    EXPECT_EQ(find_web_asset("/web/app.js")->content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(find_web_asset("/web/app.css")->content_type, "text/css; charset=utf-8");
    EXPECT_EQ(find_web_asset("/web/missing.js"), nullptr);
    // No script or style inline in the page: its own policy would refuse them.
    EXPECT_EQ(page.find("<script>"), std::string_view::npos);
    EXPECT_EQ(page.find("<style"), std::string_view::npos);
    EXPECT_EQ(page.find(" style="), std::string_view::npos);
    EXPECT_EQ(page.find(" onclick="), std::string_view::npos);
}

TEST(WebPage, BrowsersGetThePageEverythingElseTheStatusLine) {
    LoopbackServer server;
    register_web_page_routes(server.router());
    server.start();
    httplib::Client client = server.client();

    auto plain = client.Get("/");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->status, 200);
    EXPECT_EQ(plain->body, "cria is running");
    EXPECT_EQ(plain->get_header_value("Content-Type"), "text/plain");
    EXPECT_EQ(plain->get_header_value("Vary"), "Accept");
    auto any = client.Get("/", {{"Accept", "*/*"}});
    ASSERT_TRUE(any);
    EXPECT_EQ(any->body, "cria is running");
    auto head = client.Head("/");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);

    const WebAsset& page = *find_web_asset("/");
    auto html = client.Get("/", {{"Accept", "text/html,*/*;q=0.8"}});
    ASSERT_TRUE(html);
    EXPECT_EQ(html->status, 200);
    EXPECT_EQ(html->body, page.body);
    EXPECT_EQ(html->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(html->get_header_value("Content-Security-Policy"), kWebPagePolicy);
    EXPECT_EQ(html->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(html->get_header_value("ETag"), page.etag);
    EXPECT_EQ(html->get_header_value("Cache-Control"), "no-cache");
    EXPECT_EQ(html->get_header_value("Vary"), "Accept");

    auto again =
        client.Get("/", {{"Accept", "text/html"}, {"If-None-Match", std::string(page.etag)}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());
}

TEST(WebPage, FilesWithValidators) {
    LoopbackServer server;
    register_web_page_routes(server.router());
    server.start();
    httplib::Client client = server.client();

    for (const WebAsset& asset : web_assets()) {
        if (asset.path == "/") continue;
        const std::string path(asset.path);
        auto res = client.Get(path);
        ASSERT_TRUE(res) << path;
        EXPECT_EQ(res->status, 200) << path;
        EXPECT_EQ(res->body, asset.body) << path;
        EXPECT_EQ(res->get_header_value("Content-Type"), asset.content_type) << path;
        EXPECT_EQ(res->get_header_value("ETag"), asset.etag) << path;
        auto cached = client.Get(path, {{"If-None-Match", "W/" + std::string(asset.etag)}});
        ASSERT_TRUE(cached) << path;
        EXPECT_EQ(cached->status, 304) << path;
        auto changed = client.Get(path, {{"If-None-Match", "\"an-older-build\""}});
        ASSERT_TRUE(changed) << path;
        EXPECT_EQ(changed->status, 200) << path;
    }
    auto missing = client.Get("/web/missing.js");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(json::parse(missing->body)["error"]["code"], "unknown_url");
}

TEST(WebPage, OpenWithoutTheApiKey) {
    HttpOptions options;
    options.access.set_api_key("page-key");
    LoopbackServer server(options);
    register_web_page_routes(server.router());
    server.router().Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, json{{"ok", true}});
    });
    server.start();
    httplib::Client client = server.client();

    auto page = client.Get("/", {{"Accept", "text/html"}});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->body, find_web_asset("/")->body);
    auto script = client.Get("/web/app.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->status, 200);
    // An unknown file is answered as unknown, not refused: the prefix is open, nothing else.
    auto missing = client.Get("/web/missing.js");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    auto api = client.Get("/v1/models");
    ASSERT_TRUE(api);
    EXPECT_EQ(api->status, 401);
    for (const char* path :
         {"/web/../v1/models", "/web/%2e%2e/v1/models", "/web/x/../../v1/models"}) {
        auto escaped = client.Get(path);
        ASSERT_TRUE(escaped) << path;
        EXPECT_EQ(escaped->status, 401) << path;
    }
}

}  // namespace
}  // namespace cria::server
