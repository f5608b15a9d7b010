// Line editing and history for `cria run` on a terminal, through libedit (emacs keys, arrows,
// Ctrl-R search; ~/.editrc applies). History is kept in a file across sessions.
//
// Ctrl-C is not a signal here: the caller blocks SIGINT and hands it to interrupt() from a
// thread that waits for it, which makes read_line() give up the line being typed and return
// kInterrupted (interrupt() is safe from any thread).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace cria::app {

class LineEditor {
  public:
    enum class Result { kLine, kInterrupted, kEndOfInput };

    // `history_file` is read now (when it exists) and written by save_history().
    explicit LineEditor(std::filesystem::path history_file);
    ~LineEditor();
    LineEditor(const LineEditor&) = delete;
    LineEditor& operator=(const LineEditor&) = delete;

    // Reads one line (without its newline) into `line`.
    Result read_line(const std::string& prompt, std::string& line);
    // Adds a line (a whole multi-line message is one entry) to the history.
    void remember(const std::string& entry);
    void save_history();
    // Makes the read_line() in progress, or the next one, return kInterrupted.
    void interrupt();

    // What libedit's callbacks see (line_editor.cpp).
    struct State;

  private:
    std::unique_ptr<State> state_;
};

}  // namespace cria::app
