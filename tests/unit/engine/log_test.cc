#include "engine/log.h"

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

constexpr uint64_t kTime = 1795849847123;  // 2026-11-28T07:10:47.123Z

TEST(Log, TextLinesCarryTheirTimeUnlessJournaldStampsThem) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, false, kTime, LogLevel::kWarning, "disk full"),
            "2026-11-28T07:10:47.123Z locusd: warning: disk full");
  // journald: the syslog priority as prefix, no time; info needs no word.
  EXPECT_EQ(FormatLogLine(LogFormat::kText, true, kTime, LogLevel::kWarning, "disk full"),
            "<4>warning: disk full");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, true, kTime, LogLevel::kInfo, "listening"), "<6>listening");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, true, kTime, LogLevel::kError, "x"), "<3>error: x");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, true, kTime, LogLevel::kDebug, "x"), "<7>debug: x");
}

TEST(Log, JsonLinesAreOneObjectEach) {
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, false, kTime, LogLevel::kInfo, "say \"hi\"\n\x01"),
            R"({"time":"2026-11-28T07:10:47.123Z","level":"info","message":"say \"hi\"\u000a\u0001"})");
  // The same under journald: shippers want the time in the object.
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, true, kTime, LogLevel::kError, "x"),
            R"({"time":"2026-11-28T07:10:47.123Z","level":"error","message":"x"})");
}

TEST(Log, JournalStreamMustNameStderrItself) {
  EXPECT_TRUE(IsJournalStream("8:12345", 8, 12345));
  EXPECT_FALSE(IsJournalStream(nullptr, 8, 12345));
  EXPECT_FALSE(IsJournalStream("8:12346", 8, 12345));  // stderr redirected elsewhere
  EXPECT_FALSE(IsJournalStream("9:12345", 8, 12345));
  EXPECT_FALSE(IsJournalStream("8", 8, 12345));
  EXPECT_FALSE(IsJournalStream("", 8, 12345));
  EXPECT_FALSE(IsJournalStream("8:12345x", 8, 12345));
}

TEST(Log, FormatNames) {
  LogFormat f = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_EQ(LogFormatName(f), "json");
  EXPECT_FALSE(ParseLogFormat("JSON", &f));
}

}  // namespace
}  // namespace locus::engine
