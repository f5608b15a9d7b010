// The reference test vectors in ../shared/golden/vocab: every string of every vocabulary must
// tokenize to exactly the ids the reference tokenizers produce.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "test_support.h"
#include "tokenizer/test_vectors.h"
#include "tokenizer/tokenizer.h"

namespace cria::tokenizer {
namespace {

const char* const kVocabularies[] = {
    "llama-bpe",    "qwen2",  "gpt-2", "llama-spm", "phi-3",  "deepseek-coder",
    "deepseek-llm", "falcon", "mpt",   "starcoder", "refact", "bert-bge",
};

// Loading the larger vocabularies takes a while: each is loaded once per test binary.
const Tokenizer& load(const std::filesystem::path& gguf_path) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[gguf_path.string()];
    if (!slot) {
        auto file = gguf::File::open(gguf_path.string());
        EXPECT_TRUE(file.has_value()) << file.status().message();
        auto tok = Tokenizer::from_gguf(**file);
        EXPECT_TRUE(tok.has_value()) << tok.status().message();
        slot = std::move(tok).value();
    }
    return *slot;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t end = text.find('\n', pos);
        if (end == std::string::npos) {
            lines.push_back(text.substr(pos));
            break;
        }
        lines.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return lines;
}

class GoldenVocab : public ::testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        const std::filesystem::path dir = test::shared_dir();
        if (dir.empty()) GTEST_SKIP() << "../shared is absent (set CRIA_SHARED); skipped";
        base_ = dir / "golden" / "vocab" / (std::string("ggml-vocab-") + GetParam() + ".gguf");
        if (!std::filesystem::exists(base_)) GTEST_SKIP() << base_ << " is absent; skipped";
        tok_ = &load(base_);
        cases_ = split_test_cases(test::read_file(base_.string() + ".inp"));
        expected_ = split_lines(test::read_file(base_.string() + ".out"));
        ASSERT_FALSE(cases_.empty());
        ASSERT_EQ(cases_.size(), expected_.size());
    }

    std::filesystem::path base_;
    const Tokenizer* tok_ = nullptr;
    std::vector<std::string> cases_;
    std::vector<std::string> expected_;
};

TEST_P(GoldenVocab, MatchesReferenceIds) {
    size_t mismatches = 0;
    for (size_t i = 0; i < cases_.size(); ++i) {
        const std::vector<int32_t> ids = tok_->encode(cases_[i], false, false);
        const std::string got = format_ids_line(ids);
        if (got != expected_[i]) ++mismatches;
        EXPECT_EQ(got, expected_[i]) << "case " << i << ": '" << cases_[i] << "'";
    }
    EXPECT_EQ(mismatches, 0u) << "of " << cases_.size() << " cases";
}

TEST_P(GoldenVocab, StreamingDecodeEqualsDecode) {
    for (size_t i = 0; i < cases_.size(); ++i) {
        const std::vector<int32_t> ids = tok_->encode(cases_[i], false, false);
        StreamingDecoder stream(*tok_);
        std::string streamed;
        for (const int32_t id : ids) streamed += stream.push(id);
        streamed += stream.flush();
        EXPECT_EQ(streamed, tok_->decode(ids)) << "case " << i;
    }
}

// Byte-level BPE loses nothing; SentencePiece gives the text back too (its space prefix is
// removed again). WordPiece lowercases and drops accents, so it is not checked.
TEST_P(GoldenVocab, DecodeGivesTheTextBack) {
    if (tok_->model() == VocabModel::kWpm) GTEST_SKIP() << "WordPiece normalizes its input";
    for (size_t i = 0; i < cases_.size(); ++i) {
        const std::vector<int32_t> ids = tok_->encode(cases_[i], false, false);
        EXPECT_EQ(tok_->decode(ids), cases_[i]) << "case " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, GoldenVocab, ::testing::ValuesIn(kVocabularies),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                             std::string name = info.param;
                             for (char& c : name) {
                                 if (c == '-') c = '_';
                             }
                             return name;
                         });

}  // namespace
}  // namespace cria::tokenizer

namespace cria::tokenizer {
namespace {

const Tokenizer* load_or_skip(const char* name) {
    const std::filesystem::path dir = test::shared_dir();
    if (dir.empty()) return nullptr;
    const auto path = dir / "golden" / "vocab" / (std::string("ggml-vocab-") + name + ".gguf");
    if (!std::filesystem::exists(path)) return nullptr;
    return &load(path);
}

TEST(RealVocabularies, Llama3SpecialTokens) {
    const Tokenizer* tok = load_or_skip("llama-bpe");
    if (tok == nullptr) GTEST_SKIP() << "../shared is absent; skipped";
    const int32_t bos = 128000, end_of_text = 128001, eom = 128008, eot = 128009;
    EXPECT_EQ(tok->bos_id(), bos);
    EXPECT_EQ(tok->eot_id(), eot);
    EXPECT_EQ(tok->eom_id(), eom);
    for (const int32_t id : {end_of_text, eom, eot}) EXPECT_TRUE(tok->is_eog(id)) << id;
    EXPECT_FALSE(tok->is_eog(bos));
    const std::string prompt = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
    const std::vector<int32_t> ids = tok->encode(prompt, true, true);
    EXPECT_EQ(ids, (std::vector<int32_t>{bos, 128006, 882, 128007, 271, 13347, eot}));
    EXPECT_EQ(tok->decode(ids, /*render_special=*/true), "<|begin_of_text|>" + prompt);
    EXPECT_EQ(tok->decode(ids), "user\n\nHi");
    // Without parse_special the markers are plain text.
    const std::vector<int32_t> plain = tok->encode(prompt, false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
    EXPECT_EQ(tok->decode(plain), prompt);
    EXPECT_EQ(tok->find_token("<|eot_id|>"), eot);
}

TEST(RealVocabularies, Qwen2SpecialTokens) {
    const Tokenizer* tok = load_or_skip("qwen2");
    if (tok == nullptr) GTEST_SKIP() << "../shared is absent; skipped";
    const int32_t im_start = 151644, im_end = 151645, endoftext = 151643;
    EXPECT_EQ(tok->eot_id(), im_end);
    EXPECT_TRUE(tok->is_eog(im_end));
    EXPECT_TRUE(tok->is_eog(endoftext));
    EXPECT_FALSE(tok->add_bos());
    const std::vector<int32_t> ids = tok->encode("<|im_start|>user\nHi<|im_end|>", true, true);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(ids.front(), im_start);
    EXPECT_EQ(ids.back(), im_end);
    // <think> is a user-defined token: recognized even as plain text.
    EXPECT_EQ(tok->encode("<think>", false, false), std::vector<int32_t>{151667});
}

// phi-3 types </s> user-defined; as a SentencePiece sentence marker it is still control: plain
// text unless special tokens are parsed (llama.cpp agrees). llama-spm has both as control.
TEST(RealVocabularies, SentencePieceSentenceMarkersAreControl) {
    for (const char* name : {"phi-3", "llama-spm"}) {
        const Tokenizer* tok = load_or_skip(name);
        if (tok == nullptr) GTEST_SKIP() << "../shared is absent; skipped";
        const std::vector<int32_t> plain = tok->encode("<s></s>", false, false);
        EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0) << name;
        EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0) << name;
        EXPECT_EQ(tok->encode("<s></s>", false, true), (std::vector<int32_t>{1, 2})) << name;
    }
}

TEST(RealVocabularies, SentencePieceBosAndPrefix) {
    const Tokenizer* tok = load_or_skip("llama-spm");
    if (tok == nullptr) GTEST_SKIP() << "../shared is absent; skipped";
    EXPECT_EQ(tok->encode("Hello", true, false), (std::vector<int32_t>{1, 15043}));
    EXPECT_EQ(tok->encode("", true, false), std::vector<int32_t>{1});
    EXPECT_EQ(tok->encode("<s>Hello", false, true), (std::vector<int32_t>{1, 15043}));
    EXPECT_TRUE(tok->is_eog(2));
    StreamingDecoder stream(*tok, /*at_text_start=*/false);
    EXPECT_EQ(stream.push(15043), " Hello");
}

}  // namespace
}  // namespace cria::tokenizer
