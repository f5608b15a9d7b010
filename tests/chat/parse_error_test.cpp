// Syntax errors name what is wrong and where: line and column (in characters, 1-based).
#include <gtest/gtest.h>

#include <string>

#include "chat/chat_template.h"

namespace cria::chat {
namespace {

struct SyntaxCase {
    const char* source;
    const char* message;  // the whole expected Status message
};

const SyntaxCase kSyntaxCases[] = {
    {"{{ x + }}", "TemplateSyntaxError: unexpected '}}' (line 1, column 8)"},
    {"line1\n{% if x %}\nbody\n",
     "TemplateSyntaxError: unexpected end of template; expected 'elif', 'else' or 'endif' to "
     "close the 'if' opened at line 2, column 4 (line 3, column 5)"},
    {"{% for x in y %}\n  {% endif %}",
     "TemplateSyntaxError: encountered unknown tag 'endif'; looking for 'endfor' or 'else' to "
     "close 'for' (line 2, column 6)"},
    {"a\n  {{ 'unterminated }}",
     "TemplateSyntaxError: unterminated string literal (line 2, column 6)"},
    {"{% foo %}", "TemplateSyntaxError: encountered unknown tag 'foo' (line 1, column 4)"},
    {"{{ (1, 2 }}", "TemplateSyntaxError: unexpected '}', expected ')' (line 1, column 10)"},
    {"ok\n\n {# never closed",
     "TemplateSyntaxError: missing end of comment tag (line 3, column 2)"},
    {"日本 {{ ) }}", "TemplateSyntaxError: unexpected ')' (line 1, column 7)"},
    {"{% set %}", "TemplateSyntaxError: can't assign to '%}' (line 1, column 8)"},
    {"{% macro m(a=1, b) %}{% endmacro %}",
     "TemplateSyntaxError: non-default argument follows default argument (line 1, column 18)"},
    {"{% if x %}\r\n{% break %}{% endif %}",
     "TemplateSyntaxError: 'break' outside of a loop (line 2, column 4)"},
    {"{{ x is defined is defined }}",
     "TemplateSyntaxError: cannot chain multiple tests with 'is' (line 1, column 17)"},
    {"{{ 'a' $ 'b' }}", "TemplateSyntaxError: unexpected char '$' (line 1, column 8)"},
    {"{{ 99999999999999999999 }}",
     "TemplateSyntaxError: integer literal too large (line 1, column 4)"},
    {"{% raw %}never ended",
     "TemplateSyntaxError: missing end of raw directive (line 1, column 1)"},
    {"{% include 'other.jinja' %}",
     "TemplateSyntaxError: tag 'include' is not supported: a chat template cannot load other "
     "templates (line 1, column 4)"},
    {"\xff\xfe", "TemplateSyntaxError: template is not valid UTF-8 (line 1, column 1)"},
};

class ParseErrorTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ParseErrorTest, ReportsLineAndColumn) {
    const SyntaxCase& c = kSyntaxCases[GetParam()];
    auto tmpl = ChatTemplate::parse(c.source);
    ASSERT_FALSE(tmpl.has_value()) << c.source;
    EXPECT_EQ(tmpl.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(tmpl.status().message(), c.message) << c.source;
}

INSTANTIATE_TEST_SUITE_P(Syntax, ParseErrorTest,
                         ::testing::Range<size_t>(0,
                                                  sizeof(kSyntaxCases) / sizeof(kSyntaxCases[0])));

TEST(ParseErrorTest, DeepNestingIsAnErrorNotACrash) {
    const std::string parens =
        "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
    auto deep = ChatTemplate::parse(parens);
    ASSERT_FALSE(deep.has_value());
    EXPECT_NE(deep.status().message().find("nested too deeply"), std::string::npos);

    std::string chain = "{{ 1";
    for (int i = 0; i < 100000; ++i) chain += " + 1";
    chain += " }}";
    auto long_chain = ChatTemplate::parse(chain);
    ASSERT_FALSE(long_chain.has_value());
    EXPECT_NE(long_chain.status().message().find("nested too deeply"), std::string::npos);

    std::string blocks;
    for (int i = 0; i < 5000; ++i) blocks += "{% if true %}";
    auto deep_blocks = ChatTemplate::parse(blocks);
    ASSERT_FALSE(deep_blocks.has_value());
    EXPECT_NE(deep_blocks.status().message().find("nested too deeply"), std::string::npos);
}

TEST(ParseErrorTest, RuntimeErrorsCarryTheirLocation) {
    auto tmpl = ChatTemplate::parse("line one\n{{ 'a' + 1 }}");
    ASSERT_TRUE(tmpl.has_value());
    auto rendered = tmpl->render(nlohmann::ordered_json::object());
    ASSERT_FALSE(rendered.has_value());
    EXPECT_EQ(rendered.status().message(),
              "TypeError: can only concatenate str (not \"int\") to str (line 2, column 8)");
}

}  // namespace
}  // namespace cria::chat
