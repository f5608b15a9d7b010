// The public API around the engine: status codes, thread safety, key order, time handling,
// source normalization and rendering speed on long conversations.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"

namespace cria::chat {
namespace {

using Json = nlohmann::ordered_json;

// A ChatML template in the style of Qwen's, exercising loops, conditions and filters.
const char* const kChatMl = R"({%- for message in messages %}
    {%- if message.role == 'system' and not loop.first %}
        {{- raise_exception('system messages must come first') }}
    {%- endif %}
    {{- '<|im_start|>' + message.role + '\n' + message.content | trim + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %})";

Json conversation(int turns) {
    Json messages = Json::array();
    messages.push_back({{"role", "system"}, {"content", "You are terse."}});
    for (int i = 0; i < turns; ++i) {
        messages.push_back({{"role", i % 2 == 0 ? "user" : "assistant"},
                            {"content", "  message number " + std::to_string(i) + "  "}});
    }
    return {{"messages", messages}, {"add_generation_prompt", true}};
}

std::string expected_chatml(int turns) {
    std::string out = "<|im_start|>system\nYou are terse.<|im_end|>\n";
    for (int i = 0; i < turns; ++i) {
        out += std::string("<|im_start|>") + (i % 2 == 0 ? "user" : "assistant") +
               "\nmessage number " + std::to_string(i) + "<|im_end|>\n";
    }
    return out + "<|im_start|>assistant\n";
}

TEST(ChatTemplateTest, RendersAConversation) {
    auto tmpl = ChatTemplate::parse(kChatMl);
    ASSERT_TRUE(tmpl.has_value()) << tmpl.status().message();
    auto rendered = tmpl->render(conversation(3));
    ASSERT_TRUE(rendered.has_value()) << rendered.status().message();
    EXPECT_EQ(*rendered, expected_chatml(3));
}

TEST(ChatTemplateTest, RaisedErrorsKeepTheTemplateMessage) {
    auto tmpl = ChatTemplate::parse(kChatMl);
    ASSERT_TRUE(tmpl.has_value());
    Json context = conversation(2);
    context["messages"].push_back({{"role", "system"}, {"content", "late"}});
    auto rendered = tmpl->render(context);
    ASSERT_FALSE(rendered.has_value());
    EXPECT_EQ(rendered.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(rendered.status().message(), "TemplateError: system messages must come first");
}

TEST(ChatTemplateTest, OneParsedTemplateRendersOnManyThreads) {
    auto tmpl = ChatTemplate::parse(kChatMl);
    ASSERT_TRUE(tmpl.has_value());
    const ChatTemplate& shared = *tmpl;
    const std::string expected = expected_chatml(20);
    std::vector<int> mismatches(8, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            const Json context = conversation(20);
            for (int i = 0; i < 50; ++i) {
                auto rendered = shared.render(context);
                if (!rendered || *rendered != expected) ++mismatches[t];
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (int count : mismatches) EXPECT_EQ(count, 0);
}

TEST(ChatTemplateTest, KeepsObjectKeyOrder) {
    auto tmpl = ChatTemplate::parse(
        "{{ tool|tojson }}|{% for k, v in tool.items() %}{{ k }}{% endfor %}|{{ tool }}");
    ASSERT_TRUE(tmpl.has_value());
    const Json context = Json::parse(R"({"tool": {"zeta": 1, "alpha": {"y": 2, "b": 3}}})");
    auto rendered = tmpl->render(context);
    ASSERT_TRUE(rendered.has_value()) << rendered.status().message();
    EXPECT_EQ(*rendered,
              "{\"zeta\": 1, \"alpha\": {\"y\": 2, \"b\": 3}}|zetaalpha|"
              "{'zeta': 1, 'alpha': {'y': 2, 'b': 3}}");
}

TEST(ChatTemplateTest, AcceptsAPlainJsonContext) {
    auto tmpl = ChatTemplate::parse("{{ a }}{{ b }}");
    ASSERT_TRUE(tmpl.has_value());
    const nlohmann::json plain = {{"a", 1}, {"b", "x"}};
    auto rendered = tmpl->render(plain);
    ASSERT_TRUE(rendered.has_value());
    EXPECT_EQ(*rendered, "1x");
}

TEST(ChatTemplateTest, RejectsANonObjectContext) {
    auto tmpl = ChatTemplate::parse("x");
    ASSERT_TRUE(tmpl.has_value());
    auto rendered = tmpl->render(Json::array());
    ASSERT_FALSE(rendered.has_value());
    EXPECT_EQ(rendered.status().code(), ErrorCode::kInvalidArgument);
}

TEST(ChatTemplateTest, NormalizesNewlinesAndDropsOneTrailingNewline) {
    auto tmpl = ChatTemplate::parse("a\r\nb\rc\n\n");
    ASSERT_TRUE(tmpl.has_value());
    EXPECT_EQ(tmpl->source(), "a\nb\nc\n");
    auto rendered = tmpl->render(Json::object());
    ASSERT_TRUE(rendered.has_value());
    EXPECT_EQ(*rendered, "a\nb\nc\n");
}

TEST(ChatTemplateTest, StrftimeNowUsesTheFixedTime) {
    auto tmpl =
        ChatTemplate::parse(R"({{ strftime_now("%d %b %Y, %A %H:%M:%S %j %U %W %V %G") }})");
    ASSERT_TRUE(tmpl.has_value());
    RenderOptions options;
    auto now = parse_datetime("2026-07-26T12:00:00");
    ASSERT_TRUE(now.has_value());
    options.now = *now;
    auto rendered = tmpl->render(Json::object(), options);
    ASSERT_TRUE(rendered.has_value()) << rendered.status().message();
    // Values from Python's datetime(2026, 7, 26, 12).strftime(...).
    EXPECT_EQ(*rendered, "26 Jul 2026, Sunday 12:00:00 207 30 29 30 2026");

    options.now = DateTime{2021, 1, 1, 23, 5, 9, 0};  // ISO week 53 of 2020
    auto tmpl2 = ChatTemplate::parse(R"({{ strftime_now("%G-W%V-%u %I%p %-d/%-m %y %C %e") }})");
    ASSERT_TRUE(tmpl2.has_value());
    rendered = tmpl2->render(Json::object(), options);
    ASSERT_TRUE(rendered.has_value());
    EXPECT_EQ(*rendered, "2020-W53-5 11PM 1/1 21 20  1");
}

TEST(ChatTemplateTest, StrftimeNowDefaultsToTheCurrentTime) {
    auto tmpl = ChatTemplate::parse(R"({{ strftime_now("%Y") }})");
    ASSERT_TRUE(tmpl.has_value());
    auto rendered = tmpl->render(Json::object());
    ASSERT_TRUE(rendered.has_value());
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    EXPECT_EQ(*rendered, std::to_string(local.tm_year + 1900));
}

TEST(ChatTemplateTest, ParsesDateTimes) {
    auto full = parse_datetime("2026-07-26 08:09:10.25");
    ASSERT_TRUE(full.has_value());
    EXPECT_EQ(full->year, 2026);
    EXPECT_EQ(full->month, 7);
    EXPECT_EQ(full->day, 26);
    EXPECT_EQ(full->hour, 8);
    EXPECT_EQ(full->minute, 9);
    EXPECT_EQ(full->second, 10);
    EXPECT_EQ(full->microsecond, 250000);
    EXPECT_TRUE(parse_datetime("2024-02-29").has_value());
    EXPECT_FALSE(parse_datetime("2023-02-29").has_value());
    EXPECT_FALSE(parse_datetime("2026-13-01T00:00:00").has_value());
    EXPECT_FALSE(parse_datetime("2026-07-26T24:00:00").has_value());
    EXPECT_FALSE(parse_datetime("yesterday").has_value());
    EXPECT_FALSE(parse_datetime("2026-07-26T12:00:00Z").has_value());
}

TEST(ChatTemplateTest, LongConversationsRenderQuickly) {
    auto tmpl = ChatTemplate::parse(kChatMl);
    ASSERT_TRUE(tmpl.has_value());
    const Json context = conversation(5000);
    const auto start = std::chrono::steady_clock::now();
    auto rendered = tmpl->render(context);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(rendered.has_value()) << rendered.status().message();
    EXPECT_EQ(*rendered, expected_chatml(5000));
    EXPECT_LT(seconds, 1.0);
}

}  // namespace
}  // namespace cria::chat
