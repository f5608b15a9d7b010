#include "run_session.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <istream>
#include <thread>
#include <utility>

#include "line_editor.h"
#include "model_commands_support.h"
#include "server/chat_pipeline.h"
#include "server/model_defaults.h"
#include "show_model.h"
#include "store/model_options.h"
#include "store/modelfile.h"
#include "store/registry_client.h"

namespace cria::app {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kHelp =
    "Commands:\n"
    "  /set parameter NAME VALUE   a sampling or model option (temperature, top_k, num_ctx...)\n"
    "  /set system TEXT            the system message of this conversation\n"
    "  /set verbose | quiet        show timings after each answer, or not\n"
    "  /show info | license | modelfile | parameters | system | template\n"
    "  /load NAME                  switch to another model (the conversation starts over)\n"
    "  /save NAME                  store this model, settings and conversation as NAME\n"
    "  /clear                      forget the conversation\n"
    "  /bye                        leave (Ctrl-D too)\n"
    "  /?, /help                   this list\n"
    "A message of several lines starts and ends with \"\"\". Ctrl-C stops an answer.\n";

// "1.234s", "56.78ms", as Ollama prints its statistics.
std::string duration_text(std::chrono::nanoseconds d) {
    char buf[32];
    const double seconds = std::chrono::duration<double>(d).count();
    if (seconds >= 1.0) {
        std::snprintf(buf, sizeof(buf), "%.3fs", seconds);
    } else {
        std::snprintf(buf, sizeof(buf), "%.2fms", seconds * 1e3);
    }
    return buf;
}

double rate(int64_t tokens, std::chrono::nanoseconds d) {
    const double seconds = std::chrono::duration<double>(d).count();
    return seconds > 0.0 ? static_cast<double>(tokens) / seconds : 0.0;
}

void write_out(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

// Prints the answer as it streams; reasoning is set apart the way `ollama run` shows it.
class TerminalSink : public server::ChatSink {
  public:
    explicit TerminalSink(const std::atomic<bool>& cancel) : cancel_(cancel) {}

    bool on_delta(int, ordered_json&& delta, std::vector<server::TokenLogprob>*) override {
        if (cancel_) return false;
        if (auto it = delta.find("reasoning_content"); it != delta.end() && it->is_string()) {
            if (!thinking_) write_out("Thinking...\n");
            thinking_ = true;
            write_out(terminal_safe(it->get<std::string>(), carry_));
        }
        if (auto it = delta.find("content"); it != delta.end() && it->is_string()) {
            const std::string text = it->get<std::string>();
            if (thinking_ && !text.empty()) {
                write_out("\n...done thinking.\n\n");
                thinking_ = false;
            }
            content_ += text;
            write_out(terminal_safe(text, carry_));
        }
        if (auto it = delta.find("tool_calls"); it != delta.end() && it->is_array()) {
            for (const auto& call : *it) {
                const auto& function = call.value("function", ordered_json::object());
                const std::string piece = function.value("name", "").empty()
                                              ? function.value("arguments", "")
                                              : "[tool call] " + function.value("name", "") + " ";
                write_out(terminal_safe(piece, carry_));
            }
        }
        return !cancel_;
    }
    bool on_finish(server::ChatChoice&& choice) override {
        choice_ = std::move(choice);
        return true;
    }

    std::optional<server::ChatChoice> choice_;
    std::string content_;  // what was shown, kept when the answer is stopped

  private:
    const std::atomic<bool>& cancel_;
    bool thinking_ = false;
    std::string carry_;
};

// Shows a spinner on stderr (when it is a terminal) until destroyed.
class Spinner {
  public:
    Spinner() {
        if (isatty(STDERR_FILENO) == 0) return;
        thread_ = std::thread([this] {
            static constexpr const char* kFrames[] = {"|", "/", "-", "\\"};
            for (size_t i = 0; !done_; ++i) {
                std::fprintf(stderr, "\r%s ", kFrames[i % 4]);
                std::fflush(stderr);
                for (int wait = 0; wait < 10 && !done_; ++wait) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                }
            }
            std::fprintf(stderr, "\r  \r");
            std::fflush(stderr);
        });
    }
    ~Spinner() {
        done_ = true;
        if (thread_.joinable()) thread_.join();
    }
    Spinner(const Spinner&) = delete;
    Spinner& operator=(const Spinner&) = delete;

  private:
    std::atomic<bool> done_{false};
    std::thread thread_;
};

// A name that `cria pull` could fetch: not a file, and spelled like a registry name.
bool looks_pullable(const std::string& name) {
    return !names_a_file(name) && store::ModelName::parse(name).has_value();
}

// Splits "word rest" at the first run of spaces.
std::pair<std::string, std::string> split_word(const std::string& text) {
    const size_t space = text.find(' ');
    if (space == std::string::npos) return {text, ""};
    const size_t rest = text.find_first_not_of(' ', space);
    return {text.substr(0, space), rest == std::string::npos ? "" : text.substr(rest)};
}

// Whether `line` opens a `"""` block without closing it.
bool opens_block(const std::string& line) {
    const size_t open = line.find("\"\"\"");
    return open != std::string::npos && line.find("\"\"\"", open + 3) == std::string::npos;
}

// The text of a one-line `"""...` input with its markers removed.
std::string without_markers(const std::string& text) {
    std::string out = text;
    for (size_t at = out.find("\"\"\""); at != std::string::npos; at = out.find("\"\"\"")) {
        out.erase(at, 3);
    }
    return out;
}

}  // namespace

std::string terminal_safe(std::string_view text, std::string& carry) {
    std::string in = std::move(carry);
    carry.clear();
    in.append(text);
    std::string out;
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        const auto byte = static_cast<unsigned char>(in[i]);
        if (byte == '\n' || byte == '\t') {
            out.push_back(static_cast<char>(byte));
        } else if (byte < 0x20 || byte == 0x7f) {
            out.push_back('^');
            out.push_back(static_cast<char>(byte ^ 0x40));
        } else if (byte == 0xc2) {
            if (i + 1 == in.size()) {
                carry.push_back(static_cast<char>(byte));  // its second byte is in the next piece
                break;
            }
            const auto next = static_cast<unsigned char>(in[i + 1]);
            if (next >= 0x80 && next <= 0x9f) {
                char buf[8];
                std::snprintf(buf, sizeof(buf), "\\u%04x", next);
                out += buf;
                ++i;
            } else {
                out.push_back(static_cast<char>(byte));
            }
        } else {
            out.push_back(static_cast<char>(byte));
        }
    }
    return out;
}

void ReportBox::put(const engine::RequestReport& report) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        report_ = report;
    }
    arrived_.notify_all();
}

void ReportBox::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    report_.reset();
}

std::optional<engine::RequestReport> ReportBox::take() {
    std::unique_lock<std::mutex> lock(mutex_);
    arrived_.wait_for(lock, std::chrono::seconds(1), [this] { return report_.has_value(); });
    return std::exchange(report_, std::nullopt);
}

RunSession::RunSession(server::ModelManager& models, store::ModelStore& store, ReportBox& reports,
                       RunSettings settings)
    : models_(models), store_(store), reports_(reports), settings_(std::move(settings)) {}

std::optional<int64_t> RunSession::requested_context() const {
    if (auto it = settings_.options.find("num_ctx");
        it != settings_.options.end() && it->is_number_integer()) {
        return it->get<int64_t>();
    }
    return std::nullopt;
}

bool RunSession::open(const std::string& name) {
    Expected<server::ModelSource> source = models_.resolve(name);
    if (!source.has_value() && source.status().code() == ErrorCode::kNotFound &&
        looks_pullable(name)) {
        std::fprintf(stderr, "pulling %s\n", name.c_str());
        ProgressPrinter printer;
        const Status pulled =
            store::pull_model(store_, name, store::RegistryOptions::from_environment(),
                              [&](const store::Progress& p) { printer.update(p); });
        printer.finish();
        if (!pulled.is_ok()) {
            std::fprintf(stderr, "cria run: %s\n", pulled.message().c_str());
            return false;
        }
        source = models_.resolve(name);
    }
    if (!source.has_value()) {
        std::fprintf(stderr, "cria run: %s\n", source.status().message().c_str());
        return false;
    }
    Expected<server::ModelLease> lease = [&] {
        Spinner spinner;
        held_ = server::ModelLease();  // a model of another context is loaded anew
        return models_.acquire(name, requested_context());
    }();
    if (!lease.has_value()) {
        std::fprintf(stderr, "cria run: %s: %s\n", name.c_str(), lease.status().message().c_str());
        return false;
    }
    held_ = std::move(lease).value();
    held_context_ = requested_context();
    name_ = name;
    return true;
}

ordered_json RunSession::conversation() const {
    ordered_json messages = ordered_json::array();
    if (settings_.system) messages.push_back({{"role", "system"}, {"content", *settings_.system}});
    for (const auto& message : messages_) messages.push_back(message);
    return messages;
}

bool RunSession::answer(const std::string& text) {
    if (requested_context() != held_context_ && !open(name_)) return false;
    const Clock::time_point started = Clock::now();
    messages_.push_back({{"role", "user"}, {"content", text}});
    Expected<server::ModelLease> lease = models_.acquire(name_, requested_context());
    if (!lease.has_value()) {
        std::fprintf(stderr, "cria run: %s\n", lease.status().message().c_str());
        messages_.erase(messages_.size() - 1);
        return false;
    }
    const std::chrono::nanoseconds load_duration = lease->load_duration();
    server::ServedModel& model = lease->model();
    // Session options > Modelfile parameters > the sampler's defaults, as /api/chat merges them.
    const json options = store::merge_options(lease->source().recipe.parameters, settings_.options);
    server::ChatInput input;
    input.chat.model = name_;
    input.chat.messages = conversation();
    server::apply_options(input.chat.generation, options);
    input.trim_to_context = true;
    const int32_t vocabulary = model.n_vocab();
    if (Status valid =
            sampling::validate_sampling_params(input.chat.generation.sampling, vocabulary);
        !valid.is_ok()) {
        std::fprintf(stderr, "cria run: %s\n", valid.message().c_str());
        messages_.erase(messages_.size() - 1);
        return false;
    }
    server::ApiResult<std::unique_ptr<server::PreparedChat>> prepared =
        server::prepare_chat(std::move(lease).value(), std::move(input));
    if (!prepared.ok()) {
        std::fprintf(stderr, "cria run: %s\n", prepared.error().message.c_str());
        messages_.erase(messages_.size() - 1);
        return false;
    }
    server::PreparedChat& chat = *prepared.value();
    if (chat.dropped_messages > 0 && !told_about_trimming_) {
        std::fprintf(stderr,
                     "(the conversation is longer than the context of %lld tokens: its oldest "
                     "messages are left out from now on)\n",
                     static_cast<long long>(model.context_length()));
        told_about_trimming_ = true;
    }
    cancel_ = false;
    answering_ = true;
    reports_.clear();
    TerminalSink sink(cancel_);
    Status status = server::start_chat(chat);
    if (status.is_ok()) status = server::run_chat(chat, sink, [this] { return cancel_.load(); });
    answering_ = false;
    const Clock::time_point finished = Clock::now();
    write_out("\n");
    if (status.code() == ErrorCode::kCancelled || cancel_) {
        // What was shown stays in the conversation.
        messages_.push_back({{"role", "assistant"}, {"content", sink.content_}});
        return true;
    }
    if (!status.is_ok() || !sink.choice_) {
        std::fprintf(stderr, "cria run: %s\n",
                     status.is_ok() ? "no answer" : status.message().c_str());
        messages_.erase(messages_.size() - 1);
        return false;
    }
    messages_.push_back({{"role", "assistant"}, {"content", sink.content_}});
    const std::optional<engine::RequestReport> report = reports_.take();
    if (settings_.verbose && report) {
        // As Ollama counts them: the prompt tokens evaluated (not those reused from the cache)
        // and the time they took; the tokens generated, timed from the first to the last.
        const int64_t prompt_count = report->prompt_tokens - report->cached_prompt_tokens;
        const std::chrono::duration<double> prompt_eval(
            std::max(0.0, report->time_to_first_token_seconds - report->queue_seconds));
        const std::chrono::duration<double> eval(report->generation_seconds);
        const int64_t eval_count = report->generated_tokens;
        auto ns = [](std::chrono::duration<double> d) {
            return std::chrono::duration_cast<std::chrono::nanoseconds>(d);
        };
        std::fprintf(stderr, "total duration:       %s\n",
                     duration_text(finished - started).c_str());
        std::fprintf(stderr, "load duration:        %s\n", duration_text(load_duration).c_str());
        std::fprintf(stderr, "prompt eval count:    %lld token(s)\n",
                     static_cast<long long>(prompt_count));
        std::fprintf(stderr, "prompt eval duration: %s\n", duration_text(ns(prompt_eval)).c_str());
        std::fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n",
                     rate(prompt_count, ns(prompt_eval)));
        std::fprintf(stderr, "eval count:           %lld token(s)\n",
                     static_cast<long long>(eval_count));
        std::fprintf(stderr, "eval duration:        %s\n", duration_text(ns(eval)).c_str());
        // The first token comes with the prompt; the duration spans the ones after it.
        std::fprintf(stderr, "eval rate:            %.2f tokens/s\n",
                     rate(eval_count > 1 ? eval_count - 1 : 0, ns(eval)));
    }
    return true;
}

void RunSession::interrupt() {
    if (answering_) {
        cancel_ = true;
    } else if (editor_ != nullptr) {
        editor_->interrupt();
    }
}

void RunSession::converse(LineEditor* editor, std::istream& in) {
    editor_ = editor;
    // One line; false at the end of input.
    auto read = [&](const char* prompt, std::string& line) {
        for (;;) {
            if (editor == nullptr) {
                write_out(prompt);
                return static_cast<bool>(std::getline(in, line));
            }
            const LineEditor::Result result = editor->read_line(prompt, line);
            if (result == LineEditor::Result::kLine) return true;
            if (result == LineEditor::Result::kEndOfInput) return false;
            write_out("Use Ctrl-D or /bye to leave.\n");
        }
    };
    std::string line;
    while (read(">>> ", line)) {
        std::string input = line;
        if (opens_block(line)) {
            // Lines up to the one that holds the closing marker make one input.
            std::string more;
            while (read("... ", more)) {
                input += "\n" + more;
                if (more.find("\"\"\"") != std::string::npos) break;
            }
        }
        if (editor != nullptr) editor->remember(input);
        input = without_markers(input);
        if (!handle(input)) break;
    }
    if (editor == nullptr) write_out("\n");
    editor_ = nullptr;
}

bool RunSession::handle(const std::string& input) {
    if (input.empty()) return true;
    if (input[0] != '/') {
        answer(input);
        return true;
    }
    const auto [command, arguments] = split_word(input);
    if (command == "/bye") return false;
    if (command == "/?" || command == "/help") {
        write_out(kHelp);
    } else if (command == "/clear") {
        messages_ = ordered_json::array();
        write_out("Cleared the conversation.\n");
    } else if (command == "/set") {
        handle_set(arguments);
    } else if (command == "/show") {
        handle_show(arguments);
    } else if (command == "/load") {
        if (arguments.empty()) {
            write_out("Usage: /load NAME\n");
        } else if (const std::string previous = name_; open(arguments)) {
            messages_ = ordered_json::array();
            write_out("Loaded '" + arguments + "'.\n");
        } else if (!open(previous)) {
            return false;
        }
    } else if (command == "/save") {
        if (arguments.empty()) {
            write_out("Usage: /save NAME\n");
        } else {
            save(arguments);
        }
    } else {
        write_out("Unknown command '" + command + "'. Type /? for help.\n");
    }
    return true;
}

void RunSession::handle_set(const std::string& arguments) {
    const auto [what, rest] = split_word(arguments);
    if (what == "parameter") {
        const auto [name, value] = split_word(rest);
        if (name.empty() || value.empty()) {
            write_out("Usage: /set parameter NAME VALUE\n");
            return;
        }
        json updated = settings_.options;
        // A new stop list replaces the old one; other names replace their value.
        if (name == "stop") updated.erase("stop");
        if (Status added = store::add_parameter(updated, name, value); !added.is_ok()) {
            write_out(added.message() + "\n");
            return;
        }
        settings_.options = std::move(updated);
        write_out("Set parameter '" + name + "' to '" + value + "'.\n");
    } else if (what == "system") {
        if (rest.empty()) {
            settings_.system.reset();
            write_out("The system message is the model's own again.\n");
        } else {
            settings_.system = rest;
            write_out("Set the system message.\n");
        }
    } else if (what == "verbose" || what == "quiet") {
        settings_.verbose = what == "verbose";
        write_out("Set '" + what + "' mode.\n");
    } else {
        write_out(
            "Usage: /set parameter NAME VALUE | /set system TEXT | /set verbose | /set "
            "quiet\n");
    }
}

void RunSession::handle_show(const std::string& what) {
    const server::ModelSource& source = held_.source();
    const store::ModelRecipe& recipe = source.recipe;
    if (what == "info") {
        std::fflush(stdout);
        if (source.is_file) {
            (void)show_file(source.path, false);
        } else {
            (void)show_store_model(source.name, ShowModelSections{});
        }
        std::fflush(stdout);
    } else if (what == "license") {
        if (recipe.licenses.empty()) write_out("No license was specified for this model.\n");
        for (const std::string& license : recipe.licenses) write_out(license + "\n");
    } else if (what == "modelfile") {
        store::ModelRecipe shown = recipe;
        shown.from = source.is_file ? source.path : source.name;
        shown.parameters = store::merge_options(recipe.parameters, settings_.options);
        if (settings_.system) shown.system = settings_.system;
        write_out(store::format_modelfile(shown, "Modelfile of this session"));
    } else if (what == "parameters") {
        const json parameters = store::merge_options(recipe.parameters, settings_.options);
        write_out(parameters.empty() ? "No parameters were specified for this model.\n"
                                     : parameters_text(parameters));
    } else if (what == "system") {
        const std::optional<std::string> system =
            settings_.system ? settings_.system : recipe.system;
        write_out(system ? *system + "\n" : "No system message was specified for this model.\n");
    } else if (what == "template") {
        write_out(recipe.chat_template.value_or(held_.model().chat_template_source()) + "\n");
    } else {
        write_out("Usage: /show info | license | modelfile | parameters | system | template\n");
    }
}

void RunSession::save(const std::string& name) {
    const server::ModelSource& source = held_.source();
    store::ModelRecipe recipe = source.recipe;
    recipe.from = source.is_file ? std::filesystem::absolute(source.path).string() : source.name;
    recipe.parameters = store::merge_options(recipe.parameters, settings_.options);
    if (settings_.system) recipe.system = settings_.system;
    for (const auto& message : messages_) {
        recipe.messages.push_back(
            {message.value("role", ""), message.value("content", std::string())});
    }
    std::error_code ec;
    const std::filesystem::path here = std::filesystem::current_path(ec);
    Expected<store::Manifest> created = store_.create(name, recipe, here);
    if (!created.has_value()) {
        write_out("Cannot save '" + name + "': " + created.status().message() + "\n");
        return;
    }
    write_out("Created the model '" + name + "'.\n");
}

}  // namespace cria::app
