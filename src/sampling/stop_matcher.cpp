#include "sampling/stop_matcher.h"

#include <algorithm>

namespace cria::sampling {

size_t utf8_complete_prefix(std::string_view text, size_t end) {
    end = std::min(end, text.size());
    // Walk back over at most three continuation bytes to the byte that starts the last sequence.
    size_t start = end;
    for (int continuation = 0; start > 0 && continuation <= 3; ++continuation) {
        const auto byte = static_cast<unsigned char>(text[start - 1]);
        if ((byte & 0xC0) != 0x80) {
            size_t length = 1;  // ASCII, and invalid lead bytes (0xF8..0xFF) stand alone
            if (byte >= 0xC2 && byte <= 0xDF) length = 2;
            if (byte >= 0xE0 && byte <= 0xEF) length = 3;
            if (byte >= 0xF0 && byte <= 0xF4) length = 4;
            const size_t present = end - (start - 1);
            return present < length ? start - 1 : end;
        }
        --start;
    }
    // Only continuation bytes at the tail: nothing can complete them.
    return end;
}

Status validate_stop_strings(const std::vector<std::string>& stops, size_t max_count) {
    if (stops.size() > max_count) {
        return invalid_argument("stop: at most " + std::to_string(max_count) +
                                " stop strings are allowed, got " + std::to_string(stops.size()));
    }
    for (size_t i = 0; i < stops.size(); ++i) {
        if (stops[i].size() > kMaxStopStringBytes) {
            return invalid_argument("stop: string " + std::to_string(i) + " is " +
                                    std::to_string(stops[i].size()) + " bytes long; the limit is " +
                                    std::to_string(kMaxStopStringBytes));
        }
    }
    return Status::ok();
}

Expected<StopMatcher> StopMatcher::create(const std::vector<std::string>& stops) {
    CRIA_RETURN_IF_ERROR(validate_stop_strings(stops, kMaxStopStrings));
    StopMatcher matcher;
    for (size_t i = 0; i < stops.size(); ++i) {
        if (stops[i].empty()) continue;
        Pattern pattern;
        pattern.text = stops[i];
        pattern.index = static_cast<int>(i);
        const std::string& text = pattern.text;
        pattern.border.assign(text.size(), 0);
        uint32_t border = 0;
        for (size_t k = 1; k < text.size(); ++k) {
            while (border > 0 && text[k] != text[border]) border = pattern.border[border - 1];
            if (text[k] == text[border]) ++border;
            pattern.border[k] = border;
        }
        matcher.patterns_.push_back(std::move(pattern));
    }
    return matcher;
}

StopScan StopMatcher::feed(std::string_view text) {
    StopScan scan;
    if (stopped_ || finished_) return scan;
    const size_t first_new = pending_.size();
    pending_.append(text);

    for (size_t position = first_new; position < pending_.size(); ++position) {
        const char byte = pending_[position];
        const Pattern* completed = nullptr;
        for (Pattern& pattern : patterns_) {
            uint32_t matched = pattern.matched;
            while (matched > 0 && pattern.text[matched] != byte) {
                matched = pattern.border[matched - 1];
            }
            if (pattern.text[matched] == byte) ++matched;
            pattern.matched = matched;
            // Several strings ending at this byte: the longest one starts first.
            if (matched == pattern.text.size() &&
                (completed == nullptr || pattern.text.size() > completed->text.size())) {
                completed = &pattern;
            }
        }
        if (completed != nullptr) {
            // Text before the stop string was held back as long as the string could still
            // complete, so the whole stop string lies inside pending_.
            const size_t stop_start = position + 1 - completed->text.size();
            scan.text = pending_.substr(0, stop_start);
            scan.stopped = true;
            scan.stop_index = completed->index;
            scan.stop = completed->text;
            stopped_ = true;
            pending_.clear();
            return scan;
        }
    }

    // Hold back the longest tail that is still a prefix of some stop string.
    size_t held = 0;
    for (const Pattern& pattern : patterns_) held = std::max<size_t>(held, pattern.matched);
    const size_t safe = utf8_complete_prefix(pending_, pending_.size() - held);
    scan.text = pending_.substr(0, safe);
    pending_.erase(0, safe);
    return scan;
}

std::string StopMatcher::finish() {
    finished_ = true;
    std::string rest;
    rest.swap(pending_);
    return rest;
}

}  // namespace cria::sampling
