// A tokenizer vocabulary as plain data: what GGUF's `tokenizer.ggml.*` keys describe. Tests build
// small ones by hand; vocab_from_gguf() reads a model file's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/reader.h"
#include "tokenizer/pretokenizer.h"

namespace cria::tokenizer {

// GGUF's token types (`tokenizer.ggml.token_type`).
enum class TokenType : int32_t {
    kUndefined = 0,
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,      // BOS, EOS, chat markers: matched in text only when asked
    kUserDefined = 4,  // added tokens: always matched in text before anything else
    kUnused = 5,
    kByte = 6,  // SentencePiece byte fallback `<0xNN>`
};

enum class VocabModel {
    kBpe,  // GGUF "gpt2": byte-level BPE with a pre-tokenizer and ranked merges
    kSpm,  // GGUF "llama": SentencePiece BPE with scores, `▁` for spaces and byte fallback
    kWpm,  // GGUF "bert": WordPiece with BERT normalization
};

struct VocabData {
    VocabModel model = VocabModel::kBpe;
    PreTokenizer pre = PreTokenizer::kDefault;  // kBpe only
    // kBpe: a pre-tokenized word that is itself a token is emitted whole, without merges
    // (Llama 3's tokenizer does this).
    bool ignore_merges = false;
    // Token texts as stored: byte-level alphabet for kBpe normal tokens, `▁` for spaces in
    // kSpm, a leading `▁` on word-initial pieces in kWpm.
    std::vector<std::string> tokens;
    std::vector<TokenType> types;     // one per token; empty means all kNormal
    std::vector<float> scores;        // kSpm merge priorities, one per token; empty means all 0
    std::vector<std::string> merges;  // kBpe: "left right", highest priority first
    int32_t bos_id = -1;              // -1: the vocabulary has none
    int32_t eos_id = -1;
    int32_t unk_id = -1;
    int32_t pad_id = -1;
    int32_t eot_id = -1;  // end of turn, when the metadata names one
    int32_t eom_id = -1;  // end of message (tool call pending), when the metadata names one
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;  // kSpm: a space is put before the text (and after specials)
};

// Caps that keep a hostile file from making the tokenizer allocate without bound.
inline constexpr size_t kMaxVocabSize = size_t{1} << 22;
inline constexpr size_t kMaxTokenBytes = size_t{1} << 16;
inline constexpr size_t kMaxMerges = size_t{1} << 23;

// Reads the `tokenizer.ggml.*` metadata of a model (or vocabulary-only) file.
Expected<VocabData> vocab_from_gguf(const gguf::File& file);

}  // namespace cria::tokenizer
