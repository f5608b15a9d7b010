#include "grammar/grammar_cache.h"

#include <gtest/gtest.h>

#include "grammar/json_schema.h"

namespace cria::grammar {
namespace {

// A compile function that counts its calls.
struct Counting {
    int calls = 0;
    GrammarCache::Compile of(const char* schema) {
        return [this, schema] {
            ++calls;
            return compile_json_schema(nlohmann::ordered_json::parse(schema));
        };
    }
};

TEST(GrammarCache, RepeatedKeysCompileOnce) {
    GrammarCache cache;
    Counting count;
    auto a = cache.get_or_compile("a", count.of(R"({"type": "integer"})"));
    auto again = cache.get_or_compile("a", count.of(R"({"type": "integer"})"));
    auto b = cache.get_or_compile("b", count.of(R"({"type": "string"})"));
    ASSERT_TRUE(a && again && b);
    EXPECT_EQ(count.calls, 2);
    EXPECT_EQ(a->get(), again->get());
    EXPECT_NE(a->get(), b->get());
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.hits(), 1u);
}

TEST(GrammarCache, FailuresAreNotKept) {
    GrammarCache cache;
    Counting count;
    EXPECT_FALSE(cache.get_or_compile("bad", count.of(R"({"type": "nonsense"})")));
    EXPECT_FALSE(cache.get_or_compile("bad", count.of(R"({"type": "nonsense"})")));
    EXPECT_EQ(count.calls, 2);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(GrammarCache, LeastRecentlyUsedGoFirst) {
    GrammarCache cache(/*max_entries=*/2, /*max_key_bytes=*/100);
    Counting count;
    const char* schema = R"({"type": "boolean"})";
    ASSERT_TRUE(cache.get_or_compile("one", count.of(schema)));
    ASSERT_TRUE(cache.get_or_compile("two", count.of(schema)));
    ASSERT_TRUE(cache.get_or_compile("one", count.of(schema)));    // "two" is now the oldest
    ASSERT_TRUE(cache.get_or_compile("three", count.of(schema)));  // evicts "two"
    EXPECT_EQ(count.calls, 3);
    ASSERT_TRUE(cache.get_or_compile("one", count.of(schema)));
    EXPECT_EQ(count.calls, 3);
    ASSERT_TRUE(cache.get_or_compile("two", count.of(schema)));
    EXPECT_EQ(count.calls, 4);
    // Keys count against their own budget: one beyond it is compiled but never kept, and
    // keys that add up beyond it push out the oldest.
    ASSERT_TRUE(cache.get_or_compile(std::string(101, 'k'), count.of(schema)));
    EXPECT_EQ(cache.size(), 2u);
    ASSERT_TRUE(cache.get_or_compile(std::string(60, 'x'), count.of(schema)));
    ASSERT_TRUE(cache.get_or_compile(std::string(60, 'y'), count.of(schema)));
    EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace cria::grammar
