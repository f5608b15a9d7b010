#include "chat/tool_calls.h"

#include <nlohmann/json.hpp>

namespace cria::chat {

namespace {

using nlohmann::ordered_json;

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralMarker = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";
// A held answer larger than this cannot be a sensible call; it is released as content.
constexpr size_t kMaxHeldBytes = 1u << 20;

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Length of the longest suffix of `text` that is a proper prefix of `marker`: text that might
// turn into the marker once more arrives.
size_t partial_marker_suffix(std::string_view text, std::string_view marker) {
    for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
        if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
    }
    return 0;
}

// End (one past) of the JSON object or array that starts at text[0], or npos while incomplete.
// Only brackets and strings matter here; the value is parsed properly afterwards.
size_t json_value_end(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return i + 1;
            if (depth < 0) return std::string_view::npos;
        }
    }
    return std::string_view::npos;
}

bool parse_json(std::string_view text, ordered_json& out) {
    out = ordered_json::parse(text.begin(), text.end(), nullptr, false);
    return !out.is_discarded();
}

// {"name": "...", "arguments" | "parameters": {...}} -> call. Arguments written as a string
// holding a JSON object are accepted too.
bool call_from_json(const ordered_json& object, ParsedToolCall& call) {
    if (!object.is_object()) return false;
    auto name = object.find("name");
    if (name == object.end() || !name->is_string() || name->get<std::string>().empty()) {
        return false;
    }
    const ordered_json* arguments = nullptr;
    for (const char* key : {"arguments", "parameters"}) {
        auto it = object.find(key);
        if (it != object.end()) {
            arguments = &*it;
            break;
        }
    }
    ordered_json args = ordered_json::object();
    if (arguments != nullptr) {
        if (arguments->is_string()) {
            if (!parse_json(arguments->get<std::string>(), args)) return false;
        } else {
            args = *arguments;
        }
    }
    if (!args.is_object()) return false;
    call.name = name->get<std::string>();
    call.arguments = args.dump();
    call.id.clear();
    if (auto id = object.find("id"); id != object.end() && id->is_string()) {
        call.id = id->get<std::string>();
    }
    return true;
}

// <|python_tag|>tool.call(key="value", n=3): Llama 3.1 built-in tools.
bool parse_builtin_call(std::string_view text, ParsedToolCall& call) {
    const size_t open = text.find(".call(");
    if (open == std::string_view::npos || text.empty() || text.back() != ')') return false;
    const std::string_view name = text.substr(0, open);
    if (name.empty()) return false;
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
    }
    std::string_view args = text.substr(open + 6, text.size() - open - 7);
    ordered_json object = ordered_json::object();
    while (!trim(args).empty()) {
        // key=value up to the next top-level comma.
        size_t end = 0;
        bool in_string = false;
        for (; end < args.size(); ++end) {
            const char c = args[end];
            if (in_string) {
                if (c == '\\')
                    ++end;
                else if (c == '"')
                    in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == ',') {
                break;
            }
        }
        const std::string_view item = args.substr(0, std::min(end, args.size()));
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos) return false;
        const std::string key(trim(item.substr(0, eq)));
        ordered_json value;
        if (key.empty() || !parse_json(trim(item.substr(eq + 1)), value)) return false;
        object[key] = value;
        args = end < args.size() ? args.substr(end + 1) : std::string_view{};
    }
    call.name = std::string(name);
    call.arguments = object.dump();
    call.id.clear();
    return true;
}

// Removes a surrounding ```json ... ``` fence.
std::string_view strip_fence(std::string_view text) {
    text = trim(text);
    if (text.substr(0, 3) != "```" || text.size() < 6 || text.substr(text.size() - 3) != "```") {
        return text;
    }
    text = text.substr(3, text.size() - 6);
    const size_t newline = text.find('\n');
    const std::string_view tag = trim(text.substr(0, newline));
    if (tag.empty() || tag == "json") {
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    }
    return trim(text);
}

// The whole answer as calls, or false when any part of it is not a call.
bool parse_whole_answer(ToolCallFormat format, std::string_view text,
                        std::vector<ParsedToolCall>& calls) {
    text = trim(text);
    const bool tagged = text.substr(0, kPythonTag.size()) == kPythonTag;
    if (tagged) text = trim(text.substr(kPythonTag.size()));
    text = strip_fence(text);
    if (text.empty()) return false;
    if (format == ToolCallFormat::kLlama3 && text.front() != '{') {
        ParsedToolCall call;
        if (!parse_builtin_call(text, call)) return false;
        calls.push_back(std::move(call));
        return true;
    }
    // One or more JSON values separated by whitespace or ';'.
    std::vector<ParsedToolCall> found;
    while (!text.empty()) {
        if (text.front() != '{' && text.front() != '[') return false;
        const size_t end = json_value_end(text);
        if (end == std::string_view::npos) return false;
        ordered_json value;
        if (!parse_json(text.substr(0, end), value)) return false;
        std::vector<ordered_json> items;
        if (format == ToolCallFormat::kGeneric && value.is_object() &&
            value.contains("tool_calls")) {
            if (!value["tool_calls"].is_array() || value.size() != 1) return false;
            items.assign(value["tool_calls"].begin(), value["tool_calls"].end());
        } else if (value.is_array()) {
            items.assign(value.begin(), value.end());
        } else {
            items.push_back(value);
        }
        if (items.empty()) return false;
        for (const ordered_json& item : items) {
            ParsedToolCall call;
            // A generic {"function": {...}} wrapper, as OpenAI messages spell calls.
            const ordered_json& inner =
                item.is_object() && item.contains("function") ? item["function"] : item;
            if (!call_from_json(inner, call)) return false;
            found.push_back(std::move(call));
        }
        text = trim(text.substr(end));
        while (!text.empty() && text.front() == ';') text = trim(text.substr(1));
    }
    for (auto& call : found) calls.push_back(std::move(call));
    return true;
}

}  // namespace

const char* tool_call_format_name(ToolCallFormat format) {
    switch (format) {
        case ToolCallFormat::kHermes:
            return "hermes";
        case ToolCallFormat::kLlama3:
            return "llama3";
        case ToolCallFormat::kMistral:
            return "mistral";
        case ToolCallFormat::kGeneric:
            break;
    }
    return "generic";
}

ToolCallFormat detect_tool_call_format(std::string_view source) {
    if (source.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::kHermes;
    if (source.find(kMistralMarker) != std::string_view::npos) return ToolCallFormat::kMistral;
    if (source.find(kPythonTag) != std::string_view::npos ||
        (source.find("<|start_header_id|>") != std::string_view::npos &&
         source.find("\"parameters\"") != std::string_view::npos)) {
        return ToolCallFormat::kLlama3;
    }
    return ToolCallFormat::kGeneric;
}

ToolCallMarkers tool_call_markers(ToolCallFormat format) {
    ToolCallMarkers m;
    switch (format) {
        case ToolCallFormat::kHermes:
            m.call_open = "<tool_call>\n";
            m.call_close = "\n</tool_call>";
            m.call_separator = "\n";
            break;
        case ToolCallFormat::kLlama3:
            m.call_separator = "; ";
            m.arguments_key = "parameters";
            break;
        case ToolCallFormat::kMistral:
            m.calls_open = "[TOOL_CALLS][";
            m.call_separator = ", ";
            m.calls_close = "]";
            break;
        case ToolCallFormat::kGeneric:
            m.calls_open = "{\"tool_calls\": [";
            m.call_separator = ", ";
            m.calls_close = "]}";
            break;
    }
    return m;
}

// Content is released with its trailing whitespace held back: whitespace right before a call
// (or between calls) is layout, not an answer, and is dropped when a call follows.
namespace {
struct ContentSink {
    std::string& pending_whitespace;
    bool& after_call;  // whitespace right after a call is layout too
    ToolCallParseStep& out;
    void text(std::string_view s) {
        if (after_call) {
            while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
            if (s.empty()) return;
            after_call = false;
        }
        size_t keep = s.size();
        while (keep > 0 && is_space(s[keep - 1])) --keep;
        if (keep > 0) {
            out.content += pending_whitespace;
            pending_whitespace.clear();
            out.content.append(s.substr(0, keep));
        }
        pending_whitespace.append(s.substr(keep));
    }
    void call(ParsedToolCall c) {
        pending_whitespace.clear();
        after_call = true;
        out.calls.push_back(std::move(c));
    }
};
}  // namespace

ToolCallParseStep ToolCallParser::feed(std::string_view text) {
    buffer_.append(text);
    ToolCallParseStep out;
    process(false, out);
    return out;
}

ToolCallParseStep ToolCallParser::finish() {
    ToolCallParseStep out;
    process(true, out);
    if (!saw_call_) {
        out.content += pending_whitespace_;
    }
    pending_whitespace_.clear();
    return out;
}

void ToolCallParser::process(bool at_end, ToolCallParseStep& out) {
    const size_t calls_before = out.calls.size();
    switch (format_) {
        case ToolCallFormat::kHermes:
            process_hermes(at_end, out);
            break;
        case ToolCallFormat::kMistral:
            process_mistral(at_end, out);
            break;
        case ToolCallFormat::kLlama3:
        case ToolCallFormat::kGeneric:
            process_whole_answer(at_end, out);
            break;
    }
    if (out.calls.size() != calls_before) saw_call_ = true;
}

void ToolCallParser::process_hermes(bool at_end, ToolCallParseStep& out) {
    ContentSink sink{pending_whitespace_, after_call_, out};
    while (true) {
        if (buffer_.compare(0, kHermesOpen.size(), kHermesOpen) != 0) {
            const size_t open = buffer_.find(kHermesOpen);
            if (open == std::string::npos) {
                const size_t hold = at_end ? 0 : partial_marker_suffix(buffer_, kHermesOpen);
                sink.text(std::string_view(buffer_).substr(0, buffer_.size() - hold));
                buffer_.erase(0, buffer_.size() - hold);
                return;
            }
            sink.text(std::string_view(buffer_).substr(0, open));
            buffer_.erase(0, open);
        }
        // The buffer starts with <tool_call>.
        const size_t close = buffer_.find(kHermesClose, kHermesOpen.size());
        if (close == std::string::npos && !at_end && buffer_.size() <= kMaxHeldBytes) return;
        const size_t block_end =
            close == std::string::npos ? buffer_.size() : close + kHermesClose.size();
        const std::string_view body = std::string_view(buffer_).substr(
            kHermesOpen.size(),
            (close == std::string::npos ? buffer_.size() : close) - kHermesOpen.size());
        ordered_json value;
        ParsedToolCall call;
        if (parse_json(trim(body), value) && call_from_json(value, call)) {
            sink.call(std::move(call));
        } else {
            sink.text(std::string_view(buffer_).substr(0, block_end));
        }
        buffer_.erase(0, block_end);
        if (buffer_.empty()) return;
    }
}

void ToolCallParser::process_mistral(bool at_end, ToolCallParseStep& out) {
    ContentSink sink{pending_whitespace_, after_call_, out};
    while (true) {
        if (!in_mistral_calls_) {
            const size_t marker = buffer_.find(kMistralMarker);
            if (marker == std::string::npos) {
                const size_t hold = at_end ? 0 : partial_marker_suffix(buffer_, kMistralMarker);
                sink.text(std::string_view(buffer_).substr(0, buffer_.size() - hold));
                buffer_.erase(0, buffer_.size() - hold);
                return;
            }
            sink.text(std::string_view(buffer_).substr(0, marker));
            buffer_.erase(0, marker);
            in_mistral_calls_ = true;
        }
        // The buffer starts with [TOOL_CALLS]; the calls are one JSON array (or object).
        std::string_view rest = std::string_view(buffer_).substr(kMistralMarker.size());
        size_t skipped = 0;
        while (skipped < rest.size() && is_space(rest[skipped])) ++skipped;
        rest.remove_prefix(skipped);
        const size_t end = rest.empty() ? std::string_view::npos : json_value_end(rest);
        if (end == std::string_view::npos && !at_end && buffer_.size() <= kMaxHeldBytes) return;
        std::vector<ParsedToolCall> calls;
        const size_t consumed =
            end == std::string_view::npos ? buffer_.size() : kMistralMarker.size() + skipped + end;
        if (end != std::string_view::npos &&
            parse_whole_answer(ToolCallFormat::kMistral, rest.substr(0, end), calls)) {
            for (auto& call : calls) sink.call(std::move(call));
        } else {
            sink.text(std::string_view(buffer_).substr(0, consumed));
        }
        buffer_.erase(0, consumed);
        in_mistral_calls_ = false;
        if (buffer_.empty()) return;
    }
}

void ToolCallParser::process_whole_answer(bool at_end, ToolCallParseStep& out) {
    ContentSink sink{pending_whitespace_, after_call_, out};
    if (!decided_) {
        const std::string_view start = trim(buffer_);
        bool maybe_call = false;
        bool undecided = false;
        for (std::string_view opener :
             {std::string_view("{"), std::string_view("```"), kPythonTag}) {
            const size_t n = std::min(start.size(), opener.size());
            if (start.substr(0, n) == opener.substr(0, n)) {
                if (start.size() >= opener.size()) {
                    maybe_call = true;
                } else {
                    undecided = true;
                }
            }
        }
        if (start.empty() || (undecided && !maybe_call)) {
            if (!at_end) return;
        } else {
            decided_ = true;
            holding_answer_ = maybe_call;
        }
    }
    if (holding_answer_ && !at_end && buffer_.size() <= kMaxHeldBytes) return;
    if (holding_answer_) {
        std::vector<ParsedToolCall> calls;
        if (parse_whole_answer(format_, buffer_, calls)) {
            for (auto& call : calls) sink.call(std::move(call));
        } else {
            sink.text(buffer_);
        }
        holding_answer_ = false;
    } else {
        sink.text(buffer_);
    }
    buffer_.clear();
}

ToolCallParseStep parse_tool_calls(ToolCallFormat format, std::string_view text) {
    ToolCallParser parser(format);
    ToolCallParseStep out = parser.feed(text);
    ToolCallParseStep rest = parser.finish();
    out.content += rest.content;
    for (auto& call : rest.calls) out.calls.push_back(std::move(call));
    return out;
}

std::string make_tool_call_id(ToolCallFormat format, uint64_t random_high, uint64_t random_low) {
    static const char kAlphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const size_t length = format == ToolCallFormat::kMistral ? 9 : 24;
    std::string id = format == ToolCallFormat::kMistral ? "" : "call_";
    // splitmix64 steps spread the caller's 128 bits over every character.
    uint64_t state = random_high ^ ((random_low << 32) | (random_low >> 32));
    for (size_t i = 0; i < length; ++i) {
        state += 0x9e3779b97f4a7c15ull + (i == length / 2 ? random_low : 0);
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        id.push_back(kAlphabet[z % 62]);
    }
    return id;
}

}  // namespace cria::chat
