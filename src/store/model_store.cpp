#include "store/model_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>

#include "chat/chat_template.h"
#include "core/log.h"
#include "gguf/model_summary.h"
#include "gguf/reader.h"
#include "store/cria_home.h"
#include "store/model_options.h"

namespace cria::store {
namespace fs = std::filesystem;

namespace {

void report(const ProgressFn& progress, const Progress& event) {
    if (progress) progress(event);
}

std::string random_suffix() {
    std::random_device device;
    std::uniform_int_distribution<uint64_t> dist;
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(dist(device)));
    return buf;
}

Status write_whole_file(const fs::path& path, std::string_view bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot create " + path.string());
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) {
            ::close(fd);
            return io_error("cannot write " + path.string());
        }
        done += static_cast<size_t>(n);
    }
    // The rename that publishes the file must not reach the disk before its content does.
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced) return io_error("cannot sync " + path.string());
    return Status::ok();
}

Expected<std::string> read_small_file(const fs::path& path, uint64_t cap) {
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (ec) return not_found("cannot read " + path.string());
    if (size > cap) return resource_exhausted(path.string() + " is larger than the cap");
    std::ifstream in(path, std::ios::binary);
    std::string data(size, '\0');
    in.read(data.data(), static_cast<std::streamsize>(size));
    if (!in) return io_error("cannot read " + path.string());
    return data;
}

// Removes empty directories from `dir` up to (not including) `stop`.
void prune_empty_dirs(fs::path dir, const fs::path& stop) {
    std::error_code ec;
    while (dir != stop && dir.string().size() > stop.string().size()) {
        if (!fs::is_empty(dir, ec) || ec) return;
        fs::remove(dir, ec);
        dir = dir.parent_path();
    }
}

std::string percent(uint64_t done, uint64_t total) {
    return std::to_string(total == 0 ? 100 : done * 100 / total) + "%";
}

}  // namespace

Expected<nlohmann::json> gguf_model_config(const std::filesystem::path& path) {
    auto file = gguf::File::open(path.string());
    if (!file) return file.status();
    const gguf::ModelSummary summary = gguf::summarize(**file);
    nlohmann::json out;
    out["model_format"] = "gguf";
    out["model_family"] = summary.architecture;
    out["model_families"] = nlohmann::json::array({summary.architecture});
    out["model_type"] = format_parameter_count(summary.parameters);
    out["file_type"] = summary.file_type;
    return out;
}

std::string format_parameter_count(uint64_t parameters) {
    char buf[32];
    if (parameters >= 1000000000ull) {
        std::snprintf(buf, sizeof(buf), "%.1fB", static_cast<double>(parameters) / 1e9);
    } else if (parameters >= 1000000ull) {
        std::snprintf(buf, sizeof(buf), "%.0fM", static_cast<double>(parameters) / 1e6);
    } else if (parameters >= 1000ull) {
        std::snprintf(buf, sizeof(buf), "%.0fK", static_cast<double>(parameters) / 1e3);
    } else {
        std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(parameters));
    }
    return buf;
}

// ---- StoreLock -------------------------------------------------------------------------------

Expected<StoreLock> StoreLock::acquire(const fs::path& root) {
    const fs::path path = root / ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot open the store lock " + path.string());
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            ::close(fd);
            return io_error("cannot lock " + path.string());
        }
    }
    return StoreLock(fd);
}

StoreLock::~StoreLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

// ---- ModelStore: blobs -------------------------------------------------------------------------

fs::path ModelStore::default_root() {
    if (const char* env = std::getenv("CRIA_MODELS"); env != nullptr && *env != '\0') return env;
    return cria_home() / "models";
}

Expected<ModelStore> ModelStore::open(const fs::path& root) {
    std::error_code ec;
    fs::create_directories(root / "blobs", ec);
    if (ec) return io_error("cannot create " + (root / "blobs").string() + ": " + ec.message());
    fs::create_directories(root / "manifests", ec);
    if (ec) return io_error("cannot create " + (root / "manifests").string() + ": " + ec.message());
    return ModelStore(fs::absolute(root));
}

fs::path ModelStore::blob_path(const Digest& digest) const {
    return root_ / "blobs" / digest.file_name();
}

fs::path ModelStore::partial_blob_path(const Digest& digest) const {
    return root_ / "blobs" / (digest.file_name() + "-partial");
}

bool ModelStore::has_blob(const Digest& digest, std::optional<uint64_t> size) const {
    std::error_code ec;
    const uint64_t actual = fs::file_size(blob_path(digest), ec);
    return !ec && (!size || *size == actual);
}

Expected<fs::path> ModelStore::make_temp_path(std::string_view purpose) const {
    return root_ / "blobs" / (".tmp-" + std::string(purpose) + "-" + random_suffix());
}

Expected<Layer> ModelStore::add_blob_from_file(const fs::path& source, std::string_view layer_type,
                                               const ProgressFn& progress) {
    std::error_code ec;
    const uint64_t total = fs::file_size(source, ec);
    if (ec) return not_found("cannot read " + source.string() + ": " + ec.message());
    std::ifstream in(source, std::ios::binary);
    if (!in) return io_error("cannot open " + source.string());
    CRIA_ASSIGN_OR_RETURN(const fs::path temp, make_temp_path("copy"));
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return io_error("cannot create " + temp.string());

    Sha256 hash;
    std::vector<char> buffer(4 << 20);
    uint64_t copied = 0;
    uint64_t last_report = 0;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto n = static_cast<size_t>(in.gcount());
        if (n == 0) break;
        hash.update(buffer.data(), n);
        out.write(buffer.data(), static_cast<std::streamsize>(n));
        copied += n;
        if (progress && (copied - last_report >= (64u << 20) || copied == total)) {
            last_report = copied;
            progress({"copying file " + percent(copied, total), std::nullopt, copied, total});
        }
    }
    out.close();
    if (in.bad() || !out) {
        fs::remove(temp, ec);
        return io_error("cannot copy " + source.string() + " into the store");
    }
    const Digest digest = hash.finish();
    if (has_blob(digest, copied)) {
        fs::remove(temp, ec);
    } else {
        fs::rename(temp, blob_path(digest), ec);
        if (ec) {
            fs::remove(temp, ec);
            return io_error("cannot move a blob into " + blob_path(digest).string());
        }
    }
    return Layer{std::string(layer_type), digest, copied};
}

Expected<Layer> ModelStore::add_blob_bytes(std::string_view bytes, std::string_view layer_type) {
    const Digest digest = Digest::of_bytes(bytes);
    if (!has_blob(digest, bytes.size())) {
        CRIA_ASSIGN_OR_RETURN(const fs::path temp, make_temp_path("bytes"));
        CRIA_RETURN_IF_ERROR(write_whole_file(temp, bytes));
        std::error_code ec;
        fs::rename(temp, blob_path(digest), ec);
        if (ec) {
            fs::remove(temp, ec);
            return io_error("cannot move a blob into " + blob_path(digest).string());
        }
    }
    return Layer{std::string(layer_type), digest, bytes.size()};
}

Status ModelStore::commit_blob_file(const fs::path& file, const Digest& expected) {
    CRIA_ASSIGN_OR_RETURN(const Digest actual, Digest::of_file(file));
    std::error_code ec;
    if (!(actual == expected)) {
        fs::remove(file, ec);
        return corrupt("digest mismatch: expected " + expected.str() + ", got " + actual.str());
    }
    fs::rename(file, blob_path(expected), ec);
    if (ec) return io_error("cannot move a blob into " + blob_path(expected).string());
    return Status::ok();
}

// ---- BlobUpload --------------------------------------------------------------------------------

struct BlobUpload::State {
    fs::path temp;
    fs::path target;
    Digest expected;
    uint64_t max_bytes = 0;
    uint64_t written = 0;
    std::ofstream out;
    Sha256 hash;
    bool committed = false;
};

BlobUpload::BlobUpload(fs::path temp, fs::path target, Digest expected, uint64_t max_bytes)
    : state_(new State{std::move(temp), std::move(target), std::move(expected), max_bytes, 0,
                       std::ofstream(), Sha256(), false}) {}

BlobUpload::BlobUpload(BlobUpload&& other) noexcept : state_(std::move(other.state_)) {}

BlobUpload::~BlobUpload() {
    if (!state_ || state_->committed) return;
    state_->out.close();
    std::error_code ec;
    fs::remove(state_->temp, ec);
}

Expected<BlobUpload> BlobUpload::start(const ModelStore& store, const Digest& expected,
                                       uint64_t max_bytes, std::optional<uint64_t> declared_bytes) {
    if (declared_bytes) {
        if (*declared_bytes > max_bytes) {
            return out_of_range("the blob is " + std::to_string(*declared_bytes) +
                                " bytes, more than the " + std::to_string(max_bytes) +
                                " bytes allowed");
        }
        std::error_code ec;
        const fs::space_info space = fs::space(store.root(), ec);
        if (!ec && space.available < *declared_bytes) {
            return resource_exhausted(
                "not enough disk space for the blob: " + std::to_string(*declared_bytes) +
                " bytes needed, " + std::to_string(space.available) + " available");
        }
    }
    CRIA_ASSIGN_OR_RETURN(fs::path temp, store.make_temp_path("upload"));
    BlobUpload upload(temp, store.blob_path(expected), expected, max_bytes);
    upload.state_->out.open(temp, std::ios::binary | std::ios::trunc);
    if (!upload.state_->out) return io_error("cannot create " + temp.string());
    return upload;
}

Status BlobUpload::write(const char* data, size_t size) {
    State& s = *state_;
    if (size > s.max_bytes - s.written) {
        return out_of_range("the blob is larger than the " + std::to_string(s.max_bytes) +
                            " bytes allowed");
    }
    s.hash.update(data, size);
    s.out.write(data, static_cast<std::streamsize>(size));
    if (!s.out) return io_error("cannot write " + s.temp.string() + " (disk full?)");
    s.written += size;
    return Status::ok();
}

Status BlobUpload::commit() {
    State& s = *state_;
    s.out.close();
    if (!s.out) return io_error("cannot write " + s.temp.string());
    const Digest actual = s.hash.finish();
    if (!(actual == s.expected)) {
        return corrupt("digest mismatch: expected " + s.expected.str() + ", got " + actual.str());
    }
    std::error_code ec;
    fs::rename(s.temp, s.target, ec);
    if (ec) return io_error("cannot move a blob into " + s.target.string());
    s.committed = true;
    return Status::ok();
}

Status ModelStore::verify_blob(const Digest& digest) const {
    CRIA_ASSIGN_OR_RETURN(const Digest actual, Digest::of_file(blob_path(digest)));
    if (!(actual == digest)) {
        return corrupt("blob " + digest.str() + " is corrupt: its content hashes to " +
                       actual.str());
    }
    return Status::ok();
}

Expected<std::string> ModelStore::read_blob_text(const Layer& layer, uint64_t cap) const {
    return read_small_file(blob_path(layer.digest), cap);
}

// ---- ModelStore: manifests ---------------------------------------------------------------------

Expected<Manifest> ModelStore::read_manifest(const ModelName& name) const {
    const fs::path path = root_ / name.manifest_path();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        return not_found("model '" + name.display() + "' not found");
    }
    CRIA_ASSIGN_OR_RETURN(const std::string text, read_small_file(path, kMaxManifestBytes));
    auto manifest = Manifest::parse(text);
    if (!manifest) {
        return corrupt("model '" + name.display() + "': " + manifest.status().message());
    }
    return manifest;
}

Expected<Manifest> ModelStore::read_manifest(std::string_view name) const {
    CRIA_ASSIGN_OR_RETURN(const ModelName parsed, ModelName::parse(name));
    return read_manifest(parsed);
}

bool ModelStore::has_model(const ModelName& name) const {
    std::error_code ec;
    return fs::is_regular_file(root_ / name.manifest_path(), ec);
}

Status ModelStore::write_manifest(const ModelName& name, const Manifest& manifest) {
    CRIA_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::acquire(root_));
    return write_manifest_locked(name, manifest);
}

Status ModelStore::write_manifest_locked(const ModelName& name, const Manifest& manifest) {
    for (const Digest& digest : manifest.all_digests()) {
        if (!has_blob(digest)) {
            return not_found("cannot write the manifest of '" + name.display() + "': blob " +
                             digest.str() + " is missing");
        }
    }
    const fs::path path = root_ / name.manifest_path();
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return io_error("cannot create " + path.parent_path().string());
    // The manifest being replaced may hold the last reference to some blobs.
    auto replaced = read_manifest(name);
    const fs::path temp = path.parent_path() / ("." + name.tag + ".tmp-" + random_suffix());
    CRIA_RETURN_IF_ERROR(write_whole_file(temp, manifest.to_json().dump()));
    fs::rename(temp, path, ec);
    if (ec) {
        fs::remove(temp, ec);
        return io_error("cannot write " + path.string());
    }
    if (replaced) return collect_garbage_locked(replaced->all_digests());
    return Status::ok();
}

Expected<std::vector<ModelEntry>> ModelStore::list() const {
    std::vector<ModelEntry> out;
    const fs::path manifests = root_ / "manifests";
    std::error_code ec;
    // Exactly four levels: host / namespace / model / tag. Anything else is not a manifest.
    for (auto it = fs::recursive_directory_iterator(manifests, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it.depth() != 3 || !it->is_regular_file(ec)) continue;
        const fs::path relative = fs::relative(it->path(), manifests, ec);
        std::vector<std::string> parts;
        for (const auto& part : relative) parts.push_back(part.string());
        if (parts.size() != 4) continue;
        auto name = ModelName::parse(parts[0] + "/" + parts[1] + "/" + parts[2] + ":" + parts[3]);
        if (!name || !(name->manifest_path() == fs::path("manifests") / relative)) continue;
        auto text = read_small_file(it->path(), kMaxManifestBytes);
        if (!text) continue;
        auto manifest = Manifest::parse(*text);
        if (!manifest) continue;
        const auto modified = fs::last_write_time(it->path(), ec);
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::file_clock::to_sys(modified).time_since_epoch());
        out.push_back(ModelEntry{*name, Digest::of_bytes(*text), manifest->total_size(),
                                 static_cast<int64_t>(seconds.count()), *manifest});
    }
    if (ec) return io_error("cannot list " + manifests.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(),
              [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
    return out;
}

Expected<ModelDetails> ModelStore::details(std::string_view text) const {
    CRIA_ASSIGN_OR_RETURN(const ModelName name, ModelName::parse(text));
    CRIA_ASSIGN_OR_RETURN(Manifest manifest, read_manifest(name));
    ModelDetails details{name, manifest, {}, nlohmann::json::object(), {}};
    CRIA_ASSIGN_OR_RETURN(const std::string config_text, read_blob_text(manifest.config));
    details.config = nlohmann::json::parse(config_text, nullptr, false);
    if (details.config.is_discarded() || !details.config.is_object()) {
        details.config = nlohmann::json::object();
    }
    const Layer* model = manifest.find(media_type::kModel);
    if (model == nullptr) return corrupt("model '" + name.display() + "' has no model layer");
    details.model_path = blob_path(model->digest);
    details.recipe.from = details.model_path.string();
    for (const Layer& layer : manifest.layers) {
        if (layer.media_type == media_type::kModel) continue;
        CRIA_ASSIGN_OR_RETURN(std::string body, read_blob_text(layer));
        if (layer.media_type == media_type::kTemplate) {
            details.recipe.chat_template = std::move(body);
        } else if (layer.media_type == media_type::kSystem) {
            details.recipe.system = std::move(body);
        } else if (layer.media_type == media_type::kLicense) {
            details.recipe.licenses.push_back(std::move(body));
        } else if (layer.media_type == media_type::kParams) {
            const auto params = nlohmann::json::parse(body, nullptr, false);
            auto normalized = normalize_options(params);
            if (!normalized) {
                return corrupt("model '" + name.display() +
                               "' has invalid parameters: " + normalized.status().message());
            }
            details.recipe.parameters = *normalized;
        } else if (layer.media_type == media_type::kMessages) {
            const auto messages = nlohmann::json::parse(body, nullptr, false);
            if (!messages.is_array()) {
                return corrupt("model '" + name.display() + "' has an invalid messages layer");
            }
            for (const auto& m : messages) {
                if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
                    !m.contains("content") || !m["content"].is_string()) {
                    return corrupt("model '" + name.display() + "' has an invalid message");
                }
                details.recipe.messages.push_back(
                    {m["role"].get<std::string>(), m["content"].get<std::string>()});
            }
        }
    }
    return details;
}

Status ModelStore::copy(std::string_view source, std::string_view destination) {
    CRIA_ASSIGN_OR_RETURN(const ModelName from, ModelName::parse(source));
    CRIA_ASSIGN_OR_RETURN(const ModelName to, ModelName::parse(destination));
    CRIA_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::acquire(root_));
    CRIA_ASSIGN_OR_RETURN(const Manifest manifest, read_manifest(from));
    return write_manifest_locked(to, manifest);
}

Status ModelStore::remove(std::string_view text) {
    CRIA_ASSIGN_OR_RETURN(const ModelName name, ModelName::parse(text));
    CRIA_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::acquire(root_));
    const fs::path path = root_ / name.manifest_path();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return not_found("model '" + name.display() + "' not found");
    // A manifest that no longer parses still names the model; its blobs are left to a later GC.
    auto removed = read_manifest(name);
    fs::remove(path, ec);
    if (ec) return io_error("cannot remove " + path.string() + ": " + ec.message());
    prune_empty_dirs(path.parent_path(), root_ / "manifests");
    if (!removed) return Status::ok();

    return collect_garbage_locked(removed->all_digests());
}

Status ModelStore::collect_garbage_locked(const std::vector<Digest>& candidates) {
    // Blobs still referenced by any manifest stay. A manifest file that does not parse might
    // still reference them, so collection is skipped entirely when one exists.
    std::error_code ec;
    std::set<Digest> in_use;
    for (auto it = fs::recursive_directory_iterator(root_ / "manifests", ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        if (it->path().filename().string().starts_with(".")) continue;  // another writer's temp
        auto text_or = read_small_file(it->path(), kMaxManifestBytes);
        auto manifest = text_or ? Manifest::parse(*text_or) : Expected<Manifest>(text_or.status());
        if (!manifest) return Status::ok();
        for (const Digest& d : manifest->all_digests()) in_use.insert(d);
    }
    if (ec) return Status::ok();
    for (const Digest& digest : candidates) {
        if (in_use.count(digest) == 0) fs::remove(blob_path(digest), ec);
    }
    return Status::ok();
}

// ---- ModelStore: create ------------------------------------------------------------------------

Expected<Manifest> ModelStore::create(std::string_view text, const ModelRecipe& recipe,
                                      const std::optional<fs::path>& file_base,
                                      const ProgressFn& progress) {
    CRIA_ASSIGN_OR_RETURN(const ModelName name, ModelName::parse(text));
    // The whole build holds the lock: a concurrent remove must not collect the blobs this create
    // is about to reference, nor the base model's while they are being read.
    CRIA_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::acquire(root_));
    std::vector<Digest> added;
    Expected<Manifest> created = create_locked(name, recipe, file_base, progress, added);
    if (!created.has_value()) {
        // The blobs this create wrote go again unless another manifest uses them.
        const Status collected = collect_garbage_locked(added);
        if (!collected.is_ok()) {
            CRIA_LOG_WARN("after a failed create: %s", collected.message().c_str());
        }
    }
    return created;
}

Expected<Manifest> ModelStore::create_locked(const ModelName& name, const ModelRecipe& recipe,
                                             const std::optional<fs::path>& file_base,
                                             const ProgressFn& progress,
                                             std::vector<Digest>& added) {
    std::vector<Layer> layers;
    nlohmann::json config;
    ModelRecipe inherited;

    // FROM: a blob, a model, or (for a local command) a file.
    fs::path from_path = recipe.from;
    if (recipe.from.starts_with("~/")) {
        const char* home = std::getenv("HOME");
        from_path = fs::path(home != nullptr ? home : "") / recipe.from.substr(2);
    } else if (file_base && from_path.is_relative()) {
        from_path = *file_base / from_path;
    }
    std::error_code ec;
    auto gguf_layer = [&](const fs::path& path) -> Expected<nlohmann::json> {
        auto config = gguf_model_config(path);
        if (!config)
            return invalid_argument("FROM " + recipe.from + ": " + config.status().message());
        return config;
    };
    const auto from_digest = Digest::parse(recipe.from);
    if (from_digest) {
        if (!has_blob(*from_digest)) {
            return not_found("FROM " + recipe.from + ": no such blob (upload it first)");
        }
        CRIA_ASSIGN_OR_RETURN(config, gguf_layer(blob_path(*from_digest)));
        layers.push_back(Layer{std::string(media_type::kModel), *from_digest,
                               static_cast<uint64_t>(fs::file_size(blob_path(*from_digest), ec))});
        report(progress, {"using existing layer " + from_digest->str(), from_digest->str(), 0, 0});
    } else if (file_base && fs::exists(from_path, ec)) {
        if (fs::is_directory(from_path, ec)) {
            return unsupported("FROM " + recipe.from +
                               ": is a directory; cria builds models from GGUF files only");
        }
        CRIA_ASSIGN_OR_RETURN(config, gguf_layer(from_path));
        CRIA_ASSIGN_OR_RETURN(Layer model,
                              add_blob_from_file(from_path, media_type::kModel, progress));
        added.push_back(model.digest);
        report(progress, {"creating new layer " + model.digest.str(), model.digest.str(), 0, 0});
        layers.push_back(std::move(model));
    } else {
        const auto base_name = ModelName::parse(recipe.from);
        if (!base_name || !has_model(*base_name)) {
            return not_found(file_base ? "FROM " + recipe.from +
                                             ": no such file, and no model of that name"
                                       : "FROM " + recipe.from +
                                             ": no model of that name (a request names a model "
                                             "or a blob digest uploaded to /api/blobs)");
        }
        CRIA_ASSIGN_OR_RETURN(const ModelDetails base, details(recipe.from));
        config = base.config;
        inherited = base.recipe;
        for (const Layer& layer : base.manifest.layers) {
            if (layer.media_type == media_type::kModel ||
                layer.media_type == media_type::kProjector) {
                layers.push_back(layer);
                report(progress,
                       {"using existing layer " + layer.digest.str(), layer.digest.str(), 0, 0});
            }
        }
    }

    // Text layers: the recipe's replace the base model's; parameters merge key by key.
    auto add_text = [&](std::string_view type, const std::string& body) -> Status {
        CRIA_ASSIGN_OR_RETURN(Layer layer, add_blob_bytes(body, type));
        added.push_back(layer.digest);
        report(progress, {"using layer " + layer.digest.str(), layer.digest.str(), 0, 0});
        layers.push_back(std::move(layer));
        return Status::ok();
    };
    // A template that does not parse would fail every request: refuse it here, naming the line.
    if (recipe.chat_template) {
        Expected<chat::ChatTemplate> parsed = chat::ChatTemplate::parse(*recipe.chat_template);
        if (!parsed.has_value()) {
            return invalid_argument("TEMPLATE (" +
                                    std::string(chat::template_syntax_name(
                                        chat::detect_template_syntax(*recipe.chat_template))) +
                                    " syntax) does not parse: " + parsed.status().message());
        }
    }
    const auto chat_template =
        recipe.chat_template ? recipe.chat_template : inherited.chat_template;
    const auto system = recipe.system ? recipe.system : inherited.system;
    const nlohmann::json parameters = merge_options(inherited.parameters, recipe.parameters);
    const auto& messages = recipe.messages.empty() ? inherited.messages : recipe.messages;
    std::vector<std::string> licenses = inherited.licenses;
    for (const auto& license : recipe.licenses) {
        if (std::find(licenses.begin(), licenses.end(), license) == licenses.end()) {
            licenses.push_back(license);
        }
    }
    if (chat_template) CRIA_RETURN_IF_ERROR(add_text(media_type::kTemplate, *chat_template));
    if (system) CRIA_RETURN_IF_ERROR(add_text(media_type::kSystem, *system));
    if (!parameters.empty()) CRIA_RETURN_IF_ERROR(add_text(media_type::kParams, parameters.dump()));
    if (!messages.empty()) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
        CRIA_RETURN_IF_ERROR(add_text(media_type::kMessages, list.dump()));
    }
    for (const auto& license : licenses) {
        CRIA_RETURN_IF_ERROR(add_text(media_type::kLicense, license));
    }

    config["architecture"] = "amd64";
    config["os"] = "linux";
    nlohmann::json diff_ids = nlohmann::json::array();
    for (const Layer& layer : layers) diff_ids.push_back(layer.digest.str());
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    CRIA_ASSIGN_OR_RETURN(Layer config_layer, add_blob_bytes(config.dump(), media_type::kConfig));
    added.push_back(config_layer.digest);

    Manifest manifest{config_layer, layers};
    report(progress, {"writing manifest", std::nullopt, 0, 0});
    CRIA_RETURN_IF_ERROR(write_manifest_locked(name, manifest));
    report(progress, {"success", std::nullopt, 0, 0});
    return manifest;
}

}  // namespace cria::store
