// Pre-tokenizers of byte-level BPE vocabularies: the text is split into words before merges run,
// and no merge crosses a word boundary. Each kind reproduces one split pattern of the reference
// tokenizers (for example Llama 3's `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|...`)
// with hand-written matchers over code points; a kind with several patterns applies them in
// order, each one splitting the pieces the previous one produced into matched and unmatched parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {

enum class PreTokenizer {
    kDefault,        // punctuation runs, GPT-2 pattern, digit runs, groups of three ASCII digits
    kLlama3,         // Llama 3: case-insensitive contractions, digits in groups of up to three
    kQwen2,          // as Llama 3 but every digit alone
    kGpt2,           // GPT-2 (also MPT, OLMo, Jina, RoBERTa)
    kStarcoder,      // every digit alone, then GPT-2 (also Refact, Command R, SmolLM)
    kFalcon,         // punctuation runs, GPT-2, groups of three ASCII digits
    kDeepseekLlm,    // DeepSeek LLM's sequence of six patterns
    kDeepseekCoder,  // DeepSeek Coder's sequence of five patterns
};

// The kind named by a GGUF `tokenizer.ggml.pre` value; an empty name means kDefault.
Expected<PreTokenizer> pre_tokenizer_from_name(std::string_view name);
std::string_view pre_tokenizer_name(PreTokenizer kind);

// Code points [begin, end) of a CodepointText.
struct WordSpan {
    size_t begin;
    size_t end;
};

// Splits the whole text into words, in order, covering every code point exactly once. `words` is
// overwritten; `scratch` is working memory the caller may reuse between calls. Runs in time
// linear in the text.
void pre_tokenize(PreTokenizer kind, const unicode::CodepointText& text,
                  std::vector<WordSpan>& words, std::vector<WordSpan>& scratch);

namespace detail {
// Membership in DeepSeek LLM's spelled-out letter class (exposed for tests).
bool in_deepseek_letter_class(uint32_t cp);
}  // namespace detail

}  // namespace cria::tokenizer
