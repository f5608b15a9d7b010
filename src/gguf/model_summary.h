// What a GGUF file holds, in the terms users know from `ollama show`. Reads only generic keys:
// "<general.architecture>.context_length" and the like, no per-architecture knowledge.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "gguf/reader.h"

namespace cria::gguf {

struct ModelSummary {
    std::string architecture;
    std::string name;
    uint64_t parameters = 0;  // total elements over all tensors
    uint64_t context_length = 0;
    uint64_t embedding_length = 0;
    uint64_t block_count = 0;
    std::string file_type;                         // e.g. "Q4_K_M", from general.file_type
    std::map<std::string, uint64_t> tensor_types;  // type name -> tensor count
    std::string tokenizer_model;
    uint64_t vocab_size = 0;
    bool has_chat_template = false;
    // "<arch>.pooling_type" names a pooling (mean, CLS, last...): an embedding model.
    bool is_embedding_model = false;
    uint64_t tensor_bytes = 0;
};

ModelSummary summarize(const File& file);

}  // namespace cria::gguf
