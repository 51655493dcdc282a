#include "engine/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace locus::engine {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
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

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void WriteLogLine(LogLevel level, std::string_view line) {
  std::string out = "locusd: ";
  out.append(LogLevelName(level));
  out.append(": ");
  out.append(line);
  out.push_back('\n');
  // stderr is unbuffered; one write keeps the line whole. A short write to a
  // full pipe is not worth retrying at the cost of blocking a shard.
  [[maybe_unused]] ssize_t n = write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace locus::engine
