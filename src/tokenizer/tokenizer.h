// Text <-> token ids for the three vocabulary families GGUF models carry:
//   - byte-level BPE (GGUF "gpt2": Llama 3, Qwen, GPT-2, DeepSeek, Falcon, MPT, StarCoder...),
//   - SentencePiece BPE (GGUF "llama": Llama 2, Mistral, Phi-3),
//   - WordPiece (GGUF "bert").
//
// Usage:
//   CRIA_ASSIGN_OR_RETURN(auto file, gguf::File::open(path));
//   CRIA_ASSIGN_OR_RETURN(auto tok, tokenizer::Tokenizer::from_gguf(*file));
//   std::vector<int32_t> ids = tok->encode(prompt, /*add_special=*/true, /*parse_special=*/true);
//   tokenizer::StreamingDecoder out(*tok, /*at_text_start=*/false);
//   for (int32_t id : generated) send(out.push(id));  // always whole UTF-8 characters
//   send(out.flush());
//
// Special tokens: user-defined (added) tokens are always recognized in text, before the
// pre-tokenizer runs, as the reference tokenizers do; control tokens (`<|eot_id|>`, `<s>`...)
// and the unknown token are recognized only when `parse_special` is set, otherwise their text is
// tokenized like any other. Where two special texts could match, the leftmost, then longest wins.
// Special texts longer than 256 bytes (none exist in real vocabularies) are not looked for.
//
// A Tokenizer is immutable after construction: every const method may be called from several
// threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/reader.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/string_map.h"
#include "tokenizer/vocab.h"

namespace cria::tokenizer {

class Tokenizer {
  public:
    static Expected<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& file);
    // Validates the data (ids in range, lengths consistent) and builds the look-up tables.
    static Expected<std::unique_ptr<Tokenizer>> from_vocab(VocabData vocab);
    // Look-up tables hold views into the token strings: a Tokenizer stays where it was built.
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // Token ids for `text`. add_special: put BOS/EOS around the result where the model's metadata
    // asks for them. parse_special: recognize control-token text (see the file comment).
    // Any byte string is accepted: invalid UTF-8 and NUL bytes are tokenized as bytes (byte-level
    // BPE, SentencePiece byte fallback) or dropped (WordPiece), never rejected; a byte the
    // vocabulary has no token for becomes the unknown token, or is dropped when there is none.
    // Linear time.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The text of a sequence that starts at the beginning of a text: pieces concatenated, the
    // SentencePiece/WordPiece leading space of the first word removed. Control and unused tokens
    // render as nothing unless render_special, unknown-type tokens as U+FFFD unless
    // render_special; ids outside the vocabulary render as nothing. The result is
    // the bytes the tokens stand for and may be invalid UTF-8 if the tokens split a character;
    // StreamingDecoder produces valid UTF-8 only.
    std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

    // The bytes one token stands for in decoded text: byte-level and `<0xNN>` tokens as their
    // bytes, `▁` as a space, control tokens as their text. Empty for an id outside the vocabulary.
    std::string token_piece(int32_t id) const;
    // The token's text exactly as the vocabulary stores it.
    const std::string& token_text(int32_t id) const;
    TokenType token_type(int32_t id) const;
    bool is_valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
    bool is_control(int32_t id) const { return token_type(id) == TokenType::kControl; }
    // An id whose stored text is exactly `text` (control, user-defined and unknown tokens before
    // the others); for byte-level BPE also a normal token whose decoded bytes are `text`.
    std::optional<int32_t> find_token(std::string_view text) const;

    int32_t n_vocab() const { return static_cast<int32_t>(texts_.size()); }
    VocabModel model() const { return model_; }
    PreTokenizer pre_tokenizer() const { return pre_; }
    // -1 where the vocabulary has none.
    int32_t bos_id() const { return bos_id_; }
    int32_t eos_id() const { return eos_id_; }
    int32_t unk_id() const { return unk_id_; }
    int32_t pad_id() const { return pad_id_; }
    // End of turn: the metadata's eot id, else a chat end marker found by its text
    // (`<|eot_id|>`, `<|im_end|>`, `<|end|>`, `<end_of_turn>`, `<|EOT|>`...).
    int32_t eot_id() const { return eot_id_; }
    int32_t eom_id() const { return eom_id_; }
    bool add_bos() const { return add_bos_; }
    bool add_eos() const { return add_eos_; }
    // End-of-generation tokens: EOS, EOT, EOM and every control or user-defined token whose text
    // is a known end marker. Generation stops at any of them.
    const std::vector<int32_t>& eog_ids() const { return eog_ids_; }
    bool is_eog(int32_t id) const;

    // Appends token_piece(id) (or nothing for a control token unless render_special) to out.
    void append_piece(int32_t id, bool render_special, std::string& out) const;
    // Whether decoded text drops one leading space (SentencePiece with a space prefix, WordPiece).
    bool strips_leading_space() const { return strip_leading_space_; }

    struct Scratch;  // per-call working memory, defined in the implementation

  private:
    Tokenizer() = default;
    Status build(VocabData vocab);
    Status build_bpe(const VocabData& vocab);
    void build_spm();
    void build_special_trie();
    void detect_end_markers();

    void encode_fragment(std::string_view text, bool after_special, Scratch& scratch,
                         std::vector<int32_t>& out) const;
    void encode_bpe(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;
    void bpe_word(std::string_view word, Scratch& scratch, std::vector<int32_t>& out) const;
    void encode_spm(std::string_view text, bool add_prefix, Scratch& scratch,
                    std::vector<int32_t>& out) const;
    void spm_chunk(std::string_view chunk, Scratch& scratch, std::vector<int32_t>& out) const;
    void spm_merge(std::string_view chunk, Scratch& scratch, std::vector<int32_t>& out) const;
    void encode_wpm(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;
    void wpm_word(std::string_view word, std::vector<int32_t>& out) const;
    // Longest special token starting at `pos`: its id and length, or id -1.
    std::pair<int32_t, size_t> match_special(std::string_view text, size_t pos,
                                             bool parse_special) const;

    VocabModel model_ = VocabModel::kBpe;
    PreTokenizer pre_ = PreTokenizer::kDefault;
    bool ignore_merges_ = false;
    bool add_bos_ = false;
    bool add_eos_ = false;
    bool add_space_prefix_ = false;
    bool strip_leading_space_ = false;
    int32_t bos_id_ = -1;
    int32_t eos_id_ = -1;
    int32_t unk_id_ = -1;
    int32_t pad_id_ = -1;
    int32_t eot_id_ = -1;
    int32_t eom_id_ = -1;
    std::vector<int32_t> eog_ids_;

    std::vector<std::string> texts_;   // [n_vocab] stored text
    std::vector<std::string> pieces_;  // [n_vocab] decoded bytes (token_piece)
    std::vector<TokenType> types_;     // [n_vocab]
    std::vector<float> scores_;        // [n_vocab] kSpm only

    // Normal tokens by the text the model's algorithm looks up: decoded bytes (kBpe), stored
    // text with `▁` (kSpm, also user-defined), stored text (kWpm). Keys view texts_/pieces_.
    FlatStringMap<int32_t> lookup_;
    // Every token by stored text, special kinds first (find_token). Keys view texts_.
    FlatStringMap<int32_t> by_text_;
    std::array<int32_t, 256> byte_tokens_{};  // token of each byte (-1: none)

    // kBpe merges: (left id, right id) -> rank and merged id, open addressing.
    struct MergeSlot {
        uint64_t key = 0;  // left << 32 | right, plus 1 so that 0 marks an empty slot
        int32_t rank = 0;
        int32_t merged = 0;
    };
    std::vector<MergeSlot> merge_table_;
    uint64_t merge_mask_ = 0;
    // Seeds the hashes so that crafted files or inputs cannot aim at collisions.
    uint64_t hash_seed_ = 0;
    const MergeSlot* find_merge(int32_t left, int32_t right) const;
    uint64_t merge_slot_of(uint64_t key) const;

    // kSpm: adjacent code-point pairs that occur inside some mergeable token. No merge can join
    // two neighbouring characters that are not such a pair, so the text is cut between them into
    // chunks that merge independently (and repeat, which the per-call cache exploits).
    FlatU64Set spm_pairs_;
    // The same for pairs of ASCII characters and `▁` (index 128), as a bitmap: [129 rows][3 words].
    std::array<uint64_t, 129 * 3> spm_small_pairs_{};
    bool spm_joinable(uint32_t left, uint32_t right) const;
    void add_spm_pair(uint32_t left, uint32_t right);
    size_t max_token_bytes_ = 0;  // kWpm longest-match window

    // Special-token trie over bytes: node 0 is the root.
    struct TrieNode {
        std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
        int32_t token = -1;                                 // token ending here, -1 if none
        bool always = false;  // the token is user-defined (matched without parse_special)
    };
    std::vector<TrieNode> trie_;
    std::array<bool, 256> special_first_byte_{};
};

// Turns generated tokens into text one token at a time, emitting only complete UTF-8 characters:
// bytes of a character split across tokens are held until the character is complete, and bytes
// that can never form a character become U+FFFD. Concatenating every push() and the final
// flush() gives decode() of the same ids whenever that is valid UTF-8.
class StreamingDecoder {
  public:
    // at_text_start: the ids begin a text, so the SentencePiece/WordPiece leading space of the
    // first word is dropped; pass false when continuing after a prompt.
    explicit StreamingDecoder(const Tokenizer& tokenizer, bool at_text_start = true,
                              bool render_special = false);

    std::string push(int32_t id);
    // Everything still held; an incomplete character at the end becomes U+FFFD.
    std::string flush();

  private:
    std::string take_complete(bool final);

    const Tokenizer* tokenizer_;
    bool strip_space_;
    bool render_special_;
    std::string pending_;
};

}  // namespace cria::tokenizer
