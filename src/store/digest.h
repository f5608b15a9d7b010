// Content digests: the "sha256:<64 hex>" names that blobs are stored and fetched under.
//
// A digest arrives from manifests, registries and HTTP paths, so it is hostile until parsed:
// only `Digest::parse` makes one, and it accepts exactly "sha256:" or "sha256-" followed by 64
// lowercase or uppercase hex digits (normalized to lowercase). Nothing else can reach a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cria::store {

class Digest {
  public:
    static Expected<Digest> parse(std::string_view text);
    // The digest of `bytes`.
    static Digest of_bytes(std::string_view bytes);
    // Streams the file through SHA-256; `on_progress(bytes_done)` is called now and then.
    static Expected<Digest> of_file(const std::filesystem::path& path);

    const std::string& hex() const { return hex_; }             // 64 lowercase hex digits
    std::string str() const { return "sha256:" + hex_; }        // as in manifests and APIs
    std::string file_name() const { return "sha256-" + hex_; }  // as in blobs/
    bool operator==(const Digest& other) const { return hex_ == other.hex_; }
    bool operator<(const Digest& other) const { return hex_ < other.hex_; }

  private:
    explicit Digest(std::string hex) : hex_(std::move(hex)) {}
    std::string hex_;
};

// Incremental SHA-256 (OpenSSL's libcrypto) for data that arrives in pieces.
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t size);
    Digest finish();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace cria::store
