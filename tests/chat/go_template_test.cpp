// The Go-template engine: text/template's syntax and semantics as Ollama uses them, the values
// Ollama gives templates, its legacy Prompt/Response driving, syntax detection, errors that
// name the line, and the sandbox caps.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.h"

namespace cria::chat {
namespace {

using json = nlohmann::ordered_json;

json conversation(std::initializer_list<std::pair<const char*, const char*>> turns) {
    json messages = json::array();
    for (const auto& [role, content] : turns)
        messages.push_back({{"role", role}, {"content", content}});
    return json{{"messages", messages}};
}

// Renders as a Go template: the leading comment marks the syntax, since some of these small
// templates would read as Jinja too.
std::string render(const std::string& source, const json& context = json::object(),
                   const RenderOptions& options = {}) {
    Expected<ChatTemplate> tmpl = ChatTemplate::parse("{{/* go */}}" + source);
    if (!tmpl.has_value()) return "PARSE: " + tmpl.status().message();
    EXPECT_EQ(tmpl->syntax(), TemplateSyntax::kGo) << source;
    Expected<std::string> out = tmpl->render(context, options);
    if (!out.has_value()) return "RENDER: " + out.status().message();
    return *out;
}

const json kChat =
    conversation({{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}});

TEST(GoTemplateTest, TrimMarkersAndComments) {
    // Templates that name .Messages render once (legacy ones render per turn; tested below).
    const std::string once = "{{ if .Messages }}{{ end }}";
    EXPECT_EQ(render(once + "a  {{- .System -}}  b{{/* gone */}}c {{- /* trimmed */ -}} d", kChat),
              "aSbcd");
    EXPECT_EQ(render(once + "{{ .System }}{{-3}}", kChat), "S-3");
}

TEST(GoTemplateTest, RangeWithIndexLastAndElse) {
    const std::string source =
        "{{ range $i, $m := .Messages }}{{ $i }}:{{ $m.Role }}"
        "{{ if eq (len (slice $.Messages $i)) 1 }}!{{ else }},{{ end }}{{ end }}";
    EXPECT_EQ(render(source, kChat), "0:system,1:user,2:assistant,3:user!");
    EXPECT_EQ(render("{{ range .Messages }}x{{ else }}none{{ end }}", conversation({})), "none");
    EXPECT_EQ(render("{{ range 3 }}{{ . }}{{ end }}"), "012");
}

TEST(GoTemplateTest, BreakContinueAndAssignment) {
    const std::string source =
        "{{ $n := 0 }}{{ range .Messages }}{{ if eq .Role \"system\" }}{{ continue }}{{ end }}"
        "{{ $n = len .Content }}{{ if eq .Role \"assistant\" }}{{ break }}{{ end }}{{ .Content }}"
        "{{ end }}/{{ $n }}";
    EXPECT_EQ(render(source, kChat), "U1/2");
}

TEST(GoTemplateTest, ElseIfWithAndVariablesScope) {
    const std::string source =
        "{{ range .Messages }}{{ if eq .Role \"user\" }}U{{ else if eq .Role \"assistant\" }}A"
        "{{ else }}S{{ end }}{{ end }}{{ with .System }}[{{ . }}]{{ else }}no{{ end }}";
    EXPECT_EQ(render(source, kChat), "SUAU[S]");
    Expected<ChatTemplate> bad =
        ChatTemplate::parse("{{ if .System }}{{ $x := 1 }}{{ end }}{{ $x }}");
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.status().message().find("undefined variable \"$x\""), std::string::npos);
}

TEST(GoTemplateTest, LogicComparisonsAndPrinting) {
    EXPECT_EQ(render("{{ and 1 0 2 }} {{ or 0 \"\" \"x\" }} {{ not .Tools }}{{ .Messages | len }}",
                     kChat),
              "0 x true4");
    EXPECT_EQ(render("{{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }} {{ lt 1 2 }} {{ ge 2.5 2.5 }}"),
              "true true true true");
    EXPECT_EQ(render("{{ printf \"%s=%d %5.2f|%-4s|%q %v\" \"n\" 42 3.14159 \"ab\" \"q\" true }}"),
              "n=42  3.14|ab  |\"q\" true");
    EXPECT_EQ(render("{{ print 1 2 \"a\" 3 }}|{{ println \"x\" 1 }}"), "1 2a3|x 1\n");
    EXPECT_EQ(render("{{ printf \"%d\" \"s\" }} {{ printf \"%s\" }} {{ printf \"x\" 1 }}"),
              "%!d(string=s) %!s(MISSING) x%!(EXTRA int=1)");
    EXPECT_EQ(render("{{ html \"<a href='x'>&\" }} {{ js \"it's <b>\" }} {{ urlquery \"a b&c\" }}"),
              "&lt;a href=&#39;x&#39;&gt;&amp; it\\'s \\u003Cb\\u003E a+b%26c");
    EXPECT_EQ(render("{{ 1.5 }} {{ 1e6 }} {{ 0.000001 }} {{ 'a' }} {{ 0x1F }}"),
              "1.5 1e+06 1e-06 97 31");
    EXPECT_EQ(render("{{ index .Messages 1 | printf \"%v\" }}", kChat), "{user U1  [] []  }");
    const std::string compare_error = render("{{ eq 1 1.0 }}");
    EXPECT_NE(compare_error.find("incompatible types for comparison"), std::string::npos)
        << compare_error;
}

TEST(GoTemplateTest, MissingNamesPrintNoValueAndAreFalse) {
    // Messages mode provides no .Prompt: false in `if`, "<no value>" when printed.
    EXPECT_EQ(render("{{ .Messages | len }}{{ if .Prompt }}p{{ end }}{{ .Prompt }}", kChat),
              "4<no value>");
    const std::string error = render("{{ .Messages }}{{ (index .Messages 0).Nope }}", kChat);
    EXPECT_NE(error.find("can't evaluate field Nope"), std::string::npos) << error;
}

TEST(GoTemplateTest, DefineTemplateAndBlock) {
    const std::string source =
        "{{ define \"turn\" }}<{{ .Role }}>{{ .Content }}{{ end }}"
        "{{ range .Messages }}{{ template \"turn\" . }}{{ end }}{{ block \"tail\" .System }}[{{ . "
        "}}]{{ end }}";
    EXPECT_EQ(render(source, kChat), "<system>S<user>U1<assistant>A1<user>U2[S]");
}

TEST(GoTemplateTest, ToolsAndArgumentsPrintAsOllamaDoes) {
    json context = conversation({{"user", "weather?"}});
    context["messages"].push_back(
        {{"role", "assistant"},
         {"content", ""},
         {"tool_calls",
          {{{"type", "function"},
            {"function", {{"name", "get"}, {"arguments", R"({"b":1,"a":"x<y"})"}}}}}}});
    context["tools"] = json::array(
        {{{"type", "function"},
          {"function",
           {{"name", "get"},
            {"description", "d"},
            {"parameters",
             {{"type", "object"},
              {"required", {"city"}},
              {"properties",
               {{"unit", {{"type", {"string", "null"}}, {"enum", {"c", "f"}}, {"default", "c"}}},
                {"city", {{"type", "string"}, {"description", "where"}}}}}}}}}}});
    const std::string source =
        "{{ range .Tools }}{{ . }}|{{ .Function.Parameters.Properties }}|"
        "{{ range $k, $v := .Function.Parameters.Properties }}{{ $k }}:{{ $v.Type }}:"
        "{{ toTypeScriptType $v }};{{ end }}{{ end }}"
        "{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments }}"
        "{{ range $k, $v := .Function.Arguments }} {{ $k }}={{ $v }}{{ end }}"
        "{{ json .Function.Name }}{{ end }}{{ end }}";
    EXPECT_EQ(
        render(source, context),
        "{\"type\":\"function\",\"function\":{\"name\":\"get\",\"description\":\"d\","
        "\"parameters\":"
        "{\"type\":\"object\",\"required\":[\"city\"],\"properties\":{\"city\":{\"type\":"
        "\"string\","
        "\"description\":\"where\"},\"unit\":{\"type\":[\"string\",\"null\"],\"enum\":[\"c\",\"f\"]"
        "}}}}}"
        "|{\"city\":{\"type\":\"string\",\"description\":\"where\"},\"unit\":{\"type\":[\"string\","
        "\"null\"],\"enum\":[\"c\",\"f\"]}}|city:string:string;unit:[string null]:string | null;"
        "{\"a\":\"x\\u003cy\",\"b\":1} a=x<y b=1\"get\"");
}

TEST(GoTemplateTest, LargeArgumentObjectsConvertInLinearTime) {
    // 100k keys (some repeated: the last wins, as Go's decoder keeps it) would take minutes
    // with a quadratic map.
    std::string arguments = "{";
    for (int i = 0; i < 100000; ++i) arguments += "\"k" + std::to_string(i % 60000) + "\":1,";
    arguments += "\"k0\":2}";
    json context = conversation({});
    context["messages"].push_back(
        {{"role", "assistant"},
         {"content", ""},
         {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", arguments}}}}}}});
    EXPECT_EQ(render("{{ range .Messages }}{{ range .ToolCalls }}{{ len .Function.Arguments }} "
                     "{{ index .Function.Arguments \"k0\" }}{{ end }}{{ end }}",
                     context),
              "60000 2");
}

TEST(GoTemplateTest, LegacyTemplatesRenderPerTurnAndCutAfterResponse) {
    // No Messages: one render per turn; the last render stops right after .Response.
    const std::string source = "[{{ .System }}|{{ .Prompt }}]{{ .Response }}</s>";
    EXPECT_EQ(render(source, kChat), "[S|U1]A1</s>[|U2]");
    // A trailing assistant message is a prefill.
    EXPECT_EQ(render(source, conversation({{"user", "U"}, {"assistant", "Pre"}})), "[|U]Pre");
    // Without .Response in the template, it is appended.
    EXPECT_EQ(
        render("<{{ .Prompt }}>", conversation({{"user", "a"}, {"assistant", "b"}, {"user", "c"}})),
        "<a>b<c>");
    // Fill-in-the-middle sees only Prompt and Suffix.
    EXPECT_EQ(
        render("{{ if .Suffix }}P{{ .Prompt }}S{{ .Suffix }}M{{ else }}{{ .Prompt }}{{ end }}",
               json{{"messages", json::array()}, {"prompt", "a"}, {"suffix", "b"}}),
        "PaSbM");
}

TEST(GoTemplateTest, CollatesConsecutiveRolesAndJoinsSystems) {
    const json context = conversation({{"system", "A"},
                                       {"user", "x"},
                                       {"user", "y"},
                                       {"system", "B"},
                                       {"tool", "t1"},
                                       {"tool", "t2"}});
    EXPECT_EQ(
        render("{{ .System }}|{{ range .Messages }}{{ .Role }}={{ .Content }};{{ end }}", context),
        "A\n\nB|system=A;user=x\n\ny;system=B;tool=t1;tool=t2;");
}

TEST(GoTemplateTest, ThinkValues) {
    json context = conversation({{"user", "q"}});
    EXPECT_EQ(render("{{ .Think }}{{ .IsThinkSet }}{{ .ThinkLevel }}{{ range .Messages }}{{ end }}",
                     context),
              "falsefalse");
    context["enable_thinking"] = true;
    EXPECT_EQ(render("{{ .Think }}{{ .IsThinkSet }}{{ range .Messages }}{{ end }}", context),
              "truetrue");
}

TEST(GoTemplateTest, DatesComeFromTheFixedNow) {
    RenderOptions options;
    options.now = *parse_datetime("2026-03-01T08:00:00");
    EXPECT_EQ(
        render("{{ currentDate }} {{ yesterdayDate }}{{ .Messages }}", conversation({}), options),
        "2026-03-01 2026-02-28[]");
}

TEST(GoTemplateTest, DetectsSyntax) {
    EXPECT_EQ(detect_template_syntax("{{ .Prompt }}"), TemplateSyntax::kGo);
    EXPECT_EQ(detect_template_syntax("{{- range .Messages }}x{{ end }}"), TemplateSyntax::kGo);
    EXPECT_EQ(detect_template_syntax("{{ printf \"%s\" .Prompt }}"), TemplateSyntax::kGo);
    EXPECT_EQ(detect_template_syntax("{{ \"x\" }}{{ else }}"), TemplateSyntax::kGo);
    EXPECT_EQ(detect_template_syntax("{{ range is callable }}{{ \" .Name\" }}"),
              TemplateSyntax::kJinja);
    EXPECT_EQ(detect_template_syntax("{% for m in messages %}{{ m.content }}{% endfor %}"),
              TemplateSyntax::kJinja);
    EXPECT_EQ(detect_template_syntax("{{ bos_token }}{{ messages[0]['content'] }}"),
              TemplateSyntax::kJinja);
    EXPECT_EQ(detect_template_syntax("plain text"), TemplateSyntax::kJinja);
    EXPECT_STREQ(template_syntax_name(TemplateSyntax::kGo), "go");
}

TEST(GoTemplateTest, SyntaxErrorsNameTheLine) {
    for (const char* source : {"line one\n{{ if .System }}unclosed", "a\nb\n{{ .System | }}",
                               "{{ range .Messages }}\n{{ end }}{{ end }}", "x\n{{ nosuchfn .X }}",
                               "{{ .A }}\n{{ \"unterminated }}", "{{ .A }}{{ break }}"}) {
        Expected<ChatTemplate> tmpl = ChatTemplate::parse(source);
        ASSERT_FALSE(tmpl.has_value()) << source;
        EXPECT_EQ(tmpl.status().code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(tmpl.status().message().find("(line "), std::string::npos)
            << tmpl.status().message();
        EXPECT_EQ(tmpl.status().message().rfind("template: ", 0), 0u) << tmpl.status().message();
    }
}

TEST(GoTemplateTest, CapsLoopsOutputAndRecursion) {
    RenderOptions options;
    options.max_loop_iterations = 1000;
    Expected<ChatTemplate> loops = ChatTemplate::parse("{{ range 100000 }}{{ end }}");
    ASSERT_TRUE(loops.has_value());
    EXPECT_EQ(loops->render(json::object(), options).status().code(),
              ErrorCode::kResourceExhausted);

    options = {};
    options.max_output_bytes = 100;
    Expected<ChatTemplate> big = ChatTemplate::parse("{{ range 1000 }}0123456789{{ end }}");
    ASSERT_TRUE(big.has_value());
    EXPECT_EQ(big->render(json::object(), options).status().code(), ErrorCode::kResourceExhausted);

    Expected<ChatTemplate> recursive = ChatTemplate::parse(
        "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" .Messages }}");
    ASSERT_TRUE(recursive.has_value());
    EXPECT_EQ(recursive->render(json::object()).status().code(), ErrorCode::kResourceExhausted);

    // Deep nesting is refused at parse time rather than overflowing the stack.
    std::string deep;
    for (int i = 0; i < 5000; ++i) deep += "{{ if .A }}";
    EXPECT_FALSE(ChatTemplate::parse(deep).has_value());
    std::string parens = "{{ print ";
    for (int i = 0; i < 5000; ++i) parens += "(print ";
    EXPECT_FALSE(ChatTemplate::parse(parens).has_value());
}

}  // namespace
}  // namespace cria::chat
