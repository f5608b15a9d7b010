// Random, truncated and mutated Go templates must end in a rendering or an error: never a
// crash, a hang or a sanitizer report. Deterministic (fixed seeds); CRIA_FUZZ_SCALE=N runs N
// times as many.
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
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "f", "arguments": {"a": [1, 2.5, null, true], "b": {"c": "<&>"}}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{\"ok\": 1}"},
            {"role": "user", "content": "more"}
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                   "parameters": {"type": "object", "required": ["a"], "properties": {
                       "a": {"type": ["array", "null"], "items": {"type": "number"}},
                       "b": {"anyOf": [{"type": "string"}, {"type": "object"}], "enum": ["x", 1]}}}}}]
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

// Parses and, when that succeeds, renders; either outcome is fine. Returns whether it parsed.
bool exercise(const std::string& source) {
    static const nlohmann::ordered_json context = sample_context();
    static const RenderOptions options = fuzz_options();
    auto tmpl = ChatTemplate::parse(source);
    if (!tmpl) {
        EXPECT_FALSE(tmpl.status().message().empty());
        return false;
    }
    auto rendered = tmpl->render(context, options);
    if (!rendered) {
        EXPECT_FALSE(rendered.status().message().empty());
    }
    nlohmann::ordered_json fim = {{"prompt", "p"}, {"suffix", "s"}};
    auto fim_rendered = tmpl->render(fim, options);
    if (!fim_rendered) {
        EXPECT_FALSE(fim_rendered.status().message().empty());
    }
    return true;
}

const char* const kGoSoup[] = {
    "{{ ",
    " }}",
    "{{- ",
    " -}}",
    "{{/* c */}}",
    "if ",
    "else ",
    "end",
    "range ",
    "with ",
    "define ",
    "template ",
    "block ",
    "break",
    "continue",
    "$",
    "$x",
    "$i, $m",
    " := ",
    " = ",
    ".",
    ".Messages",
    ".System",
    ".Tools",
    ".Role",
    ".Content",
    ".ToolCalls",
    ".Function",
    ".Arguments",
    ".Parameters",
    ".Properties",
    ".Type",
    ".Prompt",
    ".Response",
    ".Suffix",
    "$.Messages",
    "(",
    ")",
    " | ",
    "eq ",
    "ne ",
    "lt ",
    "and ",
    "or ",
    "not ",
    "len ",
    "index ",
    "slice ",
    "print ",
    "printf ",
    "\"%v %d %s %q %x\" ",
    "json ",
    "toTypeScriptType ",
    "currentDate",
    "html ",
    "js ",
    "urlquery ",
    "call ",
    "nil",
    "true",
    "1",
    "-2",
    "2.5",
    "0x10",
    "'a'",
    "\"s\"",
    "`raw`",
    "\"t\" ",
    "x",
    "\n",
    " ",
    "é",
    "🚀",
    "{{",
    "}}",
    "-",
};

TEST(GoTemplateFuzzTest, RandomTokenSoupNeverCrashes) {
    std::mt19937 rng(20261205);
    const size_t vocabulary = sizeof(kGoSoup) / sizeof(kGoSoup[0]);
    const int iterations = 4000 * fuzz_scale();
    int parsed = 0;
    for (int i = 0; i < iterations; ++i) {
        // A comment first marks the syntax, so every case reaches the Go parser.
        std::string source = "{{/* go */}}";
        const int length = 1 + static_cast<int>(rng() % 30);
        for (int t = 0; t < length; ++t) source += kGoSoup[rng() % vocabulary];
        if (exercise(source)) ++parsed;
    }
    EXPECT_GT(parsed, iterations / 50);
}

// Structured actions with random pipelines inside, so execution paths run on odd values.
TEST(GoTemplateFuzzTest, RandomPipelinesNeverCrash) {
    static const char* const kOperands[] = {
        ".",
        ".Messages",
        ".System",
        ".Tools",
        "$.Messages",
        "$",
        "1",
        "0",
        "-1",
        "2.5",
        "\"a\"",
        "nil",
        "true",
        "(len .Messages)",
        "(index .Messages 0)",
        "(slice .Messages 1)",
        "(index .Tools 0).Function.Parameters.Properties",
        "(index .Messages 2).ToolCalls",
        ".Missing",
        "(json .Tools)",
        "(printf \"%v\" .)",
    };
    static const char* const kFunctions[] = {"eq",    "ne",      "lt",       "le",
                                             "gt",    "ge",      "and",      "or",
                                             "not",   "len",     "index",    "slice",
                                             "print", "println", "printf",   "json",
                                             "html",  "js",      "urlquery", "toTypeScriptType"};
    std::mt19937 rng(7);
    const size_t n_operands = sizeof(kOperands) / sizeof(kOperands[0]);
    const size_t n_functions = sizeof(kFunctions) / sizeof(kFunctions[0]);
    const int iterations = 3000 * fuzz_scale();
    int rendered = 0;
    for (int i = 0; i < iterations; ++i) {
        std::string pipeline = kFunctions[rng() % n_functions];
        const int args = static_cast<int>(rng() % 4);
        for (int a = 0; a < args; ++a) pipeline += std::string(" ") + kOperands[rng() % n_operands];
        std::string source;
        switch (rng() % 4) {
            case 0:
                source = "{{ " + pipeline + " }}";
                break;
            case 1:
                source = "{{ if " + pipeline + " }}y{{ else }}n{{ end }}";
                break;
            case 2:
                source = "{{ range $k, $v := " + pipeline + " }}{{ $k }}={{ $v }};{{ end }}";
                break;
            default:
                source = "{{ with " + pipeline + " }}{{ . }}{{ end }}";
        }
        if (exercise(source)) ++rendered;
    }
    EXPECT_GT(rendered, iterations / 2);
}

// Every shared template, cut at every 7th byte and with bytes flipped.
TEST(GoTemplateFuzzTest, MutatedRealTemplatesNeverCrash) {
    CRIA_REQUIRE_SHARED(shared);
    const std::filesystem::path dir = shared / "golden" / "gotemplates";
    std::mt19937 rng(42);
    int cases = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".gotmpl") continue;
        const std::string source = test::read_file(entry.path());
        for (size_t cut = 0; cut < source.size(); cut += 7) {
            exercise(source.substr(0, cut));
            ++cases;
        }
        for (int m = 0; m < 50 * fuzz_scale(); ++m) {
            std::string mutated = source;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int f = 0; f < flips && !mutated.empty(); ++f) {
                mutated[rng() % mutated.size()] = static_cast<char>(" {}.$|()-\"\n"[rng() % 11]);
            }
            exercise(mutated);
            ++cases;
        }
    }
    EXPECT_GT(cases, 100);
}

}  // namespace
}  // namespace cria::chat
