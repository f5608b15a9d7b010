// Random and truncated templates must end in a rendering or an error: never a crash, a hang
// or a sanitizer report. Deterministic (fixed seeds) and a few seconds in Release.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "test_support.h"

namespace cria::chat {
namespace {

// CRIA_FUZZ_SCALE=N multiplies the iteration counts for longer local runs.
int fuzz_scale() {
    const char* env = std::getenv("CRIA_FUZZ_SCALE");
    const int scale = env != nullptr ? std::atoi(env) : 1;
    return scale > 0 ? scale : 1;
}

nlohmann::ordered_json sample_context() {
    return nlohmann::ordered_json::parse(R"({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi \u00e9 \ud83d\ude80"},
            {"role": "assistant", "content": "<think>x</think>Hello", "tool_calls": [
                {"id": "abcdefghi", "type": "function",
                 "function": {"name": "f", "arguments": {"a": [1, 2.5, null, true]}}}]},
            {"role": "tool", "tool_call_id": "abcdefghi", "content": "{\"ok\": 1}"},
            {"role": "user", "content": "more"}
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                   "parameters": {"type": "object", "properties": {"a": {"type": "array"}}}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
        "x": 3, "s": "text", "d": {"k": "v"}
    })");
}

RenderOptions fuzz_options() {
    RenderOptions options;
    options.max_output_bytes = 1 << 20;
    options.max_loop_iterations = 20000;
    options.max_recursion_depth = 32;
    options.time_limit = std::chrono::milliseconds(200);
    options.now = DateTime{2026, 7, 26, 12, 0, 0, 0};
    return options;
}

// Parses and, when that succeeds, renders; either outcome is fine.
void exercise(const std::string& source, const nlohmann::ordered_json& context,
              const RenderOptions& options) {
    auto tmpl = ChatTemplate::parse(source);
    if (!tmpl) {
        EXPECT_FALSE(tmpl.status().message().empty());
        return;
    }
    auto rendered = tmpl->render(context, options);
    if (!rendered) {
        EXPECT_FALSE(rendered.status().message().empty());
    }
}

const char* const kTokenSoup[] = {
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{-",
    "-}}",
    "{%-",
    "-%}",
    "{%+",
    "+%}",
    " ",
    "\n",
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "in",
    "endfor",
    "recursive",
    "set",
    "endset",
    "macro",
    "endmacro",
    "call",
    "endcall",
    "caller()",
    "filter",
    "endfilter",
    "raw",
    "endraw",
    "with",
    "endwith",
    "break",
    "continue",
    "not",
    "and",
    "or",
    "is",
    "defined",
    "none",
    "true",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    "|",
    "~",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "==",
    "!=",
    "<",
    ">=",
    "=",
    "'a'",
    "\"b\"",
    "'",
    "\"",
    "\\",
    "0",
    "1",
    "2.5",
    "1e3",
    "x",
    "s",
    "d",
    "messages",
    "message",
    "loop",
    "loop.index",
    "loop(x)",
    "tools",
    "ns",
    "namespace(a=1)",
    "ns.a",
    "range(3)",
    "range(x)",
    "tojson",
    "tojson(indent=2)",
    "items",
    "items()",
    "length",
    "trim",
    "upper",
    "join(',')",
    "map(attribute='role')",
    "selectattr('role')",
    "first",
    "last",
    "default",
    "string",
    "int",
    "list",
    "split('a')",
    "[::-1]",
    "[1:]",
    "raise_exception",
    "strftime_now('%Y')",
    "content",
    "role",
    "m",
    "m()",
    "varargs",
    "kwargs",
    "é",
    "🚀",
};

TEST(FuzzTest, RandomTokenSoupNeverCrashes) {
    std::mt19937 rng(20260726);
    const nlohmann::ordered_json context = sample_context();
    const RenderOptions options = fuzz_options();
    const size_t vocabulary = sizeof(kTokenSoup) / sizeof(kTokenSoup[0]);
    const int iterations = 3000 * fuzz_scale();
    int parsed = 0;
    for (int i = 0; i < iterations; ++i) {
        std::string source;
        const int length = 1 + static_cast<int>(rng() % 40);
        for (int t = 0; t < length; ++t) {
            source += kTokenSoup[rng() % vocabulary];
            if (rng() % 3 == 0) source += ' ';
        }
        if (ChatTemplate::parse(source).has_value()) ++parsed;
        exercise(source, context, options);
    }
    // The soup must reach the renderer, not only the parser's error paths.
    EXPECT_GT(parsed, iterations / 50);
}

// A structured generator: well-formed blocks with random expressions inside, so rendering
// paths (filters, methods, loops, macros) run on odd inputs.
std::string random_expression(std::mt19937& rng, int depth) {
    static const char* const kAtoms[] = {
        "x",
        "s",
        "d",
        "messages",
        "messages[0]",
        "messages[-1].content",
        "d.k",
        "d['k']",
        "none",
        "true",
        "1",
        "-2",
        "2.5",
        "'str'",
        "[1, 'a', none]",
        "{'a': [1]}",
        "(1, 2)",
        "range(4)",
        "ns.a",
        "loop.index0",
        "missing",
        "missing.attr",
        "tools[0].function",
    };
    static const char* const kPostfix[] = {
        "|length",
        "|tojson",
        "|trim",
        "|first",
        "|last",
        "|list",
        "|string",
        "|int",
        "|upper",
        "|items|list",
        "|join(', ')",
        "|default('z')",
        "|map('string')|list",
        "|unique|list",
        "|sort",
        "|reverse|list",
        "|dictsort",
        "|indent(2)",
        "|replace('a', 'b')",
        "|round",
        ".split(',')",
        ".strip()",
        ".keys()",
        ".items()",
        ".get('k')",
        "[0]",
        "[1:]",
        "[::-1]",
        " is defined",
        " is string",
        " is mapping",
        " is none",
        " is iterable",
        "|sum",
    };
    static const char* const kBinary[] = {" + ",  " - ",  " * ", " / ",  " // ",  " % ", " ~ ",
                                          " == ", " != ", " < ", " in ", " and ", " or "};
    std::string expr = kAtoms[rng() % (sizeof(kAtoms) / sizeof(kAtoms[0]))];
    const int postfixes = static_cast<int>(rng() % 3);
    for (int i = 0; i < postfixes; ++i) {
        // Parenthesized so that two `is` tests never chain (a syntax error in Jinja).
        expr = "(" + expr + kPostfix[rng() % (sizeof(kPostfix) / sizeof(kPostfix[0]))] + ")";
    }
    if (depth > 0 && rng() % 2 == 0) {
        expr = "(" + expr + kBinary[rng() % (sizeof(kBinary) / sizeof(kBinary[0]))] +
               random_expression(rng, depth - 1) + ")";
    }
    return expr;
}

std::string random_block(std::mt19937& rng, int depth) {
    switch (depth > 0 ? rng() % 7 : 0) {
        case 0:
            return "{{ " + random_expression(rng, 2) + " }}";
        case 1:
            return "{% if " + random_expression(rng, 1) + " %}" + random_block(rng, depth - 1) +
                   "{% else %}" + random_block(rng, depth - 1) + "{% endif %}";
        case 2:
            return "{% for item in " + random_expression(rng, 1) + " %}" +
                   random_block(rng, depth - 1) + "{{ loop.index }}{% endfor %}";
        case 3:
            return "{% set ns.a = " + random_expression(rng, 2) + " %}";
        case 4:
            return "{% macro m(a, b=2) %}" + random_block(rng, depth - 1) + "{% endmacro %}{{ m(" +
                   random_expression(rng, 1) + ") }}";
        case 5:
            return "{% filter upper %}" + random_block(rng, depth - 1) + "{% endfilter %}";
        default:
            return "{%- set v = " + random_expression(rng, 2) + " -%}\n  {{ v }}\n";
    }
}

TEST(FuzzTest, RandomWellFormedTemplatesNeverCrash) {
    std::mt19937 rng(7);
    const nlohmann::ordered_json context = sample_context();
    const RenderOptions options = fuzz_options();
    const int iterations = 2000 * fuzz_scale();
    int rendered = 0;
    for (int i = 0; i < iterations; ++i) {
        std::string source = "{% set ns = namespace(a=1) %}";
        const int blocks = 1 + static_cast<int>(rng() % 4);
        for (int b = 0; b < blocks; ++b) source += random_block(rng, 3);
        auto tmpl = ChatTemplate::parse(source);
        ASSERT_TRUE(tmpl.has_value()) << source << "\n" << tmpl.status().message();
        if (tmpl->render(context, options).has_value()) ++rendered;
    }
    EXPECT_GT(rendered, iterations / 20);
}

// The real templates (and a built-in one when ../shared is absent), cut at many points and
// with random bytes changed.
std::vector<std::string> real_templates() {
    std::vector<std::string> sources = {
        "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + "
        "message.content|trim + '<|im_end|>\\n' }}{%- if message.tool_calls %}{%- for call in "
        "message.tool_calls %}{{ call.function|tojson(indent=2) }}{%- endfor %}{%- endif %}"
        "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif "
        "%}",
    };
    const std::filesystem::path shared = test::shared_dir();
    if (!shared.empty()) {
        const std::filesystem::path dir = shared / "golden" / "templates" / "templates";
        std::error_code ec;
        if (std::filesystem::is_directory(dir, ec)) {
            for (const auto& entry : std::filesystem::directory_iterator(dir)) {
                sources.push_back(test::read_file(entry.path()));
            }
        }
    }
    return sources;
}

TEST(FuzzTest, TruncatedRealTemplatesNeverCrash) {
    const nlohmann::ordered_json context = sample_context();
    const RenderOptions options = fuzz_options();
    const size_t stride = fuzz_scale() > 1 ? 1 : 3;
    for (const std::string& source : real_templates()) {
        for (size_t cut = 0; cut <= source.size(); cut += stride) {
            exercise(source.substr(0, cut), context, options);
        }
    }
}

TEST(FuzzTest, MutatedRealTemplatesNeverCrash) {
    std::mt19937 rng(42);
    const nlohmann::ordered_json context = sample_context();
    const RenderOptions options = fuzz_options();
    static const char kBytes[] = "{}%#-+()[]|.,'\"\\ \nxa0~*/=<>!:";
    for (const std::string& source : real_templates()) {
        for (int i = 0; i < 150 * fuzz_scale(); ++i) {
            std::string mutated = source;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits && !mutated.empty(); ++e) {
                const size_t at = rng() % mutated.size();
                switch (rng() % 3) {
                    case 0:
                        mutated[at] = kBytes[rng() % (sizeof(kBytes) - 1)];
                        break;
                    case 1:
                        mutated.erase(at, 1 + rng() % 8);
                        break;
                    default:
                        mutated.insert(at, 1, kBytes[rng() % (sizeof(kBytes) - 1)]);
                        break;
                }
            }
            exercise(mutated, context, options);
        }
    }
}

}  // namespace
}  // namespace cria::chat
