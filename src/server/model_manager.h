// The models `cria serve` offers and the ones it holds in memory.
//
// A request names a model; the manager resolves the name (a `--model NAME=PATH` of the server,
// or a model of the store: `llama3.2`, `llama3.2:latest`, `user/model:tag`), loads it on first
// use and hands out a lease. A model stays loaded for its keep-alive after its last lease ends
// (default 5 minutes, CRIA_KEEP_ALIVE; 0 unloads at once, negative never); a reaper thread
// unloads the ones whose time is up. Before a load, idle models are unloaded, least recently
// used first, while CRIA_MAX_LOADED_MODELS would be exceeded or the new model's estimated
// memory (weights + KV cache) exceeds the machine's MemAvailable. A model in use is never
// unloaded: leases share ownership of it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "server/generation.h"
#include "store/model_store.h"

namespace cria::server {

// How long a model stays loaded after a request: negative means for ever.
using KeepAlive = std::chrono::milliseconds;

inline constexpr KeepAlive kDefaultKeepAlive = std::chrono::minutes(5);
inline constexpr int kDefaultMaxLoadedModels = 3;

// Ollama's keep_alive: a number of seconds, or a Go duration string ("5m", "10s", "1h30m",
// "500ms", "-1", "0"). Negative keeps the model for ever.
Expected<KeepAlive> parse_keep_alive(const nlohmann::json& value);

// What a model name resolves to.
struct ModelSource {
    std::string name;           // as responses and /api/ps show it (":latest" left out)
    std::string path;           // the GGUF file
    bool is_file = false;       // a --model NAME=PATH of the server, not a model of the store
    store::ModelRecipe recipe;  // Modelfile defaults; empty for --model files
    // The manifest digest (hex); for a --model file, a digest of its path, size and
    // modification time (it changes whenever the file does, without hashing gigabytes).
    std::string digest;
    // The store's config blob; for a --model file, the same fields read from the GGUF.
    nlohmann::json config = nlohmann::json::object();
    uint64_t file_bytes = 0;
    int64_t modified_unix = 0;  // when the store last wrote the model, or the file's mtime
};

class HealthState;

struct ModelManagerOptions {
    ServeOptions serve;  // context_length is the default when the Modelfile sets no num_ctx
    KeepAlive default_keep_alive = kDefaultKeepAlive;
    int max_loaded_models = kDefaultMaxLoadedModels;
    // Refuse a load whose estimate exceeds MemAvailable (when nothing idle is left to unload).
    bool check_memory = true;
    // When set, reports every load in progress (GET /health answers 503 meanwhile); not owned.
    HealthState* health = nullptr;
};

// One loaded model as /api/ps lists it.
struct LoadedModelInfo {
    ModelSource source;
    int64_t context_length = 0;
    uint64_t size_bytes = 0;                                          // the memory estimate
    std::optional<std::chrono::system_clock::time_point> expires_at;  // nullopt: never
    int in_use = 0;
    int running_choices = 0;  // choices holding one of its sequences now
    int queued_requests = 0;  // requests waiting for a sequence
};

class ModelManager;

// A model held for one request. While a lease lives the model stays loaded; when it ends the
// keep-alive (the request's, else the default) starts counting.
class ModelLease {
  public:
    ModelLease() = default;
    ModelLease(ModelLease&& other) noexcept;
    ModelLease& operator=(ModelLease&& other) noexcept;
    ModelLease(const ModelLease&) = delete;
    ModelLease& operator=(const ModelLease&) = delete;
    ~ModelLease();

    ServedModel& model() const;
    const ModelSource& source() const;
    // Time this request spent loading the model (zero when it was loaded already).
    std::chrono::nanoseconds load_duration() const { return load_duration_; }
    void set_keep_alive(KeepAlive keep_alive) { keep_alive_ = keep_alive; }

  private:
    friend class ModelManager;
    struct Entry;
    void release();

    ModelManager* manager_ = nullptr;
    std::shared_ptr<Entry> entry_;
    std::chrono::nanoseconds load_duration_{0};
    std::optional<KeepAlive> keep_alive_;
};

class ModelManager {
  public:
    // `store` may be null (no store); it must outlive the manager. `files` are the server's
    // --model NAME=PATH entries.
    ModelManager(const ModelManagerOptions& options, const store::ModelStore* store,
                 std::vector<std::pair<std::string, std::string>> files);
    ~ModelManager();
    ModelManager(const ModelManager&) = delete;
    ModelManager& operator=(const ModelManager&) = delete;

    // kNotFound (with Ollama's message) when the name matches nothing.
    Expected<ModelSource> resolve(const std::string& name) const;
    // Every model a request may name: the --model files, then the store's models.
    std::vector<ModelSource> servable() const;

    // Loads the model when needed (or reloads it when `num_ctx` differs from the loaded one's)
    // and leases it. `num_ctx` overrides the Modelfile's.
    Expected<ModelLease> acquire(const std::string& name,
                                 std::optional<int64_t> num_ctx = std::nullopt,
                                 std::optional<KeepAlive> keep_alive = std::nullopt);
    // Unloads the model now if it is idle, or as soon as its last lease ends. False when it
    // was not loaded.
    bool unload(const std::string& name);
    std::vector<LoadedModelInfo> loaded() const;

    KeepAlive default_keep_alive() const { return options_.default_keep_alive; }

  private:
    friend class ModelLease;
    using Clock = std::chrono::steady_clock;
    // A --model file as a source, its GGUF read once per version of the file.
    ModelSource file_source(const std::string& name, const std::string& path) const;
    using LoadedTable = std::map<std::string, std::shared_ptr<ModelLease::Entry>>;
    void release(const std::shared_ptr<ModelLease::Entry>& entry, std::optional<KeepAlive> keep);
    // Takes idle models out until one more fits; returns them to be destroyed unlocked.
    std::vector<std::shared_ptr<ModelLease::Entry>> make_room_locked(uint64_t needed_bytes);
    // The idle model used longest ago, or loaded_.end() when every model is in use.
    LoadedTable::iterator least_recently_used_idle_locked();
    void reap_loop();

    ModelManagerOptions options_;
    const store::ModelStore* store_;
    std::vector<std::pair<std::string, std::string>> files_;
    struct FileInfo {
        uint64_t size = 0;
        int64_t mtime = 0;
        std::string digest;
        nlohmann::json config;
    };
    mutable std::mutex files_mutex_;
    mutable std::map<std::string, FileInfo> file_info_;  // by path

    mutable std::mutex mutex_;
    std::condition_variable wake_reaper_;
    LoadedTable loaded_;  // by source name
    bool stopping_ = false;
    std::mutex load_mutex_;  // one load at a time: loads are memory-bound anyway
    std::thread reaper_;
};

// The memory a model needs once loaded: its weights (and the copy of a tied output projection)
// plus an f32 KV cache of `context_length` tokens (from the GGUF's layer and head counts). An
// estimate, on the high side.
uint64_t estimate_model_bytes(const std::string& path, int64_t context_length);

}  // namespace cria::server
