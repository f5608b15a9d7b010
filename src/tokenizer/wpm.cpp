// WordPiece as BERT uses it: normalize (drop controls, strip accents, lowercase), split at
// whitespace and around punctuation and CJK ideographs, then take the longest vocabulary piece at
// each point of a word; a word that cannot be covered is one unknown token.
#include <algorithm>

#include "tokenizer/scratch.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 `▁`, marks a word start

// Longer words are one unknown token without trying, as BERT's tokenizer does.
constexpr size_t kMaxWordChars = 100;

// BERT's punctuation: Unicode P* plus every ASCII symbol.
bool is_bert_punctuation(uint32_t cp, uint8_t classes) {
    if (classes & unicode::kPunctuation) return true;
    return cp < 0x80 && (classes & unicode::kSymbol);
}

}  // namespace

void Tokenizer::encode_wpm(std::string_view text, Scratch& scratch,
                           std::vector<int32_t>& out) const {
    std::string& word = scratch.buffer;
    word.clear();
    size_t word_chars = 0;
    auto finish_word = [&] {
        if (word.empty()) return;
        if (word_chars > kMaxWordChars) {
            if (unk_id_ >= 0) out.push_back(unk_id_);
        } else {
            wpm_word(word, out);
        }
        word.clear();
        word_chars = 0;
    };
    std::vector<uint32_t>& parts = scratch.codepoints;
    size_t pos = 0;
    while (pos < text.size()) {
        const unicode::Decoded d = unicode::decode_utf8(text.data() + pos, text.size() - pos);
        pos += d.length;
        const uint32_t cp = d.cp;
        if (cp == 0 || cp == unicode::kReplacementChar || cp == unicode::kInvalidByte) continue;
        const uint8_t classes = unicode::char_class(cp);
        if (classes & unicode::kWhitespace) {
            finish_word();
            continue;
        }
        if (classes & unicode::kOther) continue;  // control and format characters
        parts.clear();
        unicode::append_without_accents(cp, parts);
        for (const uint32_t part : parts) {
            const uint8_t part_classes = unicode::char_class(part);
            const uint32_t lower = unicode::to_lower(part);
            if (is_bert_punctuation(part, part_classes) || unicode::is_cjk_ideograph(part)) {
                finish_word();
                unicode::append_utf8(word, lower);
                word_chars = 1;
                finish_word();
            } else {
                unicode::append_utf8(word, lower);
                ++word_chars;
            }
        }
    }
    finish_word();
}

void Tokenizer::wpm_word(std::string_view word, std::vector<int32_t>& out) const {
    // Word-initial pieces are stored with a leading `▁`, continuation pieces without one.
    std::string marked;
    marked.reserve(kSpaceMarker.size() + word.size());
    marked.append(kSpaceMarker);
    marked.append(word);
    const std::string_view all(marked);
    const size_t first_output = out.size();
    size_t pos = 0;
    while (pos < all.size()) {
        size_t end = std::min(all.size(), pos + max_token_bytes_);
        int32_t found = -1;
        for (; end > pos; --end) {
            if (const int32_t* id = lookup_.find(all.substr(pos, end - pos))) {
                found = *id;
                break;
            }
        }
        if (found < 0) {
            out.resize(first_output);  // the whole word becomes the unknown token
            if (unk_id_ >= 0) out.push_back(unk_id_);
            return;
        }
        out.push_back(found);
        pos = end;
    }
}

}  // namespace cria::tokenizer
