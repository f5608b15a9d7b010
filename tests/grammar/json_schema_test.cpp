#include "grammar/json_schema.h"

#include <gtest/gtest.h>

#include "grammar/matcher.h"
#include "schema_validator.h"
#include "walk.h"

namespace cria::grammar {
namespace {

using nlohmann::json;

std::shared_ptr<const Grammar> compile_or_die(const json& schema) {
    auto g = compile_json_schema(schema);
    EXPECT_TRUE(g.has_value()) << g.status().message();
    return g.has_value() ? *g : nullptr;
}

bool accepts(const std::shared_ptr<const Grammar>& g, const std::string& text) {
    Matcher m(g, nullptr);
    return m.accept_bytes(text).is_ok() && m.is_accepting();
}

std::string error_of(const json& schema) {
    auto g = compile_json_schema(schema);
    EXPECT_FALSE(g.has_value()) << schema.dump();
    return g.has_value() ? "" : g.status().message();
}

TEST(JsonObjectGrammar, AcceptsObjectsOnly) {
    auto g = compile_json_object_grammar();
    ASSERT_TRUE(g.has_value());
    EXPECT_TRUE(accepts(*g, "{}"));
    EXPECT_TRUE(accepts(*g, "\n{\"a\": [1, -2.5e+3, true, null, {\"b\": \"\\u00e9\\n\"}]}"));
    EXPECT_TRUE(accepts(*g, "{\"k\":\"日本\"}"));
    EXPECT_FALSE(accepts(*g, "[]"));
    EXPECT_FALSE(accepts(*g, "{\"a\": 01}"));
    EXPECT_FALSE(accepts(*g, "{\"a\": 1,}"));
    EXPECT_FALSE(accepts(*g, "{\"a\": \"\\ud800\"}"));       // lone surrogate escape
    EXPECT_FALSE(accepts(*g, "{\"a\": \"\xc0\xaf\"}"));      // overlong UTF-8
    EXPECT_FALSE(accepts(*g, "{\"a\": \"\xed\xa0\x80\"}"));  // encoded surrogate
    EXPECT_FALSE(accepts(*g, "{\"a\": \"\x01\"}"));          // raw control character
    EXPECT_FALSE(accepts(*g, "{} "));                        // nothing after the value
}

// JSON mode must not let a model spend its budget on layout: between two tokens, at most one
// space, or a newline and a bounded indentation (pretty-printed JSON passes).
TEST(JsonObjectGrammar, WhitespaceRunsAreBounded) {
    auto g = compile_json_object_grammar();
    ASSERT_TRUE(g.has_value());
    EXPECT_TRUE(accepts(*g, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}"));
    EXPECT_TRUE(accepts(*g, "{\n\t\"a\": 1\n}"));
    EXPECT_TRUE(accepts(*g, "{\"a\":" + std::string(1, ' ') + "1}"));
    const std::string long_run(100, ' ');
    EXPECT_FALSE(accepts(*g, "{" + long_run + "\"a\": 1}"));
    EXPECT_FALSE(accepts(*g, "{\"a\":" + long_run + "1}"));
    EXPECT_FALSE(accepts(*g, "{\"a\": 1" + long_run + "}"));
    EXPECT_FALSE(accepts(*g, "{\"a\": [1,\n" + long_run + "2]}"));
    EXPECT_FALSE(accepts(*g, "\n\n\n{}"));
    EXPECT_FALSE(accepts(*g, "{\"a\": 1\n\n\n}"));
    EXPECT_FALSE(accepts(*g, "{\"a\":  1}"));  // two spaces: not a layout JSON writers use
    // The matcher refuses the byte that would extend a run, so a mask never allows it.
    Matcher m(*g, nullptr);
    ASSERT_TRUE(m.accept_bytes("{\n" + std::string(32, ' ')).is_ok());
    EXPECT_FALSE(m.accept_bytes(" ").is_ok());
}

TEST(JsonSchemaGrammar, ObjectPropertiesInOrderWithOptionalOnes) {
    auto g = compile_or_die(json::parse(R"({
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
        "required": ["b"]})"));
    EXPECT_TRUE(accepts(g, R"({"b": "x"})"));
    EXPECT_TRUE(accepts(g, R"({"a": 1, "b": "x", "c": true})"));
    EXPECT_TRUE(accepts(g, R"({"a":1,"b":"x"})"));
    EXPECT_TRUE(accepts(g, R"({"b": "x", "c": false})"));
    EXPECT_FALSE(accepts(g, R"({"a": 1})"));
    EXPECT_FALSE(accepts(g, R"({})"));
    EXPECT_FALSE(accepts(g, R"({"b": "x", "d": 1})"));
    EXPECT_FALSE(accepts(g, R"({"b": 1})"));
    EXPECT_FALSE(accepts(g, R"({, "b": "x"})"));
}

TEST(JsonSchemaGrammar, PropertiesFollowTheSchemaOrder) {
    // As written in the request (ordered_json), not alphabetically: zeta, alpha, mid.
    const auto schema = nlohmann::ordered_json::parse(R"({"type": "object", "properties": {
        "zeta": {"type": "integer"}, "alpha": {"type": "integer"}, "mid": {"type": "integer"}},
        "required": ["zeta", "alpha", "mid"], "additionalProperties": false})");
    auto compiled = compile_json_schema(schema);
    ASSERT_TRUE(compiled.has_value()) << compiled.status().message();
    const auto& g = *compiled;
    EXPECT_TRUE(accepts(g, R"({"zeta": 1, "alpha": 2, "mid": 3})"));
    EXPECT_FALSE(accepts(g, R"({"alpha": 2, "mid": 3, "zeta": 1})"));
    EXPECT_FALSE(accepts(g, R"({"alpha": 2, "zeta": 1, "mid": 3})"));
    const auto vocab = test::walk_vocabulary();
    for (uint64_t seed = 0; seed < 20; ++seed) {
        const test::WalkOutcome out = test::random_walk(g, vocab, seed, 40);
        std::vector<std::string> keys;
        const auto parsed = nlohmann::ordered_json::parse(out.text);
        for (const auto& [key, value] : parsed.items()) {
            keys.push_back(key);
        }
        EXPECT_EQ(keys, (std::vector<std::string>{"zeta", "alpha", "mid"})) << out.text;
    }
}

TEST(JsonSchemaGrammar, OneOfWithExclusiveBranches) {
    // Different types, distinct values, disjoint ranges, a required discriminator, closed
    // objects with different required properties, through $refs and nested unions.
    for (
        const char* text : {
            R"({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]})",
            R"({"oneOf": [{"const": "a"}, {"enum": ["b", "c"]}, {"type": "integer"}]})",
            R"({"oneOf": [{"type": "integer", "maximum": 9}, {"type": "integer", "minimum": 10}]})",
            R"({"oneOf": [{"type": "string", "maxLength": 2}, {"type": "string", "minLength": 3}]})",
            R"({"oneOf": [
                 {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
                  "required": ["kind", "r"]},
                 {"type": "object", "properties": {"kind": {"const": "square"}, "side": {"type": "number"}},
                  "required": ["kind", "side"]}]})",
            R"({"oneOf": [
                 {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
                  "additionalProperties": false},
                 {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"],
                  "additionalProperties": false}]})",
            R"({"$defs": {"s": {"type": "string"}, "n": {"type": "number"}},
                 "oneOf": [{"$ref": "#/$defs/s"}, {"$ref": "#/$defs/n"},
                           {"anyOf": [{"type": "boolean"}, {"type": "null"}]}]})",
        }) {
        const json schema = json::parse(text);
        auto g = compile_json_schema(schema);
        ASSERT_TRUE(g.has_value()) << text << ": " << g.status().message();
        // Every generated value matches exactly one branch.
        test::SchemaValidator validator(schema);
        const auto vocab = test::walk_vocabulary();
        for (uint64_t seed = 0; seed < 30; ++seed) {
            const test::WalkOutcome out = test::random_walk(*g, vocab, seed, 30);
            json parsed;
            ASSERT_NO_THROW(parsed = json::parse(out.text)) << out.text;
            EXPECT_EQ(validator.validate(parsed), "") << text << ": " << out.text;
        }
    }
    auto shapes = compile_or_die(json::parse(R"({"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]},
        {"type": "object", "properties": {"kind": {"const": "b"}, "x": {"type": "integer"}},
         "required": ["kind", "x"]}]})"));
    EXPECT_TRUE(accepts(shapes, R"({"kind": "a"})"));
    EXPECT_TRUE(accepts(shapes, R"({"kind": "b", "x": 1})"));
    EXPECT_FALSE(accepts(shapes, R"({"kind": "c"})"));
}

TEST(JsonSchemaGrammar, OneOfWithOverlappingBranchesIsRejected) {
    for (
        const char* text : {
            // "ab" matches both.
            R"({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]})",
            // 1 is an integer and a number.
            R"({"oneOf": [{"type": "number"}, {"type": "integer"}]})",
            // Without a 'type', the first branch validates strings as well.
            R"({"oneOf": [{"properties": {"a": {"type": "integer"}}}, {"type": "string"}]})",
            // {"kind": "x", "n": 1} matches both: no discriminator.
            R"({"oneOf": [
                 {"type": "object", "properties": {"kind": {"type": "string"}}, "required": ["kind"]},
                 {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}]})",
            R"({"oneOf": [{"enum": ["a", "b"]}, {"const": "b"}]})",
            R"({"oneOf": [{"type": "integer", "minimum": 0, "maximum": 10}, {"type": "integer", "minimum": 10}]})",
        }) {
        const std::string error = error_of(json::parse(text));
        EXPECT_NE(error.find("'oneOf'"), std::string::npos) << text << ": " << error;
        EXPECT_NE(error.find("may both match"), std::string::npos) << error;
    }
    // The path names the oneOf and the branches.
    const std::string nested = error_of(json::parse(
        R"({"type": "object", "properties": {"v": {"oneOf": [{"type": "integer"}, {}]}}})"));
    EXPECT_NE(nested.find("#/properties/v/oneOf"), std::string::npos) << nested;
    EXPECT_NE(nested.find("branches 0 and 1"), std::string::npos) << nested;
}

TEST(JsonSchemaGrammar, IntegerRanges) {
    struct Case {
        json schema;
        std::vector<int64_t> inside;
        std::vector<int64_t> outside;
    };
    const std::vector<Case> cases = {
        {{{"type", "integer"}, {"minimum", -50}, {"maximum", 1234}},
         {-50, -49, -10, -9, -1, 0, 1, 9, 10, 99, 100, 999, 1000, 1199, 1234},
         {-51, -100, 1235, 1300, 9999, 12345}},
        {{{"type", "integer"}, {"minimum", 7}, {"maximum", 7}}, {7}, {6, 8, 17, 70}},
        {{{"type", "integer"}, {"minimum", 100}}, {100, 101, 999, 1000, 123456789}, {99, 0, -100}},
        {{{"type", "integer"}, {"maximum", -3}}, {-3, -4, -10, -99999}, {-2, 0, 3}},
        {{{"type", "integer"}, {"exclusiveMinimum", 0}, {"exclusiveMaximum", 10}},
         {1, 5, 9},
         {0, 10, -1}},
        {{{"type", "integer"}, {"minimum", 0.5}, {"maximum", 2.5}}, {1, 2}, {0, 3}},
    };
    for (const Case& c : cases) {
        auto g = compile_or_die(c.schema);
        for (int64_t v : c.inside) EXPECT_TRUE(accepts(g, std::to_string(v))) << c.schema << v;
        for (int64_t v : c.outside) EXPECT_FALSE(accepts(g, std::to_string(v))) << c.schema << v;
        EXPECT_FALSE(accepts(g, "007"));
        EXPECT_FALSE(accepts(g, "-0"));
    }
    // Exhaustive over a small window.
    auto g = compile_or_die({{"type", "integer"}, {"minimum", -123}, {"maximum", 456}});
    for (int v = -1000; v <= 1000; ++v) {
        EXPECT_EQ(accepts(g, std::to_string(v)), v >= -123 && v <= 456) << v;
    }
}

TEST(JsonSchemaGrammar, StringsLengthsFormatsPatterns) {
    auto len = compile_or_die({{"type", "string"}, {"minLength", 2}, {"maxLength", 3}});
    EXPECT_TRUE(accepts(len, "\"ab\""));
    EXPECT_TRUE(accepts(len, "\"é日\\n\""));
    EXPECT_FALSE(accepts(len, "\"a\""));
    EXPECT_FALSE(accepts(len, "\"abcd\""));

    auto date = compile_or_die({{"type", "string"}, {"format", "date"}});
    EXPECT_TRUE(accepts(date, "\"2024-01-31\""));
    EXPECT_TRUE(accepts(date, "\"2024-04-30\""));
    EXPECT_FALSE(accepts(date, "\"2024-04-31\""));
    EXPECT_FALSE(accepts(date, "\"2024-02-30\""));
    EXPECT_FALSE(accepts(date, "\"2024-13-01\""));
    auto time = compile_or_die({{"type", "string"}, {"format", "time"}});
    EXPECT_TRUE(accepts(time, "\"23:59:59Z\""));
    EXPECT_TRUE(accepts(time, "\"08:30:00.125+02:00\""));
    EXPECT_FALSE(accepts(time, "\"24:00:00Z\""));
    EXPECT_FALSE(accepts(time, "\"12:00:00\""));
    auto dt = compile_or_die({{"type", "string"}, {"format", "date-time"}});
    EXPECT_TRUE(accepts(dt, "\"2026-07-26T12:00:00Z\""));
    auto uuid = compile_or_die({{"type", "string"}, {"format", "uuid"}});
    EXPECT_TRUE(accepts(uuid, "\"123e4567-e89b-12d3-a456-426614174000\""));
    EXPECT_FALSE(accepts(uuid, "\"123e4567e89b-12d3-a456-426614174000\""));

    auto anchored = compile_or_die({{"type", "string"}, {"pattern", "^[a-z]{2,3}-\\d+(x|yz)?$"}});
    EXPECT_TRUE(accepts(anchored, "\"ab-1\""));
    EXPECT_TRUE(accepts(anchored, "\"abc-42yz\""));
    EXPECT_FALSE(accepts(anchored, "\"a-1\""));
    EXPECT_FALSE(accepts(anchored, "\"ab-\""));
    EXPECT_FALSE(accepts(anchored, "\"ab-1y\""));
    auto free = compile_or_die({{"type", "string"}, {"pattern", "c\"d"}});
    EXPECT_TRUE(accepts(free, "\"xxc\\\"dyy\""));
    EXPECT_FALSE(accepts(free, "\"xxcdyy\""));
}

TEST(JsonSchemaGrammar, ArraysWithPrefixItemsAndCounts) {
    auto g = compile_or_die(json::parse(R"({"type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "items": {"type": "boolean"}, "minItems": 1, "maxItems": 4})"));
    EXPECT_TRUE(accepts(g, R"(["a"])"));
    EXPECT_TRUE(accepts(g, R"(["a", 1, true, false])"));
    EXPECT_FALSE(accepts(g, R"([])"));
    EXPECT_FALSE(accepts(g, R"(["a", 1, true, false, true])"));
    EXPECT_FALSE(accepts(g, R"([1])"));
    auto closed = compile_or_die(json::parse(R"({"type": "array",
        "prefixItems": [{"const": 1}], "items": false})"));
    EXPECT_TRUE(accepts(closed, "[]"));
    EXPECT_TRUE(accepts(closed, "[1]"));
    EXPECT_FALSE(accepts(closed, "[1, 1]"));
}

TEST(JsonSchemaGrammar, RefsEnumsAndCombinators) {
    auto g = compile_or_die(json::parse(R"({
        "$defs": {"node": {"type": "object",
            "properties": {"v": {"enum": ["x", 2, null]}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            "required": ["v"], "additionalProperties": false}},
        "$ref": "#/$defs/node"})"));
    // nlohmann::json keeps keys sorted, so "kids" comes before "v".
    EXPECT_TRUE(accepts(g, R"({"kids": [{"v": 2}, {"kids": [], "v": null}], "v": "x"})"));
    EXPECT_FALSE(accepts(g, R"({"v": "y"})"));
    auto any = compile_or_die(
        json::parse(R"({"anyOf": [{"type": "integer"}, {"type": ["string", "null"]}]})"));
    EXPECT_TRUE(accepts(any, "12"));
    EXPECT_TRUE(accepts(any, "null"));
    EXPECT_TRUE(accepts(any, "\"s\""));
    EXPECT_FALSE(accepts(any, "1.5"));
    auto all = compile_or_die(json::parse(R"({"allOf": [
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
        {"properties": {"b": {"const": true}}, "required": ["b"]}]})"));
    EXPECT_TRUE(accepts(all, R"({"a": 1, "b": true})"));
    EXPECT_FALSE(accepts(all, R"({"a": 1})"));
}

// A large enum costs a matcher one path, not one stack per value: 100,000 values used to
// make the first masks of an answer take seconds.
TEST(JsonSchemaGrammar, LargeEnumsStayCheapToMatch) {
    json values = json::array();
    for (int i = 0; i < 100000; ++i) {
        std::string value = "v";
        value += std::to_string(i);  // not "v" + ...: GCC 12 warns falsely (-Wrestrict) on that
        values.push_back(value);
    }
    auto g = compile_or_die(json{{"enum", values}});
    ASSERT_NE(g, nullptr);
    EXPECT_LT(g->element_count(), 400000u);  // about the distinct prefix bytes of the values
    Matcher m(g, nullptr);
    ASSERT_TRUE(m.accept_bytes("\"v1234").is_ok());
    EXPECT_LT(m.node_count(), 64u);
    EXPECT_FALSE(m.is_accepting());
    ASSERT_TRUE(m.accept_bytes("\"").is_ok());
    EXPECT_TRUE(m.is_accepting());
    EXPECT_TRUE(accepts(g, "\"v99999\""));
    EXPECT_FALSE(accepts(g, "\"v100000\""));
    EXPECT_FALSE(accepts(g, "\"v01\""));
}

TEST(JsonSchemaGrammar, ErrorsNameTheKeyword) {
    EXPECT_NE(error_of({{"type", "string"}, {"not", json::object()}}).find("'not'"),
              std::string::npos);
    EXPECT_NE(error_of({{"type", "string"}, {"format", "email"}}).find("email"), std::string::npos);
    EXPECT_NE(error_of({{"type", "number"}, {"minimum", 1}}).find("'minimum'"), std::string::npos);
    EXPECT_NE(error_of({{"$ref", "#/$defs/missing"}}).find("$ref"), std::string::npos);
    EXPECT_NE(error_of({{"$ref", "http://x/y"}}).find("$ref"), std::string::npos);
    EXPECT_NE(error_of({{"type", "string"}, {"pattern", "(?=a)b"}}).find("lookaround"),
              std::string::npos);
    EXPECT_NE(error_of({{"type", "string"}, {"pattern", "(a)\\1"}}).find("escape"),
              std::string::npos);
    EXPECT_NE(error_of({{"type", "array"}, {"minItems", 3}, {"maxItems", 2}}).find("minItems"),
              std::string::npos);
    EXPECT_NE(error_of({{"type", "integer"}, {"minimum", 5}, {"maximum", 2}}).find("minimum"),
              std::string::npos);
    EXPECT_NE(error_of({{"type", "object"}, {"minProperties", 1}}).find("minProperties"),
              std::string::npos);
    EXPECT_NE(error_of({{"type", "object"}, {"required", {"a"}}}).find("required"),
              std::string::npos);
    EXPECT_NE(error_of({{"type", "foo"}}).find("foo"), std::string::npos);
    EXPECT_NE(error_of({{"type", "string"}, {"maxLength", 1000000}}).find("maxLength"),
              std::string::npos);
    EXPECT_NE(error_of(json::parse(R"({"properties": {"a": {"uniqueItems": true}}})"))
                  .find("#/properties/a"),
              std::string::npos);
    EXPECT_NE(error_of(json::parse(R"({"allOf": [{"type": "string"}]})")).find("allOf"),
              std::string::npos);
    EXPECT_NE(error_of(json::parse(R"({"enum": [1, 2], "type": "string"})")).find("enum"),
              std::string::npos);
    EXPECT_FALSE(error_of(false).empty());
    EXPECT_FALSE(
        error_of(json::parse(R"({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})"))
            .empty());
}

// Random walks: every finished output parses and validates against its schema.
class SchemaWalk : public ::testing::TestWithParam<const char*> {};

TEST_P(SchemaWalk, EveryOutputValidates) {
    const json schema = json::parse(GetParam());
    auto g = schema.is_null() ? compile_json_object_grammar() : compile_json_schema(schema);
    ASSERT_TRUE(g.has_value()) << g.status().message();
    const auto vocab = test::walk_vocabulary();
    const json effective = schema.is_null() ? json{{"type", "object"}} : schema;
    test::SchemaValidator validator(effective);
    int ended = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
        const test::WalkOutcome out = test::random_walk(*g, vocab, seed, 60);
        ended += out.ended_by_token;
        json parsed;
        try {
            parsed = json::parse(out.text);
        } catch (const json::exception& e) {
            ADD_FAILURE() << "seed " << seed << ": does not parse: " << out.text << " (" << e.what()
                          << ")";
            continue;
        }
        EXPECT_EQ(validator.validate(parsed), "") << "seed " << seed << ": " << out.text;
    }
    RecordProperty("ended_by_token", ended);
}

INSTANTIATE_TEST_SUITE_P(
    Schemas, SchemaWalk,
    ::testing::Values(
        "null",  // json_object mode
        R"({"type": "object", "properties": {
              "name": {"type": "string", "maxLength": 12},
              "age": {"type": "integer", "minimum": 0, "maximum": 150},
              "score": {"type": "number"},
              "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 1, "maxItems": 3},
              "ok": {"type": "boolean"}, "nothing": {"type": "null"}, "kind": {"const": "person"}},
            "required": ["name", "age", "tags"], "additionalProperties": false})",
        R"({"$defs": {"tree": {"type": "object", "properties": {
              "label": {"type": "string", "minLength": 1, "maxLength": 4},
              "children": {"type": "array", "items": {"$ref": "#/$defs/tree"}, "maxItems": 2}},
            "required": ["label"]}}, "$ref": "#/$defs/tree"})",
        R"({"type": "object", "properties": {
              "when": {"type": "string", "format": "date-time"},
              "day": {"type": "string", "format": "date"},
              "at": {"type": "string", "format": "time"},
              "id": {"type": "string", "format": "uuid"},
              "code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{2,4}(-x)?$"},
              "free": {"type": "string", "pattern": "ab+c"}},
            "required": ["when", "day", "at", "id", "code", "free"]})",
        R"({"type": "array", "prefixItems": [{"type": "integer", "minimum": -20, "maximum": 20},
              {"type": ["string", "null"]}], "items": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
            "minItems": 2, "maxItems": 5})",
        R"({"anyOf": [{"type": "object", "properties": {"x": {"type": "integer", "exclusiveMinimum": 0}},
              "required": ["x"], "additionalProperties": false},
            {"allOf": [{"type": "object", "properties": {"y": {"type": "string"}}, "required": ["y"]},
                       {"properties": {"z": {"type": "integer"}}}]}]})",
        R"({"type": "object", "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 9}})"));

}  // namespace
}  // namespace cria::grammar
