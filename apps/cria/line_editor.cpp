#include "line_editor.h"

#include <histedit.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdint>
#include <cstdio>
#include <cwchar>

namespace cria::app {

// Bytes from the terminal and the interrupt event, multiplexed in libedit's read function.
struct LineEditor::State {
    std::filesystem::path history_file;
    EditLine* editor = nullptr;
    History* history = nullptr;
    int interrupt_event = -1;  // an eventfd: interrupt() adds, the read function drains
    std::string prompt;
    // After an interrupt, the read function answers Ctrl-U (erase the line) and then a newline
    // (end it), so that el_gets returns; `interrupted` tells read_line what happened.
    int injected = 0;
    bool interrupted = false;
    std::mbstate_t decoding{};
};

namespace {

const char* prompt_of(EditLine* editor) {
    void* data = nullptr;
    el_get(editor, EL_CLIENTDATA, &data);
    return static_cast<LineEditor::State*>(data)->prompt.c_str();
}

// libedit's read function: one character, 1 on success, 0 at the end of input, -1 on error.
int read_character(EditLine* editor, wchar_t* out) {
    void* data = nullptr;
    el_get(editor, EL_CLIENTDATA, &data);
    auto& state = *static_cast<LineEditor::State*>(data);
    if (state.injected == 2) {
        state.injected = 1;
        *out = L'\x15';  // Ctrl-U: kill the line
        return 1;
    }
    if (state.injected == 1) {
        state.injected = 0;
        *out = L'\n';
        return 1;
    }
    for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {state.interrupt_event, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (fds[1].revents & POLLIN) {
            uint64_t count = 0;
            if (read(state.interrupt_event, &count, sizeof(count)) < 0) return -1;
            state.interrupted = true;
            state.injected = 1;
            *out = L'\x15';
            return 1;
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char byte = 0;
        const ssize_t got = read(STDIN_FILENO, &byte, 1);
        if (got == 0) return 0;
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return -1;
        }
        // Multi-byte characters arrive a byte at a time: decode in the terminal's encoding.
        wchar_t decoded = 0;
        const size_t used = std::mbrtowc(&decoded, &byte, 1, &state.decoding);
        if (used == static_cast<size_t>(-2)) continue;  // more bytes to come
        if (used == static_cast<size_t>(-1)) {
            state.decoding = std::mbstate_t{};
            continue;  // not a character: dropped
        }
        *out = decoded;
        return 1;
    }
}

}  // namespace

LineEditor::LineEditor(std::filesystem::path history_file) : state_(std::make_unique<State>()) {
    // Characters beyond ASCII are read and shown in the terminal's own encoding.
    std::setlocale(LC_CTYPE, "");
    state_->history_file = std::move(history_file);
    state_->interrupt_event = eventfd(0, EFD_CLOEXEC);
    state_->history = history_init();
    HistEvent event;
    history(state_->history, &event, H_SETSIZE, 1000);
    history(state_->history, &event, H_SETUNIQUE, 1);
    std::error_code ec;
    if (std::filesystem::is_regular_file(state_->history_file, ec)) {
        history(state_->history, &event, H_LOAD, state_->history_file.c_str());
    }
    state_->editor = el_init("cria", stdin, stdout, stderr);
    el_set(state_->editor, EL_CLIENTDATA, state_.get());
    el_set(state_->editor, EL_EDITOR, "emacs");
    el_set(state_->editor, EL_PROMPT, &prompt_of);
    el_set(state_->editor, EL_HIST, history, state_->history);
    el_set(state_->editor, EL_GETCFN, &read_character);
    el_source(state_->editor, nullptr);  // the user's ~/.editrc, if any
}

LineEditor::~LineEditor() {
    if (state_->editor != nullptr) el_end(state_->editor);
    if (state_->history != nullptr) history_end(state_->history);
    if (state_->interrupt_event >= 0) close(state_->interrupt_event);
}

LineEditor::Result LineEditor::read_line(const std::string& prompt, std::string& line) {
    state_->prompt = prompt;
    int count = 0;
    const char* text = el_gets(state_->editor, &count);
    if (state_->interrupted) {
        state_->interrupted = false;
        line.clear();
        return Result::kInterrupted;
    }
    if (text == nullptr || count <= 0) return Result::kEndOfInput;
    line.assign(text, static_cast<size_t>(count));
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return Result::kLine;
}

void LineEditor::remember(const std::string& entry) {
    if (entry.empty()) return;
    HistEvent event;
    history(state_->history, &event, H_ENTER, entry.c_str());
}

void LineEditor::save_history() {
    std::error_code ec;
    std::filesystem::create_directories(state_->history_file.parent_path(), ec);
    HistEvent event;
    history(state_->history, &event, H_SAVE, state_->history_file.c_str());
}

void LineEditor::interrupt() {
    const uint64_t one = 1;
    if (write(state_->interrupt_event, &one, sizeof(one)) < 0) {
        // The eventfd cannot overflow from Ctrl-C presses; nothing else to do.
    }
}

}  // namespace cria::app
