// Request bodies parsed in time linear in their size, with a bounded nesting depth.
//
// nlohmann's ordered_json keeps an object's keys in a vector and its parser inserts each key
// by a linear search for a duplicate, so an object with n keys costs O(n^2) to parse: a 1 MB
// logit_bias of 60,000 keys took seconds of CPU before any field could be checked. This parser
// builds the same values (keys in their order, a repeated key keeps its first place and takes
// the last value, as nlohmann's own parser does) with a hash index per object being built.
// Every consumer of a body (dump, the template engines' conversions) recurses over it, so the
// depth is capped here, where a hostile body is refused before it reaches them.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

namespace cria::server {

// Nesting depth allowed in a request body: far beyond any schema or message a client sends.
inline constexpr size_t kMaxJsonDepth = 256;

// The parsed value, or a discarded value (is_discarded()) when `text` is not valid JSON or
// nests deeper than max_depth. Json is nlohmann::ordered_json or nlohmann::json.
template <class Json>
Json parse_json_body_as(std::string_view text, size_t max_depth = kMaxJsonDepth);

inline nlohmann::ordered_json parse_json_body(std::string_view text,
                                              size_t max_depth = kMaxJsonDepth) {
    return parse_json_body_as<nlohmann::ordered_json>(text, max_depth);
}

}  // namespace cria::server
