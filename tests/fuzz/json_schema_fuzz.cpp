// libFuzzer target for JSON Schema -> grammar: any request body must compile to a grammar or be
// refused with a Status naming the keyword, within the grammar's size cap, and any grammar
// built must match and complete its own outputs without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "server/json_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const nlohmann::ordered_json schema = cria::server::parse_json_body(text);
    if (schema.is_discarded()) return 0;
    auto grammar = cria::grammar::compile_json_schema(schema);
    if (!grammar.has_value()) return 0;
    cria::grammar::Matcher matcher(*grammar, nullptr, /*share_tables=*/false);
    // Walk a little: the shortest completion, then one accepted byte at a time.
    if (auto completion = matcher.shortest_completion(256)) {
        cria::grammar::Matcher replay(*grammar, nullptr, /*share_tables=*/false);
        if (!replay.accept_bytes(*completion).is_ok() || !replay.is_accepting()) __builtin_trap();
    }
    for (char c : std::string_view("{\"a\": [1, \"x\", true, null]}")) {
        if (!matcher.accept_bytes(std::string_view(&c, 1)).is_ok()) break;
    }
    return 0;
}
