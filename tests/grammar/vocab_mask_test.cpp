// Token masks over a real 151k-token vocabulary (Qwen 2.5/3): correctness against per-token
// checks and the per-step cost, which the test prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "gguf/reader.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "test_support.h"

namespace cria::grammar {
namespace {

using nlohmann::json;

// Byte-level BPE vocabularies store each byte as a printable code point: bytes that are
// printable Latin-1 stand for themselves, the others are numbered from U+0100 in byte order.
std::vector<int> byte_level_decoder() {
    std::vector<int> code_point_to_byte(512, -1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        code_point_to_byte[static_cast<size_t>(printable ? b : next++)] = b;
    }
    return code_point_to_byte;
}

std::string decode_byte_level(const std::string& piece, const std::vector<int>& table) {
    std::string out;
    for (size_t i = 0; i < piece.size();) {
        const auto c = static_cast<unsigned char>(piece[i]);
        int cp;
        size_t len;
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if ((c >> 5) == 6 && i + 1 < piece.size()) {
            cp = ((c & 0x1f) << 6) | (static_cast<unsigned char>(piece[i + 1]) & 0x3f);
            len = 2;
        } else {
            return {};  // not byte-level text
        }
        if (cp >= 512 || table[static_cast<size_t>(cp)] < 0) return {};
        out.push_back(static_cast<char>(table[static_cast<size_t>(cp)]));
        i += len;
    }
    return out;
}

std::shared_ptr<const TokenVocabulary> load_qwen_vocabulary(const std::filesystem::path& path) {
    auto file = gguf::File::open(path.string());
    EXPECT_TRUE(file.has_value());
    if (!file.has_value()) return nullptr;
    const auto* tokens = (*file)->find("tokenizer.ggml.tokens")->as_array();
    const auto* types = (*file)->find("tokenizer.ggml.token_type")->as_array();
    const auto table = byte_level_decoder();
    std::vector<std::string> pieces(tokens->size());
    std::vector<bool> never_text(tokens->size(), false);
    for (size_t t = 0; t < tokens->size(); ++t) {
        const std::string& text = *(*tokens)[t].as_string();
        const int64_t type = (*types)[t].as_i64().value_or(1);
        if (type == 3) {
            never_text[t] = true;  // control
        } else if (type == 4) {
            pieces[t] = text;  // user-defined tokens are stored as plain text
        } else {
            pieces[t] = decode_byte_level(text, table);
        }
    }
    const auto eos = static_cast<int32_t>((*file)->get_u64("tokenizer.ggml.eos_token_id", 0));
    auto vocab = TokenVocabulary::create(std::move(pieces), never_text, {eos});
    EXPECT_TRUE(vocab.has_value());
    return vocab.has_value() ? *vocab : nullptr;
}

struct Timing {
    std::vector<double> all_us;
    std::vector<double> miss_us;
};

// Samples uniformly among the allowed tokens, timing each mask.
std::string timed_walk(const std::shared_ptr<const Grammar>& g,
                       const std::shared_ptr<const TokenVocabulary>& vocab, uint64_t seed,
                       int steps, Timing& timing) {
    Matcher m(g, vocab);
    std::mt19937_64 rng(seed);
    std::vector<uint32_t> words((static_cast<size_t>(vocab->n_vocab()) + 31) / 32);
    std::string text;
    for (int step = 0; step < steps && !m.is_ended(); ++step) {
        const size_t states_before = m.state_count();
        const auto start = std::chrono::steady_clock::now();
        EXPECT_TRUE(m.fill_mask(words).is_ok());
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count();
        timing.all_us.push_back(us);
        if (m.state_count() != states_before || step == 0) timing.miss_us.push_back(us);
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < vocab->n_vocab(); ++t) {
            if ((words[static_cast<size_t>(t) >> 5] >> (t & 31)) & 1u) allowed.push_back(t);
        }
        if (allowed.empty()) {
            ADD_FAILURE() << "no token allowed after " << text;
            break;
        }
        // Spot-check the mask against per-token checks.
        for (int k = 0; k < 64; ++k) {
            const auto t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab->n_vocab()));
            const bool bit = (words[static_cast<size_t>(t) >> 5] >> (t & 31)) & 1u;
            EXPECT_EQ(bit, m.is_token_allowed(t)) << "token " << t << " after " << text;
        }
        const int32_t token = allowed[rng() % allowed.size()];
        EXPECT_TRUE(m.accept_token(token).is_ok());
        if (!vocab->is_end_token(token)) text += vocab->piece(token);
    }
    if (!m.is_ended()) {
        auto tail = m.shortest_completion(100000);
        EXPECT_TRUE(tail.has_value());
        if (tail) text += *tail;
    }
    return text;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

TEST(VocabularyMask, QwenVocabularySchemaWalks) {
    CRIA_REQUIRE_SHARED(shared);
    const auto path = shared / "golden/vocab/ggml-vocab-qwen2.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
    auto vocab = load_qwen_vocabulary(path);
    ASSERT_NE(vocab, nullptr);
    ASSERT_GT(vocab->n_vocab(), 150000);

    const json schema = json::parse(R"({"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "email": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "born": {"type": "string", "format": "date"}},
      "required": ["name", "age", "email", "tags", "born"], "additionalProperties": false})");
    auto schema_grammar = compile_json_schema(schema);
    ASSERT_TRUE(schema_grammar.has_value());
    auto object_grammar = compile_json_object_grammar();
    ASSERT_TRUE(object_grammar.has_value());

    Timing timing;
    for (uint64_t seed = 0; seed < 4; ++seed) {
        const auto& g = seed % 2 == 0 ? *schema_grammar : *object_grammar;
        const std::string text = timed_walk(g, vocab, seed, 40, timing);
        json parsed;
        ASSERT_NO_THROW(parsed = json::parse(text)) << text;
        if (seed % 2 == 0) {
            EXPECT_TRUE(parsed.contains("born")) << text;
            EXPECT_LE(parsed["tags"].size(), 4u);
        }
    }
    double sum = 0;
    for (double us : timing.all_us) sum += us;
    std::printf(
        "[mask cost] vocabulary %d tokens, trie %zu nodes: %zu masks, mean %.0f us, p50 %.0f us, "
        "p90 %.0f us, max %.0f us; %zu steps reached new states: p50 %.0f us, max %.0f us\n",
        vocab->n_vocab(), vocab->trie_node_count(), timing.all_us.size(),
        sum / static_cast<double>(timing.all_us.size()), percentile(timing.all_us, 0.5),
        percentile(timing.all_us, 0.9), percentile(timing.all_us, 1.0), timing.miss_us.size(),
        percentile(timing.miss_us, 0.5), percentile(timing.miss_us, 1.0));
}

}  // namespace
}  // namespace cria::grammar
