#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>

#include "core/log.h"
#include "tokenizer/scratch.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {
namespace {

// Texts of chat end markers; the first one a vocabulary has is its end-of-turn token.
constexpr std::string_view kEndOfTurnTexts[] = {
    "<|eot_id|>",    "<|im_end|>", "<|end|>",         "<end_of_turn>",         "<|EOT|>",
    "<EOT>",         "_<EOT>",     "<|end_of_turn|>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    "<|endoftext|>",
};
// Further texts that also end generation.
constexpr std::string_view kOtherEndTexts[] = {"<|eom_id|>", "<|end_of_text|>"};

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 `▁`

// Longer control/user-defined texts are not looked for in text (see build_special_trie).
constexpr size_t kMaxSpecialTokenBytes = 256;

bool is_normal_like(TokenType type) {
    return type == TokenType::kNormal || type == TokenType::kUndefined;
}

bool is_special_kind(TokenType type) {
    return type == TokenType::kControl || type == TokenType::kUserDefined ||
           type == TokenType::kUnknown;
}

// `▁` -> space.
std::string unescape_spaces(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        if (text.substr(pos, kSpaceMarker.size()) == kSpaceMarker) {
            out.push_back(' ');
            pos += kSpaceMarker.size();
        } else {
            out.push_back(text[pos++]);
        }
    }
    return out;
}

// The byte a SentencePiece `<0xNN>` token stands for, or -1.
int parse_byte_token(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    int value = 0;
    for (size_t i = 3; i < 5; ++i) {
        const char c = text[i];
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

// Bytes of a byte-level BPE token: each code point of the alphabet back to its byte; a code point
// outside the alphabet (hand-made vocabularies) is kept as UTF-8.
std::string decode_byte_level(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        const unicode::Decoded d = unicode::decode_utf8(text.data() + pos, text.size() - pos);
        const int byte = unicode::codepoint_to_byte(d.cp);
        if (byte >= 0) {
            out.push_back(static_cast<char>(byte));
        } else {
            out.append(text.substr(pos, d.length));
        }
        pos += d.length;
    }
    return out;
}

Status check_id(int32_t id, size_t n_vocab, const char* what) {
    if (id < -1 || (id >= 0 && static_cast<size_t>(id) >= n_vocab)) {
        return invalid_argument(std::string(what) + " id " + std::to_string(id) +
                                " is outside the vocabulary of " + std::to_string(n_vocab) +
                                " tokens");
    }
    return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& file) {
    CRIA_ASSIGN_OR_RETURN(VocabData vocab, vocab_from_gguf(file));
    return from_vocab(std::move(vocab));
}

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_vocab(VocabData vocab) {
    std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
    CRIA_RETURN_IF_ERROR(tokenizer->build(std::move(vocab)));
    return tokenizer;
}

Status Tokenizer::build(VocabData vocab) {
    const size_t n = vocab.tokens.size();
    if (n == 0) return invalid_argument("the vocabulary has no tokens");
    if (n > kMaxVocabSize) {
        return resource_exhausted("the vocabulary has " + std::to_string(n) +
                                  " tokens, more than the limit of " +
                                  std::to_string(kMaxVocabSize));
    }
    if (!vocab.types.empty() && vocab.types.size() != n) {
        return invalid_argument("the vocabulary has " + std::to_string(n) + " tokens but " +
                                std::to_string(vocab.types.size()) + " token types");
    }
    if (!vocab.scores.empty() && vocab.scores.size() != n) {
        return invalid_argument("the vocabulary has " + std::to_string(n) + " tokens but " +
                                std::to_string(vocab.scores.size()) + " scores");
    }
    if (vocab.merges.size() > kMaxMerges) return resource_exhausted("too many merges");
    for (size_t i = 0; i < n; ++i) {
        if (vocab.tokens[i].size() > kMaxTokenBytes) {
            return invalid_argument("token " + std::to_string(i) + " is " +
                                    std::to_string(vocab.tokens[i].size()) + " bytes long");
        }
    }
    CRIA_RETURN_IF_ERROR(check_id(vocab.bos_id, n, "BOS"));
    CRIA_RETURN_IF_ERROR(check_id(vocab.eos_id, n, "EOS"));
    CRIA_RETURN_IF_ERROR(check_id(vocab.unk_id, n, "unknown-token"));
    CRIA_RETURN_IF_ERROR(check_id(vocab.pad_id, n, "padding"));
    CRIA_RETURN_IF_ERROR(check_id(vocab.eot_id, n, "end-of-turn"));
    CRIA_RETURN_IF_ERROR(check_id(vocab.eom_id, n, "end-of-message"));

    model_ = vocab.model;
    pre_ = vocab.pre;
    ignore_merges_ = vocab.ignore_merges && model_ == VocabModel::kBpe;
    add_bos_ = vocab.add_bos;
    add_eos_ = vocab.add_eos;
    add_space_prefix_ = vocab.add_space_prefix && model_ == VocabModel::kSpm;
    strip_leading_space_ = add_space_prefix_ || model_ == VocabModel::kWpm;
    bos_id_ = vocab.bos_id;
    eos_id_ = vocab.eos_id;
    unk_id_ = vocab.unk_id;
    pad_id_ = vocab.pad_id;
    eot_id_ = vocab.eot_id;
    eom_id_ = vocab.eom_id;

    texts_ = std::move(vocab.tokens);
    types_ = vocab.types.empty() ? std::vector<TokenType>(n, TokenType::kNormal) : vocab.types;
    if (model_ == VocabModel::kSpm) {
        scores_ = vocab.scores.empty() ? std::vector<float>(n, 0.0f) : vocab.scores;
        // SentencePiece's sentence markers are control pieces, never matched in plain text.
        // Some converters type them user-defined (phi-3's </s>); they are still control, as
        // llama.cpp treats them.
        for (size_t i = 0; i < n; ++i) {
            if (types_[i] == TokenType::kUserDefined &&
                (texts_[i] == "<s>" || texts_[i] == "</s>")) {
                types_[i] = TokenType::kControl;
            }
        }
    }

    // Pieces: the bytes each token stands for.
    pieces_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const std::string& text = texts_[i];
        const TokenType type = types_[i];
        if (type == TokenType::kControl || type == TokenType::kUnknown) {
            pieces_[i] = text;
            continue;
        }
        switch (model_) {
            case VocabModel::kBpe:
                pieces_[i] = type == TokenType::kUserDefined ? text : decode_byte_level(text);
                break;
            case VocabModel::kSpm: {
                const int byte = type == TokenType::kByte ? parse_byte_token(text) : -1;
                pieces_[i] =
                    byte >= 0 ? std::string(1, static_cast<char>(byte)) : unescape_spaces(text);
                break;
            }
            case VocabModel::kWpm:
                pieces_[i] = unescape_spaces(text);
                break;
        }
    }

    hash_seed_ = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
    lookup_ = FlatStringMap<int32_t>(hash_seed_);
    by_text_ = FlatStringMap<int32_t>(hash_seed_);

    // Stored text -> id, special kinds first so that they win over a normal token of equal text.
    by_text_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (is_special_kind(types_[i])) by_text_.try_emplace(texts_[i], static_cast<int32_t>(i));
    }
    for (size_t i = 0; i < n; ++i) by_text_.try_emplace(texts_[i], static_cast<int32_t>(i));

    byte_tokens_.fill(-1);
    switch (model_) {
        case VocabModel::kBpe:
            CRIA_RETURN_IF_ERROR(build_bpe(vocab));
            break;
        case VocabModel::kSpm:
            build_spm();
            break;
        case VocabModel::kWpm:
            lookup_.reserve(n);
            for (size_t i = 0; i < n; ++i) {
                if (!is_normal_like(types_[i])) continue;
                lookup_.try_emplace(texts_[i], static_cast<int32_t>(i));
                max_token_bytes_ = std::max(max_token_bytes_, texts_[i].size());
            }
            break;
    }
    build_special_trie();
    detect_end_markers();
    return Status::ok();
}

Status Tokenizer::build_bpe(const VocabData& vocab) {
    const size_t n = texts_.size();
    // Merges name their parts by stored (byte-level alphabet) text.
    FlatStringMap<int32_t> normal_by_text(hash_seed_);
    normal_by_text.reserve(n);
    lookup_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (!is_normal_like(types_[i])) continue;
        normal_by_text.try_emplace(texts_[i], static_cast<int32_t>(i));
        lookup_.try_emplace(pieces_[i], static_cast<int32_t>(i));
    }
    auto id_of = [&](std::string_view text) -> int32_t {
        if (const int32_t* id = normal_by_text.find(text)) return *id;
        if (const int32_t* id = by_text_.find(text)) return *id;
        return -1;
    };
    // Only a normal token stands for a byte: a special token spelled like a byte character (some
    // vocabularies add `õ` as a user-defined token for the never-valid byte F5) decodes to its
    // text, not to the byte. Bytes without a token become the unknown token, if any.
    for (int b = 0; b < 256; ++b) {
        std::string text;
        unicode::append_utf8(text, unicode::byte_to_codepoint(static_cast<uint8_t>(b)));
        if (const int32_t* id = normal_by_text.find(text)) byte_tokens_[b] = *id;
    }

    size_t capacity = 16;
    while (capacity < vocab.merges.size() * 2) capacity *= 2;
    merge_table_.assign(capacity, MergeSlot{});
    merge_mask_ = capacity - 1;
    size_t skipped = 0;
    std::string joined;
    for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
        const std::string& merge = vocab.merges[rank];
        // A part never contains a space (the byte-level alphabet spells it `Ġ`), but the first
        // part may be a lone space in hand-made vocabularies, hence the search from index 1.
        const size_t space = merge.find(' ', 1);
        if (space == std::string::npos) {
            ++skipped;
            continue;
        }
        const std::string_view left(merge.data(), space);
        const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
        joined.assign(left);
        joined.append(right);
        const int32_t left_id = id_of(left);
        const int32_t right_id = id_of(right);
        const int32_t merged_id = id_of(joined);
        if (left_id < 0 || right_id < 0 || merged_id < 0) {
            ++skipped;
            continue;
        }
        const uint64_t key =
            ((static_cast<uint64_t>(left_id) << 32) | static_cast<uint32_t>(right_id)) + 1;
        uint64_t slot = merge_slot_of(key);
        while (merge_table_[slot].key != 0 && merge_table_[slot].key != key) {
            slot = (slot + 1) & merge_mask_;
        }
        if (merge_table_[slot].key == key) continue;  // a repeated merge keeps its first rank
        merge_table_[slot] = {key, static_cast<int32_t>(rank), merged_id};
    }
    if (skipped > 0) {
        CRIA_LOG_DEBUG("tokenizer: %zu of %zu merges name texts that are not tokens; ignored",
                       skipped, vocab.merges.size());
    }
    return Status::ok();
}

uint64_t Tokenizer::merge_slot_of(uint64_t key) const {
    const __uint128_t product = static_cast<__uint128_t>(key ^ hash_seed_) * 0x9E3779B97F4A7C15ull;
    return (static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64)) & merge_mask_;
}

const Tokenizer::MergeSlot* Tokenizer::find_merge(int32_t left, int32_t right) const {
    const uint64_t key = ((static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right)) + 1;
    uint64_t slot = merge_slot_of(key);
    while (true) {
        const MergeSlot& s = merge_table_[slot];
        if (s.key == key) return &s;
        if (s.key == 0) return nullptr;
        slot = (slot + 1) & merge_mask_;
    }
}

void Tokenizer::build_spm() {
    const size_t n = texts_.size();
    lookup_.reserve(n);
    spm_pairs_ = FlatU64Set(hash_seed_);
    spm_small_pairs_.fill(0);
    for (size_t i = 0; i < n; ++i) {
        if (!is_normal_like(types_[i])) continue;
        const std::string& text = texts_[i];
        lookup_.try_emplace(text, static_cast<int32_t>(i));
        // Decoded exactly as encode_spm decodes text, so that the pairs line up.
        uint32_t previous = 0;
        for (size_t pos = 0; pos < text.size();) {
            const unicode::Decoded d = unicode::decode_utf8(text.data() + pos, text.size() - pos);
            if (pos > 0) add_spm_pair(previous, d.cp);
            previous = d.cp;
            pos += d.length;
        }
    }
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        const int32_t* id = by_text_.find(name);
        if (id != nullptr && types_[*id] == TokenType::kByte) {
            byte_tokens_[b] = *id;
        } else if (b < 0x80) {
            // No byte token: an ASCII character may still be a token of its own.
            const char single = static_cast<char>(b);
            if (const int32_t* id2 = lookup_.find(std::string_view(&single, 1))) {
                byte_tokens_[b] = *id2;
            }
        }
    }
}

namespace {

// Index of a code point in the small-pair bitmap: ASCII, then `▁`; -1 for the others.
int small_pair_index(uint32_t cp) {
    if (cp < 128) return static_cast<int>(cp);
    return cp == 0x2581 ? 128 : -1;
}

uint64_t pair_key(uint32_t left, uint32_t right) {
    return ((static_cast<uint64_t>(left) << 32) | right) + 1;  // nonzero: code points < 2^21
}

}  // namespace

void Tokenizer::add_spm_pair(uint32_t left, uint32_t right) {
    const int row = small_pair_index(left);
    const int column = small_pair_index(right);
    if (row >= 0 && column >= 0) {
        spm_small_pairs_[row * 3 + column / 64] |= uint64_t{1} << (column % 64);
    } else {
        spm_pairs_.insert(pair_key(left, right));
    }
}

bool Tokenizer::spm_joinable(uint32_t left, uint32_t right) const {
    const int row = small_pair_index(left);
    const int column = small_pair_index(right);
    if (row >= 0 && column >= 0) {
        return (spm_small_pairs_[row * 3 + column / 64] >> (column % 64)) & 1;
    }
    return spm_pairs_.contains(pair_key(left, right));
}

void Tokenizer::build_special_trie() {
    trie_.assign(1, TrieNode{});
    special_first_byte_.fill(false);
    for (size_t i = 0; i < texts_.size(); ++i) {
        if (!is_special_kind(types_[i]) || texts_[i].empty()) continue;
        const std::string& text = texts_[i];
        // Matching walks at most this far from each candidate position, which keeps it linear
        // in the text; real special tokens are a few dozen bytes long.
        if (text.size() > kMaxSpecialTokenBytes) continue;
        int32_t node = 0;
        for (const char ch : text) {
            const auto byte = static_cast<uint8_t>(ch);
            auto& children = trie_[node].children;
            auto it = std::lower_bound(
                children.begin(), children.end(), byte,
                [](const std::pair<uint8_t, int32_t>& c, uint8_t b) { return c.first < b; });
            if (it != children.end() && it->first == byte) {
                node = it->second;
            } else {
                const auto child = static_cast<int32_t>(trie_.size());
                children.insert(it, {byte, child});
                trie_.emplace_back();
                node = child;
            }
        }
        if (trie_[node].token < 0) {  // the first of equal texts wins
            trie_[node].token = static_cast<int32_t>(i);
            trie_[node].always = types_[i] == TokenType::kUserDefined;
        }
        special_first_byte_[static_cast<uint8_t>(text[0])] = true;
    }
}

void Tokenizer::detect_end_markers() {
    auto special_id = [&](std::string_view text) -> int32_t {
        const int32_t* id = by_text_.find(text);
        if (id == nullptr) return -1;
        const TokenType type = types_[*id];
        return (type == TokenType::kControl || type == TokenType::kUserDefined) ? *id : -1;
    };
    if (eot_id_ < 0) {
        for (const std::string_view text : kEndOfTurnTexts) {
            if (const int32_t id = special_id(text); id >= 0) {
                eot_id_ = id;
                break;
            }
        }
    }
    if (eom_id_ < 0) eom_id_ = special_id("<|eom_id|>");
    eog_ids_.clear();
    for (const int32_t id : {eos_id_, eot_id_, eom_id_}) {
        if (id >= 0) eog_ids_.push_back(id);
    }
    for (const std::string_view text : kEndOfTurnTexts) {
        if (const int32_t id = special_id(text); id >= 0) eog_ids_.push_back(id);
    }
    for (const std::string_view text : kOtherEndTexts) {
        if (const int32_t id = special_id(text); id >= 0) eog_ids_.push_back(id);
    }
    std::sort(eog_ids_.begin(), eog_ids_.end());
    eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());
}

bool Tokenizer::is_eog(int32_t id) const {
    return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

std::pair<int32_t, size_t> Tokenizer::match_special(std::string_view text, size_t pos,
                                                    bool parse_special) const {
    int32_t best = -1;
    size_t best_length = 0;
    int32_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
        const auto byte = static_cast<uint8_t>(text[i]);
        const auto& children = trie_[node].children;
        auto it = std::lower_bound(
            children.begin(), children.end(), byte,
            [](const std::pair<uint8_t, int32_t>& c, uint8_t b) { return c.first < b; });
        if (it == children.end() || it->first != byte) break;
        node = it->second;
        const TrieNode& n = trie_[node];
        if (n.token >= 0 && (parse_special || n.always)) {
            best = n.token;
            best_length = i - pos + 1;
        }
    }
    return {best, best_length};
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
    std::vector<int32_t> out;
    if (add_special && add_bos_ && bos_id_ >= 0) out.push_back(bos_id_);
    if (!text.empty()) {
        Scratch scratch(hash_seed_);
        // The start of the text counts as following a special token (SentencePiece prefix).
        bool after_special = true;
        size_t fragment_start = 0;
        size_t pos = 0;
        const bool any_special = trie_.size() > 1;
        while (any_special && pos < text.size()) {
            if (!special_first_byte_[static_cast<uint8_t>(text[pos])]) {
                ++pos;
                continue;
            }
            const auto [id, length] = match_special(text, pos, parse_special);
            if (id < 0) {
                ++pos;
                continue;
            }
            if (fragment_start < pos) {
                encode_fragment(text.substr(fragment_start, pos - fragment_start), after_special,
                                scratch, out);
            }
            out.push_back(id);
            after_special = true;
            pos += length;
            fragment_start = pos;
        }
        if (fragment_start < text.size()) {
            encode_fragment(text.substr(fragment_start), after_special, scratch, out);
        }
    }
    if (add_special && add_eos_ && eos_id_ >= 0) out.push_back(eos_id_);
    return out;
}

void Tokenizer::encode_fragment(std::string_view text, bool after_special, Scratch& scratch,
                                std::vector<int32_t>& out) const {
    switch (model_) {
        case VocabModel::kBpe:
            encode_bpe(text, scratch, out);
            break;
        case VocabModel::kSpm:
            encode_spm(text, add_space_prefix_ && after_special, scratch, out);
            break;
        case VocabModel::kWpm:
            encode_wpm(text, scratch, out);
            break;
    }
}

const std::string& Tokenizer::token_text(int32_t id) const {
    static const std::string kEmpty;
    return is_valid(id) ? texts_[id] : kEmpty;
}

TokenType Tokenizer::token_type(int32_t id) const {
    return is_valid(id) ? types_[id] : TokenType::kUndefined;
}

std::string Tokenizer::token_piece(int32_t id) const {
    return is_valid(id) ? pieces_[id] : "";
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
    if (const int32_t* id = by_text_.find(text)) return *id;
    if (model_ == VocabModel::kBpe) {
        if (const int32_t* id = lookup_.find(text)) return *id;
    }
    return std::nullopt;
}

void Tokenizer::append_piece(int32_t id, bool render_special, std::string& out) const {
    if (!is_valid(id)) return;
    switch (types_[id]) {
        case TokenType::kControl:
        case TokenType::kUnused:
            if (render_special) out += pieces_[id];
            return;
        case TokenType::kUnknown:
            if (render_special) {
                out += pieces_[id];
            } else {
                unicode::append_utf8(out, unicode::kReplacementChar);
            }
            return;
        default:
            out += pieces_[id];
            return;
    }
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
    std::string out;
    bool strip = strip_leading_space_;
    for (const int32_t id : ids) {
        append_piece(id, render_special, out);
        if (strip && !out.empty()) {
            if (out[0] == ' ') out.erase(0, 1);
            strip = false;
        }
    }
    return out;
}

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool at_text_start,
                                   bool render_special)
    : tokenizer_(&tokenizer),
      strip_space_(at_text_start && tokenizer.strips_leading_space()),
      render_special_(render_special) {}

std::string StreamingDecoder::push(int32_t id) {
    tokenizer_->append_piece(id, render_special_, pending_);
    if (strip_space_ && !pending_.empty()) {
        if (pending_[0] == ' ') pending_.erase(0, 1);
        strip_space_ = false;
    }
    return take_complete(/*final=*/false);
}

std::string StreamingDecoder::flush() {
    return take_complete(/*final=*/true);
}

std::string StreamingDecoder::take_complete(bool final) {
    std::string out;
    size_t pos = 0;
    while (pos < pending_.size()) {
        size_t length = 0;
        const unicode::Utf8Prefix kind =
            unicode::classify_utf8_prefix(pending_.data() + pos, pending_.size() - pos, &length);
        if (kind == unicode::Utf8Prefix::kComplete) {
            out.append(pending_, pos, length);
            pos += length;
        } else if (kind == unicode::Utf8Prefix::kInvalid) {
            unicode::append_utf8(out, unicode::kReplacementChar);
            pos += length;
        } else if (final) {
            unicode::append_utf8(out, unicode::kReplacementChar);
            pos = pending_.size();
        } else {
            break;  // wait for the rest of the character
        }
    }
    pending_.erase(0, pos);
    return out;
}

}  // namespace cria::tokenizer
