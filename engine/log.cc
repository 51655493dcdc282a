#include "engine/log.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/text.h"

namespace locus::engine {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};

// syslog priorities, as journald reads them from a "<N>" line prefix.
int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return 7;
    case LogLevel::kInfo: return 6;
    case LogLevel::kWarning: return 4;
    case LogLevel::kError: return 3;
  }
  return 6;
}

// "2026-11-28T07:10:47.123Z"
void AppendTime(uint64_t unix_ms, std::string* out) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[96];  // room for any int the format could print
  const int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                              utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                              static_cast<int>(unix_ms % 1000));
  out->append(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

bool StderrIsJournal() {
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return IsJournalStream(std::getenv("JOURNAL_STREAM"), static_cast<uint64_t>(st.st_dev),
                         static_cast<uint64_t>(st.st_ino));
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == LogLevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool ParseLogFormat(std::string_view text, LogFormat* format) {
  if (text == "text") {
    *format = LogFormat::kText;
  } else if (text == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

std::string_view LogFormatName(LogFormat format) {
  return format == LogFormat::kJson ? "json" : "text";
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

void SetLogFormat(LogFormat format) {
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

bool IsJournalStream(const char* journal_stream, uint64_t device, uint64_t inode) {
  if (journal_stream == nullptr) return false;
  const std::string_view value = journal_stream;
  const size_t colon = value.find(':');
  uint64_t want_device = 0, want_inode = 0;
  return colon != std::string_view::npos && ParseUint(value.substr(0, colon), &want_device) &&
         ParseUint(value.substr(colon + 1), &want_inode) && want_device == device &&
         want_inode == inode;
}

std::string FormatLogLine(LogFormat format, bool journal, uint64_t unix_ms, LogLevel level,
                          std::string_view line) {
  std::string out;
  out.reserve(line.size() + 64);
  if (format == LogFormat::kJson) {
    out.append("{\"time\":\"");
    AppendTime(unix_ms, &out);
    out.append("\",\"level\":\"");
    out.append(LogLevelName(level));
    out.append("\",\"message\":\"");
    out.append(JsonEscape(line));
    out.append("\"}");
    return out;
  }
  if (journal) {
    // journald stamps the time and takes the priority from the prefix.
    out.push_back('<');
    out.push_back(static_cast<char>('0' + Priority(level)));
    out.push_back('>');
    if (level != LogLevel::kInfo) {
      out.append(LogLevelName(level));
      out.append(": ");
    }
    out.append(line);
    return out;
  }
  AppendTime(unix_ms, &out);
  out.append(" locusd: ");
  out.append(LogLevelName(level));
  out.append(": ");
  out.append(line);
  return out;
}

void WriteLogLine(LogLevel level, std::string_view line) {
  static const bool journal = StderrIsJournal();
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const uint64_t unix_ms =
      static_cast<uint64_t>(now.tv_sec) * 1000 + static_cast<uint64_t>(now.tv_nsec) / 1000000;
  std::string out = FormatLogLine(static_cast<LogFormat>(g_format.load(std::memory_order_relaxed)),
                                  journal, unix_ms, level, line);
  out.push_back('\n');
  // stderr is unbuffered; one write keeps the line whole. A short write to a
  // full pipe is not worth retrying at the cost of blocking a shard.
  [[maybe_unused]] ssize_t n = write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace locus::engine
