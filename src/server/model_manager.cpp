#include "server/model_manager.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include <sys/stat.h>

#include "core/log.h"
#include "core/system_memory.h"
#include "gguf/reader.h"
#include "server/metrics.h"
#include "store/model_options.h"

namespace cria::server {

// One loaded model. Guarded by the manager's mutex except `model`, which is set before the
// entry is published and never changes.
struct ModelLease::Entry {
    ModelSource source;
    std::optional<int64_t> requested_ctx;  // what the load asked for (Modelfile or request)
    std::shared_ptr<ServedModel> model;
    uint64_t size_bytes = 0;
    int in_use = 0;
    std::chrono::steady_clock::time_point last_used;
    // Steady-clock deadline once idle; nullopt: never expires.
    std::optional<std::chrono::steady_clock::time_point> expires;
    KeepAlive keep_alive{0};  // the last one asked for, shown in /api/ps while in use
    bool retired = false;     // taken out of the table; unloads when its last lease ends
};

namespace {

// Go's time.ParseDuration for the units Ollama users write: ns us µs ms s m h, with decimal
// numbers and an optional sign ("1h30m", "1.5s", "-1m").
Expected<double> parse_go_duration_ms(std::string_view text) {
    std::string_view rest = text;
    double sign = 1;
    if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
        sign = rest[0] == '-' ? -1 : 1;
        rest.remove_prefix(1);
    }
    if (rest == "0") return 0.0;
    if (rest.empty()) return invalid_argument("empty duration");
    double total = 0;
    while (!rest.empty()) {
        size_t digits = 0;
        while (digits < rest.size() &&
               (std::isdigit(static_cast<unsigned char>(rest[digits])) || rest[digits] == '.')) {
            ++digits;
        }
        if (digits == 0 || digits > 32) return invalid_argument("bad number");
        const std::string number(rest.substr(0, digits));
        char* end = nullptr;
        const double value = std::strtod(number.c_str(), &end);
        if (end != number.c_str() + number.size()) return invalid_argument("bad number");
        rest.remove_prefix(digits);
        size_t unit_len = 0;
        while (unit_len < rest.size() &&
               !std::isdigit(static_cast<unsigned char>(rest[unit_len])) && rest[unit_len] != '.') {
            ++unit_len;
        }
        const std::string_view unit = rest.substr(0, unit_len);
        double ms_per_unit = 0;
        if (unit == "ns") {
            ms_per_unit = 1e-6;
        } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
            ms_per_unit = 1e-3;
        } else if (unit == "ms") {
            ms_per_unit = 1;
        } else if (unit == "s") {
            ms_per_unit = 1e3;
        } else if (unit == "m") {
            ms_per_unit = 60e3;
        } else if (unit == "h") {
            ms_per_unit = 3600e3;
        } else {
            return invalid_argument(unit.empty() ? "missing unit" : "unknown unit");
        }
        total += value * ms_per_unit;
        rest.remove_prefix(unit_len);
    }
    return sign * total;
}

// ~292 years: a longer keep-alive is as good as for ever.
constexpr double kMaxKeepAliveMs = 9.2e12;

KeepAlive to_keep_alive(double ms) {
    if (ms < 0) return KeepAlive(-1);
    return KeepAlive(static_cast<int64_t>(std::min(ms, kMaxKeepAliveMs)));
}

std::string strip_latest(std::string name) {
    const std::string_view tag = store::kDefaultTag;
    const size_t cut = name.size() - tag.size() - 1;  // where ":latest" would start
    if (name.size() > tag.size() + 1 && std::string_view(name).ends_with(tag) && name[cut] == ':') {
        name.resize(cut);
    }
    return name;
}

uint64_t file_size_or_zero(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<uint64_t>(size);
}

std::optional<int64_t> recipe_num_ctx(const store::ModelRecipe& recipe) {
    return store::ModelOptions::from_json(recipe.parameters).num_ctx;
}

}  // namespace

Expected<KeepAlive> parse_keep_alive(const nlohmann::json& value) {
    if (value.is_number()) {
        const double seconds = value.get<double>();
        if (!std::isfinite(seconds)) return invalid_argument("keep_alive must be finite");
        return to_keep_alive(seconds * 1e3);
    }
    if (!value.is_string()) {
        return invalid_argument("keep_alive must be a duration (\"5m\") or a number of seconds");
    }
    const std::string text = value.get<std::string>();
    // A bare number in a string counts as seconds, as a JSON number does.
    char* end = nullptr;
    const double seconds = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(seconds)) {
        return to_keep_alive(seconds * 1e3);
    }
    Expected<double> ms = parse_go_duration_ms(text);
    if (!ms.has_value()) {
        return invalid_argument("invalid keep_alive duration \"" + text.substr(0, 64) +
                                "\": " + ms.status().message());
    }
    return to_keep_alive(*ms);
}

uint64_t estimate_model_bytes(const std::string& path, int64_t context_length) {
    const uint64_t weights = file_size_or_zero(path);
    auto file = gguf::File::open(path);
    if (!file.has_value()) return weights;
    const gguf::File& f = **file;
    const std::string arch = f.get_string("general.architecture");
    const uint64_t layers = f.get_u64(arch + ".block_count", 0);
    const uint64_t embedding = f.get_u64(arch + ".embedding_length", 0);
    const uint64_t heads = f.get_u64(arch + ".attention.head_count", 0);
    const uint64_t kv_heads = f.get_u64(arch + ".attention.head_count_kv", heads);
    const uint64_t head_dim =
        f.get_u64(arch + ".attention.key_length", heads > 0 ? embedding / heads : 0);
    // A tied output projection gets its own copy next to the embedding table (model/model.h).
    const gguf::TensorInfo* table = f.find_tensor("token_embd.weight");
    const uint64_t tied_copy =
        f.find_tensor("output.weight") == nullptr && table != nullptr ? table->n_bytes : 0;
    // K and V, f32, per layer per token: [n_head_kv * head_dim] each.
    const uint64_t per_token = 2 * layers * kv_heads * head_dim * sizeof(float);
    const uint64_t ctx = static_cast<uint64_t>(std::max<int64_t>(context_length, 0));
    if (per_token > 0 && ctx > std::numeric_limits<uint64_t>::max() / 2 / per_token) {
        return std::numeric_limits<uint64_t>::max() / 2;
    }
    return weights + tied_copy + per_token * ctx;
}

// ---- ModelLease ------------------------------------------------------------------------------

ModelLease::ModelLease(ModelLease&& other) noexcept
    : manager_(other.manager_),
      entry_(std::move(other.entry_)),
      load_duration_(other.load_duration_),
      keep_alive_(other.keep_alive_) {
    other.manager_ = nullptr;
}

ModelLease& ModelLease::operator=(ModelLease&& other) noexcept {
    if (this != &other) {
        release();
        manager_ = other.manager_;
        entry_ = std::move(other.entry_);
        load_duration_ = other.load_duration_;
        keep_alive_ = other.keep_alive_;
        other.manager_ = nullptr;
    }
    return *this;
}

ModelLease::~ModelLease() {
    release();
}

void ModelLease::release() {
    if (manager_ != nullptr && entry_) manager_->release(entry_, keep_alive_);
    manager_ = nullptr;
    entry_.reset();
}

ServedModel& ModelLease::model() const {
    return *entry_->model;
}

const ModelSource& ModelLease::source() const {
    return entry_->source;
}

// ---- ModelManager ----------------------------------------------------------------------------

ModelManager::ModelManager(const ModelManagerOptions& options, const store::ModelStore* store,
                           std::vector<std::pair<std::string, std::string>> files)
    : options_(options), store_(store), files_(std::move(files)) {
    reaper_ = std::thread([this] { reap_loop(); });
}

ModelManager::~ModelManager() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_reaper_.notify_all();
    reaper_.join();
    LoadedTable doomed;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        doomed.swap(loaded_);
    }
}

ModelSource ModelManager::file_source(const std::string& name, const std::string& path) const {
    ModelSource source;
    source.name = strip_latest(name);
    source.path = path;
    source.is_file = true;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return source;
    const auto size = static_cast<uint64_t>(st.st_size);
    const auto mtime = static_cast<int64_t>(st.st_mtime);
    source.file_bytes = size;
    source.modified_unix = mtime;
    std::lock_guard<std::mutex> lock(files_mutex_);
    FileInfo& info = file_info_[path];
    if (info.digest.empty() || info.size != size || info.mtime != mtime) {
        store::Sha256 hash;
        const std::string identity =
            path + "\n" + std::to_string(size) + "\n" + std::to_string(mtime);
        hash.update(identity.data(), identity.size());
        Expected<nlohmann::json> config = store::gguf_model_config(path);
        info = {size, mtime, hash.finish().hex(),
                config.has_value() ? *config : nlohmann::json::object()};
    }
    source.digest = info.digest;
    source.config = info.config;
    return source;
}

Expected<ModelSource> ModelManager::resolve(const std::string& name) const {
    const std::string wanted = strip_latest(name);
    for (const auto& [file_name, path] : files_) {
        if (strip_latest(file_name) == wanted) return file_source(file_name, path);
    }
    const Status not_found_status =
        not_found("model \"" + name + "\" not found, try pulling it first");
    if (store_ == nullptr || !store::ModelName::parse(name).has_value()) return not_found_status;
    Expected<store::ModelDetails> details = store_->details(name);
    if (!details.has_value()) {
        return details.status().code() == ErrorCode::kNotFound ? not_found_status
                                                               : details.status();
    }
    ModelSource source;
    source.name = strip_latest(details->name.display());
    source.path = details->model_path.string();
    source.recipe = details->recipe;
    source.config = details->config;
    source.file_bytes = file_size_or_zero(source.path);
    Expected<std::vector<store::ModelEntry>> entries = store_->list();
    if (entries.has_value()) {
        for (const store::ModelEntry& entry : *entries) {
            if (entry.name == details->name) {
                source.digest = entry.manifest_digest.hex();
                source.modified_unix = entry.modified_unix;
            }
        }
    }
    return source;
}

std::vector<ModelSource> ModelManager::servable() const {
    std::vector<ModelSource> out;
    for (const auto& [name, path] : files_) out.push_back(file_source(name, path));
    if (store_ == nullptr) return out;
    Expected<std::vector<store::ModelEntry>> entries = store_->list();
    if (!entries.has_value()) return out;
    for (const store::ModelEntry& entry : *entries) {
        ModelSource source;
        source.name = strip_latest(entry.name.display());
        source.digest = entry.manifest_digest.hex();
        source.modified_unix = entry.modified_unix;
        bool shadowed = false;  // a --model of the same name wins
        for (const ModelSource& other : out) shadowed = shadowed || other.name == source.name;
        if (!shadowed) out.push_back(std::move(source));
    }
    return out;
}

ModelManager::LoadedTable::iterator ModelManager::least_recently_used_idle_locked() {
    auto victim = loaded_.end();
    for (auto it = loaded_.begin(); it != loaded_.end(); ++it) {
        if (it->second->in_use > 0) continue;
        if (victim == loaded_.end() || it->second->last_used < victim->second->last_used) {
            victim = it;
        }
    }
    return victim;
}

std::vector<std::shared_ptr<ModelLease::Entry>> ModelManager::make_room_locked(
    uint64_t needed_bytes) {
    std::vector<std::shared_ptr<ModelLease::Entry>> evicted;
    const size_t max_loaded = static_cast<size_t>(std::max(1, options_.max_loaded_models));
    while (true) {
        const bool over_count = loaded_.size() >= max_loaded;
        bool short_of_memory = false;
        if (options_.check_memory) {
            // Memory held by models about to be destroyed is not yet free: count it back in.
            uint64_t freed = 0;
            for (const auto& e : evicted) freed += e->size_bytes;
            const std::optional<uint64_t> available = available_memory_bytes();
            short_of_memory = available.has_value() && needed_bytes > *available + freed;
        }
        if (!over_count && !short_of_memory) break;
        const auto victim = least_recently_used_idle_locked();
        if (victim == loaded_.end()) break;
        CRIA_LOG_INFO("unloading model '%s' to make room", victim->first.c_str());
        victim->second->retired = true;
        evicted.push_back(victim->second);
        loaded_.erase(victim);
    }
    return evicted;
}

Expected<ModelLease> ModelManager::acquire(const std::string& name, std::optional<int64_t> num_ctx,
                                           std::optional<KeepAlive> keep_alive) {
    CRIA_ASSIGN_OR_RETURN(ModelSource source, resolve(name));
    const std::optional<int64_t> wanted_ctx = num_ctx ? num_ctx : recipe_num_ctx(source.recipe);
    const KeepAlive shown_keep_alive = keep_alive.value_or(options_.default_keep_alive);

    auto lease_of = [&](const std::shared_ptr<ModelLease::Entry>& entry,
                        std::chrono::nanoseconds load_time) {
        ModelLease lease;
        lease.manager_ = this;
        lease.entry_ = entry;
        lease.load_duration_ = load_time;
        lease.keep_alive_ = keep_alive;
        return lease;
    };
    // Takes the loaded entry when it fits the request; a context change retires it.
    std::vector<std::shared_ptr<ModelLease::Entry>> doomed;
    auto try_loaded = [&]() -> std::shared_ptr<ModelLease::Entry> {
        const auto it = loaded_.find(source.name);
        if (it == loaded_.end()) return nullptr;
        const std::shared_ptr<ModelLease::Entry> entry = it->second;
        // Same file and same context: reuse. num_ctx absent everywhere means the default.
        if (entry->source.path == source.path && entry->requested_ctx == wanted_ctx) {
            ++entry->in_use;
            entry->last_used = Clock::now();
            entry->keep_alive = shown_keep_alive;
            entry->expires.reset();
            return entry;
        }
        entry->retired = true;
        loaded_.erase(it);
        if (entry->in_use == 0) doomed.push_back(entry);
        return nullptr;
    };
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto entry = try_loaded()) return lease_of(entry, std::chrono::nanoseconds(0));
    }
    doomed.clear();  // unloaded outside the table's lock

    std::lock_guard<std::mutex> load_lock(load_mutex_);
    {
        // Another request may have loaded it while this one waited.
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto entry = try_loaded()) return lease_of(entry, std::chrono::nanoseconds(0));
    }
    doomed.clear();

    ServeOptions serve = options_.serve;
    if (wanted_ctx) serve.context_length = *wanted_ctx;
    if (source.recipe.chat_template) serve.chat_template = source.recipe.chat_template;
    const uint64_t needed = estimate_model_bytes(source.path, serve.context_length);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        doomed = make_room_locked(needed);
    }
    doomed.clear();
    if (options_.check_memory) {
        const std::optional<uint64_t> available = available_memory_bytes();
        if (available && needed > *available) {
            return Status(ErrorCode::kResourceExhausted,
                          "model \"" + source.name + "\" needs about " +
                              std::to_string(needed >> 20) + " MiB of memory, but only " +
                              std::to_string(*available >> 20) + " MiB is available");
        }
    }

    const auto started = Clock::now();
    std::optional<LoadingGuard> loading;
    if (options_.health != nullptr) loading.emplace(*options_.health);
    Expected<std::unique_ptr<ServedModel>> model =
        ServedModel::load(source.name, source.path, serve);
    loading.reset();
    if (!model.has_value()) {
        return Status(model.status().code(),
                      "cannot load model \"" + source.name + "\": " + model.status().message());
    }
    const auto load_time = Clock::now() - started;
    CRIA_LOG_INFO("loaded model '%s' from %s (context %lld tokens) in %.2f s", source.name.c_str(),
                  source.path.c_str(), static_cast<long long>((*model)->context_length()),
                  std::chrono::duration<double>(load_time).count());

    auto entry = std::make_shared<ModelLease::Entry>();
    entry->source = source;
    entry->requested_ctx = wanted_ctx;
    entry->model = std::shared_ptr<ServedModel>(std::move(model).value());
    entry->size_bytes = needed;
    entry->in_use = 1;
    entry->last_used = Clock::now();
    entry->keep_alive = shown_keep_alive;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        loaded_[source.name] = entry;
    }
    return lease_of(entry, std::chrono::duration_cast<std::chrono::nanoseconds>(load_time));
}

void ModelManager::release(const std::shared_ptr<ModelLease::Entry>& entry,
                           std::optional<KeepAlive> keep) {
    std::shared_ptr<ModelLease::Entry> doomed;
    std::vector<std::shared_ptr<ModelLease::Entry>> over_limit;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --entry->in_use;
        entry->last_used = Clock::now();
        const KeepAlive keep_alive = keep.value_or(options_.default_keep_alive);
        entry->keep_alive = keep_alive;
        if (entry->in_use > 0) return;
        if (entry->retired) return;  // the table no longer holds it: the last owner frees it
        // Over the limit (models loaded while others were busy): the idle ones go, least
        // recently used first.
        const size_t max_loaded = static_cast<size_t>(std::max(1, options_.max_loaded_models));
        while (loaded_.size() > max_loaded) {
            const auto victim = least_recently_used_idle_locked();
            if (victim == loaded_.end()) break;
            victim->second->retired = true;
            over_limit.push_back(victim->second);
            loaded_.erase(victim);
        }
        if (entry->retired) return;
        if (keep_alive.count() == 0) {
            const auto it = loaded_.find(entry->source.name);
            if (it != loaded_.end() && it->second == entry) {
                doomed = it->second;
                loaded_.erase(it);
            }
            entry->retired = true;
        } else if (keep_alive.count() < 0) {
            entry->expires.reset();
        } else {
            entry->expires = Clock::now() + keep_alive;
        }
    }
    wake_reaper_.notify_all();
    if (doomed) CRIA_LOG_INFO("unloading model '%s' (keep_alive 0)", entry->source.name.c_str());
}

bool ModelManager::unload(const std::string& name) {
    std::shared_ptr<ModelLease::Entry> doomed;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = loaded_.find(strip_latest(name));
        if (it == loaded_.end()) {
            // The store's canonical name may differ from the one asked for ("m" vs "m:latest"
            // resolve alike; "library/m" too).
            Expected<ModelSource> source = resolve(name);
            if (source.has_value()) it = loaded_.find(source->name);
        }
        if (it == loaded_.end()) return false;
        it->second->retired = true;
        if (it->second->in_use == 0) doomed = it->second;
        loaded_.erase(it);
    }
    return true;
}

std::vector<LoadedModelInfo> ModelManager::loaded() const {
    std::vector<LoadedModelInfo> out;
    const auto now_steady = Clock::now();
    const auto now_system = std::chrono::system_clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, entry] : loaded_) {
        LoadedModelInfo info;
        info.source = entry->source;
        info.context_length = entry->model->context_length();
        info.size_bytes = entry->size_bytes;
        info.in_use = entry->in_use;
        info.running_choices = entry->model->running_choices();
        info.queued_requests = entry->model->queued_requests();
        if (entry->in_use > 0) {
            // Busy: it expires its keep-alive after now at the earliest.
            if (entry->keep_alive.count() >= 0) info.expires_at = now_system + entry->keep_alive;
        } else if (entry->expires) {
            info.expires_at =
                now_system + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                 *entry->expires - now_steady);
        }
        out.push_back(std::move(info));
    }
    return out;
}

void ModelManager::reap_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        std::optional<Clock::time_point> next;
        std::vector<std::shared_ptr<ModelLease::Entry>> doomed;
        const auto now = Clock::now();
        for (auto it = loaded_.begin(); it != loaded_.end();) {
            const auto& entry = it->second;
            if (entry->in_use == 0 && entry->expires && *entry->expires <= now) {
                CRIA_LOG_INFO("unloading model '%s' (keep_alive expired)", it->first.c_str());
                entry->retired = true;
                doomed.push_back(entry);
                it = loaded_.erase(it);
                continue;
            }
            if (entry->in_use == 0 && entry->expires) {
                next = next ? std::min(*next, *entry->expires) : *entry->expires;
            }
            ++it;
        }
        if (!doomed.empty()) {
            // Freeing a model's memory takes time: not under the lock.
            lock.unlock();
            doomed.clear();
            lock.lock();
            continue;
        }
        if (next) {
            wake_reaper_.wait_until(lock, *next);
        } else {
            wake_reaper_.wait(lock);
        }
    }
}

}  // namespace cria::server
