// Leveled logging to stderr. One write(2) per line, so lines from different
// shards never interleave. The default level is kInfo; nothing on the request
// path logs at kInfo or above per request (errors are counted, and logged at
// most once per burst by their owner).
#ifndef LOCUS_ENGINE_LOG_H_
#define LOCUS_ENGINE_LOG_H_

#include <string_view>

#include "absl/strings/str_format.h"

namespace locus::engine {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(std::string_view text, LogLevel* level);
std::string_view LogLevelName(LogLevel level);

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Writes "locusd: <level>: <line>\n" to stderr.
void WriteLogLine(LogLevel level, std::string_view line);

template <typename... Args>
void Log(LogLevel level, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (!LogEnabled(level)) return;
  WriteLogLine(level, absl::StrFormat(format, args...));
}

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_LOG_H_
