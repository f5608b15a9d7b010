// The response store keeps Responses API objects across restarts: a conversation is rebuilt by
// following previous_response_id, retention bounds the file, and paths that are not database
// files are refused without blocking.
#include "store/response_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace cria::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kNow = 1'700'000'000;

// A directory of this process and test, removed at the end: tests run as parallel processes.
class ResponseStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        dir_ = fs::temp_directory_path() /
               ("cria-response-store-" + std::to_string(::getpid()) + "-" + name);
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    fs::path db_path() const { return dir_ / "sub" / "responses.db"; }

    std::unique_ptr<ResponseStore> open_store(ResponseRetention retention = {}) {
        Expected<std::unique_ptr<ResponseStore>> store = ResponseStore::open(db_path(), retention);
        EXPECT_TRUE(store.has_value()) << store.status().message();
        return store.has_value() ? std::move(store).value() : nullptr;
    }

    static StoredResponse make(const std::string& id, int64_t created_at,
                               const std::string& previous = "") {
        StoredResponse r;
        r.id = id;
        r.created_at = created_at;
        r.previous_response_id = previous;
        r.model = "tiny";
        r.input_items = json::array({{{"id", "msg_" + id}, {"type", "message"}}});
        r.output_items = json::array({{{"id", "out_" + id}, {"type", "message"}}});
        r.response = {{"id", id}, {"object", "response"}, {"created_at", created_at}};
        return r;
    }

    fs::path dir_;
};

TEST_F(ResponseStoreTest, PutGetRoundTripsEveryField) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    StoredResponse r = make("resp_1", kNow, "resp_0");
    r.model = "llama \"quoted\" ü";
    r.input_items = json::array({{{"id", "a"}, {"content", json::array({1, 2.5, nullptr})}}});
    r.response["nested"] = {{"x", {{"y", true}}}};
    ASSERT_TRUE(store->put(r, kNow).is_ok());

    Expected<StoredResponse> got = store->get("resp_1", kNow);
    ASSERT_TRUE(got.has_value()) << got.status().message();
    EXPECT_EQ(got->id, r.id);
    EXPECT_EQ(got->created_at, r.created_at);
    EXPECT_EQ(got->previous_response_id, "resp_0");
    EXPECT_EQ(got->model, r.model);
    EXPECT_EQ(got->input_items, r.input_items);
    EXPECT_EQ(got->output_items, r.output_items);
    EXPECT_EQ(got->response, r.response);
    EXPECT_EQ(store->count(), 1);

    // The store's file is private to its user.
    struct stat st {};
    ASSERT_EQ(::stat(db_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ResponseStoreTest, PutReplacesTheSameId) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put(make("resp_1", kNow), kNow).is_ok());
    StoredResponse second = make("resp_1", kNow + 1);
    second.model = "other";
    ASSERT_TRUE(store->put(second, kNow + 1).is_ok());
    EXPECT_EQ(store->count(), 1);
    Expected<StoredResponse> got = store->get("resp_1", kNow + 1);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->model, "other");
    EXPECT_EQ(got->created_at, kNow + 1);
    EXPECT_TRUE(got->previous_response_id.empty());
}

TEST_F(ResponseStoreTest, RemoveSaysWhetherThereWasOne) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put(make("resp_1", kNow), kNow).is_ok());
    Expected<bool> removed = store->remove("resp_1");
    ASSERT_TRUE(removed.has_value());
    EXPECT_TRUE(*removed);
    removed = store->remove("resp_1");
    ASSERT_TRUE(removed.has_value());
    EXPECT_FALSE(*removed);
    EXPECT_EQ(store->get("resp_1", kNow).status().code(), ErrorCode::kNotFound);
}

TEST_F(ResponseStoreTest, GetUnknownIsNotFound) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->get("resp_missing", kNow).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store->chain("resp_missing", 10, kNow).status().code(), ErrorCode::kNotFound);
}

TEST_F(ResponseStoreTest, ChainIsOldestFirst) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put(make("resp_a", kNow), kNow).is_ok());
    ASSERT_TRUE(store->put(make("resp_b", kNow + 1, "resp_a"), kNow + 1).is_ok());
    ASSERT_TRUE(store->put(make("resp_c", kNow + 2, "resp_b"), kNow + 2).is_ok());

    Expected<std::vector<StoredResponse>> chain = store->chain("resp_c", 3, kNow + 2);
    ASSERT_TRUE(chain.has_value()) << chain.status().message();
    ASSERT_EQ(chain->size(), 3u);
    EXPECT_EQ((*chain)[0].id, "resp_a");
    EXPECT_EQ((*chain)[1].id, "resp_b");
    EXPECT_EQ((*chain)[2].id, "resp_c");

    chain = store->chain("resp_b", 3, kNow + 2);
    ASSERT_TRUE(chain.has_value());
    ASSERT_EQ(chain->size(), 2u);
    EXPECT_EQ((*chain)[0].id, "resp_a");
}

TEST_F(ResponseStoreTest, ChainEndsAtADeletedPredecessor) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put(make("resp_a", kNow), kNow).is_ok());
    ASSERT_TRUE(store->put(make("resp_b", kNow + 1, "resp_a"), kNow + 1).is_ok());
    ASSERT_TRUE(store->put(make("resp_c", kNow + 2, "resp_b"), kNow + 2).is_ok());
    ASSERT_TRUE(store->remove("resp_b").has_value());

    Expected<std::vector<StoredResponse>> chain = store->chain("resp_c", 10, kNow + 2);
    ASSERT_TRUE(chain.has_value()) << chain.status().message();
    ASSERT_EQ(chain->size(), 1u);
    EXPECT_EQ((*chain)[0].id, "resp_c");
}

TEST_F(ResponseStoreTest, ChainLongerThanMaxDepthIsOutOfRange) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    std::string previous;
    for (int i = 0; i < 5; ++i) {
        const std::string id = "resp_" + std::to_string(i);
        ASSERT_TRUE(store->put(make(id, kNow + i, previous), kNow + i).is_ok());
        previous = id;
    }
    EXPECT_EQ(store->chain("resp_4", 4, kNow + 5).status().code(), ErrorCode::kOutOfRange);
    Expected<std::vector<StoredResponse>> chain = store->chain("resp_4", 5, kNow + 5);
    ASSERT_TRUE(chain.has_value());
    EXPECT_EQ(chain->size(), 5u);
}

TEST_F(ResponseStoreTest, ChainStopsOnARepeatedId) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    // Not something the server writes, but a file edited by hand must not loop forever.
    ASSERT_TRUE(store->put(make("resp_a", kNow, "resp_b"), kNow).is_ok());
    ASSERT_TRUE(store->put(make("resp_b", kNow, "resp_a"), kNow).is_ok());
    Expected<std::vector<StoredResponse>> chain = store->chain("resp_b", 10, kNow);
    ASSERT_TRUE(chain.has_value());
    ASSERT_EQ(chain->size(), 2u);
    EXPECT_EQ((*chain)[0].id, "resp_a");
    EXPECT_EQ((*chain)[1].id, "resp_b");
}

TEST_F(ResponseStoreTest, RetentionByCountDropsTheOldest) {
    auto store = open_store({.max_count = 3, .max_age_seconds = 1'000'000});
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(store->put(make("resp_" + std::to_string(i), kNow + i), kNow + i).is_ok());
    }
    EXPECT_EQ(store->count(), 3);
    EXPECT_EQ(store->get("resp_0", kNow + 5).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store->get("resp_1", kNow + 5).status().code(), ErrorCode::kNotFound);
    for (int i = 2; i < 5; ++i) {
        EXPECT_TRUE(store->get("resp_" + std::to_string(i), kNow + 5).has_value()) << i;
    }
}

TEST_F(ResponseStoreTest, RetentionByAge) {
    auto store = open_store({.max_count = 100, .max_age_seconds = 60});
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put(make("resp_old", kNow), kNow).is_ok());
    ASSERT_TRUE(store->put(make("resp_new", kNow + 50, "resp_old"), kNow + 50).is_ok());
    EXPECT_EQ(store->count(), 2);

    // Expired responses are not served even before a put drops them.
    EXPECT_TRUE(store->get("resp_old", kNow + 60).has_value());
    EXPECT_EQ(store->get("resp_old", kNow + 61).status().code(), ErrorCode::kNotFound);
    Expected<std::vector<StoredResponse>> chain = store->chain("resp_new", 10, kNow + 61);
    ASSERT_TRUE(chain.has_value());
    EXPECT_EQ(chain->size(), 1u);

    ASSERT_TRUE(store->put(make("resp_later", kNow + 100), kNow + 100).is_ok());
    EXPECT_EQ(store->count(), 2);  // resp_old dropped, resp_new (age 50) kept
    EXPECT_EQ(store->get("resp_old", kNow).status().code(), ErrorCode::kNotFound);
    EXPECT_TRUE(store->get("resp_new", kNow + 100).has_value());
}

TEST_F(ResponseStoreTest, DataSurvivesReopening) {
    {
        auto store = open_store();
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(store->put(make("resp_a", kNow), kNow).is_ok());
        ASSERT_TRUE(store->put(make("resp_b", kNow + 1, "resp_a"), kNow + 1).is_ok());
    }
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->count(), 2);
    Expected<std::vector<StoredResponse>> chain = store->chain("resp_b", 10, kNow + 1);
    ASSERT_TRUE(chain.has_value()) << chain.status().message();
    ASSERT_EQ(chain->size(), 2u);
    EXPECT_EQ((*chain)[0].response, make("resp_a", kNow).response);
}

TEST_F(ResponseStoreTest, CorruptRowIsAnError) {
    {
        auto store = open_store();
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(store->put(make("resp_a", kNow), kNow).is_ok());
        ASSERT_TRUE(store->put(make("resp_b", kNow + 1, "resp_a"), kNow + 1).is_ok());
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "UPDATE responses SET output_items = '{not json' WHERE id = 'resp_a'",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);

    auto store = open_store();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->get("resp_a", kNow).status().code(), ErrorCode::kCorrupt);
    EXPECT_EQ(store->chain("resp_b", 10, kNow + 1).status().code(), ErrorCode::kCorrupt);
    EXPECT_TRUE(store->get("resp_b", kNow + 1).has_value());
}

TEST_F(ResponseStoreTest, OpenRefusesADirectory) {
    Expected<std::unique_ptr<ResponseStore>> store = ResponseStore::open(dir_);
    ASSERT_FALSE(store.has_value());
    EXPECT_NE(store.status().message().find("not a regular file"), std::string::npos)
        << store.status().message();
}

TEST_F(ResponseStoreTest, OpenRefusesAFifoWithoutBlocking) {
    const fs::path fifo = dir_ / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // Opening a FIFO for reading would block until a writer comes: the test would hang.
    Expected<std::unique_ptr<ResponseStore>> store = ResponseStore::open(fifo);
    ASSERT_FALSE(store.has_value());
    EXPECT_NE(store.status().message().find("not a regular file"), std::string::npos);
}

TEST_F(ResponseStoreTest, OpenRefusesAFileThatIsNotADatabase) {
    const fs::path file = dir_ / "garbage.db";
    test::write_file(file, std::string(4096, 'x') + "this is not an SQLite database");
    Expected<std::unique_ptr<ResponseStore>> store = ResponseStore::open(file);
    ASSERT_FALSE(store.has_value());
    EXPECT_EQ(store.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(store.status().message().find("not an SQLite database"), std::string::npos)
        << store.status().message();
}

TEST_F(ResponseStoreTest, OpenRefusesRetentionBelowOne) {
    Expected<std::unique_ptr<ResponseStore>> store =
        ResponseStore::open(db_path(), {.max_count = 0, .max_age_seconds = 60});
    EXPECT_EQ(store.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ResponseStoreTest, ConcurrentPutsAllLand) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    constexpr int kThreads = 4;
    constexpr int kEach = 50;
    std::vector<int> failures(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&store, &failures, t] {
            for (int i = 0; i < kEach; ++i) {
                const std::string id = "resp_" + std::to_string(t) + "_" + std::to_string(i);
                if (!store->put(make(id, kNow), kNow).is_ok()) ++failures[static_cast<size_t>(t)];
                if (!store->get(id, kNow).has_value()) ++failures[static_cast<size_t>(t)];
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[static_cast<size_t>(t)], 0) << t;
    EXPECT_EQ(store->count(), kThreads * kEach);
}

}  // namespace
}  // namespace cria::store
