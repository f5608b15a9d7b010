// Random walks through a grammar with a token vocabulary: the closest a unit test gets to a
// random-weight model sampling under the mask.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "grammar/matcher.h"

namespace cria::test {

// Every single byte (as in byte-fallback vocabularies) plus multi-byte fragments typical of
// JSON and tool calls, and one end token (the last id).
inline std::shared_ptr<const grammar::TokenVocabulary> walk_vocabulary() {
    std::vector<std::string> pieces;
    for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
    for (const char* f :
         {"{\"",  "\": ",  "\":",  "\", \"", "\",",  "\"}",       "}",           "{",
          "[",    "]",     "true", "false",  "null", "nu",        "ll",          ", ",
          ",\n",  "\n",    "  ",   "    ",   "name", "arguments", "<tool_call>", "</tool_call>",
          "12",   "-3",    "0.",   "e+",     "\\n",  "\\u00",     "\\\"",        "é",
          "日本", "2024-", "-02-", "T12:",   ":00Z", "abc",       " the",        "[TOOL_CALLS]"}) {
        pieces.emplace_back(f);
    }
    pieces.emplace_back("<end>");
    const auto end = static_cast<int32_t>(pieces.size() - 1);
    std::vector<bool> never_text(pieces.size(), false);
    auto vocab = grammar::TokenVocabulary::create(pieces, never_text, {end});
    EXPECT_TRUE(vocab.has_value());
    return *vocab;
}

struct WalkOutcome {
    std::string text;
    bool ended_by_token = false;
};

// Samples uniformly among allowed tokens for up to `budget` steps (ending early when the end
// token is drawn), then appends the shortest completion. Every accepted piece is checked
// against the mask and is_token_allowed.
inline WalkOutcome random_walk(const std::shared_ptr<const grammar::Grammar>& g,
                               const std::shared_ptr<const grammar::TokenVocabulary>& vocab,
                               uint64_t seed, int budget) {
    grammar::Matcher matcher(g, vocab);
    std::mt19937_64 rng(seed);
    std::vector<uint32_t> words((static_cast<size_t>(vocab->n_vocab()) + 31) / 32);
    WalkOutcome out;
    for (int step = 0; step < budget; ++step) {
        EXPECT_TRUE(matcher.fill_mask(words).is_ok());
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < vocab->n_vocab(); ++t) {
            if ((words[static_cast<size_t>(t) / 32] >> (t % 32)) & 1u) allowed.push_back(t);
        }
        if (allowed.empty()) {
            ADD_FAILURE() << "no token allowed after '" << out.text << "'";
            return out;
        }
        const int32_t token = allowed[rng() % allowed.size()];
        EXPECT_TRUE(matcher.is_token_allowed(token));
        const auto status = matcher.accept_token(token);
        EXPECT_TRUE(status.is_ok()) << status.message();
        if (vocab->is_end_token(token)) {
            out.ended_by_token = true;
            return out;
        }
        out.text += vocab->piece(token);
    }
    const auto completion = matcher.shortest_completion(100000);
    EXPECT_TRUE(completion.has_value()) << "no completion after '" << out.text << "'";
    if (completion) {
        EXPECT_TRUE(matcher.accept_bytes(*completion).is_ok());
        EXPECT_TRUE(matcher.is_accepting());
        out.text += *completion;
    }
    return out;
}

}  // namespace cria::test
