// cria's own small vocabulary for the random-weight demo model that `cria serve` offers when no
// model is named: a byte-level BPE (the 256 byte tokens, merges learned from a short built-in
// English text) with Llama-3-style chat markers and a chat template written for cria.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/writer.h"

namespace cria::model {

struct DemoVocabulary {
    std::vector<std::string> tokens;  // byte-level alphabet, as GGUF "gpt2" vocabularies store them
    std::vector<int32_t> token_types;  // 1 normal, 3 control
    std::vector<std::string> merges;   // "left right", highest priority first
    int32_t bos_id = -1;               // <|begin_of_text|>
    int32_t eot_id = -1;               // <|eot_id|>, also the end-of-sequence token
    std::string chat_template;
};

// Deterministic: the same vocabulary on every run and machine. `n_merges` merges are learned.
DemoVocabulary build_demo_vocabulary(int n_merges = 256);

// Writes the `tokenizer.ggml.*` keys and `tokenizer.chat_template` of the vocabulary.
void write_demo_vocabulary(const DemoVocabulary& vocab, gguf::Writer& writer);

}  // namespace cria::model
