// The sandbox caps: hostile templates end quickly with kResourceExhausted (or the Python error
// Jinja's sandbox raises), never a hang, a crash or unbounded memory.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "chat/chat_template.h"

namespace cria::chat {
namespace {

using Clock = std::chrono::steady_clock;

struct Outcome {
    Expected<std::string> result;
    double seconds;
};

Outcome render_with(const std::string& source, const RenderOptions& options) {
    auto tmpl = ChatTemplate::parse(source);
    EXPECT_TRUE(tmpl.has_value()) << tmpl.status().message();
    if (!tmpl) return {Status(ErrorCode::kInternal, "unparsed"), 0.0};
    const auto start = Clock::now();
    Expected<std::string> result = tmpl->render(nlohmann::ordered_json::object(), options);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return {std::move(result), seconds};
}

void expect_limit(const Outcome& outcome, const std::string& fragment) {
    ASSERT_FALSE(outcome.result.has_value());
    EXPECT_EQ(outcome.result.status().code(), ErrorCode::kResourceExhausted)
        << outcome.result.status().message();
    EXPECT_NE(outcome.result.status().message().find(fragment), std::string::npos)
        << outcome.result.status().message();
    EXPECT_LT(outcome.seconds, 2.0);
}

TEST(LimitsTest, NestedRangesHitTheIterationCap) {
    RenderOptions options;
    options.max_loop_iterations = 200000;
    expect_limit(render_with("{% for a in range(100000) %}{% for b in range(100000) %}{{ b }}"
                             "{% endfor %}{% endfor %}",
                             options),
                 "loop iterations exceed the limit of 200000");
}

TEST(LimitsTest, EndlessWorkHitsTheTimeLimit) {
    RenderOptions options;
    options.max_loop_iterations = UINT64_MAX;
    options.time_limit = std::chrono::milliseconds(100);
    const Outcome outcome = render_with(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}"
        "{% set x = a * b + c %}{% endfor %}{% endfor %}{% endfor %}",
        options);
    expect_limit(outcome, "longer than the limit of 100 ms");
    EXPECT_LT(outcome.seconds, 0.5);
}

TEST(LimitsTest, HugeOutputHitsTheOutputCap) {
    RenderOptions options;
    options.max_output_bytes = 1 << 20;
    expect_limit(render_with("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", options),
                 "exceeds the output limit of 1048576 bytes");
}

TEST(LimitsTest, StringDoublingHitsTheOutputCap) {
    RenderOptions options;
    options.max_output_bytes = 1 << 20;
    expect_limit(render_with("{% set ns = namespace(s='x') %}{% for i in range(100) %}"
                             "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
                             options),
                 "exceeds the output limit");
    expect_limit(render_with("{{ 'ab' * 100000000000 }}", options), "exceeds the output limit");
    expect_limit(render_with("{{ [1] * 100000000000 }}", options), "list exceeds the limit");
}

TEST(LimitsTest, PrintingASharedStringManyTimesIsBounded) {
    RenderOptions options;
    options.max_output_bytes = 1 << 20;
    expect_limit(
        render_with("{% set big = 'x' * 100000 %}{% set many = [big] * 1000 %}{{ many }}", options),
        "exceeds the output limit");
    expect_limit(render_with("{% set big = 'x' * 100000 %}{{ ([big] * 1000)|tojson }}", options),
                 "exceeds the output limit");
    expect_limit(render_with("{% set big = 'x' * 100000 %}{{ ([big] * 1000)|join }}", options),
                 "exceeds the output limit");
}

TEST(LimitsTest, UnboundedMacroRecursionHitsTheDepthCap) {
    RenderOptions options;
    expect_limit(render_with("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", options),
                 "macro calls nested deeper than the limit of 64");
    expect_limit(render_with("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}", options),
                 "recursion deeper than the limit of 64");
}

TEST(LimitsTest, RecursionThroughDeepNestingIsCappedBeforeTheStack) {
    // Each macro level nests 90 lists or 90 if blocks: the evaluation depth cap stops it long
    // before the macro depth cap (and the C++ stack) would.
    RenderOptions options;
    options.max_recursion_depth = 1000;
    const std::string lists = "{% macro f(n) %}{{ " + std::string(90, '[') + "f(n + 1)" +
                              std::string(90, ']') + " }}{% endmacro %}{{ f(0) }}";
    expect_limit(render_with(lists, options), "template evaluation nested too deeply");
    std::string ifs = "{% macro f(n) %}";
    for (int i = 0; i < 90; ++i) ifs += "{% if true %}";
    ifs += "{{ f(n + 1) }}";
    for (int i = 0; i < 90; ++i) ifs += "{% endif %}";
    ifs += "{% endmacro %}{{ f(0) }}";
    expect_limit(render_with(ifs, options), "template evaluation nested too deeply");
}

TEST(LimitsTest, WideMacroRecursionHitsTheTimeOrIterationCap) {
    // Each call fans out twice: 2^40 calls unless something stops it.
    RenderOptions options;
    options.time_limit = std::chrono::milliseconds(200);
    const Outcome outcome = render_with(
        "{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}"
        "{{ f(0) }}",
        options);
    expect_limit(outcome, "limit");
}

TEST(LimitsTest, DeepValuesAreRefused) {
    RenderOptions options;
    expect_limit(render_with("{% set ns = namespace(v=[]) %}{% for i in range(1000) %}"
                             "{% set ns.v = [ns.v] %}{% endfor %}{{ ns.v|tojson }}",
                             options),
                 "nested deeper than 256");
    nlohmann::ordered_json deep = nlohmann::ordered_json::array();
    for (int i = 0; i < 1000; ++i) deep = nlohmann::ordered_json::array({deep});
    auto tmpl = ChatTemplate::parse("{{ x }}");
    ASSERT_TRUE(tmpl.has_value());
    auto rendered = tmpl->render({{"x", deep}});
    ASSERT_FALSE(rendered.has_value());
    EXPECT_EQ(rendered.status().code(), ErrorCode::kResourceExhausted);
}

TEST(LimitsTest, SelfReferencingNamespaceDoesNotRecurseForever) {
    RenderOptions options;
    const Outcome outcome =
        render_with("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", options);
    expect_limit(outcome, "nested too deeply");
}

TEST(LimitsTest, SandboxRangeLimitMatchesJinja) {
    RenderOptions options;
    const Outcome outcome = render_with("{{ range(100001)|length }}", options);
    ASSERT_FALSE(outcome.result.has_value());
    EXPECT_EQ(outcome.result.status().message(),
              "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE "
              "(100000). (line 1, column 4)");
}

}  // namespace
}  // namespace cria::chat
