// Behaviour of the three tokenizer models on small hand-made vocabularies: merge order, byte
// fallback, special tokens, BOS/EOS, decoding and the streaming decoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "tiny_vocabs.h"
#include "tokenizer/tokenizer.h"

namespace cria::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

std::unique_ptr<Tokenizer> build(VocabData data) {
    auto tok = Tokenizer::from_vocab(std::move(data));
    EXPECT_TRUE(tok.has_value()) << tok.status().message();
    return std::move(tok).value();
}

int32_t byte_id(uint8_t b) {
    return b;
}  // tiny_bpe puts the byte tokens first, in byte order

TEST(BpeTokenizer, MergesByRankLowestFirst) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    // "a b" (rank 0) then "ab c" (rank 1): "abc" becomes one token.
    EXPECT_EQ(tok->encode("abc", false, false), Ids{v.id_abc});
    // "bcd": only "b c" applies.
    EXPECT_EQ(tok->encode("bcd", false, false), (Ids{v.id_bc, byte_id('d')}));
    // In "abbc", "a b" outranks "b c": ab + bc.
    EXPECT_EQ(tok->encode("abbc", false, false), (Ids{v.id_ab, v.id_bc}));
}

TEST(BpeTokenizer, EqualRanksMergeLeftmostFirst) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    EXPECT_EQ(tok->encode("aaa", false, false), (Ids{v.id_aa, byte_id('a')}));
    EXPECT_EQ(tok->encode("aaaa", false, false), (Ids{v.id_aa, v.id_aa}));
}

TEST(BpeTokenizer, PreTokenizerBoundsMerges) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    // GPT-2 splits " a" + " b": the space merges with its word, never across words.
    EXPECT_EQ(tok->encode("a ab", false, false), (Ids{byte_id('a'), byte_id(' '), v.id_ab}));
    EXPECT_EQ(tok->encode(" a", false, false), Ids{v.id_space_a});
}

TEST(BpeTokenizer, IgnoreMergesKeepsWholeWordTokens) {
    auto v = test_vocab::tiny_bpe();
    EXPECT_EQ(build(v.data)->encode("xyz", false, false),
              (Ids{byte_id('x'), byte_id('y'), byte_id('z')}));
    v.data.ignore_merges = true;
    EXPECT_EQ(build(v.data)->encode("xyz", false, false), Ids{v.id_whole});
}

TEST(BpeTokenizer, ControlTokensOnlyWithParseSpecial) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    const Ids with = tok->encode("a<|eot_id|>b", false, true);
    EXPECT_EQ(with, (Ids{byte_id('a'), v.id_eot, byte_id('b')}));
    const Ids without = tok->encode("a<|eot_id|>b", false, false);
    EXPECT_EQ(std::count(without.begin(), without.end(), v.id_eot), 0);
    EXPECT_EQ(tok->decode(without), "a<|eot_id|>b");
}

TEST(BpeTokenizer, UserDefinedTokensAlwaysMatch) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    for (const bool parse_special : {false, true}) {
        EXPECT_EQ(tok->encode("ab<tool>ab", false, parse_special),
                  (Ids{v.id_ab, v.id_tool, v.id_ab}));
    }
}

TEST(BpeTokenizer, BosAndEosFollowMetadata) {
    auto v = test_vocab::tiny_bpe();
    v.data.add_bos = true;
    v.data.add_eos = false;
    auto tok = build(v.data);
    EXPECT_EQ(tok->encode("ab", true, false), (Ids{v.id_bos, v.id_ab}));
    EXPECT_EQ(tok->encode("ab", false, false), Ids{v.id_ab});
    EXPECT_EQ(tok->encode("", true, false), Ids{v.id_bos});
    v.data.add_eos = true;
    tok = build(v.data);
    EXPECT_EQ(tok->encode("ab", true, false), (Ids{v.id_bos, v.id_ab, v.id_eos}));
}

TEST(BpeTokenizer, DecodeHidesControlTokensUnlessAsked) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    const Ids ids = {v.id_bos, v.id_space_a, v.id_eot, v.id_tool};
    EXPECT_EQ(tok->decode(ids), " a<tool>");
    EXPECT_EQ(tok->decode(ids, /*render_special=*/true), "<s> a<|eot_id|><tool>");
    EXPECT_EQ(tok->token_piece(v.id_space_a), " a");
    EXPECT_EQ(tok->token_text(v.id_space_a), test_vocab::byte_level(" a"));
    EXPECT_EQ(tok->decode(Ids{-1, 1 << 30}), "");
}

TEST(BpeTokenizer, EndOfGenerationIdsFromMetadataAndText) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    EXPECT_EQ(tok->eot_id(), v.id_eot);
    EXPECT_TRUE(tok->is_eog(v.id_eot));
    EXPECT_TRUE(tok->is_eog(v.id_eos));
    EXPECT_FALSE(tok->is_eog(v.id_bos));
    EXPECT_FALSE(tok->is_eog(v.id_ab));
    EXPECT_TRUE(tok->is_control(v.id_eot));
    EXPECT_EQ(tok->find_token("<|eot_id|>"), v.id_eot);
    EXPECT_EQ(tok->find_token(" a"), v.id_space_a);  // by decoded bytes
    EXPECT_EQ(tok->find_token("no such token"), std::nullopt);
}

TEST(BpeTokenizer, RejectsInconsistentVocabularies) {
    auto v = test_vocab::tiny_bpe();
    v.data.types.pop_back();
    EXPECT_FALSE(Tokenizer::from_vocab(v.data).has_value());
    v = test_vocab::tiny_bpe();
    v.data.bos_id = static_cast<int32_t>(v.data.tokens.size());
    EXPECT_FALSE(Tokenizer::from_vocab(v.data).has_value());
    EXPECT_FALSE(Tokenizer::from_vocab(VocabData{}).has_value());
}

TEST(BpeTokenizer, MergesNamingUnknownTokensAreIgnored) {
    auto v = test_vocab::tiny_bpe();
    v.data.merges.insert(v.data.merges.begin(), "q r");       // "qr" is not a token
    v.data.merges.insert(v.data.merges.begin(), "no-space");  // malformed
    const auto tok = build(v.data);
    EXPECT_EQ(tok->encode("qr", false, false), (Ids{byte_id('q'), byte_id('r')}));
    EXPECT_EQ(tok->encode("abc", false, false), Ids{v.id_abc});
}

TEST(SpmTokenizer, MergesByScoreWithSpacePrefix) {
    const auto v = test_vocab::tiny_spm();
    const auto tok = build(v.data);
    // "▁ab": "▁a" (-5)... the best pair first: "ab" (-4) beats "▁a" (-5), then "▁ab" (-6).
    EXPECT_EQ(tok->encode("ab", false, false), Ids{v.id_space_ab});
    EXPECT_EQ(tok->encode("ab", true, false), (Ids{v.id_bos, v.id_space_ab}));
    // "ba": "▁b" is no token, so "▁" stays alone; "ba" is no token either.
    EXPECT_EQ(tok->encode("ba", false, false), (Ids{v.id_space, v.id_b, v.id_a}));
}

TEST(SpmTokenizer, SentenceMarkersTypedUserDefinedStayControl) {
    auto v = test_vocab::tiny_spm();
    v.data.types[static_cast<size_t>(v.id_eos)] = TokenType::kUserDefined;  // as phi-3's </s>
    const auto tok = build(v.data);
    const Ids plain = tok->encode("</s>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), v.id_eos), 0);
    EXPECT_FALSE(plain.empty());
    EXPECT_EQ(tok->encode("</s>", false, true), Ids{v.id_eos});
    EXPECT_TRUE(tok->is_control(v.id_eos));
}

TEST(SpmTokenizer, ByteFallbackForUnknownCharacters) {
    const auto v = test_vocab::tiny_spm();
    const auto tok = build(v.data);
    // é = C3 A9 has no token: its two byte tokens.
    EXPECT_EQ(tok->encode("\xC3\xA9", false, false),
              (Ids{v.id_space, v.id_byte0 + 0xC3, v.id_byte0 + 0xA9}));
    EXPECT_EQ(tok->decode(tok->encode("a\xC3\xA9 b", false, false)), "a\xC3\xA9 b");
}

TEST(SpmTokenizer, DecodeDropsTheLeadingSpaceOnce) {
    const auto v = test_vocab::tiny_spm();
    const auto tok = build(v.data);
    EXPECT_EQ(tok->decode(Ids{v.id_bos, v.id_space_a, v.id_space_a}), "a a");
    EXPECT_EQ(tok->decode(Ids{v.id_space, v.id_space_a}), " a");
    StreamingDecoder continuing(*tok, /*at_text_start=*/false);
    EXPECT_EQ(continuing.push(v.id_space_a), " a");
    StreamingDecoder fresh(*tok, /*at_text_start=*/true);
    EXPECT_EQ(fresh.push(v.id_bos), "");
    EXPECT_EQ(fresh.push(v.id_space_a), "a");
    EXPECT_EQ(fresh.push(v.id_space_a), " a");
}

TEST(SpmTokenizer, TokensWithInnerSpacesStillMerge) {
    // A token with `▁` inside means text cannot be cut at spaces; "a▁b" must still be found.
    auto v = test_vocab::tiny_spm();
    v.data.tokens.push_back(
        "a\xE2\x96\x81"
        "b");
    v.data.types.push_back(TokenType::kNormal);
    v.data.scores.push_back(0.0f);
    const auto id_a_b = static_cast<int32_t>(v.data.tokens.size() - 1);
    v.data.tokens.push_back(
        "\xE2\x96\x81"
        "b");
    v.data.types.push_back(TokenType::kNormal);
    v.data.scores.push_back(-1.5f);
    const auto tok = build(v.data);
    // "▁a▁b": "▁b" (-1.5) merges first, then "a" + "▁b" forms "a▁b" (0): a merge across the
    // space, which cutting the text at spaces would have missed.
    EXPECT_EQ(tok->encode("a b", false, false), (Ids{v.id_space, id_a_b}));
    // Without the prefix: "a▁b" (0) is the best pair.
    auto no_prefix = v;
    no_prefix.data.add_space_prefix = false;
    EXPECT_EQ(build(no_prefix.data)->encode("a b", false, false), Ids{id_a_b});
}

TEST(SpmTokenizer, UnknownTokenOnlyParsedWhenAsked) {
    const auto v = test_vocab::tiny_spm();
    const auto tok = build(v.data);
    const Ids parsed = tok->encode("<unk>", false, true);
    EXPECT_EQ(parsed, (Ids{v.id_unk}));
    const Ids plain = tok->encode("<unk>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), v.id_unk), 0);
}

TEST(WpmTokenizer, NormalizesAndSplitsLikeBert) {
    const auto v = test_vocab::tiny_wpm();
    const auto tok = build(v.data);
    EXPECT_EQ(tok->encode("Hello, WORLDS!", false, false),
              (Ids{v.id_hello, v.id_comma, v.id_world, v.id_s, v.id_bang}));
    EXPECT_EQ(tok->encode("Hello", true, false), (Ids{v.id_cls, v.id_hello, v.id_sep}));
    // Accents are stripped, CJK ideographs stand alone, unknown words are [UNK].
    EXPECT_EQ(tok->encode("Caf\xC3\xA9\xE4\xB8\xAD"
                          "qqq",
                          false, false),
              (Ids{v.id_cafe, v.id_cjk, v.id_unk}));
    EXPECT_EQ(tok->encode(std::string(101, 's'), false, false), Ids{v.id_unk});
    EXPECT_EQ(tok->decode(Ids{v.id_cls, v.id_hello, v.id_world, v.id_s, v.id_sep}), "hello worlds");
}

TEST(StreamingDecoder, HoldsSplitCharactersUntilComplete) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    // "€" is E2 82 AC: one byte token at a time.
    StreamingDecoder stream(*tok);
    EXPECT_EQ(stream.push(0xE2), "");
    EXPECT_EQ(stream.push(0x82), "");
    EXPECT_EQ(stream.push(0xAC), "\xE2\x82\xAC");
    EXPECT_EQ(stream.push('a'), "a");
    // A 4-byte emoji split 1+3, then an incomplete tail at the end.
    EXPECT_EQ(stream.push(0xF0), "");
    EXPECT_EQ(stream.push(0x9F), "");
    EXPECT_EQ(stream.push(0x98), "");
    EXPECT_EQ(stream.push(0x80), "\xF0\x9F\x98\x80");
    EXPECT_EQ(stream.push(0xE2), "");
    EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
    EXPECT_EQ(stream.flush(), "");
}

TEST(StreamingDecoder, InvalidBytesBecomeReplacementCharacters) {
    const auto v = test_vocab::tiny_bpe();
    const auto tok = build(v.data);
    StreamingDecoder stream(*tok);
    EXPECT_EQ(stream.push(0xFF), "\xEF\xBF\xBD");
    EXPECT_EQ(stream.push(0xE2), "");
    EXPECT_EQ(stream.push('x'), "\xEF\xBF\xBDx");  // E2 cannot continue with 'x'
    EXPECT_EQ(stream.push(0x80), "\xEF\xBF\xBD");  // a lone continuation byte
}

}  // namespace
}  // namespace cria::tokenizer
