// The Ollama-native model-management routes, driven over HTTP against a scratch store.
#include "server/ollama_api.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "gguf/writer.h"
#include "server/http.h"
#include "server/loopback_server.h"
#include "test_support.h"

namespace cria::server {
namespace {

namespace fs = std::filesystem;

std::string tiny_gguf_bytes() {
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::string("llama"));
    w.set("llama.context_length", gguf::Value::u32(512));
    w.set("tokenizer.chat_template", gguf::Value::string("{{ gguf }}"));
    EXPECT_TRUE(w.add_f32_tensor("token_embd.weight", {4, 2}, std::vector<float>(8, 0.5f))
                    .is_ok());  // [n_embd=4, n_vocab=2]
    const auto bytes = w.to_bytes();
    return std::string(bytes.begin(), bytes.end());
}

class OllamaApiTest : public ::testing::Test {
  protected:
    OllamaApiTest() {
        root_ = cria::test::temp_dir() /
                ("ollama-api-" +
                 std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(root_);
        auto opened = store::ModelStore::open(root_);
        EXPECT_TRUE(opened);
        store_.emplace(std::move(*opened));
        register_ollama_routes(http_.router(), models_, *store_, store::RegistryOptions{});
        auto port = http_.bind("127.0.0.1", 0);
        EXPECT_TRUE(port.has_value());
        port_ = *port;
        thread_ = std::thread([this] { (void)http_.serve(); });
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
        for (int i = 0; i < 500 && !client_->Get("/api/tags"); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    ~OllamaApiTest() override {
        http_.stop();
        thread_.join();
        fs::remove_all(root_);
    }

    nlohmann::json post(const std::string& path, const nlohmann::json& body, int expected) {
        auto res = client_->Post(path, body.dump(), "application/json");
        EXPECT_TRUE(res);
        if (!res) return nullptr;
        EXPECT_EQ(res->status, expected) << path << " " << res->body;
        if (res->body.empty()) return nullptr;
        return nlohmann::json::parse(res->body, nullptr, false);
    }

    // Uploads the tiny GGUF and returns its digest.
    std::string upload_gguf() {
        const std::string bytes = tiny_gguf_bytes();
        const std::string digest = store::Digest::of_bytes(bytes).str();
        auto head = client_->Head("/api/blobs/" + digest);
        EXPECT_TRUE(head && head->status == 404);
        auto res = client_->Post("/api/blobs/" + digest, bytes, "application/octet-stream");
        EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no response");
        head = client_->Head("/api/blobs/" + digest);
        EXPECT_TRUE(head && head->status == 200);
        return digest;
    }

    // The modified_at /api/tags lists for a model.
    nlohmann::json list_modified_at(const std::string& name) {
        auto tags = client_->Get("/api/tags");
        EXPECT_TRUE(tags && tags->status == 200);
        if (!tags) return nullptr;
        const nlohmann::json body = nlohmann::json::parse(tags->body);
        for (const auto& model : body["models"]) {
            if (model["name"] == name) return model["modified_at"];
        }
        return nullptr;
    }

    fs::path root_;
    std::optional<store::ModelStore> store_;
    ModelManager models_{ModelManagerOptions{}, nullptr, {}};
    HttpServer http_{HttpOptions{}};
    int port_ = 0;
    std::thread thread_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(OllamaApiTest, TamperedUploadIsRefusedAndLeavesNoFile) {
    const std::string digest = store::Digest::of_bytes("the real content").str();
    auto res =
        client_->Post("/api/blobs/" + digest, "tampered content", "application/octet-stream");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_NE(res->body.find("digest mismatch"), std::string::npos) << res->body;
    EXPECT_TRUE(fs::is_empty(root_ / "blobs"));
    auto bad = client_->Post("/api/blobs/sha256-1234", "x", "application/octet-stream");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
}

TEST_F(OllamaApiTest, ConcurrentCreateAndDeleteOverTheApiLeaveAConsistentStore) {
    const std::string digest = upload_gguf();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            httplib::Client client("127.0.0.1", port_);
            for (int i = 0; i < 6; ++i) {
                if ((t + i) % 2 == 0) {
                    const nlohmann::json body = {{"model", "contended"},
                                                 {"files", {{"tiny.gguf", digest}}},
                                                 {"system", "round " + std::to_string(i % 3)},
                                                 {"stream", false}};
                    auto res = client.Post("/api/create", body.dump(), "application/json");
                    // 404 once a delete collected the uploaded blob with the last model
                    // that used it (as Ollama does).
                    EXPECT_TRUE(res && (res->status == 200 || res->status == 404))
                        << (res ? res->body : "no answer");
                } else {
                    const nlohmann::json body = {{"model", "contended"}};
                    auto res = client.Delete("/api/delete", body.dump(), "application/json");
                    // 404 when the other threads left nothing to delete.
                    EXPECT_TRUE(res && (res->status == 200 || res->status == 404));
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    auto models = store_->list();
    ASSERT_TRUE(models);
    ASSERT_LE(models->size(), 1u);
    std::set<std::string> referenced;
    for (const auto& model : *models) {
        for (const store::Digest& d : model.manifest.all_digests()) {
            referenced.insert(d.file_name());
            EXPECT_TRUE(store_->verify_blob(d));
        }
    }
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(root_ / "blobs")) {
        files.insert(entry.path().filename().string());
    }
    // Every blob on disk is referenced, every referenced one is there, nothing half-written.
    EXPECT_EQ(files, referenced);
}

TEST_F(OllamaApiTest, CreateFromUploadedBlobShowCopyListDelete) {
    const std::string digest = upload_gguf();
    auto res = client_->Post("/api/create",
                             nlohmann::json{
                                 {"model", "mine"},
                                 {"files", {{"tiny.gguf", digest}}},
                                 {"parameters", {{"num_ctx", 8192}, {"stop", {"END"}}}},
                                 {"system", "Be brief."},
                             }
                                 .dump(),
                             "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    // NDJSON progress ending in success.
    std::vector<nlohmann::json> lines;
    size_t start = 0;
    while (start < res->body.size()) {
        const size_t end = res->body.find('\n', start);
        lines.push_back(nlohmann::json::parse(res->body.substr(start, end - start)));
        start = end + 1;
    }
    ASSERT_GE(lines.size(), 2u);
    // Every line carries its own time.
    for (nlohmann::json& line : lines) {
        ASSERT_TRUE(line.contains("created_at")) << line.dump();
        line.erase("created_at");
    }
    EXPECT_EQ(lines.back(), (nlohmann::json{{"status", "success"}}));

    auto shown = post("/api/show", {{"model", "mine"}}, 200);
    EXPECT_EQ(shown["system"], "Be brief.");
    EXPECT_EQ(shown["template"], "{{ gguf }}");
    EXPECT_NE(shown["parameters"].get<std::string>().find("num_ctx"), std::string::npos);
    EXPECT_NE(shown["modelfile"].get<std::string>().find("PARAMETER num_ctx 8192"),
              std::string::npos);
    EXPECT_EQ(shown["details"]["family"], "llama");
    EXPECT_EQ(shown["model_info"]["llama.context_length"], 512);
    EXPECT_EQ(shown["modified_at"], list_modified_at("mine:latest"));

    post("/api/copy", {{"source", "mine"}, {"destination", "gpt-3.5-turbo"}}, 200);
    auto tags = client_->Get("/api/tags");
    ASSERT_TRUE(tags && tags->status == 200);
    const auto list = nlohmann::json::parse(tags->body)["models"];
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["name"], "gpt-3.5-turbo:latest");
    EXPECT_EQ(list[1]["name"], "mine:latest");
    EXPECT_EQ(list[0]["digest"], list[1]["digest"]);
    EXPECT_EQ(list[0]["details"]["format"], "gguf");

    auto deleted = client_->Delete("/api/delete", R"({"model":"mine"})", "application/json");
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status, 200);
    deleted = client_->Delete("/api/delete", R"({"model":"mine"})", "application/json");
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status, 404);
    EXPECT_TRUE(nlohmann::json::parse(deleted->body).contains("error"));
}

TEST_F(OllamaApiTest, ErrorsAreOllamaShaped) {
    auto missing = post("/api/show", {{"model", "nosuch"}}, 404);
    EXPECT_EQ(missing["error"], "model 'nosuch:latest' not found");
    post("/api/copy", {{"source", "nosuch"}, {"destination", "x"}}, 404);
    post("/api/show", {{"verbose", true}}, 400);
    auto bad_body = client_->Post("/api/show", "not json", "application/json");
    ASSERT_TRUE(bad_body);
    EXPECT_EQ(bad_body->status, 400);
    post("/api/create", {{"model", "x"}, {"from", "nosuch"}, {"stream", false}}, 404);
    post("/api/create", {{"model", "../x"}, {"from", "nosuch"}}, 400);
    post("/api/create", {{"model", "x"}}, 400);
    post("/api/create", {{"model", "x"}, {"from", "y"}, {"parameters", {{"num_ctx", "big"}}}}, 400);
    // A blob whose content does not match its digest is refused and not kept.
    const std::string digest = store::Digest::of_bytes("real").str();
    auto res = client_->Post("/api/blobs/" + digest, "fake", "application/octet-stream");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    auto head = client_->Head("/api/blobs/" + digest);
    EXPECT_EQ(head->status, 404);
    res = client_->Post("/api/blobs/sha256:..", "x", "application/octet-stream");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    // An encoded slash decodes to a path the route does not match at all.
    res = client_->Post("/api/blobs/sha256:..%2F..%2Fetc", "x", "application/octet-stream");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
    // A failed streamed pull ends with an error line and leaves nothing behind.
    auto pulled = client_->Post("/api/pull", R"({"model":"localhost:1/a/b","insecure":true})",
                                "application/json");
    ASSERT_TRUE(pulled);
    EXPECT_NE(pulled->body.find("\"error\""), std::string::npos) << pulled->body;
    EXPECT_TRUE(store_->list()->empty());
}

// A `cria serve --model NAME=PATH` file is listed and shown like a stored model, and shadows a
// stored model of its name.
TEST(OllamaApiFiles, ModelFilesAppearInTagsAndShow) {
    const fs::path root = cria::test::temp_dir() / "ollama-api-files";
    fs::remove_all(root);
    fs::create_directories(root);
    const fs::path file = root / "tiny.gguf";
    {
        std::ofstream out(file, std::ios::binary);
        out << tiny_gguf_bytes();
    }
    auto opened = store::ModelStore::open(root / "store");
    ASSERT_TRUE(opened);
    store::ModelStore store = std::move(*opened);
    ModelManager models(ModelManagerOptions{}, &store, {{"tiny", file.string()}});
    server::test::LoopbackServer server;
    register_ollama_routes(server.router(), models, store, store::RegistryOptions{});
    server.start();
    auto client = server.client();

    auto tags = client.Get("/api/tags");
    ASSERT_TRUE(tags);
    ASSERT_EQ(tags->status, 200);
    const auto list = nlohmann::json::parse(tags->body)["models"];
    ASSERT_EQ(list.size(), 1u) << tags->body;
    EXPECT_EQ(list[0]["name"], "tiny:latest");
    EXPECT_EQ(list[0]["size"], fs::file_size(file));
    EXPECT_EQ(list[0]["digest"].get<std::string>().size(), 64u);
    EXPECT_EQ(list[0]["details"]["family"], "llama");
    EXPECT_EQ(list[0]["details"]["format"], "gguf");
    EXPECT_FALSE(list[0]["details"]["parameter_size"].get<std::string>().empty());
    EXPECT_NE(list[0]["modified_at"], "1970-01-01T00:00:00Z");

    auto shown = client.Post("/api/show", R"({"model":"tiny"})", "application/json");
    ASSERT_TRUE(shown);
    ASSERT_EQ(shown->status, 200) << shown->body;
    const auto body = nlohmann::json::parse(shown->body);
    EXPECT_EQ(body["template"], "{{ gguf }}");
    EXPECT_EQ(body["details"]["family"], "llama");
    EXPECT_EQ(body["modified_at"], list[0]["modified_at"]);
    EXPECT_EQ(body["model_info"]["general.architecture"], "llama");
    fs::remove_all(root);
}

TEST(OllamaCreateRequest, ParsesFieldsAndRefusesWhatCriaCannotDo) {
    auto parsed = parse_create_request({{"model", "m"},
                                        {"from", "base"},
                                        {"template", "T"},
                                        {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                        {"license", {"A", "B"}},
                                        {"stream", false}});
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed.value().recipe.from, "base");
    EXPECT_EQ(parsed.value().recipe.chat_template, "T");
    EXPECT_EQ(parsed.value().recipe.licenses.size(), 2u);
    EXPECT_FALSE(parsed.value().stream);
    auto legacy = parse_create_request({{"name", "m"}, {"modelfile", "FROM base\nSYSTEM s\n"}});
    ASSERT_TRUE(legacy.ok());
    EXPECT_EQ(legacy.value().recipe.system, "s");
    EXPECT_FALSE(
        parse_create_request({{"model", "m"}, {"from", "b"}, {"quantize", "q4_K_M"}}).ok());
    EXPECT_FALSE(
        parse_create_request({{"model", "m"}, {"from", "b"}, {"adapters", {{"a", "sha256:x"}}}})
            .ok());
    EXPECT_FALSE(
        parse_create_request({{"model", "m"}, {"from", "b"}, {"messages", {{{"role", "robot"}}}}})
            .ok());
    EXPECT_FALSE(parse_create_request({{"model", "m"}, {"files", {{"a", "sha256:../x"}}}}).ok());
}

}  // namespace
}  // namespace cria::server
