// Persistent store for OpenAI Responses API objects, so that a request naming
// `previous_response_id` can continue a conversation, also after a restart. One SQLite file holds
// one row per response (its own input items, its output items and the whole response object);
// a conversation is rebuilt by following previous_response_id back from its last response.
// Retention (a maximum count and a maximum age) is applied on every put, so the file stays bounded
// without a background task. Every call is serialized by a mutex: the store is shared by the
// server's HTTP threads, and SQLite's WAL mode lets other processes read it meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;

namespace cria::store {

struct StoredResponse {
    std::string id;                    // "resp_..." (primary key)
    int64_t created_at = 0;            // unix seconds
    std::string previous_response_id;  // empty: starts a conversation
    std::string model;
    nlohmann::json input_items = nlohmann::json::array();   // this request's input items
    nlohmann::json output_items = nlohmann::json::array();  // the response's output items
    nlohmann::json response = nlohmann::json::object();     // the response as returned
};

struct ResponseRetention {
    int64_t max_count = 10000;                   // stored responses kept; the oldest go first
    int64_t max_age_seconds = 30LL * 24 * 3600;  // older ones are dropped
};

class ResponseStore {
  public:
    // Opens (creating when needed, with parent directories, file mode 0600) the database file.
    // A path that exists but is not a regular file, a file that is not an SQLite database, a
    // schema newer than this build knows, and retention limits below 1 are errors.
    static Expected<std::unique_ptr<ResponseStore>> open(const std::filesystem::path& file,
                                                         ResponseRetention retention = {});
    ~ResponseStore();
    ResponseStore(const ResponseStore&) = delete;
    ResponseStore& operator=(const ResponseStore&) = delete;

    // Inserts (or replaces, same id) one response, then applies retention (age relative to
    // `now_unix`, then count) in the same transaction.
    Status put(const StoredResponse& response, int64_t now_unix);
    // kNotFound when absent or expired relative to `now_unix`.
    Expected<StoredResponse> get(const std::string& id, int64_t now_unix) const;
    // true when a response was deleted, false when there was none.
    Expected<bool> remove(const std::string& id);
    // The conversation that ends with `id`: the response and its predecessors via
    // previous_response_id, oldest first, at most `max_depth` responses. kNotFound when `id` itself
    // is absent; a missing (deleted or expired) predecessor ends the chain there. kOutOfRange when
    // the chain is longer than `max_depth`. A repeated id also ends the chain.
    Expected<std::vector<StoredResponse>> chain(const std::string& id, size_t max_depth,
                                                int64_t now_unix) const;
    // Rows in the file, expired ones not yet dropped included; -1 when the query fails.
    int64_t count() const;

  private:
    ResponseStore(sqlite3* db, ResponseRetention retention) : db_(db), retention_(retention) {}
    // The oldest created_at still served at `now_unix`.
    int64_t age_cutoff(int64_t now_unix) const;
    Expected<StoredResponse> get_locked(const std::string& id, int64_t now_unix) const;

    sqlite3* db_;
    ResponseRetention retention_;
    // One connection shared by all threads: SQLite connections must not run two statements'
    // steps concurrently, and a transaction belongs to the connection, not the thread.
    mutable std::mutex mutex_;
};

}  // namespace cria::store
