#include "tokenizer/test_vectors.h"

namespace cria::tokenizer {

std::vector<std::string> split_test_cases(std::string_view inp) {
    static constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";
    std::vector<std::string> cases;
    size_t pos = 0;
    while (true) {
        const size_t end = inp.find(kSeparator, pos);
        if (end == std::string_view::npos) break;
        cases.emplace_back(inp.substr(pos, end - pos));
        pos = end + kSeparator.size();
    }
    return cases;
}

std::string format_ids_line(std::span<const int32_t> ids) {
    std::string line;
    line.reserve(ids.size() * 7);
    for (const int32_t id : ids) {
        line.push_back(' ');
        line += std::to_string(id);
    }
    return line;
}

}  // namespace cria::tokenizer
