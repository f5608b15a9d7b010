// Request bodies: the linear-time parser builds exactly what nlohmann's parser builds, refuses
// what it refuses and bodies nested too deep, and parses objects of many keys in linear time.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "server/json_body.h"

namespace cria::server {
namespace {

using nlohmann::ordered_json;

const char* const kDocuments[] = {
    R"({})",
    R"([])",
    R"(null)",
    R"(  {"b": 1, "a": [true, false, null, -3, 18446744073709551615, 2.5e-3, "x\u00e9"]} )",
    R"({"z": {"y": {"x": [[], [{}], [1, [2, [3]]]]}}, "a": "last"})",
    R"({"k": 1, "j": 2, "k": {"nested": true}})",  // a repeated key: first place, last value
    R"({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type":
       "object", "properties": {"q": {"type": "string"}, "b": {"type": "integer"}}}}}]})",
    R"("just a string")",
    R"(-0)",
};

TEST(JsonBody, BuildsWhatNlohmannBuilds) {
    for (const char* text : kDocuments) {
        SCOPED_TRACE(text);
        const ordered_json want = ordered_json::parse(text);
        const ordered_json got = parse_json_body(text);
        ASSERT_FALSE(got.is_discarded());
        EXPECT_EQ(got, want);
        EXPECT_EQ(got.dump(), want.dump());  // the same key order too
        const nlohmann::json unordered = parse_json_body_as<nlohmann::json>(text);
        EXPECT_EQ(unordered, nlohmann::json::parse(text));
    }
}

TEST(JsonBody, RefusesWhatIsNotJson) {
    for (const char* text : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1}}", "nul", "[1] [2]",
                             "{\"a\":\"\\x\"}", "\"\xff\"", "[1, 2", "{} trailing"}) {
        SCOPED_TRACE(text);
        EXPECT_TRUE(parse_json_body(text).is_discarded());
        EXPECT_TRUE(parse_json_body_as<nlohmann::json>(text).is_discarded());
    }
}

TEST(JsonBody, DepthIsCapped) {
    const auto nested = [](size_t depth) {
        return std::string(depth, '[') + std::string(depth, ']');
    };
    EXPECT_FALSE(parse_json_body(nested(kMaxJsonDepth)).is_discarded());
    EXPECT_TRUE(parse_json_body(nested(kMaxJsonDepth + 1)).is_discarded());
    // Deep enough to overflow the stack of a recursive consumer, refused without recursion.
    EXPECT_TRUE(parse_json_body(nested(1'000'000)).is_discarded());
    std::string objects;
    for (size_t i = 0; i <= kMaxJsonDepth; ++i) objects += "{\"a\":";
    objects += "1" + std::string(kMaxJsonDepth + 1, '}');
    EXPECT_TRUE(parse_json_body(objects).is_discarded());
    EXPECT_FALSE(parse_json_body(nested(10), 10).is_discarded());
    EXPECT_TRUE(parse_json_body(nested(11), 10).is_discarded());
}

// 200,000 keys: order-keeping insertion by search is about 2e10 key comparisons (minutes);
// the index makes it a fraction of a second. The bound leaves a wide margin for slow machines.
TEST(JsonBody, ManyKeysParseInLinearTime) {
    std::string text = "{";
    const int n = 200'000;
    for (int i = 0; i < n; ++i) {
        if (i > 0) text += ',';
        text += '"' + std::to_string(i) + "\":" + std::to_string(i % 7);
    }
    text += ",\"5\":-1}";
    const auto start = std::chrono::steady_clock::now();
    const ordered_json parsed = parse_json_body(text);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(parsed.is_object());
    EXPECT_EQ(parsed.size(), static_cast<size_t>(n));
    const auto& items = parsed.get_ref<const ordered_json::object_t&>();
    EXPECT_EQ(items.begin()->first, "0");
    EXPECT_EQ((items.begin() + 5)->first, "5");
    EXPECT_EQ(parsed["5"], -1);
    EXPECT_EQ((items.end() - 1)->first, std::to_string(n - 1));
    EXPECT_LT(seconds, 5.0);
}

}  // namespace
}  // namespace cria::server
