#include "sampling/stop_matcher.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace cria::sampling {
namespace {

StopMatcher make_matcher(const std::vector<std::string>& stops) {
    Expected<StopMatcher> matcher = StopMatcher::create(stops);
    EXPECT_TRUE(matcher.has_value()) << matcher.status().message();
    return std::move(matcher).value();
}

// Feeds the pieces in order and collects what the client would see.
struct Transcript {
    std::string shown;
    bool stopped = false;
    int stop_index = -1;
    std::string stop;
};

Transcript run(StopMatcher& matcher, const std::vector<std::string>& pieces) {
    Transcript transcript;
    for (const std::string& piece : pieces) {
        const StopScan scan = matcher.feed(piece);
        transcript.shown += scan.text;
        if (scan.stopped) {
            EXPECT_FALSE(transcript.stopped) << "reported a second stop";
            transcript.stopped = true;
            transcript.stop_index = scan.stop_index;
            transcript.stop = scan.stop;
        }
    }
    if (!transcript.stopped) transcript.shown += matcher.finish();
    return transcript;
}

TEST(StopMatcher, FindsAStopSplitAcrossPieces) {
    StopMatcher matcher = make_matcher({"lo w"});
    StopScan scan = matcher.feed("Hel");
    EXPECT_EQ(scan.text, "He");  // "l" could start "lo w"
    EXPECT_FALSE(scan.stopped);
    EXPECT_EQ(matcher.held_bytes(), 1u);
    scan = matcher.feed("lo wor");
    EXPECT_TRUE(scan.stopped);
    EXPECT_EQ(scan.text, "l");
    EXPECT_EQ(scan.stop, "lo w");
    EXPECT_EQ(scan.stop_index, 0);
    EXPECT_TRUE(matcher.stopped());
    scan = matcher.feed("ld");
    EXPECT_TRUE(scan.text.empty());
    EXPECT_FALSE(scan.stopped);
    EXPECT_TRUE(matcher.finish().empty());
}

TEST(StopMatcher, ReleasesHeldTextOnceItCannotBeAStop) {
    StopMatcher matcher = make_matcher({"lo w"});
    EXPECT_EQ(matcher.feed("Hel").text, "He");
    EXPECT_EQ(matcher.feed("lo").text, "l");  // "lo" still could be
    EXPECT_EQ(matcher.held_bytes(), 2u);
    EXPECT_EQ(matcher.feed("!").text, "lo!");
    EXPECT_EQ(matcher.held_bytes(), 0u);
}

TEST(StopMatcher, NoStopStringsPassTextThrough) {
    StopMatcher matcher = make_matcher({});
    EXPECT_EQ(matcher.feed("Hello").text, "Hello");
    EXPECT_EQ(matcher.feed(", world").text, ", world");
    EXPECT_TRUE(matcher.finish().empty());
}

TEST(StopMatcher, StopAtTheVeryStart) {
    StopMatcher matcher = make_matcher({"Hello"});
    StopScan scan = matcher.feed("Hello world");
    EXPECT_TRUE(scan.stopped);
    EXPECT_EQ(scan.text, "");

    StopMatcher split = make_matcher({"Hello"});
    scan = split.feed("He");
    EXPECT_EQ(scan.text, "");
    EXPECT_FALSE(scan.stopped);
    scan = split.feed("llo");
    EXPECT_TRUE(scan.stopped);
    EXPECT_EQ(scan.text, "");
}

TEST(StopMatcher, MultipleStopStrings) {
    StopMatcher matcher = make_matcher({"###", "\nUser:", "</s>"});
    const Transcript transcript = run(matcher, {"The answer", " is 4.\nUs", "er: and"});
    EXPECT_TRUE(transcript.stopped);
    EXPECT_EQ(transcript.shown, "The answer is 4.");
    EXPECT_EQ(transcript.stop_index, 1);
    EXPECT_EQ(transcript.stop, "\nUser:");
}

TEST(StopMatcher, TheFirstStopToCompleteWins) {
    // "bc" completes at byte 3, "abcd" only at byte 4: generation stops at "bc" whether the text
    // arrives in one piece or byte by byte.
    StopMatcher whole = make_matcher({"abcd", "bc"});
    StopScan scan = whole.feed("xabcd");
    EXPECT_TRUE(scan.stopped);
    EXPECT_EQ(scan.text, "xa");
    EXPECT_EQ(scan.stop_index, 1);
    StopMatcher bytes = make_matcher({"abcd", "bc"});
    const Transcript transcript = run(bytes, {"x", "a", "b", "c", "d"});
    EXPECT_EQ(transcript.shown, "xa");
    EXPECT_EQ(transcript.stop_index, 1);
}

TEST(StopMatcher, SameEndPrefersTheEarlierStart) {
    StopMatcher matcher = make_matcher({"cd", "bcd"});
    const StopScan scan = matcher.feed("abcde");
    EXPECT_TRUE(scan.stopped);
    EXPECT_EQ(scan.text, "a");
    EXPECT_EQ(scan.stop, "bcd");
    EXPECT_EQ(scan.stop_index, 1);
}

TEST(StopMatcher, OverlappingPrefixes) {
    StopMatcher matcher = make_matcher({"aab"});
    const Transcript transcript = run(matcher, {"a", "a", "a", "b", "zzz"});
    EXPECT_TRUE(transcript.stopped);
    EXPECT_EQ(transcript.shown, "a");
}

TEST(StopMatcher, HeldPrefixIsReleasedByFinish) {
    StopMatcher matcher = make_matcher({"END"});
    EXPECT_EQ(matcher.feed("the EN").text, "the ");
    EXPECT_EQ(matcher.finish(), "EN");
    EXPECT_TRUE(matcher.feed("more").text.empty());  // finished
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
    StopMatcher matcher = make_matcher({"", "stop"});
    const StopScan scan = matcher.feed("go on stop");
    EXPECT_TRUE(scan.stopped);
    EXPECT_EQ(scan.text, "go on ");
    EXPECT_EQ(scan.stop_index, 1);
}

TEST(StopMatcher, Utf8StopSplitInsideACharacter) {
    // "世界" is E4 B8 96 E7 95 8C; pieces split the bytes of both characters.
    const std::string text = "你好世界!";
    StopMatcher matcher = make_matcher({"世界"});
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size(); i += 2) pieces.push_back(text.substr(i, 2));
    const Transcript transcript = run(matcher, pieces);
    EXPECT_TRUE(transcript.stopped);
    EXPECT_EQ(transcript.shown, "你好");
}

TEST(StopMatcher, IncompleteUtf8IsHeldBack) {
    StopMatcher matcher = make_matcher({});
    EXPECT_EQ(matcher.feed("caf\xC3").text, "caf");
    EXPECT_EQ(matcher.held_bytes(), 1u);
    EXPECT_EQ(matcher.feed("\xA9 ok").text, "\xC3\xA9 ok");
    // A four-byte emoji (F0 9F 98 80) arriving one byte at a time.
    EXPECT_EQ(matcher.feed("\xF0").text, "");
    EXPECT_EQ(matcher.feed("\x9F").text, "");
    EXPECT_EQ(matcher.feed("\x98").text, "");
    EXPECT_EQ(matcher.feed("\x80").text, "\xF0\x9F\x98\x80");
    // At the end, whatever is held goes out as it is.
    EXPECT_EQ(matcher.feed("x\xE4\xB8").text, "x");
    EXPECT_EQ(matcher.finish(), "\xE4\xB8");
}

TEST(StopMatcher, Utf8CompletePrefix) {
    EXPECT_EQ(utf8_complete_prefix("abc", 3), 3u);
    EXPECT_EQ(utf8_complete_prefix("ab\xC3", 3), 2u);
    EXPECT_EQ(utf8_complete_prefix("ab\xC3\xA9", 4), 4u);
    EXPECT_EQ(utf8_complete_prefix("\xE4\xB8", 2), 0u);
    EXPECT_EQ(utf8_complete_prefix("\xE4\xB8\x96", 3), 3u);
    EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\x98", 4), 1u);
    // Invalid bytes are not held: more input could never make them valid.
    EXPECT_EQ(utf8_complete_prefix("a\xFF", 2), 2u);
    EXPECT_EQ(utf8_complete_prefix("a\x80\x80\x80\x80", 5), 5u);
    EXPECT_EQ(utf8_complete_prefix("ab\xC3\xA9", 3), 2u);  // `end` inside the string
}

// Reference: the first byte at which any stop string completes, by brute force.
Transcript reference(const std::string& text, const std::vector<std::string>& stops) {
    for (size_t end = 1; end <= text.size(); ++end) {
        int best = -1;
        for (size_t i = 0; i < stops.size(); ++i) {
            const std::string& stop = stops[i];
            if (stop.empty() || stop.size() > end) continue;
            if (text.compare(end - stop.size(), stop.size(), stop) != 0) continue;
            if (best < 0 || stop.size() > stops[static_cast<size_t>(best)].size()) {
                best = static_cast<int>(i);
            }
        }
        if (best >= 0) {
            return {text.substr(0, end - stops[static_cast<size_t>(best)].size()), true, best,
                    stops[static_cast<size_t>(best)]};
        }
    }
    return {text, false, -1, ""};
}

TEST(StopMatcher, AgreesWithBruteForceOnRandomSplits) {
    std::mt19937 rng(2718);
    const std::string alphabet = "ab c";
    std::uniform_int_distribution<size_t> letter(0, alphabet.size() - 1);
    std::uniform_int_distribution<int> length(0, 40);
    std::uniform_int_distribution<int> stop_length(1, 4);
    std::uniform_int_distribution<int> stop_count(0, 4);
    std::uniform_int_distribution<int> piece_length(1, 5);
    int stopped_cases = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string text;
        for (int i = length(rng); i > 0; --i) text += alphabet[letter(rng)];
        std::vector<std::string> stops;
        for (int s = stop_count(rng); s > 0; --s) {
            std::string stop;
            for (int i = stop_length(rng); i > 0; --i) stop += alphabet[letter(rng)];
            stops.push_back(stop);
        }
        std::vector<std::string> pieces;
        for (size_t at = 0; at < text.size();) {
            const size_t n = std::min(text.size() - at, static_cast<size_t>(piece_length(rng)));
            pieces.push_back(text.substr(at, n));
            at += n;
        }
        StopMatcher matcher = make_matcher(stops);
        const Transcript got = run(matcher, pieces);
        const Transcript want = reference(text, stops);
        ASSERT_EQ(got.shown, want.shown) << "text '" << text << "' trial " << trial;
        ASSERT_EQ(got.stopped, want.stopped) << "text '" << text << "'";
        if (want.stopped) {
            ++stopped_cases;
            // Duplicated stop strings may report either index; the string is what matters.
            EXPECT_EQ(got.stop, want.stop);
        }
    }
    EXPECT_GT(stopped_cases, 500);  // the trials exercise both outcomes
}

TEST(StopMatcher, Limits) {
    EXPECT_TRUE(validate_stop_strings({"a", "b", "c", "d"}).is_ok());
    const Status too_many = validate_stop_strings({"a", "b", "c", "d", "e"});
    ASSERT_FALSE(too_many.is_ok());
    EXPECT_NE(too_many.message().find("4"), std::string::npos) << too_many.message();
    // The matcher itself accepts more than OpenAI's 4 (Ollama has no limit) up to its own cap.
    EXPECT_TRUE(StopMatcher::create({"a", "b", "c", "d", "e"}).has_value());
    EXPECT_FALSE(
        StopMatcher::create(std::vector<std::string>(kMaxStopStrings + 1, "x")).has_value());
    EXPECT_FALSE(StopMatcher::create({std::string(kMaxStopStringBytes + 1, 'x')}).has_value());
    EXPECT_TRUE(StopMatcher::create({std::string(kMaxStopStringBytes, 'x')}).has_value());
}

TEST(StopMatcher, LongStopStringsStayLinear) {
    // Long stop strings of one repeated letter and text that keeps almost matching them, one byte
    // per feed: the held tail grows to thousands of bytes, yet each byte is read once per stop
    // string (rescanning the tail on every feed would take hours here).
    const std::string all_a(kMaxStopStringBytes, 'a');
    const std::string almost = std::string(kMaxStopStringBytes - 1, 'a') + "b";
    StopMatcher matcher = make_matcher({all_a, almost});
    size_t shown = 0;
    for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i + 1 < kMaxStopStringBytes; ++i) shown += matcher.feed("a").text.size();
        EXPECT_EQ(matcher.held_bytes(), kMaxStopStringBytes - 1);
        shown += matcher.feed("c").text.size();
    }
    EXPECT_EQ(shown, 50u * kMaxStopStringBytes);
    EXPECT_FALSE(matcher.stopped());
    EXPECT_TRUE(matcher.feed(all_a).stopped);
}

}  // namespace
}  // namespace cria::sampling
