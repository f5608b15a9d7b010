#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace cria {
namespace {

LogLevel parse_level(const char* text) {
    if (text == nullptr) return LogLevel::kInfo;
    if (std::strcmp(text, "error") == 0) return LogLevel::kError;
    if (std::strcmp(text, "warn") == 0) return LogLevel::kWarn;
    if (std::strcmp(text, "debug") == 0) return LogLevel::kDebug;
    return LogLevel::kInfo;
}

const char* level_tag(LogLevel level) {
    switch (level) {
        case LogLevel::kError:
            return "error";
        case LogLevel::kWarn:
            return "warn";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kDebug:
            return "debug";
    }
    return "?";
}

}  // namespace

LogLevel log_level() {
    // Function-local constant: read once, never mutated afterwards.
    static const LogLevel level = parse_level(std::getenv("CRIA_LOG"));
    return level;
}

void log_message(LogLevel level, const char* fmt, ...) {
    if (static_cast<int>(level) > static_cast<int>(log_level())) return;
    char body[2048];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(body, sizeof(body), fmt, args);
    va_end(args);
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::fprintf(stderr, "[%lld.%03lld %s] %s\n", static_cast<long long>(ms / 1000),
                 static_cast<long long>(ms % 1000), level_tag(level), body);
}

}  // namespace cria
