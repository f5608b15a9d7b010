// The architecture descriptions, one per arch_<name>.cpp, gathered by registry.cpp.
#pragma once

#include "model/arch.h"

namespace cria::model {

const ArchSpec& llama_arch();
const ArchSpec& qwen2_arch();
const ArchSpec& qwen3_arch();
const ArchSpec& gemma2_arch();
const ArchSpec& gemma3_arch();
const ArchSpec& phi3_arch();
const ArchSpec& bert_arch();
const ArchSpec& nomic_bert_arch();
const ArchSpec& gemma_embedding_arch();

}  // namespace cria::model
