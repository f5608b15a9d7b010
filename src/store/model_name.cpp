#include "store/model_name.h"

#include <vector>

namespace cria::store {
namespace {

constexpr size_t kMaxPartLength = 128;
constexpr size_t kMaxNameLength = 512;

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [A-Za-z0-9][A-Za-z0-9_.-]*, which excludes "", ".", ".." and anything with a slash.
bool valid_part(std::string_view part, bool allow_colon) {
    if (part.empty() || part.size() > kMaxPartLength) return false;
    if (!is_alnum(part[0]) && part[0] != '_') return false;
    for (char c : part) {
        if (is_alnum(c) || c == '_' || c == '-' || c == '.') continue;
        if (allow_colon && c == ':') continue;
        return false;
    }
    return part != "." && part != "..";
}

}  // namespace

Expected<ModelName> ModelName::parse(std::string_view text) {
    auto fail = [&](const std::string& why) {
        return invalid_argument("invalid model name '" + std::string(text.substr(0, 100)) +
                                "': " + why);
    };
    if (text.empty()) return fail("empty");
    if (text.size() > kMaxNameLength) return fail("longer than 512 characters");
    // Users paste registry URLs; the scheme carries no information the name needs.
    for (std::string_view scheme : {"https://", "http://"}) {
        if (text.substr(0, scheme.size()) == scheme) text.remove_prefix(scheme.size());
    }

    ModelName name;
    std::string_view rest = text;
    // The tag follows the last ':' after the last '/', so a registry port is not a tag.
    const size_t last_slash = rest.rfind('/');
    const size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos &&
        (last_slash == std::string_view::npos || colon > last_slash)) {
        name.tag = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
        if (!valid_part(name.tag, false)) return fail("bad tag '" + name.tag + "'");
    } else {
        name.tag = kDefaultTag;
    }

    std::vector<std::string_view> parts;
    while (true) {
        const size_t slash = rest.find('/');
        parts.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    if (parts.size() > 3) return fail("too many '/' separated parts");
    name.model = std::string(parts.back());
    name.name_space =
        parts.size() >= 2 ? std::string(parts[parts.size() - 2]) : std::string(kDefaultNamespace);
    name.host = parts.size() == 3 ? std::string(parts[0]) : std::string(kDefaultRegistry);
    if (!valid_part(name.model, false)) return fail("bad model part '" + name.model + "'");
    if (!valid_part(name.name_space, false)) {
        return fail("bad namespace '" + name.name_space + "'");
    }
    if (!valid_part(name.host, true)) return fail("bad registry host '" + name.host + "'");
    return name;
}

std::string ModelName::display() const {
    std::string out;
    if (host != kDefaultRegistry) {
        out = host + "/" + name_space + "/";
    } else if (name_space != kDefaultNamespace) {
        out = name_space + "/";
    }
    return out + model + ":" + tag;
}

std::filesystem::path ModelName::manifest_path() const {
    return std::filesystem::path("manifests") / host / name_space / model / tag;
}

}  // namespace cria::store
