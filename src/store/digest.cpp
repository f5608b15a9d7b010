#include "store/digest.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <vector>

namespace cria::store {

struct Sha256::State {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
    state_->ctx = EVP_MD_CTX_new();
    // Allocation failure of a few hundred bytes is not something the program can recover from.
    assert(state_->ctx != nullptr);
    EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(state_->ctx);
}

void Sha256::update(const void* data, size_t size) {
    if (size > 0) EVP_DigestUpdate(state_->ctx, data, size);
}

Digest Sha256::finish() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int length = 0;
    EVP_DigestFinal_ex(state_->ctx, out.data(), &length);
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex.push_back(kHex[out[i] >> 4]);
        hex.push_back(kHex[out[i] & 0xf]);
    }
    EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
    return *Digest::parse("sha256:" + hex);
}

Expected<Digest> Digest::parse(std::string_view text) {
    constexpr size_t kHexDigits = 64;
    constexpr std::string_view kAlgorithm = "sha256";
    if (text.size() != kAlgorithm.size() + 1 + kHexDigits || text.substr(0, 6) != kAlgorithm ||
        (text[6] != ':' && text[6] != '-')) {
        return invalid_argument("invalid digest '" + std::string(text.substr(0, 80)) +
                                "': expected sha256: followed by 64 hex digits");
    }
    std::string hex;
    hex.reserve(kHexDigits);
    for (char c : text.substr(7)) {
        if (c >= '0' && c <= '9') {
            hex.push_back(c);
        } else if (c >= 'a' && c <= 'f') {
            hex.push_back(c);
        } else if (c >= 'A' && c <= 'F') {
            hex.push_back(static_cast<char>(c - 'A' + 'a'));
        } else {
            return invalid_argument("invalid digest '" + std::string(text) +
                                    "': expected sha256: followed by 64 hex digits");
        }
    }
    return Digest(std::move(hex));
}

Digest Digest::of_bytes(std::string_view bytes) {
    Sha256 hash;
    hash.update(bytes.data(), bytes.size());
    return hash.finish();
}

Expected<Digest> Digest::of_file(const std::filesystem::path& path) {
    // A FIFO or device would block the open or never end: only regular files are hashed.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return io_error(path.string() + " is not a regular file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return io_error("cannot open " + path.string());
    Sha256 hash;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hash.update(buffer.data(), static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) return io_error("error reading " + path.string());
    return hash.finish();
}

}  // namespace cria::store
