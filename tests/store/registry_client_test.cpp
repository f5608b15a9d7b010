// Pulls from a registry served by an in-process HTTP server with the registry's URL layout.
#include "store/registry_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "store_test_support.h"

namespace cria::store {
namespace {

namespace fs = std::filesystem;

// Serves /v2/<repo>/manifests/<tag> and /v2/<repo>/blobs/<digest> from a map of path -> body.
class TestRegistry {
  public:
    TestRegistry() {
        server_.Get(R"(/v2/.*)", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mutex_);
            requests_.push_back(req.path);
            if (req.has_header("Range")) ranges_.push_back(req.get_header_value("Range"));
            const auto it = files_.find(req.path);
            if (it == files_.end()) {
                res.status = 404;
                res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})", "application/json");
                return;
            }
            res.set_content(it->second, "application/octet-stream");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~TestRegistry() {
        server_.stop();
        thread_.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void put(const std::string& path, std::string body) {
        std::lock_guard<std::mutex> lock(mutex_);
        files_[path] = std::move(body);
    }
    // Publishes `blobs` under `repo` and returns the manifest (first blob is the model).
    std::string publish(const std::string& repo, const std::string& tag,
                        const std::vector<std::pair<std::string_view, std::string>>& blobs,
                        const std::string& config = R"({"model_format":"gguf"})") {
        nlohmann::json manifest;
        manifest["schemaVersion"] = 2;
        manifest["mediaType"] = media_type::kManifest;
        const Digest config_digest = Digest::of_bytes(config);
        manifest["config"] = {{"mediaType", media_type::kConfig},
                              {"digest", config_digest.str()},
                              {"size", config.size()}};
        put("/v2/" + repo + "/blobs/" + config_digest.str(), config);
        manifest["layers"] = nlohmann::json::array();
        for (const auto& [type, body] : blobs) {
            const Digest digest = Digest::of_bytes(body);
            manifest["layers"].push_back(
                {{"mediaType", type}, {"digest", digest.str()}, {"size", body.size()}});
            put("/v2/" + repo + "/blobs/" + digest.str(), body);
        }
        put("/v2/" + repo + "/manifests/" + tag, manifest.dump());
        return manifest.dump();
    }
    std::vector<std::string> requests() {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }
    std::vector<std::string> ranges() {
        std::lock_guard<std::mutex> lock(mutex_);
        return ranges_;
    }

  private:
    httplib::Server server_;
    std::thread thread_;
    int port_ = 0;
    std::mutex mutex_;
    std::map<std::string, std::string> files_;
    std::vector<std::string> requests_;
    std::vector<std::string> ranges_;
};

class RegistryClientTest : public ::testing::Test {
  protected:
    RegistryClientTest()
        : scratch_(std::string("pull-") +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name()) {
        auto opened = ModelStore::open(scratch_.path() / "models");
        EXPECT_TRUE(opened);
        store_.emplace(std::move(*opened));
        test::write_tiny_gguf(scratch_.path() / "tiny.gguf", 7);
        gguf_ = test::read_file(scratch_.path() / "tiny.gguf");
        options_.default_registry_url = registry_.url();
    }

    bool store_is_empty() {
        return store_->list()->empty() && fs::is_empty(store_->root() / "blobs");
    }

    test::ScratchDir scratch_;
    std::optional<ModelStore> store_;
    TestRegistry registry_;
    RegistryOptions options_;
    std::string gguf_;
};

TEST_F(RegistryClientTest, PullsVerifiesAndWritesTheManifest) {
    registry_.publish("library/tiny", "latest",
                      {{media_type::kModel, gguf_},
                       {media_type::kParams, R"({"num_ctx":4096})"},
                       {media_type::kSystem, "Be brief."}});
    std::vector<Progress> events;
    const Status pulled =
        pull_model(*store_, "tiny", options_, [&](const Progress& p) { events.push_back(p); });
    ASSERT_TRUE(pulled) << pulled.message();
    EXPECT_EQ(events.front().status, "pulling manifest");
    EXPECT_EQ(events.back().status, "success");
    auto details = store_->details("tiny");
    ASSERT_TRUE(details) << details.status().message();
    EXPECT_EQ(test::read_file(details->model_path), gguf_);
    EXPECT_EQ(details->recipe.parameters["num_ctx"], 4096);
    EXPECT_EQ(details->recipe.system, "Be brief.");

    // A second pull downloads no blob again.
    const size_t requests_before = registry_.requests().size();
    ASSERT_TRUE(pull_model(*store_, "tiny:latest", options_));
    EXPECT_EQ(registry_.requests().size(), requests_before + 1);  // the manifest only
}

TEST_F(RegistryClientTest, RejectsATamperedBlob) {
    registry_.publish("library/tiny", "latest", {{media_type::kModel, gguf_}});
    // Same size, different content, served under the original digest.
    std::string tampered = gguf_;
    tampered[tampered.size() - 1] ^= 0x5a;
    registry_.put("/v2/library/tiny/blobs/" + Digest::of_bytes(gguf_).str(), tampered);
    const Status pulled = pull_model(*store_, "tiny", options_);
    EXPECT_EQ(pulled.code(), ErrorCode::kCorrupt) << pulled.message();
    EXPECT_NE(pulled.message().find("digest mismatch"), std::string::npos);
    EXPECT_FALSE(store_->has_model(*ModelName::parse("tiny")));
    EXPECT_FALSE(store_->has_blob(Digest::of_bytes(gguf_)));
    EXPECT_FALSE(fs::exists(store_->partial_blob_path(Digest::of_bytes(gguf_))));
}

TEST_F(RegistryClientTest, RefusesAManifestWithAPathInADigest) {
    nlohmann::json manifest = nlohmann::json::parse(
        registry_.publish("library/evil", "latest", {{media_type::kModel, gguf_}}));
    manifest["layers"][0]["digest"] = "sha256:../../../../../../tmp/cria-evil";
    registry_.put("/v2/library/evil/manifests/latest", manifest.dump());
    const Status pulled = pull_model(*store_, "evil", options_);
    EXPECT_EQ(pulled.code(), ErrorCode::kCorrupt) << pulled.message();
    EXPECT_NE(pulled.message().find("invalid digest"), std::string::npos) << pulled.message();
    EXPECT_TRUE(store_is_empty());
    // Nothing but the manifest was requested.
    EXPECT_EQ(registry_.requests(), std::vector<std::string>{"/v2/library/evil/manifests/latest"});
}

TEST_F(RegistryClientTest, RefusesABlobLongerThanDeclared) {
    registry_.publish("library/tiny", "latest", {{media_type::kModel, gguf_}});
    registry_.put("/v2/library/tiny/blobs/" + Digest::of_bytes(gguf_).str(), gguf_ + "extra");
    EXPECT_FALSE(pull_model(*store_, "tiny", options_));
    EXPECT_TRUE(store_is_empty());
}

TEST_F(RegistryClientTest, ResumesAPartialDownload) {
    registry_.publish("someone/tiny", "q8", {{media_type::kModel, gguf_}});
    const Digest digest = Digest::of_bytes(gguf_);
    const size_t half = gguf_.size() / 2;
    test::write_file(store_->partial_blob_path(digest), gguf_.substr(0, half));
    const Status pulled = pull_model(*store_, "someone/tiny:q8", options_);
    ASSERT_TRUE(pulled) << pulled.message();
    EXPECT_EQ(registry_.ranges(), std::vector<std::string>{"bytes=" + std::to_string(half) + "-"});
    EXPECT_TRUE(store_->verify_blob(digest));
    EXPECT_FALSE(fs::exists(store_->partial_blob_path(digest)));
}

TEST_F(RegistryClientTest, UnknownModelIsNotFound) {
    EXPECT_EQ(pull_model(*store_, "nosuch", options_).code(), ErrorCode::kNotFound);
    EXPECT_EQ(pull_model(*store_, "../x", options_).code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(store_is_empty());
}

TEST(RegistryBaseUrl, MapsHostsToUrls) {
    RegistryOptions options;
    EXPECT_EQ(registry_base_url(*ModelName::parse("llama3.2"), options),
              "https://registry.ollama.ai");
    EXPECT_EQ(registry_base_url(*ModelName::parse("hf.co/user/repo:Q4_K_M"), options),
              "https://hf.co");
    options.default_registry_url = "http://127.0.0.1:9";
    EXPECT_EQ(registry_base_url(*ModelName::parse("llama3.2"), options), "http://127.0.0.1:9");
    EXPECT_EQ(registry_base_url(*ModelName::parse("hf.co/user/repo"), options), "https://hf.co");
    options.insecure = true;
    EXPECT_EQ(registry_base_url(*ModelName::parse("localhost:5000/a/b"), options),
              "http://localhost:5000");
}

}  // namespace
}  // namespace cria::store
