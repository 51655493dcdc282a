// Leveled logging to stderr. One write(2) per line, so lines from different
// shards never interleave. The default level is kInfo; nothing on the request
// path logs at kInfo or above per request (errors are counted, and logged at
// most once per burst by their owner).
//
// Lines: "<time> locusd: <level>: <text>" (UTC, milliseconds); under
// journald (stderr is the stream named by JOURNAL_STREAM) "<N><text>" with
// the syslog priority N and no time of our own, journald adds both; with
// LogFormat::kJson one JSON object per line, {"time":..,"level":..,"message":..}.
#ifndef LOCUS_ENGINE_LOG_H_
#define LOCUS_ENGINE_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_format.h"

namespace locus::engine {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat : uint8_t { kText, kJson };

// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(std::string_view text, LogLevel* level);
std::string_view LogLevelName(LogLevel level);
// Parses "text" or "json".
bool ParseLogFormat(std::string_view text, LogFormat* format);
std::string_view LogFormatName(LogFormat format);

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
bool LogEnabled(LogLevel level);
// Writes one line to stderr in the format set.
void WriteLogLine(LogLevel level, std::string_view line);

// The line WriteLogLine writes, without the newline: `journal` says whether
// stderr goes to journald, `unix_ms` is the wall clock in ms since the epoch.
std::string FormatLogLine(LogFormat format, bool journal, uint64_t unix_ms, LogLevel level,
                          std::string_view line);
// Whether a stderr with this device and inode is the stream a JOURNAL_STREAM
// value ("<device>:<inode>", decimal; null when unset) names.
bool IsJournalStream(const char* journal_stream, uint64_t device, uint64_t inode);

template <typename... Args>
void Log(LogLevel level, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (!LogEnabled(level)) return;
  WriteLogLine(level, absl::StrFormat(format, args...));
}

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_LOG_H_
