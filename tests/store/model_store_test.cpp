#include "store/model_store.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "store_test_support.h"

namespace cria::store {
namespace {

namespace fs = std::filesystem;

std::set<std::string> blob_files(const ModelStore& store) {
    std::set<std::string> out;
    for (const auto& entry : fs::directory_iterator(store.root() / "blobs")) {
        out.insert(entry.path().filename().string());
    }
    return out;
}

class ModelStoreTest : public ::testing::Test {
  protected:
    ModelStoreTest() : scratch_(::testing::UnitTest::GetInstance()->current_test_info()->name()) {
        auto opened = ModelStore::open(scratch_.path() / "models");
        EXPECT_TRUE(opened);
        store_.emplace(std::move(*opened));
        test::write_tiny_gguf(scratch_.path() / "tiny.gguf");
    }

    ModelRecipe recipe(const std::string& text) {
        auto parsed = parse_modelfile(text);
        EXPECT_TRUE(parsed) << parsed.status().message();
        return *parsed;
    }

    test::ScratchDir scratch_;
    std::optional<ModelStore> store_;
};

TEST_F(ModelStoreTest, CreatesFromAGgufWithParametersAndSystem) {
    std::vector<std::string> statuses;
    auto manifest = store_->create(
        "mymodel",
        recipe("FROM ./tiny.gguf\nPARAMETER num_ctx 8192\nPARAMETER temperature 0.1\n"
               "SYSTEM Be brief.\n"),
        scratch_.path(), [&](const Progress& p) { statuses.push_back(p.status); });
    ASSERT_TRUE(manifest) << manifest.status().message();
    EXPECT_EQ(statuses.back(), "success");
    EXPECT_EQ(manifest->layers.size(), 3u);  // model, system, params

    auto details = store_->details("mymodel:latest");
    ASSERT_TRUE(details) << details.status().message();
    EXPECT_EQ(details->recipe.parameters["num_ctx"], 8192);
    EXPECT_EQ(details->recipe.system, "Be brief.");
    EXPECT_FALSE(details->recipe.chat_template);
    EXPECT_EQ(details->config["model_format"], "gguf");
    EXPECT_EQ(details->config["model_family"], "llama");
    EXPECT_EQ(test::read_file(details->model_path), test::read_file(scratch_.path() / "tiny.gguf"));
    for (const Digest& digest : manifest->all_digests()) {
        EXPECT_TRUE(store_->verify_blob(digest)) << digest.str();
    }
    // The manifest is where Ollama keeps it.
    EXPECT_TRUE(fs::is_regular_file(store_->root() /
                                    "manifests/registry.ollama.ai/library/mymodel/latest"));
}

TEST_F(ModelStoreTest, CopyListAndRemoveCollectUnusedBlobs) {
    ASSERT_TRUE(store_->create("base", recipe("FROM tiny.gguf\nSYSTEM one\n"), scratch_.path()));
    ASSERT_TRUE(store_->copy("base", "gpt-3.5-turbo"));
    test::write_tiny_gguf(scratch_.path() / "other.gguf", 42);
    ASSERT_TRUE(store_->create("user/other:v2", recipe("FROM other.gguf\n"), scratch_.path()));

    auto models = store_->list();
    ASSERT_TRUE(models);
    std::vector<std::string> names;
    for (const auto& m : *models) names.push_back(m.name.display());
    EXPECT_EQ(names,
              (std::vector<std::string>{"base:latest", "gpt-3.5-turbo:latest", "user/other:v2"}));
    EXPECT_EQ((*models)[0].manifest_digest, (*models)[1].manifest_digest);

    const auto blobs_before = blob_files(*store_);
    // The copy still uses every blob of base: nothing may go.
    ASSERT_TRUE(store_->remove("base"));
    EXPECT_EQ(blob_files(*store_), blobs_before);
    EXPECT_FALSE(store_->read_manifest("base"));
    // Now the last user of those blobs goes: only user/other's blobs remain.
    ASSERT_TRUE(store_->remove("gpt-3.5-turbo:latest"));
    auto other = store_->read_manifest("user/other:v2");
    ASSERT_TRUE(other);
    std::set<std::string> expected;
    for (const Digest& d : other->all_digests()) expected.insert(d.file_name());
    EXPECT_EQ(blob_files(*store_), expected);
    EXPECT_FALSE(fs::exists(store_->root() / "manifests/registry.ollama.ai/library"));

    EXPECT_EQ(store_->remove("base").code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->copy("base", "x").code(), ErrorCode::kNotFound);
}

TEST_F(ModelStoreTest, ReplacingAModelCollectsBlobsOnlyItUsed) {
    ASSERT_TRUE(store_->create("m", recipe("FROM tiny.gguf\nSYSTEM first\n"), scratch_.path()));
    ASSERT_TRUE(store_->create("m", recipe("FROM tiny.gguf\nSYSTEM second\n"), scratch_.path()));
    auto manifest = store_->read_manifest("m");
    ASSERT_TRUE(manifest);
    std::set<std::string> expected;
    for (const Digest& d : manifest->all_digests()) expected.insert(d.file_name());
    EXPECT_EQ(blob_files(*store_), expected);
    EXPECT_FALSE(store_->has_blob(Digest::of_bytes("first")));
    EXPECT_TRUE(store_->has_blob(Digest::of_bytes("second")));
}

TEST_F(ModelStoreTest, CreateFromAModelInheritsAndOverrides) {
    ASSERT_TRUE(store_->create("base",
                               recipe("FROM tiny.gguf\nPARAMETER num_ctx 2048\n"
                                      "PARAMETER temperature 0.3\nSYSTEM old\nTEMPLATE t1\n"),
                               scratch_.path()));
    ASSERT_TRUE(store_->create("derived", recipe("FROM base\nPARAMETER num_ctx 8192\nSYSTEM new\n"),
                               scratch_.path()));
    auto base = store_->details("base");
    auto derived = store_->details("derived");
    ASSERT_TRUE(base && derived);
    EXPECT_EQ(derived->model_path, base->model_path);
    EXPECT_EQ(derived->recipe.parameters["num_ctx"], 8192);
    EXPECT_DOUBLE_EQ(derived->recipe.parameters["temperature"].get<double>(), 0.3);
    EXPECT_EQ(derived->recipe.system, "new");
    EXPECT_EQ(derived->recipe.chat_template, "t1");
    EXPECT_EQ(base->recipe.parameters["num_ctx"], 2048);
}

TEST_F(ModelStoreTest, CreateFromAnUploadedBlob) {
    auto layer = store_->add_blob_from_file(scratch_.path() / "tiny.gguf", media_type::kModel);
    ASSERT_TRUE(layer);
    ModelRecipe from_blob;
    from_blob.from = layer->digest.str();
    ASSERT_TRUE(store_->create("fromblob", from_blob, scratch_.path()));
    from_blob.from = Digest::of_bytes("not uploaded").str();
    EXPECT_EQ(store_->create("missing", from_blob, scratch_.path()).status().code(),
              ErrorCode::kNotFound);
}

// Without a file base (a request over HTTP), FROM opens no file: a good GGUF, a bad one, a
// directory and a missing path all get the one answer a missing model gets.
TEST_F(ModelStoreTest, WithoutAFileBaseNoFileIsOpened) {
    test::write_file(scratch_.path() / "bad.gguf", "GGUF but not really");
    const std::string dir = scratch_.path().string();
    std::vector<std::string> messages;
    for (const std::string& from :
         {dir + "/tiny.gguf", dir + "/bad.gguf", dir, dir + "/missing.gguf",
          std::string("tiny.gguf"), std::string("~/tiny.gguf")}) {
        SCOPED_TRACE(from);
        ModelRecipe r;
        r.from = from;
        auto created = store_->create("viaapi", r, std::nullopt);
        ASSERT_FALSE(created);
        EXPECT_EQ(created.status().code(), ErrorCode::kNotFound);
        std::string message = created.status().message();
        message.replace(message.find(from), from.size(), "X");
        messages.push_back(message);
    }
    for (const std::string& message : messages) EXPECT_EQ(message, messages.front());
    EXPECT_NE(messages.front().find("no model of that name"), std::string::npos);
    // Models and uploaded blobs still work.
    ASSERT_TRUE(store_->create("base", recipe("FROM tiny.gguf\n"), scratch_.path()));
    ModelRecipe from_model;
    from_model.from = "base";
    EXPECT_TRUE(store_->create("derived", from_model, std::nullopt));
    auto layer = store_->add_blob_from_file(scratch_.path() / "tiny.gguf", media_type::kModel);
    ASSERT_TRUE(layer);
    ModelRecipe from_blob;
    from_blob.from = layer->digest.str();
    EXPECT_TRUE(store_->create("fromblob", from_blob, std::nullopt));
}

TEST_F(ModelStoreTest, FailedCreateLeavesNoManifest) {
    test::write_file(scratch_.path() / "bad.gguf", "GGUF but not really");
    auto bad = store_->create("broken", recipe("FROM bad.gguf\n"), scratch_.path());
    EXPECT_FALSE(bad);
    EXPECT_FALSE(store_->create("nothing", recipe("FROM ./nope.gguf\n"), scratch_.path()));
    EXPECT_FALSE(store_->create("dir", recipe("FROM .\n"), scratch_.path()));
    EXPECT_FALSE(store_->create("../escape", recipe("FROM tiny.gguf\n"), scratch_.path()));
    auto models = store_->list();
    ASSERT_TRUE(models);
    EXPECT_TRUE(models->empty());
    EXPECT_TRUE(blob_files(*store_).empty());
}

TEST_F(ModelStoreTest, CreateFailingAtTheManifestRemovesTheBlobsItWrote) {
    // A directory where the manifest goes: every blob is written, then the manifest fails.
    fs::create_directories(store_->root() / "manifests/registry.ollama.ai/library/blocked/latest");
    auto failed = store_->create("blocked", recipe("FROM tiny.gguf\nSYSTEM hi\n"), scratch_.path());
    EXPECT_FALSE(failed);
    EXPECT_TRUE(blob_files(*store_).empty());
    // Blobs another model uses stay.
    ASSERT_TRUE(store_->create("kept", recipe("FROM tiny.gguf\n"), scratch_.path()));
    const auto before = blob_files(*store_);
    EXPECT_FALSE(store_->create("blocked", recipe("FROM tiny.gguf\nSYSTEM hi\n"), scratch_.path()));
    EXPECT_EQ(blob_files(*store_), before);
}

TEST_F(ModelStoreTest, BlobUploadHashesCapsAndCleansUp) {
    const std::string content = "streamed content";
    const Digest digest = Digest::of_bytes(content);
    {
        auto upload = BlobUpload::start(*store_, digest, 1024, content.size());
        ASSERT_TRUE(upload);
        ASSERT_TRUE(upload->write(content.data(), 8));
        ASSERT_TRUE(upload->write(content.data() + 8, content.size() - 8));
        ASSERT_TRUE(upload->commit());
    }
    EXPECT_TRUE(store_->has_blob(digest));
    EXPECT_TRUE(store_->verify_blob(digest));

    const Digest other = Digest::of_bytes("other");
    EXPECT_EQ(BlobUpload::start(*store_, other, 4, 5).status().code(), ErrorCode::kOutOfRange);
    {
        auto upload = BlobUpload::start(*store_, other, 4, std::nullopt);
        ASSERT_TRUE(upload);
        EXPECT_EQ(upload->write("other", 5).code(), ErrorCode::kOutOfRange);
    }
    {
        auto upload = BlobUpload::start(*store_, other, 1024, std::nullopt);
        ASSERT_TRUE(upload);
        ASSERT_TRUE(upload->write("wrong", 5));
        EXPECT_EQ(upload->commit().code(), ErrorCode::kCorrupt);
    }
    EXPECT_FALSE(store_->has_blob(other));
    // Only the committed blob is left: no partial files.
    EXPECT_EQ(blob_files(*store_), std::set<std::string>{digest.file_name()});
}

TEST_F(ModelStoreTest, CommitBlobRejectsTamperedContent) {
    const Digest expected = Digest::of_bytes("the real content");
    const fs::path partial = store_->partial_blob_path(expected);
    test::write_file(partial, "tampered content");
    const Status status = store_->commit_blob_file(partial, expected);
    EXPECT_EQ(status.code(), ErrorCode::kCorrupt);
    EXPECT_FALSE(store_->has_blob(expected));
    EXPECT_FALSE(fs::exists(partial));
    test::write_file(partial, "the real content");
    EXPECT_TRUE(store_->commit_blob_file(partial, expected));
    EXPECT_TRUE(store_->has_blob(expected, 16));
}

TEST_F(ModelStoreTest, ManifestWithMissingBlobIsNotWritten) {
    auto layer = store_->add_blob_bytes("{}", media_type::kConfig);
    ASSERT_TRUE(layer);
    Manifest manifest{*layer,
                      {Layer{std::string(media_type::kModel), Digest::of_bytes("absent"), 6}}};
    auto name = ModelName::parse("dangling");
    ASSERT_TRUE(name);
    EXPECT_EQ(store_->write_manifest(*name, manifest).code(), ErrorCode::kNotFound);
    EXPECT_FALSE(store_->has_model(*name));
}

// Many threads creating and deleting one name (each operation opens its own lock descriptor,
// as separate processes would) must leave either a complete model or none, and no orphan blobs.
TEST_F(ModelStoreTest, ConcurrentCreateAndDeleteStayConsistent) {
    constexpr int kRounds = 12;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRounds; ++i) {
                if ((t + i) % 2 == 0) {
                    ModelRecipe r;
                    r.from = (scratch_.path() / "tiny.gguf").string();
                    r.system = "round " + std::to_string(i % 3);
                    (void)store_->create("contended", r, scratch_.path());
                } else {
                    (void)store_->remove("contended");
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();

    std::set<std::string> referenced;
    auto models = store_->list();
    ASSERT_TRUE(models);
    for (const auto& model : *models) {
        for (const Digest& d : model.manifest.all_digests()) {
            referenced.insert(d.file_name());
            EXPECT_TRUE(store_->verify_blob(d));
        }
    }
    EXPECT_LE(models->size(), 1u);
    EXPECT_EQ(blob_files(*store_), referenced);
    if (!models->empty()) {
        ASSERT_TRUE(store_->remove("contended"));
        EXPECT_TRUE(blob_files(*store_).empty());
    }
}

}  // namespace
}  // namespace cria::store
