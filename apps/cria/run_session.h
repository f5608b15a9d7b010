// A `cria run` conversation, in process: the model is resolved and loaded by the same manager
// `cria serve` uses (store models, aliases, tags, files, the demo model), and every answer goes
// through the server's chat pipeline with Ollama's /api/chat rules (Modelfile SYSTEM, MESSAGE
// and PARAMETER lines; the oldest turns left out when the conversation outgrows the context).
//
// Typed lines are messages or commands (/? lists them); `"""` starts and ends a message of
// several lines. On a terminal, lines are edited with libedit and kept in a history file.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/scheduler.h"
#include "server/model_manager.h"
#include "store/model_store.h"

namespace cria::app {

class LineEditor;

struct RunSettings {
    nlohmann::json options = nlohmann::json::object();  // normalized Ollama options
    std::optional<std::string> system;                  // /set system; else the Modelfile's
    bool verbose = false;                               // Ollama's timing statistics
};

// The engine's report of the last request (its timings), handed over from the scheduler's
// thread, which reports a request just after its last event.
class ReportBox {
  public:
    void put(const engine::RequestReport& report);
    void clear();
    // The report, waiting up to a second for it.
    std::optional<engine::RequestReport> take();

  private:
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::optional<engine::RequestReport> report_;
};

class RunSession {
  public:
    // `reports` hears the model's on_request_done (ServeOptions); it must outlive the session.
    RunSession(server::ModelManager& models, store::ModelStore& store, ReportBox& reports,
               RunSettings settings);

    // Resolves `name` (pulling it first when it is a registry name the store lacks) and loads
    // it, with a spinner on a terminal. Prints the error and returns false when it cannot.
    bool open(const std::string& name);
    // Streams one answer to `text` to stdout; false when there was none (an error, printed).
    bool answer(const std::string& text);
    // Reads lines until /bye or the end of input: from `editor` when given, else from `in`
    // (each prompt still printed, so that a transcript reads like a terminal's).
    void converse(LineEditor* editor, std::istream& in);
    // Ctrl-C, from the thread that waits for SIGINT: stops the answer being written, or gives
    // up the line being typed.
    void interrupt();

  private:
    // A message or a command; false to end the conversation.
    bool handle(const std::string& input);
    void handle_set(const std::string& arguments);
    void handle_show(const std::string& what);
    void save(const std::string& name);
    // The conversation as the model gets it: the system message of /set system first.
    nlohmann::ordered_json conversation() const;
    std::optional<int64_t> requested_context() const;

    server::ModelManager& models_;
    store::ModelStore& store_;
    ReportBox& reports_;
    RunSettings settings_;
    std::string name_;
    server::ModelLease held_;  // keeps the model loaded while the session lasts
    std::optional<int64_t> held_context_;
    nlohmann::ordered_json messages_ = nlohmann::ordered_json::array();  // user and assistant
    bool told_about_trimming_ = false;
    LineEditor* editor_ = nullptr;
    std::atomic<bool> answering_{false};
    std::atomic<bool> cancel_{false};
};

// Model text made safe for a terminal: control characters other than newline and tab (C0,
// DEL and C1, which start escape sequences) are shown in caret or \u notation. `carry` holds a
// trailing byte that may begin a C1 character, between the pieces of a stream.
std::string terminal_safe(std::string_view text, std::string& carry);

}  // namespace cria::app
