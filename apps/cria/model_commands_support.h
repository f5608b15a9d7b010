// Output helpers shared by the model commands: error lines, sizes, ages and progress.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "store/model_store.h"

namespace cria::app {

// Whether a command's model argument names a file rather than a stored model: what exists, or
// is spelled like a path, is a file (model names never start with '/', '.' or '~').
inline bool names_a_file(const std::string& model) {
    std::error_code ec;
    return model.ends_with(".gguf") || model.starts_with("/") || model.starts_with(".") ||
           model.starts_with("~") || std::filesystem::exists(model, ec);
}

// Prints "cria <command>: <message>" to stderr and returns the exit code 1.
inline int fail(const char* command, const std::string& message) {
    std::fprintf(stderr, "cria %s: %s\n", command, message.c_str());
    return 1;
}

// "2.0 GB", "135 MB", "512 B" (decimal units, as `ollama list` prints).
inline std::string human_bytes(uint64_t bytes) {
    char buf[32];
    if (bytes >= 1000000000ull) {
        std::snprintf(buf, sizeof(buf), "%.1f GB", static_cast<double>(bytes) / 1e9);
    } else if (bytes >= 1000000ull) {
        std::snprintf(buf, sizeof(buf), "%.0f MB", static_cast<double>(bytes) / 1e6);
    } else if (bytes >= 1000ull) {
        std::snprintf(buf, sizeof(buf), "%.0f KB", static_cast<double>(bytes) / 1e3);
    } else {
        std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
    }
    return buf;
}

inline std::string human_age(int64_t seconds) {
    auto plural = [](int64_t n, const char* unit) {
        return std::to_string(n) + " " + unit + (n == 1 ? "" : "s") + " ago";
    };
    if (seconds < 60) return "Less than a minute ago";
    if (seconds < 3600) return plural(seconds / 60, "minute");
    if (seconds < 86400) return plural(seconds / 3600, "hour");
    if (seconds < 86400 * 7) return plural(seconds / 86400, "day");
    if (seconds < 86400 * 30) return plural(seconds / (86400 * 7), "week");
    return plural(seconds / (86400 * 30), "month");
}

// Prints progress events to stderr: one line per status; byte counts redraw one line with a bar
// when stderr is a terminal, and print only when the status text changes otherwise.
class ProgressPrinter {
  public:
    void update(const store::Progress& p) {
        const bool interactive = ::isatty(STDERR_FILENO) != 0;
        if (p.total > 0) {
            if (interactive) {
                constexpr int kWidth = 30;
                const int filled = static_cast<int>(p.completed * kWidth / p.total);
                std::fprintf(stderr, "\r%s [%s%s] %s/%s   ", label(p).c_str(),
                             std::string(filled, '=').c_str(),
                             std::string(kWidth - filled, ' ').c_str(),
                             human_bytes(p.completed).c_str(), human_bytes(p.total).c_str());
                open_line_ = true;
            } else if (label(p) != last_) {
                std::fprintf(stderr, "%s (%s)\n", label(p).c_str(), human_bytes(p.total).c_str());
            }
            last_ = label(p);
            return;
        }
        finish();
        if (p.status != last_) std::fprintf(stderr, "%s\n", p.status.c_str());
        last_ = p.status;
    }
    void finish() {
        if (open_line_) std::fprintf(stderr, "\n");
        open_line_ = false;
    }

  private:
    // The status without a trailing percentage, so that a copy is one line however it advances.
    static std::string label(const store::Progress& p) {
        if (p.digest) return "pulling " + p.digest->substr(7, 12);
        const size_t space = p.status.rfind(' ');
        if (space != std::string::npos && !p.status.empty() && p.status.back() == '%') {
            return p.status.substr(0, space);
        }
        return p.status;
    }
    std::string last_;
    bool open_line_ = false;
};

}  // namespace cria::app
