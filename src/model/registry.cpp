#include <array>
#include <functional>

#include "model/arch_list.h"

namespace cria::model {
namespace {

const std::array<std::reference_wrapper<const ArchSpec>, 9>& all_archs() {
    static const std::array<std::reference_wrapper<const ArchSpec>, 9> archs = {
        std::cref(llama_arch()),  std::cref(qwen2_arch()),      std::cref(qwen3_arch()),
        std::cref(gemma2_arch()), std::cref(gemma3_arch()),     std::cref(phi3_arch()),
        std::cref(bert_arch()),   std::cref(nomic_bert_arch()), std::cref(gemma_embedding_arch()),
    };
    return archs;
}

}  // namespace

const ArchSpec* find_arch(std::string_view name) {
    for (const ArchSpec& spec : all_archs()) {
        if (spec.name == name) return &spec;
    }
    return nullptr;
}

std::vector<std::string_view> supported_arch_names() {
    std::vector<std::string_view> names;
    for (const ArchSpec& spec : all_archs()) names.push_back(spec.name);
    return names;
}

}  // namespace cria::model
