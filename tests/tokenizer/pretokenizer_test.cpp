// Word splits of each pre-tokenizer on inputs that exercise its pattern's alternatives, and the
// character classes they rest on.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {
namespace {

std::vector<std::string> split(PreTokenizer kind, const std::string& text) {
    unicode::CodepointText cps;
    cps.assign(text);
    std::vector<WordSpan> words, scratch;
    pre_tokenize(kind, cps, words, scratch);
    std::vector<std::string> out;
    size_t expected_begin = 0;
    for (const WordSpan& w : words) {
        EXPECT_EQ(w.begin, expected_begin) << "words must tile the text";
        EXPECT_LT(w.begin, w.end);
        expected_begin = w.end;
        out.push_back(text.substr(cps.offsets[w.begin], cps.offsets[w.end] - cps.offsets[w.begin]));
    }
    EXPECT_EQ(expected_begin, cps.size());
    return out;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, Llama3) {
    EXPECT_EQ(split(PreTokenizer::kLlama3, "Hello world's WE'LL 1234567"),
              (Words{"Hello", " world", "'s", " WE", "'LL", " ", "123", "456", "7"}));
    // Whitespace: runs before a word keep their last space for the word; line breaks end a run.
    EXPECT_EQ(split(PreTokenizer::kLlama3, "a   b\n\n  c  "),
              (Words{"a", "  ", " b", "\n\n", " ", " c", "  "}));
    EXPECT_EQ(split(PreTokenizer::kLlama3, "x ... !!\n\ny"), (Words{"x", " ...", " !!\n\n", "y"}));
    EXPECT_EQ(split(PreTokenizer::kLlama3, "'hello"), (Words{"'hello"}));
    EXPECT_EQ(split(PreTokenizer::kLlama3, "\tword"), (Words{"\tword"}));
}

TEST(PreTokenizer, Qwen2SplitsEveryDigit) {
    EXPECT_EQ(split(PreTokenizer::kQwen2, "x 1234"), (Words{"x", " ", "1", "2", "3", "4"}));
}

TEST(PreTokenizer, Gpt2) {
    EXPECT_EQ(split(PreTokenizer::kGpt2, "Hello world's WE'LL 1234"),
              (Words{"Hello", " world", "'s", " WE", "'", "LL", " 1234"}));
    EXPECT_EQ(split(PreTokenizer::kGpt2, "a   b  "), (Words{"a", "  ", " b", "  "}));
    EXPECT_EQ(split(PreTokenizer::kGpt2, "a\tb"), (Words{"a", "\t", "b"}));
}

TEST(PreTokenizer, StarcoderIsolatesDigits) {
    EXPECT_EQ(split(PreTokenizer::kStarcoder, "x 123"), (Words{"x", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, FalconPunctuationAndDigitTriples) {
    EXPECT_EQ(split(PreTokenizer::kFalcon, "a+=b 12345"),
              (Words{"a", "+=", "b", " ", "123", "45"}));
    EXPECT_EQ(split(PreTokenizer::kFalcon, "12345"), (Words{"123", "45"}));
}

TEST(PreTokenizer, DeepseekLlm) {
    EXPECT_EQ(split(PreTokenizer::kDeepseekLlm, "Hello, world\n\n123"),
              (Words{"Hello", ",", " world", "\n", "\n", "123"}));
    // Greek and Cyrillic are in the letter class, but the next pattern (ASCII punctuation and
    // letters) splits the Latin part off again; trailing whitespace stays together.
    EXPECT_EQ(split(PreTokenizer::kDeepseekLlm, "\xCE\xA9mega \xD0\xBC\xD0\xB8\xD1\x80   "),
              (Words{"\xCE\xA9", "mega", " \xD0\xBC\xD0\xB8\xD1\x80", "   "}));
}

TEST(PreTokenizer, DeepseekCoder) {
    EXPECT_EQ(split(PreTokenizer::kDeepseekCoder, "int x=42;"),
              (Words{"int", " x", "=", "4", "2", ";"}));
}

TEST(PreTokenizer, NamesMapToKinds) {
    EXPECT_EQ(*pre_tokenizer_from_name("llama-bpe"), PreTokenizer::kLlama3);
    EXPECT_EQ(*pre_tokenizer_from_name("qwen2"), PreTokenizer::kQwen2);
    EXPECT_EQ(*pre_tokenizer_from_name("mpt"), PreTokenizer::kGpt2);
    EXPECT_EQ(*pre_tokenizer_from_name("refact"), PreTokenizer::kStarcoder);
    EXPECT_EQ(*pre_tokenizer_from_name(""), PreTokenizer::kDefault);
    EXPECT_FALSE(pre_tokenizer_from_name("no-such-pre-tokenizer").has_value());
}

TEST(PreTokenizer, WordsTileAnyInput) {
    const std::string hostile = std::string("\xFF\xFE a\x00 b\xE2\x82 \xF0\x9F", 12) + "  \r\n x";
    for (const PreTokenizer kind :
         {PreTokenizer::kDefault, PreTokenizer::kLlama3, PreTokenizer::kQwen2, PreTokenizer::kGpt2,
          PreTokenizer::kStarcoder, PreTokenizer::kFalcon, PreTokenizer::kDeepseekLlm,
          PreTokenizer::kDeepseekCoder}) {
        std::string joined;
        for (const std::string& w : split(kind, hostile)) joined += w;
        EXPECT_EQ(joined, hostile) << pre_tokenizer_name(kind);
    }
}

TEST(PreTokenizer, DeepseekLetterClassIsCasedLetters) {
    // The class is spelled out range by range in the model's pattern; every character in it must
    // be an uppercase, lowercase or titlecase letter.
    size_t members = 0;
    for (uint32_t cp = 0; cp < 0x20000; ++cp) {
        if (!detail::in_deepseek_letter_class(cp)) continue;
        ++members;
        const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
        EXPECT_TRUE(category == UTF8PROC_CATEGORY_LU || category == UTF8PROC_CATEGORY_LL ||
                    category == UTF8PROC_CATEGORY_LT)
            << std::hex << cp;
    }
    EXPECT_GT(members, 2000u);
}

TEST(Unicode, ClassesComeFromUnicodeCategories) {
    using namespace unicode;
    EXPECT_EQ(char_class('a'), kLetter);
    EXPECT_EQ(char_class(0x4E2D), kLetter);  // 中
    EXPECT_EQ(char_class('7'), kNumber);
    EXPECT_EQ(char_class(0xBD), kNumber);  // ½
    EXPECT_EQ(char_class(','), kPunctuation);
    EXPECT_EQ(char_class('$'), kSymbol);
    EXPECT_EQ(char_class(0x1F600), kSymbol);  // 😀
    EXPECT_EQ(char_class(0x301), kMark);      // combining acute
    EXPECT_EQ(char_class(' '), kSeparator | kWhitespace);
    EXPECT_EQ(char_class(0x3000), kSeparator | kWhitespace);
    EXPECT_EQ(char_class('\n'), kOther | kWhitespace);
    EXPECT_EQ(char_class(0x85), kOther | kWhitespace);
    EXPECT_EQ(char_class(0), kOther);
    EXPECT_EQ(char_class(0x200B), kOther);  // zero width space is Cf, not White_Space
    EXPECT_EQ(char_class(kInvalidByte), kOther);
}

TEST(Unicode, ByteAlphabetIsABijection) {
    std::vector<bool> seen(512, false);
    for (int b = 0; b < 256; ++b) {
        const uint32_t cp = unicode::byte_to_codepoint(static_cast<uint8_t>(b));
        ASSERT_LT(cp, 512u);
        EXPECT_FALSE(seen[cp]);
        seen[cp] = true;
        EXPECT_EQ(unicode::codepoint_to_byte(cp), b);
    }
    EXPECT_EQ(unicode::byte_to_codepoint(' '), 0x120u);  // `Ġ`
    EXPECT_EQ(unicode::byte_to_codepoint('A'), static_cast<uint32_t>('A'));
    EXPECT_EQ(unicode::codepoint_to_byte(0x4E2D), -1);
}

TEST(Unicode, DecodingSplitsInvalidBytesOneByOne) {
    const std::string text("\xC3\xA9\xC0\x80\xED\xA0\x80\xF4\x90\x80\x80\xE2\x82", 13);
    unicode::CodepointText cps;
    cps.assign(text);
    ASSERT_GE(cps.size(), 2u);
    EXPECT_EQ(cps.cps[0], 0xE9u);
    for (size_t i = 1; i < cps.size(); ++i) EXPECT_EQ(cps.cps[i], unicode::kInvalidByte) << i;
    EXPECT_EQ(cps.size(), 1 + (text.size() - 2));
}

TEST(Unicode, AccentStrippingUsesCanonicalDecomposition) {
    std::vector<uint32_t> out;
    unicode::append_without_accents(0xE9, out);    // é -> e
    unicode::append_without_accents(0x301, out);   // lone combining acute: dropped
    unicode::append_without_accents(0xAC00, out);  // 가 -> two jamo
    EXPECT_EQ(out, (std::vector<uint32_t>{'e', 0x1100, 0x1161}));
}

}  // namespace
}  // namespace cria::tokenizer
