#include "store/modelfile.h"

#include <cctype>

#include "store/model_options.h"

namespace cria::store {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

// A cursor over the Modelfile that knows its line number for error messages.
class Scanner {
  public:
    explicit Scanner(std::string_view text) : text_(text) {}

    bool at_end() const { return pos_ >= text_.size(); }
    int line() const { return line_; }
    char peek() const { return text_[pos_]; }

    void skip_blanks() {
        while (!at_end() && is_blank(peek())) ++pos_;
    }
    void skip_line() {
        while (!at_end() && peek() != '\n') ++pos_;
        if (!at_end()) advance();
    }
    void advance() {
        if (text_[pos_] == '\n') ++line_;
        ++pos_;
    }
    bool at_line_end() const { return at_end() || peek() == '\n'; }

    // A run of non-blank characters on the current line.
    std::string_view word() {
        const size_t start = pos_;
        while (!at_end() && !is_blank(peek()) && peek() != '\n') ++pos_;
        return text_.substr(start, pos_ - start);
    }

    // The value of an instruction: triple-quoted, double-quoted, or the rest of the line.
    Expected<std::string> value() {
        skip_blanks();
        const int start_line = line_;
        std::string out;
        if (text_.substr(pos_, 3) == "\"\"\"") {
            pos_ += 3;
            const size_t close = text_.find("\"\"\"", pos_);
            if (close == std::string_view::npos) {
                return error(start_line, "unterminated \"\"\" string");
            }
            out = std::string(text_.substr(pos_, close - pos_));
            while (pos_ < close) advance();
            pos_ += 3;
        } else if (!at_end() && peek() == '"') {
            ++pos_;
            while (true) {
                if (at_line_end()) return error(start_line, "unterminated \" string");
                const char c = peek();
                ++pos_;
                if (c == '"') break;
                if (c == '\\' && !at_line_end() && (peek() == '"' || peek() == '\\')) {
                    out.push_back(peek());
                    ++pos_;
                    continue;
                }
                out.push_back(c);
            }
        } else {
            const size_t start = pos_;
            while (!at_line_end()) ++pos_;
            std::string_view rest = text_.substr(start, pos_ - start);
            while (!rest.empty() && is_blank(rest.back())) rest.remove_suffix(1);
            return std::string(rest);
        }
        skip_blanks();
        if (!at_line_end()) return error(start_line, "unexpected text after the closing quote");
        return out;
    }

    static Status error(int line, const std::string& message) {
        return invalid_argument("Modelfile line " + std::to_string(line) + ": " + message);
    }

  private:
    std::string_view text_;
    size_t pos_ = 0;
    int line_ = 1;
};

// Quotes a value so that parse_modelfile reads it back unchanged.
std::string quote(const std::string& value) {
    const bool multi_line = value.find('\n') != std::string::npos;
    const bool needs_quotes = value.empty() || value.find('"') != std::string::npos ||
                              is_blank(value.front()) || is_blank(value.back());
    if (!multi_line && !needs_quotes) return value;
    // Triple quotes hold newlines, but not a value that starts or ends with '"' or holds """.
    if (multi_line && value.find("\"\"\"") == std::string::npos && value.front() != '"' &&
        value.back() != '"') {
        return "\"\"\"" + value + "\"\"\"";
    }
    // A double-quoted string cannot hold a newline: such a value (rare: multi-line and quoted at
    // an edge) is written on one line, its newlines as spaces.
    std::string out = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c == '\n' ? ' ' : c);
    }
    return out + "\"";
}

}  // namespace

bool valid_message_role(std::string_view role) {
    return role == "system" || role == "user" || role == "assistant";
}

Expected<ModelRecipe> parse_modelfile(std::string_view text) {
    if (text.size() > kMaxModelfileBytes) return invalid_argument("Modelfile larger than 16 MiB");
    ModelRecipe recipe;
    bool has_from = false;
    Scanner in(text);
    while (!in.at_end()) {
        in.skip_blanks();
        if (in.at_end()) break;
        if (in.peek() == '\n') {
            in.advance();
            continue;
        }
        if (in.peek() == '#') {
            in.skip_line();
            continue;
        }
        const int line = in.line();
        const std::string instruction = lower(in.word());
        if (instruction == "from") {
            CRIA_ASSIGN_OR_RETURN(recipe.from, in.value());
            if (recipe.from.empty()) return Scanner::error(line, "FROM needs a model or a path");
            has_from = true;
        } else if (instruction == "parameter") {
            in.skip_blanks();
            const std::string name = lower(in.word());
            if (name.empty()) return Scanner::error(line, "PARAMETER needs a name and a value");
            CRIA_ASSIGN_OR_RETURN(std::string value, in.value());
            if (value.empty()) {
                return Scanner::error(line, "PARAMETER " + name + " needs a value");
            }
            const Status added = add_parameter(recipe.parameters, name, value);
            if (!added) return Scanner::error(line, added.message());
        } else if (instruction == "template") {
            CRIA_ASSIGN_OR_RETURN(recipe.chat_template, in.value());
        } else if (instruction == "system") {
            CRIA_ASSIGN_OR_RETURN(recipe.system, in.value());
        } else if (instruction == "license") {
            CRIA_ASSIGN_OR_RETURN(std::string license, in.value());
            recipe.licenses.push_back(std::move(license));
        } else if (instruction == "message") {
            in.skip_blanks();
            const std::string role = lower(in.word());
            if (!valid_message_role(role)) {
                return Scanner::error(
                    line, "MESSAGE role must be system, user or assistant, got '" + role + "'");
            }
            CRIA_ASSIGN_OR_RETURN(std::string content, in.value());
            recipe.messages.push_back({role, std::move(content)});
        } else if (instruction == "adapter") {
            return Scanner::error(line,
                                  "ADAPTER is not supported: cria cannot apply LoRA adapters");
        } else {
            return Scanner::error(line, "unknown instruction '" + instruction + "'");
        }
        in.skip_blanks();
        if (!in.at_end()) {
            if (in.peek() != '\n') return Scanner::error(in.line(), "unexpected text");
            in.advance();
        }
    }
    if (!has_from) return invalid_argument("Modelfile has no FROM line");
    return recipe;
}

std::string format_modelfile(const ModelRecipe& recipe, std::string_view header_comment) {
    std::string out;
    if (!header_comment.empty()) {
        size_t start = 0;
        while (start <= header_comment.size()) {
            const size_t end = header_comment.find('\n', start);
            const std::string_view line = header_comment.substr(
                start, end == std::string_view::npos ? std::string_view::npos : end - start);
            out += "# " + std::string(line) + "\n";
            if (end == std::string_view::npos) break;
            start = end + 1;
        }
        out += "\n";
    }
    out += "FROM " + recipe.from + "\n";
    if (recipe.chat_template) out += "TEMPLATE " + quote(*recipe.chat_template) + "\n";
    if (recipe.system) out += "SYSTEM " + quote(*recipe.system) + "\n";
    for (const auto& [key, value] : recipe.parameters.items()) {
        if (value.is_array()) {
            for (const auto& item : value) {
                out += "PARAMETER " + key + " " + quote(item.get<std::string>()) + "\n";
            }
        } else {
            out += "PARAMETER " + key + " " + value.dump() + "\n";
        }
    }
    for (const auto& message : recipe.messages) {
        out += "MESSAGE " + message.role + " " + quote(message.content) + "\n";
    }
    for (const auto& license : recipe.licenses) out += "LICENSE " + quote(license) + "\n";
    return out;
}

}  // namespace cria::store
