#include "store/response_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

namespace cria::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kSchemaVersion = 1;

Status sqlite_status(sqlite3* db, int rc, const std::string& what) {
    std::string message = what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {  // the primary code: extended codes only refine it
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
            return corrupt(std::move(message));
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return unavailable(std::move(message));
        case SQLITE_FULL:
        case SQLITE_TOOBIG:
        case SQLITE_NOMEM:
            return resource_exhausted(std::move(message));
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
            return io_error(std::move(message));
        default:
            return internal_error(std::move(message));
    }
}

// Runs SQL that carries no values (pragmas, transaction control, schema), discarding any rows.
Status exec(sqlite3* db, const char* sql) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sqlite_status(db, rc, std::string("'") + sql + "' failed");
    return Status::ok();
}

// A prepared statement, finalized when it goes out of scope.
class Statement {
  public:
    static Expected<Statement> prepare(sqlite3* db, const char* sql) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            return sqlite_status(db, rc, std::string("cannot prepare '") + sql + "'");
        }
        return Statement(db, stmt);
    }
    Statement(Statement&& other) noexcept
        : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() { sqlite3_finalize(stmt_); }

    Status bind(int index, std::string_view text) {
        // SQLITE_TRANSIENT: SQLite copies, so the caller's string need not outlive the step.
        return check_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(),
                                              SQLITE_TRANSIENT, SQLITE_UTF8));
    }
    // An empty string is stored as NULL: "no value" rather than a value that is empty.
    Status bind_or_null(int index, std::string_view text) {
        if (text.empty()) return check_bind(sqlite3_bind_null(stmt_, index));
        return bind(index, text);
    }
    Status bind(int index, int64_t value) {
        return check_bind(sqlite3_bind_int64(stmt_, index, value));
    }

    // true: a row is ready; false: the statement is done.
    Expected<bool> step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return sqlite_status(db_, rc, std::string("'") + sqlite3_sql(stmt_) + "' failed");
    }
    // Runs a statement that returns no rows.
    Status run() {
        Expected<bool> row = step();
        if (!row) return row.status();
        return Status::ok();
    }

    int64_t column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
    std::string column_text(int index) const {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
        if (text == nullptr) return {};  // NULL
        return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
    }

  private:
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Status check_bind(int rc) {
        if (rc == SQLITE_OK) return Status::ok();
        return sqlite_status(db_, rc, "cannot bind a parameter");
    }

    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

// Rolls back unless committed, so that an early error return leaves the file as it was.
class Transaction {
  public:
    explicit Transaction(sqlite3* db) : db_(db) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
        if (open_) (void)exec(db_, "ROLLBACK");
    }
    // IMMEDIATE for writers: taking the write lock up front avoids a deadlock-prone upgrade from
    // a read lock when another process writes too. Readers begin a deferred one for a snapshot.
    Status begin(bool write) {
        CRIA_RETURN_IF_ERROR(exec(db_, write ? "BEGIN IMMEDIATE" : "BEGIN"));
        open_ = true;
        return Status::ok();
    }
    Status commit() {
        CRIA_RETURN_IF_ERROR(exec(db_, "COMMIT"));
        open_ = false;
        return Status::ok();
    }

  private:
    sqlite3* db_;
    bool open_ = false;
};

// The path must be a regular file (a symbolic link to one is followed) or absent, in which case
// it is created empty with mode 0600: the responses hold users' conversations. Checking before
// SQLite opens the path keeps a FIFO or a device from blocking or being written to.
Status prepare_file(const fs::path& file) {
    std::error_code ec;
    fs::file_status link = fs::symlink_status(file, ec);
    if (link.type() == fs::file_type::not_found) {
        if (file.has_parent_path()) {
            fs::create_directories(file.parent_path(), ec);
            if (ec) {
                return io_error("cannot create " + file.parent_path().string() + ": " +
                                ec.message());
            }
        }
        const int fd =
            ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::close(fd);
            return Status::ok();
        }
        if (errno != EEXIST) {
            return io_error("cannot create " + file.string() + ": " +
                            std::error_code(errno, std::generic_category()).message());
        }
        // Another process created it meanwhile: check what it is like any existing path.
        link = fs::symlink_status(file, ec);
    }
    if (link.type() == fs::file_type::none || link.type() == fs::file_type::unknown) {
        return io_error("cannot inspect " + file.string() + ": " + ec.message());
    }
    const fs::file_status target = fs::status(file, ec);
    if (target.type() == fs::file_type::not_found) {
        return invalid_argument(file.string() + " is a symbolic link to nothing");
    }
    if (target.type() != fs::file_type::regular) {
        return invalid_argument(file.string() + " exists but is not a regular file");
    }
    return Status::ok();
}

Expected<int64_t> user_version(sqlite3* db) {
    CRIA_ASSIGN_OR_RETURN(Statement stmt, Statement::prepare(db, "PRAGMA user_version"));
    CRIA_ASSIGN_OR_RETURN(const bool row, stmt.step());
    if (!row) return internal_error("PRAGMA user_version returned no row");
    return stmt.column_int(0);
}

Status create_schema(sqlite3* db, const fs::path& file) {
    // Under the write lock, so that two processes opening a new file do not both create it.
    Transaction tx(db);
    CRIA_RETURN_IF_ERROR(tx.begin(/*write=*/true));
    CRIA_ASSIGN_OR_RETURN(const int64_t version, user_version(db));
    if (version == kSchemaVersion) return tx.commit();
    if (version > kSchemaVersion) {
        return unsupported(file.string() + " has response store schema " + std::to_string(version) +
                           ", newer than this build's " + std::to_string(kSchemaVersion));
    }
    CRIA_RETURN_IF_ERROR(exec(db,
                              "CREATE TABLE IF NOT EXISTS responses("
                              "id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, previous_id TEXT, "
                              "model TEXT, input_items TEXT, output_items TEXT, response TEXT)"));
    CRIA_RETURN_IF_ERROR(
        exec(db, "CREATE INDEX IF NOT EXISTS responses_created_at ON responses(created_at)"));
    static_assert(kSchemaVersion == 1, "update the user_version pragma below");
    CRIA_RETURN_IF_ERROR(exec(db, "PRAGMA user_version = 1"));
    return tx.commit();
}

Expected<json> parse_column(const Statement& stmt, int index, const std::string& id,
                            const char* column) {
    json value = json::parse(stmt.column_text(index), nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return corrupt("stored response " + id + ": " + column + " is not valid JSON");
    }
    return value;
}

// Invalid UTF-8 in a string is replaced rather than thrown on, as when the response is sent.
std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Expected<std::unique_ptr<ResponseStore>> ResponseStore::open(const fs::path& file,
                                                             ResponseRetention retention) {
    if (retention.max_count < 1 || retention.max_age_seconds < 1) {
        return invalid_argument("response retention limits must be at least 1");
    }
    CRIA_RETURN_IF_ERROR(prepare_file(file));

    sqlite3* db = nullptr;
    // No SQLITE_OPEN_CREATE: prepare_file made the file with the right mode. NOMUTEX because
    // the store's own mutex already serializes every use of the connection.
    const int rc =
        sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    // From here the store owns the handle (sqlite3_open_v2 returns one even when it fails), so
    // every error below closes it.
    std::unique_ptr<ResponseStore> store(new ResponseStore(db, retention));
    if (rc != SQLITE_OK) return sqlite_status(db, rc, "cannot open " + file.string());

    CRIA_RETURN_IF_ERROR(exec(db, "PRAGMA busy_timeout = 2000"));
    // The first statement that reads the file: a file that is not a database fails here.
    const int wal_rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
    if ((wal_rc & 0xff) == SQLITE_NOTADB) {
        return corrupt(file.string() + " is not an SQLite database");
    }
    if (wal_rc != SQLITE_OK) return sqlite_status(db, wal_rc, "cannot open " + file.string());
    CRIA_RETURN_IF_ERROR(create_schema(db, file));
    return store;
}

ResponseStore::~ResponseStore() {
    // Every statement is finalized by the call that prepared it, so the close cannot be refused.
    sqlite3_close(db_);
}

int64_t ResponseStore::age_cutoff(int64_t now_unix) const {
    // Saturates rather than overflowing for a clock far in the past.
    if (now_unix < std::numeric_limits<int64_t>::min() + retention_.max_age_seconds) {
        return std::numeric_limits<int64_t>::min();
    }
    return now_unix - retention_.max_age_seconds;
}

Status ResponseStore::put(const StoredResponse& response, int64_t now_unix) {
    if (response.id.empty()) return invalid_argument("a stored response needs an id");
    const std::string input_items = dump(response.input_items);
    const std::string output_items = dump(response.output_items);
    const std::string whole = dump(response.response);

    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    CRIA_RETURN_IF_ERROR(tx.begin(/*write=*/true));
    {
        CRIA_ASSIGN_OR_RETURN(Statement insert,
                              Statement::prepare(db_,
                                                 "INSERT OR REPLACE INTO responses(id, created_at, "
                                                 "previous_id, model, input_items, output_items, "
                                                 "response) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
        CRIA_RETURN_IF_ERROR(insert.bind(1, response.id));
        CRIA_RETURN_IF_ERROR(insert.bind(2, response.created_at));
        CRIA_RETURN_IF_ERROR(insert.bind_or_null(3, response.previous_response_id));
        CRIA_RETURN_IF_ERROR(insert.bind(4, response.model));
        CRIA_RETURN_IF_ERROR(insert.bind(5, input_items));
        CRIA_RETURN_IF_ERROR(insert.bind(6, output_items));
        CRIA_RETURN_IF_ERROR(insert.bind(7, whole));
        CRIA_RETURN_IF_ERROR(insert.run());
    }
    {
        CRIA_ASSIGN_OR_RETURN(
            Statement expire,
            Statement::prepare(db_, "DELETE FROM responses WHERE created_at < ?1"));
        CRIA_RETURN_IF_ERROR(expire.bind(1, age_cutoff(now_unix)));
        CRIA_RETURN_IF_ERROR(expire.run());
    }
    {
        // Oldest first; among equal timestamps the earlier insert (smaller rowid) goes first.
        CRIA_ASSIGN_OR_RETURN(
            Statement trim,
            Statement::prepare(db_,
                               "DELETE FROM responses WHERE rowid IN (SELECT rowid FROM responses "
                               "ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?1)"));
        CRIA_RETURN_IF_ERROR(trim.bind(1, retention_.max_count));
        CRIA_RETURN_IF_ERROR(trim.run());
    }
    return tx.commit();
}

Expected<StoredResponse> ResponseStore::get_locked(const std::string& id, int64_t now_unix) const {
    CRIA_ASSIGN_OR_RETURN(
        Statement select,
        Statement::prepare(db_,
                           "SELECT id, created_at, previous_id, model, input_items, output_items, "
                           "response FROM responses WHERE id = ?1 AND created_at >= ?2"));
    CRIA_RETURN_IF_ERROR(select.bind(1, id));
    CRIA_RETURN_IF_ERROR(select.bind(2, age_cutoff(now_unix)));
    CRIA_ASSIGN_OR_RETURN(const bool row, select.step());
    if (!row) return not_found("response " + id + " not found");

    StoredResponse out;
    out.id = select.column_text(0);
    out.created_at = select.column_int(1);
    out.previous_response_id = select.column_text(2);
    out.model = select.column_text(3);
    CRIA_ASSIGN_OR_RETURN(out.input_items, parse_column(select, 4, id, "input_items"));
    CRIA_ASSIGN_OR_RETURN(out.output_items, parse_column(select, 5, id, "output_items"));
    CRIA_ASSIGN_OR_RETURN(out.response, parse_column(select, 6, id, "response"));
    return out;
}

Expected<StoredResponse> ResponseStore::get(const std::string& id, int64_t now_unix) const {
    std::lock_guard lock(mutex_);
    return get_locked(id, now_unix);
}

Expected<bool> ResponseStore::remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    CRIA_ASSIGN_OR_RETURN(Statement erase,
                          Statement::prepare(db_, "DELETE FROM responses WHERE id = ?1"));
    CRIA_RETURN_IF_ERROR(erase.bind(1, id));
    CRIA_RETURN_IF_ERROR(erase.run());
    return sqlite3_changes(db_) > 0;
}

Expected<std::vector<StoredResponse>> ResponseStore::chain(const std::string& id, size_t max_depth,
                                                           int64_t now_unix) const {
    std::lock_guard lock(mutex_);
    // One read transaction: another process's writes cannot show between two links.
    Transaction tx(db_);
    CRIA_RETURN_IF_ERROR(tx.begin(/*write=*/false));

    std::vector<StoredResponse> newest_first;
    std::unordered_set<std::string> seen;
    std::string next = id;
    while (true) {
        Expected<StoredResponse> link = get_locked(next, now_unix);
        if (!link) {
            // A deleted or expired predecessor ends the conversation; the last one must exist.
            if (link.status().code() == ErrorCode::kNotFound && !newest_first.empty()) break;
            return link.status();
        }
        if (newest_first.size() == max_depth) {
            return out_of_range("the conversation ending with " + id + " is longer than " +
                                std::to_string(max_depth) + " responses");
        }
        std::string previous = link->previous_response_id;
        seen.insert(link->id);
        newest_first.push_back(std::move(link).value());
        if (previous.empty() || seen.contains(previous)) break;
        next = std::move(previous);
    }
    CRIA_RETURN_IF_ERROR(tx.commit());
    std::reverse(newest_first.begin(), newest_first.end());
    return newest_first;
}

int64_t ResponseStore::count() const {
    std::lock_guard lock(mutex_);
    Expected<Statement> select = Statement::prepare(db_, "SELECT COUNT(*) FROM responses");
    if (!select) return -1;
    Expected<bool> row = select->step();
    if (!row || !*row) return -1;
    return select->column_int(0);
}

}  // namespace cria::store
