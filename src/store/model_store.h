// The content-addressed model store, in Ollama's layout:
//
//   <root>/blobs/sha256-<hex>                         one file per distinct content
//   <root>/manifests/<host>/<namespace>/<model>/<tag> one JSON manifest per model name
//
// Invariants the store keeps, also against concurrent `cria` processes and server threads:
// - a blob's file name is the SHA-256 of its content (blobs are hashed as they are written and
//   renamed into place only when the digest matches);
// - a manifest is written to a temporary file and renamed, so readers see the old or the new one;
// - a manifest is only written when every blob it references is present;
// - removing a model deletes the blobs no remaining manifest references;
// - a create that fails deletes the blobs it wrote that no manifest references.
// Writers (create, copy, remove, commit of a pull) hold an exclusive flock on <root>/.lock; readers
// take no lock because renames are atomic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/digest.h"
#include "store/manifest.h"
#include "store/model_name.h"
#include "store/modelfile.h"

namespace cria::store {

// Progress of a long operation: a status line, and bytes done of a total when there is one.
struct Progress {
    std::string status;
    std::optional<std::string> digest;
    uint64_t completed = 0;
    uint64_t total = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

struct ModelEntry {
    ModelName name;
    Digest manifest_digest;  // sha256 of the manifest bytes: Ollama's model "digest"
    uint64_t size = 0;       // bytes of all layers
    int64_t modified_unix = 0;
    Manifest manifest;
};

// Everything `show` needs, read from a model's layers.
struct ModelDetails {
    ModelName name;
    Manifest manifest;
    std::filesystem::path model_path;  // the GGUF blob
    nlohmann::json config;             // the config blob (format, family, file type)
    ModelRecipe recipe;                // template, system, parameters, messages, licenses
};

// Caps on the text layers read back into memory.
inline constexpr uint64_t kMaxTextLayerBytes = 16u << 20;

class ModelStore {
  public:
    // CRIA_MODELS, else $CRIA_HOME/models, else $HOME/.cria/models.
    static std::filesystem::path default_root();
    // Opens (creating blobs/ and manifests/ when missing) the store at `root`.
    static Expected<ModelStore> open(const std::filesystem::path& root);
    static Expected<ModelStore> open_default() { return open(default_root()); }

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path blob_path(const Digest& digest) const;
    // The partial download of a blob, kept between attempts so a pull can resume.
    std::filesystem::path partial_blob_path(const Digest& digest) const;
    bool has_blob(const Digest& digest, std::optional<uint64_t> size = std::nullopt) const;

    // Copies a file into blobs/, hashing as it goes; `progress` sees bytes copied.
    Expected<Layer> add_blob_from_file(const std::filesystem::path& source,
                                       std::string_view layer_type,
                                       const ProgressFn& progress = {});
    Expected<Layer> add_blob_bytes(std::string_view bytes, std::string_view layer_type);
    // Moves `file` into blobs/ as `expected` if its content hashes to it; otherwise deletes the
    // file and reports corruption. The file must be on the store's filesystem.
    Status commit_blob_file(const std::filesystem::path& file, const Digest& expected);
    // Re-hashes a stored blob.
    Status verify_blob(const Digest& digest) const;
    Expected<std::string> read_blob_text(const Layer& layer,
                                         uint64_t cap = kMaxTextLayerBytes) const;

    Expected<Manifest> read_manifest(const ModelName& name) const;
    Expected<Manifest> read_manifest(std::string_view name) const;
    bool has_model(const ModelName& name) const;
    // Writes `manifest` under `name`, replacing any previous one; fails when a blob is missing.
    Status write_manifest(const ModelName& name, const Manifest& manifest);

    // Models sorted by name.
    Expected<std::vector<ModelEntry>> list() const;
    Expected<ModelDetails> details(std::string_view name) const;

    Status copy(std::string_view source, std::string_view destination);
    Status remove(std::string_view name);

    // Builds a model from a recipe. `recipe.from` is a blob digest ("sha256:<hex>", as
    // /api/create's `files` give), the name of a model in the store whose layers the new model
    // starts from, or, when `file_base` is given, a path to a GGUF file (relative to it unless
    // absolute). Without `file_base` (a request over HTTP) no file is opened: a client cannot
    // make the server read its files, nor learn from the errors which exist.
    Expected<Manifest> create(std::string_view name, const ModelRecipe& recipe,
                              const std::optional<std::filesystem::path>& file_base,
                              const ProgressFn& progress = {});

  private:
    friend class BlobUpload;
    explicit ModelStore(std::filesystem::path root) : root_(std::move(root)) {}
    Status write_manifest_locked(const ModelName& name, const Manifest& manifest);
    // Deletes those of `candidates` that no manifest references.
    Status collect_garbage_locked(const std::vector<Digest>& candidates);
    Expected<std::filesystem::path> make_temp_path(std::string_view purpose) const;
    // `added` receives the digest of every blob it writes, for cleanup when it fails.
    Expected<Manifest> create_locked(const ModelName& name, const ModelRecipe& recipe,
                                     const std::optional<std::filesystem::path>& file_base,
                                     const ProgressFn& progress, std::vector<Digest>& added);

    std::filesystem::path root_;
};

// A blob streamed into the store (an upload): hashed as it is written, held to `max_bytes` and
// to the disk's free space, and moved into blobs/ by commit() only when its content hashes to
// the expected digest. Destroyed uncommitted, it deletes its partial file.
class BlobUpload {
  public:
    // `declared_bytes` (a Content-Length) is checked against the cap and free space up front.
    static Expected<BlobUpload> start(const ModelStore& store, const Digest& expected,
                                      uint64_t max_bytes, std::optional<uint64_t> declared_bytes);
    BlobUpload(BlobUpload&& other) noexcept;
    BlobUpload& operator=(BlobUpload&&) = delete;
    BlobUpload(const BlobUpload&) = delete;
    ~BlobUpload();

    // kOutOfRange past the cap; kIoError when the disk refuses.
    Status write(const char* data, size_t size);
    // kCorrupt when the content does not hash to the expected digest.
    Status commit();

  private:
    BlobUpload(std::filesystem::path temp, std::filesystem::path target, Digest expected,
               uint64_t max_bytes);
    struct State;
    std::unique_ptr<State> state_;
};

// An exclusive flock on <root>/.lock, released when destroyed.
class StoreLock {
  public:
    static Expected<StoreLock> acquire(const std::filesystem::path& root);
    StoreLock(StoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    StoreLock& operator=(StoreLock&&) = delete;
    StoreLock(const StoreLock&) = delete;
    ~StoreLock();

  private:
    explicit StoreLock(int fd) : fd_(fd) {}
    int fd_;
};

// "3.2B", "135M": a parameter count as Ollama writes it.
std::string format_parameter_count(uint64_t parameters);

// The config blob's fields for a GGUF file (model_format, model_family, model_families,
// model_type as a parameter count, file_type), as `create` writes them.
Expected<nlohmann::json> gguf_model_config(const std::filesystem::path& path);

}  // namespace cria::store
