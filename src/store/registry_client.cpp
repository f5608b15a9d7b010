#include "store/registry_client.h"

#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace cria::store {
namespace fs = std::filesystem;

namespace {

constexpr time_t kConnectTimeoutSeconds = 15;
constexpr time_t kReadTimeoutSeconds = 120;

// Splits "http://host:port/prefix" into the scheme-host-port part httplib wants and a path prefix.
struct BaseUrl {
    std::string origin;
    std::string prefix;
};

BaseUrl split_base(const std::string& url) {
    const size_t scheme_end = url.find("://");
    const size_t path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    if (path_start == std::string::npos) return {url, ""};
    std::string prefix = url.substr(path_start);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    return {url.substr(0, path_start), prefix};
}

std::unique_ptr<httplib::Client> make_client(const std::string& origin) {
    auto client = std::make_unique<httplib::Client>(origin);
    client->set_follow_location(true);
    client->set_connection_timeout(kConnectTimeoutSeconds, 0);
    client->set_read_timeout(kReadTimeoutSeconds, 0);
    return client;
}

std::string http_failure(const httplib::Result& result, const std::string& what) {
    if (!result) return what + ": " + httplib::to_string(result.error());
    return what + ": HTTP " + std::to_string(result->status);
}

Expected<Manifest> fetch_manifest(const BaseUrl& base, const ModelName& name) {
    auto client = make_client(base.origin);
    const std::string path = base.prefix + "/v2/" + name.repository() + "/manifests/" + name.tag;
    std::string body;
    bool too_large = false;
    const httplib::Headers headers = {{"Accept", std::string(media_type::kManifest)}};
    auto result = client->Get(path, headers, [&](const char* data, size_t size) {
        if (body.size() + size > kMaxManifestBytes) {
            too_large = true;
            return false;
        }
        body.append(data, size);
        return true;
    });
    if (too_large) return resource_exhausted("manifest of '" + name.display() + "' exceeds 4 MiB");
    if (result && result->status == 404) {
        return not_found("model '" + name.display() + "' not found in the registry");
    }
    if (!result || result->status != 200) {
        return io_error(http_failure(result, "cannot fetch the manifest of " + name.display()));
    }
    auto manifest = Manifest::parse(body);
    if (!manifest) {
        return corrupt("registry sent an invalid manifest for '" + name.display() +
                       "': " + manifest.status().message());
    }
    return manifest;
}

// Downloads one blob into its partial file, resuming from what is there, then verifies it.
Status fetch_blob(ModelStore& store, const BaseUrl& base, const ModelName& name, const Layer& layer,
                  const ProgressFn& progress) {
    const fs::path partial = store.partial_blob_path(layer.digest);
    std::error_code ec;
    uint64_t have = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
    if (ec || have > layer.size) {
        fs::remove(partial, ec);
        have = 0;
    }
    auto report = [&](uint64_t done) {
        if (progress)
            progress({"pulling " + layer.digest.hex().substr(0, 12), layer.digest.str(), done,
                      layer.size});
    };
    report(have);
    if (have < layer.size || layer.size == 0) {
        std::ofstream out(partial, std::ios::binary | std::ios::app);
        if (!out) return io_error("cannot write " + partial.string());
        auto client = make_client(base.origin);
        httplib::Headers headers;
        if (have > 0) headers.emplace("Range", "bytes=" + std::to_string(have) + "-");
        const std::string path =
            base.prefix + "/v2/" + name.repository() + "/blobs/" + layer.digest.str();
        std::string failure;
        uint64_t last_report = have;
        auto result = client->Get(
            path, headers,
            [&](const httplib::Response& response) {
                if (response.status == 200 && have > 0) {
                    // The server ignored the range: start over.
                    out.close();
                    out.open(partial, std::ios::binary | std::ios::trunc);
                    have = 0;
                } else if (response.status != 200 && response.status != 206) {
                    failure = "HTTP " + std::to_string(response.status);
                    return false;
                }
                return static_cast<bool>(out);
            },
            [&](const char* data, size_t size) {
                if (have + size > layer.size) {
                    failure = "the registry sent more bytes than the manifest declares";
                    return false;
                }
                out.write(data, static_cast<std::streamsize>(size));
                have += size;
                if (have - last_report >= (1u << 20) || have == layer.size) {
                    last_report = have;
                    report(have);
                }
                return static_cast<bool>(out);
            });
        out.close();
        if (!failure.empty()) {
            if (failure.rfind("the registry", 0) == 0) fs::remove(partial, ec);
            return io_error("cannot download " + layer.digest.str() + ": " + failure);
        }
        if (!result) return io_error(http_failure(result, "cannot download " + layer.digest.str()));
        if (!out) return io_error("cannot write " + partial.string());
        if (have != layer.size) {
            return io_error("download of " + layer.digest.str() + " ended early at " +
                            std::to_string(have) + " of " + std::to_string(layer.size) +
                            " bytes; run the pull again to resume");
        }
    }
    if (progress) progress({"verifying sha256 digest", std::nullopt, 0, 0});
    return store.commit_blob_file(partial, layer.digest);
}

}  // namespace

RegistryOptions RegistryOptions::from_environment() {
    RegistryOptions options;
    if (const char* env = std::getenv("CRIA_REGISTRY"); env != nullptr) {
        options.default_registry_url = env;
    }
    return options;
}

std::string registry_base_url(const ModelName& name, const RegistryOptions& options) {
    if (name.host == kDefaultRegistry && !options.default_registry_url.empty()) {
        return options.default_registry_url;
    }
    return (options.insecure ? "http://" : "https://") + name.host;
}

Status pull_model(ModelStore& store, std::string_view text, const RegistryOptions& options,
                  const ProgressFn& progress) {
    CRIA_ASSIGN_OR_RETURN(const ModelName name, ModelName::parse(text));
    const BaseUrl base = split_base(registry_base_url(name, options));
    if (progress) progress({"pulling manifest", std::nullopt, 0, 0});
    CRIA_ASSIGN_OR_RETURN(const Manifest manifest, fetch_manifest(base, name));
    if (manifest.find(media_type::kModel) == nullptr) {
        std::string message = "model ";
        message += name.display();
        message += " has no GGUF model layer";
        return unsupported(message);
    }
    std::vector<Layer> blobs = manifest.layers;
    blobs.push_back(manifest.config);
    for (const Layer& layer : blobs) {
        if (store.has_blob(layer.digest, layer.size)) {
            if (progress) {
                progress({"pulling " + layer.digest.hex().substr(0, 12), layer.digest.str(),
                          layer.size, layer.size});
            }
            continue;
        }
        CRIA_RETURN_IF_ERROR(fetch_blob(store, base, name, layer, progress));
    }
    if (progress) progress({"writing manifest", std::nullopt, 0, 0});
    CRIA_RETURN_IF_ERROR(store.write_manifest(name, manifest));
    if (progress) progress({"success", std::nullopt, 0, 0});
    return Status::ok();
}

}  // namespace cria::store
