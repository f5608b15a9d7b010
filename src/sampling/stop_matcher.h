// Finds the request's stop strings in generated text that arrives piece by piece.
//
// The server feeds each piece of detokenized text as it is produced. feed() returns the part that
// can be shown to the client now and holds back
//   - the longest tail that could still grow into a stop string (so a stop string split across
//     tokens, "Hel" + "lo wor" + "ld" with stop "lo w", is still found and never shown), and
//   - an incomplete UTF-8 sequence at the very end (a byte-level token may end mid-character),
//     so every piece handed out is whole characters.
// When a stop string completes, feed() returns the text before it and reports the stop; the stop
// text itself is never returned and later feeds return nothing. When generation ends for another
// reason (end-of-sequence token, token limit), finish() releases what is still held back.
//
// With several stop strings, generation stops where the first one completes in the text (the
// earliest end); if two complete at the same place, the one that starts earlier wins. This does
// not depend on how the text was split into pieces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cria::sampling {

// OpenAI accepts "up to 4" stop sequences; Ollama sets no limit, so the matcher's own cap is a
// generous bound that only keeps a hostile request from making every step slow.
inline constexpr size_t kOpenAiMaxStopStrings = 4;
inline constexpr size_t kMaxStopStrings = 64;
inline constexpr size_t kMaxStopStringBytes = 4096;

// At most `max_count` strings of at most kMaxStopStringBytes bytes each. Empty strings are
// allowed here and ignored by the matcher (they would otherwise stop before the first token).
Status validate_stop_strings(const std::vector<std::string>& stops,
                             size_t max_count = kOpenAiMaxStopStrings);

struct StopScan {
    // Text that is safe to show now; when `stopped`, the remaining text before the stop string.
    std::string text;
    bool stopped = false;
    // When stopped: the index into the list given to create() and the string that matched.
    int stop_index = -1;
    std::string stop;
};

class StopMatcher {
  public:
    // Validates with validate_stop_strings(stops, kMaxStopStrings); a server speaking the OpenAI
    // API should call validate_stop_strings(stops) with the OpenAI limit first.
    static Expected<StopMatcher> create(const std::vector<std::string>& stops);

    StopScan feed(std::string_view text);
    // Everything still held back (possibly an incomplete UTF-8 tail, returned as is). Empty after
    // a stop. The matcher reports nothing further afterwards.
    std::string finish();

    bool stopped() const { return stopped_; }
    // Bytes currently held back.
    size_t held_bytes() const { return pending_.size(); }

  private:
    StopMatcher() = default;

    // One stop string with its Knuth-Morris-Pratt automaton: the matcher reads every byte once
    // per stop string, whatever the stop strings and the pieces look like.
    struct Pattern {
        std::string text;              // non-empty
        int index = 0;                 // position in the list given to create()
        std::vector<uint32_t> border;  // [text.size()] longest proper border of text[0, i]
        uint32_t matched = 0;          // longest prefix of text that ends the text seen so far
    };

    std::vector<Pattern> patterns_;
    std::string pending_;  // received but not yet returned
    bool stopped_ = false;
    bool finished_ = false;
};

// The largest n <= end such that text[0, n) does not end inside an incomplete UTF-8 sequence.
// Invalid bytes count as complete (they are not a sequence that more bytes could finish).
size_t utf8_complete_prefix(std::string_view text, size_t end);

}  // namespace cria::sampling
