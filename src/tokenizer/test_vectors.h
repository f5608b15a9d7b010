// The tokenizer test-vector format shared with the reference tokenizers: a `.inp` file holds
// strings, each followed by the line `__ggml_vocab_test__`; the matching `.out` file holds one
// line per string with every token id preceded by a space.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cria::tokenizer {

// The strings of a `.inp` file, in order. Text after the last separator (normally nothing) is
// ignored.
std::vector<std::string> split_test_cases(std::string_view inp);

// One `.out` line without its newline: " 1 2 3" (empty for no ids).
std::string format_ids_line(std::span<const int32_t> ids);

}  // namespace cria::tokenizer
