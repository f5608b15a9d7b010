// Hostile inputs: invalid UTF-8, NUL bytes and long runs of one character must tokenize without
// a crash, round-trip through byte-level vocabularies, and take time linear in their length.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "test_support.h"
#include "tiny_vocabs.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {
namespace {

// A quadratic algorithm needs minutes on a megabyte; a linear one well under a second. The
// bound is generous so that a loaded machine or a sanitizer build still passes.
constexpr double kSecondsPerMegabyte = 20.0;

// `big` is the length of the long runs (1 MB for the full check).
std::vector<std::string> hostile_inputs(size_t big) {
    std::vector<std::string> inputs;
    inputs.push_back(std::string(big, 'a'));
    inputs.push_back(std::string(big, '!'));
    inputs.push_back(std::string(big, '7'));
    std::string euro;
    for (size_t i = 0; i < big / 3; ++i) euro += "\xE2\x82\xAC";  // €: one symbol character
    inputs.push_back(euro);
    inputs.push_back(std::string(100000, ' '));
    inputs.push_back(std::string(100000, ' ') + "x");
    inputs.push_back(std::string(100000, '\n') + "x");
    std::string nul_and_spaces;
    for (size_t i = 0; i < big / 4; ++i) nul_and_spaces += (i % 2 ? std::string(1, '\0') : " ");
    inputs.push_back(nul_and_spaces);
    std::mt19937 rng(1234);
    std::string random_bytes(big / 4, '\0');
    for (char& c : random_bytes) c = static_cast<char>(rng());
    inputs.push_back(random_bytes);
    return inputs;
}

// Whether every single byte survives encode + decode: not so for vocabularies that lack tokens
// for some bytes (Falcon has none for several control characters, most lack C0, C1, F5..FF).
bool covers_every_byte(const Tokenizer& tok) {
    for (int b = 0; b < 256; ++b) {
        const std::string one(1, static_cast<char>(b));
        if (tok.decode(tok.encode(one, false, false)) != one) return false;
    }
    return true;
}

bool is_valid_utf8(const std::string& s) {
    size_t pos = 0;
    while (pos < s.size()) {
        const unicode::Decoded d = unicode::decode_utf8(s.data() + pos, s.size() - pos);
        if (d.cp == unicode::kInvalidByte) return false;
        pos += d.length;
    }
    return true;
}

void check_hostile(const Tokenizer& tok, const std::string& name, size_t big,
                   std::initializer_list<bool> parse_modes = {false, true}) {
    const bool every_byte = covers_every_byte(tok);
    for (const std::string& input : hostile_inputs(big)) {
        for (const bool parse_special : parse_modes) {
            const auto start = std::chrono::steady_clock::now();
            const std::vector<int32_t> ids = tok.encode(input, true, parse_special);
            const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
            const double megabytes = std::max(1.0, static_cast<double>(input.size()) / 1e6);
            EXPECT_LT(elapsed.count(), kSecondsPerMegabyte * megabytes)
                << name << ": " << input.size() << " bytes starting with byte "
                << static_cast<int>(static_cast<uint8_t>(input[0]));
            for (const int32_t id : ids) ASSERT_TRUE(tok.is_valid(id)) << name;
            if (tok.model() == VocabModel::kBpe && !parse_special &&
                (every_byte || is_valid_utf8(input))) {
                std::vector<int32_t> body = ids;
                if (tok.add_bos() && !body.empty() && body.front() == tok.bos_id()) {
                    body.erase(body.begin());
                }
                if (tok.add_eos() && !body.empty() && body.back() == tok.eos_id()) body.pop_back();
                EXPECT_EQ(tok.decode(body), input) << name << ": byte-level round trip";
            }
            // The streamed text is valid UTF-8 whatever the tokens hold.
            StreamingDecoder stream(tok);
            std::string streamed;
            for (const int32_t id : ids) streamed += stream.push(id);
            streamed += stream.flush();
            EXPECT_TRUE(is_valid_utf8(streamed)) << name;
        }
    }
}

constexpr size_t kMegabyte = size_t{1} << 20;

TEST(Hostile, TinyVocabularies) {
    check_hostile(*Tokenizer::from_vocab(test_vocab::tiny_bpe().data).value(), "tiny-bpe",
                  kMegabyte);
    check_hostile(*Tokenizer::from_vocab(test_vocab::tiny_spm().data).value(), "tiny-spm",
                  kMegabyte);
    check_hostile(*Tokenizer::from_vocab(test_vocab::tiny_wpm().data).value(), "tiny-wpm",
                  kMegabyte);
}

struct RealCase {
    const char* vocab;
    size_t big;  // a megabyte for one vocabulary per model, less for the others to keep it quick
};

class HostileReal : public ::testing::TestWithParam<RealCase> {};

TEST_P(HostileReal, LinearAndLossless) {
    CRIA_REQUIRE_SHARED(dir);
    const std::string name = GetParam().vocab;
    const auto path = dir / "golden" / "vocab" / ("ggml-vocab-" + name + ".gguf");
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
    auto file = gguf::File::open(path.string());
    ASSERT_TRUE(file.has_value()) << file.status().message();
    auto tok = Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tok.has_value()) << tok.status().message();
    check_hostile(**tok, name, GetParam().big, {false});
}

// One vocabulary per model and pre-tokenizer family.
INSTANTIATE_TEST_SUITE_P(
    Vocabularies, HostileReal,
    ::testing::Values(RealCase{"llama-bpe", kMegabyte}, RealCase{"llama-spm", kMegabyte},
                      RealCase{"bert-bge", kMegabyte}, RealCase{"qwen2", kMegabyte / 8},
                      RealCase{"gpt-2", kMegabyte / 8}, RealCase{"deepseek-llm", kMegabyte / 8},
                      RealCase{"deepseek-coder", kMegabyte / 8}, RealCase{"falcon", kMegabyte / 8},
                      RealCase{"mpt", kMegabyte / 8}),
    [](const ::testing::TestParamInfo<RealCase>& info) {
        std::string name = info.param.vocab;
        for (char& c : name) {
            if (c == '-') c = '_';
        }
        return name;
    });

}  // namespace
}  // namespace cria::tokenizer
