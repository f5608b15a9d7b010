// Small hand-made vocabularies for unit tests, one per tokenizer model.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace cria::tokenizer::test_vocab {

// The byte-level spelling of a raw string (each byte as its alphabet character).
inline std::string byte_level(std::string_view raw) {
    std::string out;
    for (const char c : raw)
        unicode::append_utf8(out, unicode::byte_to_codepoint(static_cast<uint8_t>(c)));
    return out;
}

// Byte-level BPE: the 256 byte tokens (ids 0..255 in byte order), then the merges' results,
// then specials. Merges in priority order: "a b", "ab c", " a" (Ġ a), "b c", "a a".
struct TinyBpe {
    VocabData data;
    int32_t id_ab, id_abc, id_space_a, id_bc, id_aa, id_whole, id_bos, id_eos, id_eot, id_tool;
};

inline TinyBpe tiny_bpe() {
    TinyBpe v;
    VocabData& d = v.data;
    d.model = VocabModel::kBpe;
    d.pre = PreTokenizer::kGpt2;
    for (int b = 0; b < 256; ++b) {
        d.tokens.push_back(byte_level(std::string(1, static_cast<char>(b))));
        d.types.push_back(TokenType::kNormal);
    }
    auto add = [&](const std::string& text, TokenType type = TokenType::kNormal) {
        d.tokens.push_back(text);
        d.types.push_back(type);
        return static_cast<int32_t>(d.tokens.size() - 1);
    };
    v.id_ab = add("ab");
    v.id_abc = add("abc");
    v.id_space_a = add(byte_level(" a"));
    v.id_bc = add("bc");
    v.id_aa = add("aa");
    v.id_whole = add("xyz");  // a token no merge can reach
    v.id_bos = add("<s>", TokenType::kControl);
    v.id_eos = add("</s>", TokenType::kControl);
    v.id_eot = add("<|eot_id|>", TokenType::kControl);
    v.id_tool = add("<tool>", TokenType::kUserDefined);
    d.merges = {"a b", "ab c", byte_level(" ") + " a", "b c", "a a"};
    d.bos_id = v.id_bos;
    d.eos_id = v.id_eos;
    return v;
}

// SentencePiece: <unk>, <s>, </s>, the 256 byte tokens, then pieces with scores.
struct TinySpm {
    VocabData data;
    int32_t id_unk, id_bos, id_eos, id_byte0, id_space, id_a, id_b, id_space_a, id_ab, id_space_ab;
};

inline TinySpm tiny_spm() {
    TinySpm v;
    VocabData& d = v.data;
    d.model = VocabModel::kSpm;
    auto add = [&](const std::string& text, TokenType type, float score) {
        d.tokens.push_back(text);
        d.types.push_back(type);
        d.scores.push_back(score);
        return static_cast<int32_t>(d.tokens.size() - 1);
    };
    v.id_unk = add("<unk>", TokenType::kUnknown, 0);
    v.id_bos = add("<s>", TokenType::kControl, 0);
    v.id_eos = add("</s>", TokenType::kControl, 0);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        const int32_t id = add(name, TokenType::kByte, 0);
        if (b == 0) v.id_byte0 = id;
    }
    v.id_space = add("\xE2\x96\x81", TokenType::kNormal, -1);
    v.id_a = add("a", TokenType::kNormal, -2);
    v.id_b = add("b", TokenType::kNormal, -3);
    v.id_space_a =
        add("\xE2\x96\x81"
            "a",
            TokenType::kNormal, -5);
    v.id_ab = add("ab", TokenType::kNormal, -4);
    v.id_space_ab =
        add("\xE2\x96\x81"
            "ab",
            TokenType::kNormal, -6);
    d.bos_id = v.id_bos;
    d.eos_id = v.id_eos;
    d.unk_id = v.id_unk;
    d.add_bos = true;
    d.add_space_prefix = true;
    return v;
}

// WordPiece: [PAD] [UNK] [CLS] [SEP], word-initial pieces with `▁`, continuations without.
struct TinyWpm {
    VocabData data;
    int32_t id_unk, id_cls, id_sep, id_hello, id_world, id_s, id_comma, id_bang, id_cafe, id_cjk;
};

inline TinyWpm tiny_wpm() {
    TinyWpm v;
    VocabData& d = v.data;
    d.model = VocabModel::kWpm;
    auto add = [&](const std::string& text, TokenType type = TokenType::kNormal) {
        d.tokens.push_back(text);
        d.types.push_back(type);
        return static_cast<int32_t>(d.tokens.size() - 1);
    };
    const std::string m = "\xE2\x96\x81";
    add("[PAD]", TokenType::kControl);
    v.id_unk = add("[UNK]", TokenType::kControl);
    v.id_cls = add("[CLS]", TokenType::kControl);
    v.id_sep = add("[SEP]", TokenType::kControl);
    v.id_hello = add(m + "hello");
    v.id_world = add(m + "world");
    v.id_s = add("s");
    v.id_comma = add(m + ",");
    v.id_bang = add(m + "!");
    v.id_cafe = add(m + "cafe");
    v.id_cjk = add(m + "\xE4\xB8\xAD");  // 中
    d.unk_id = v.id_unk;
    d.bos_id = v.id_cls;
    d.eos_id = v.id_sep;
    d.add_bos = true;
    d.add_eos = true;
    return v;
}

}  // namespace cria::tokenizer::test_vocab
