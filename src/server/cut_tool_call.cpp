#include "server/cut_tool_call.h"

#include <nlohmann/json.hpp>

namespace cria::server {
namespace {

constexpr size_t kNone = std::string_view::npos;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t skip_space(std::string_view text, size_t pos) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    return pos;
}

// Where the JSON value starting at text[pos] ends; kNone when the text ends first.
size_t value_end(std::string_view text, size_t pos) {
    if (pos >= text.size()) return kNone;
    const char first = text[pos];
    if (first == '"' || first == '{' || first == '[') {
        int depth = 0;
        bool in_string = false;
        for (size_t i = pos; i < text.size(); ++i) {
            const char c = text[i];
            if (in_string) {
                if (c == '\\') {
                    ++i;
                } else if (c == '"') {
                    in_string = false;
                    if (depth == 0) return i + 1;
                }
            } else if (c == '"') {
                in_string = true;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
        }
        return kNone;
    }
    size_t i = pos;
    while (i < text.size() && std::string_view(",}] \t\r\n").find(text[i]) == kNone) ++i;
    return i == text.size() ? kNone : i;
}

// One call object at text[pos] ('{'), complete or cut; false when it has no complete name.
bool read_call(std::string_view text, size_t pos, const chat::ToolCallMarkers& markers,
               chat::ParsedToolCall& call) {
    bool named = false;
    size_t i = pos + 1;
    while (true) {
        i = skip_space(text, i);
        if (i < text.size() && text[i] == ',') i = skip_space(text, i + 1);
        if (i >= text.size() || text[i] != '"') break;
        const size_t key_end = value_end(text, i);
        if (key_end == kNone) break;
        const auto key = nlohmann::json::parse(text.substr(i, key_end - i), nullptr, false);
        if (!key.is_string()) break;
        i = skip_space(text, key_end);
        if (i >= text.size() || text[i] != ':') break;
        i = skip_space(text, i + 1);
        const size_t end = value_end(text, i);
        const std::string_view value =
            i >= text.size() ? std::string_view() : text.substr(i, end == kNone ? kNone : end - i);
        if (key.get<std::string>() == markers.name_key && end != kNone) {
            const auto name = nlohmann::json::parse(value, nullptr, false);
            if (name.is_string() && !name.get<std::string>().empty()) {
                call.name = name.get<std::string>();
                named = true;
            }
        } else if (key.get<std::string>() == markers.arguments_key ||
                   key.get<std::string>() == "arguments") {
            const auto parsed = end == kNone ? nlohmann::json(nlohmann::json::value_t::discarded)
                                             : nlohmann::json::parse(value, nullptr, false);
            if (parsed.is_object()) {
                call.arguments = parsed.dump();
            } else {
                std::string_view partial = value;
                while (!partial.empty() && is_space(partial.back())) partial.remove_suffix(1);
                call.arguments = std::string(partial);
            }
        }
        if (end == kNone) break;
        i = end;
    }
    return named;
}

// The calls in the JSON at text[pos]: an array of calls, a {"tool_calls": [...]} wrapper, or
// call objects one after another (separated by ';' or whitespace).
void read_calls(std::string_view text, size_t pos, const chat::ToolCallMarkers& markers,
                std::vector<chat::ParsedToolCall>& calls) {
    pos = skip_space(text, pos);
    if (pos < text.size() && text[pos] == '[') {
        ++pos;
        while (true) {
            pos = skip_space(text, pos);
            if (pos < text.size() && text[pos] == ',') pos = skip_space(text, pos + 1);
            if (pos >= text.size() || text[pos] != '{') return;
            chat::ParsedToolCall call;
            if (read_call(text, pos, markers, call)) calls.push_back(std::move(call));
            pos = value_end(text, pos);
            if (pos == kNone) return;
        }
    }
    while (pos < text.size() && text[pos] == '{') {
        const std::string_view wrapper = "{\"tool_calls\"";
        const size_t after_key = skip_space(text, pos + 1);
        if (text.substr(after_key, wrapper.size() - 1) == wrapper.substr(1)) {
            const size_t colon = skip_space(text, after_key + wrapper.size() - 1);
            if (colon < text.size() && text[colon] == ':') {
                read_calls(text, colon + 1, markers, calls);
                return;
            }
        }
        chat::ParsedToolCall call;
        if (read_call(text, pos, markers, call)) calls.push_back(std::move(call));
        pos = value_end(text, pos);
        if (pos == kNone) return;
        while (pos < text.size() && (is_space(text[pos]) || text[pos] == ';')) ++pos;
    }
}

}  // namespace

std::optional<CutToolCalls> recover_cut_tool_calls(chat::ToolCallFormat format,
                                                   std::string_view text) {
    const chat::ToolCallMarkers markers = chat::tool_call_markers(format);
    CutToolCalls out;
    size_t body = kNone;
    switch (format) {
        case chat::ToolCallFormat::kHermes:
        case chat::ToolCallFormat::kMistral: {
            const bool hermes = format == chat::ToolCallFormat::kHermes;
            const std::string_view open = hermes ? "<tool_call>" : "[TOOL_CALLS]";
            const size_t at = text.find(open);
            if (at == kNone) return std::nullopt;
            // A call that closed was parsed (or refused) already: this one never closed.
            if (hermes && text.find("</tool_call>", at) != kNone) return std::nullopt;
            out.content = std::string(text.substr(0, at));
            body = at + open.size();
            break;
        }
        case chat::ToolCallFormat::kLlama3:
        case chat::ToolCallFormat::kGeneric: {
            size_t at = skip_space(text, 0);
            for (std::string_view opener : {std::string_view("<|python_tag|>"),
                                            std::string_view("```json"), std::string_view("```")}) {
                if (text.substr(at, opener.size()) == opener) {
                    at = skip_space(text, at + opener.size());
                    break;
                }
            }
            if (at >= text.size() || text[at] != '{') return std::nullopt;
            body = at;
            break;
        }
    }
    read_calls(text, body, markers, out.calls);
    // Layout before a call is not content (as the parser drops it before complete calls).
    while (!out.content.empty() && is_space(out.content.back())) out.content.pop_back();
    return out;
}

}  // namespace cria::server
