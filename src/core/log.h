// Leveled logging to stderr. The level comes from CRIA_LOG (error, warn, info, debug) read once.
#pragma once

#include <cstdarg>

namespace cria {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

LogLevel log_level();
void log_message(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace cria

#define CRIA_LOG_ERROR(...) ::cria::log_message(::cria::LogLevel::kError, __VA_ARGS__)
#define CRIA_LOG_WARN(...) ::cria::log_message(::cria::LogLevel::kWarn, __VA_ARGS__)
#define CRIA_LOG_INFO(...) ::cria::log_message(::cria::LogLevel::kInfo, __VA_ARGS__)
#define CRIA_LOG_DEBUG(...) ::cria::log_message(::cria::LogLevel::kDebug, __VA_ARGS__)
