#include "engine/trace/message_tap.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "engine/trace/trace_filter.h"
#include "engine/trace/trace_record.h"
#include "gtest/gtest.h"

namespace locus::engine {
namespace {

std::string Register(const std::string& user) {
  return "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK1\r\n"
         "From: <sip:" + user + "@example.com>;tag=1\r\nTo: <sip:" + user + "@Example.COM>\r\n"
         "Call-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
}

class Tap : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = Config::Defaults();
    counters_ = std::make_unique<ShardCounters>();
    tap_ = std::make_unique<MessageTap>(config_, 3, *counters_);
    notify_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    tap_->Connect(&switch_, &ring_, notify_);
    ASSERT_TRUE(Endpoint::Parse("192.0.2.7:5062", &phone_));
  }
  void TearDown() override { close(notify_); }

  std::vector<std::string> Pop() {
    std::vector<std::string> out;
    std::string_view bytes;
    while (ring_.Peek(&bytes)) {
      TraceRecord r;
      EXPECT_TRUE(DecodeTraceRecord(bytes, &r));
      out.push_back(TraceRecordJson(r));
      ring_.Pop();
    }
    return out;
  }

  void Trace(const std::vector<TraceFilter>& filters) {
    switch_.AddTracer();
    tap_->SetFilters(SerializeFilters(filters));
  }

  Config config_;
  std::unique_ptr<ShardCounters> counters_;
  TraceSwitch switch_;
  SpscRing ring_{1 << 20};
  std::unique_ptr<MessageTap> tap_;
  int notify_ = -1;
  Endpoint phone_;
};

TEST_F(Tap, OffUntilSomeoneTraces) {
  EXPECT_FALSE(tap_->on());
  switch_.AddTracer();
  EXPECT_TRUE(tap_->on());
  switch_.RemoveTracer();
  EXPECT_FALSE(tap_->on());
  switch_.SetHep(true);
  EXPECT_TRUE(tap_->on());
  EXPECT_FALSE(switch_.tracing());
}

TEST_F(Tap, CopiesWhatAFilterMatchesAndWakesTheAdminThread) {
  Trace({*TraceFilter::Make("sip:alice@example.com", "")});
  tap_->OnReceived(store::Transport::kUdp, 0, phone_, Register("alice"));
  tap_->OnReceived(store::Transport::kUdp, 0, phone_, Register("bob"));
  tap_->OnSent(store::Transport::kUdp, 0, phone_, "SIP/2.0 200 OK\r\nTo: <sip:alice@example.com>;tag=9\r\n\r\n");
  tap_->EndTurn();
  uint64_t woken = 0;
  ASSERT_EQ(read(notify_, &woken, sizeof(woken)), static_cast<ssize_t>(sizeof(woken)));
  const std::vector<std::string> lines = Pop();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"shard\":3,\"direction\":\"in\",\"transport\":\"UDP\",\"local\":\"127.0.0.1:5060\","
                          "\"peer\":\"192.0.2.7:5062\",\"aor\":\"sip:alice@example.com\",\"message\":\"REGISTER"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"direction\":\"out\""), std::string::npos);
  // No copy, no wake-up.
  tap_->EndTurn();
  EXPECT_LT(read(notify_, &woken, sizeof(woken)), 0);
}

TEST_F(Tap, SourceFilterAndFilterSets) {
  Endpoint other;
  ASSERT_TRUE(Endpoint::Parse("[2001:db8::1]:5060", &other));
  Trace({*TraceFilter::Make("", "[2001:DB8::1]"), *TraceFilter::Make("sip:carol@example.com", "192.0.2.7")});
  tap_->OnReceived(store::Transport::kUdp, 0, other, Register("x"));      // the first filter
  tap_->OnReceived(store::Transport::kUdp, 0, phone_, Register("x"));     // neither
  tap_->OnReceived(store::Transport::kUdp, 0, phone_, Register("carol"));  // the second
  EXPECT_EQ(Pop().size(), 2u);
  tap_->SetFilters("");  // the tracers left
  tap_->OnReceived(store::Transport::kUdp, 0, other, Register("x"));
  EXPECT_TRUE(Pop().empty());
}

TEST_F(Tap, RateBoundedAndCounted) {
  Trace({TraceFilter{}});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) tap_->OnReceived(store::Transport::kUdp, 0, phone_, Register("f"));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  usleep(100000);  // 0.1 s: about 20 more tokens
  tap_->OnReceived(store::Transport::kUdp, 0, phone_, Register("f"));
  // Every copy says how many were dropped since the one before it.
  size_t shown = 0;
  uint64_t announced = 0;
  std::string_view bytes;
  while (ring_.Peek(&bytes)) {
    TraceRecord r;
    ASSERT_TRUE(DecodeTraceRecord(bytes, &r));
    ++shown;
    announced += r.dropped_before;
    ring_.Pop();
  }
  // A burst of kTraceRatePerSecond, then that many a second: no more than
  // the loop's time allowed (and the last one got through).
  EXPECT_GE(shown, MessageTap::kTraceRatePerSecond + 1u);
  EXPECT_LE(shown, MessageTap::kTraceRatePerSecond * (1 + elapsed) + 1 + 1);
  EXPECT_EQ(counters_->trace_dropped.Get(), 501 - shown);
  EXPECT_EQ(announced, 501 - shown);
}

TEST(TraceFilter, MakeCanonicalizesAndRefuses) {
  absl::StatusOr<TraceFilter> f = TraceFilter::Make("sip:%61lice@EXAMPLE.com;transport=tcp", "::ffff:1.2.3.4");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->aor, "sip:alice@example.com");
  EXPECT_EQ(f->ip, "::ffff:1.2.3.4");
  EXPECT_EQ(TraceFilter::Make("", "[::0001]")->ip, "::1");
  EXPECT_TRUE(f->Matches("sip:alice@example.com", "::ffff:1.2.3.4"));
  EXPECT_FALSE(f->Matches("sip:alice@example.com", "1.2.3.4"));
  EXPECT_TRUE(TraceFilter{}.Matches("", ""));
  for (const auto& [aor, ip] : std::vector<std::pair<std::string, std::string>>{
           {"mailto:a@b", ""}, {"alice", ""}, {"", "1.2.3"}, {"", "example.com"}, {"", "[1.2.3.4]x"}}) {
    EXPECT_FALSE(TraceFilter::Make(aor, ip).ok()) << aor << " " << ip;
  }
  std::vector<TraceFilter> back;
  ASSERT_TRUE(ParseFilters(SerializeFilters({*f, TraceFilter{}}), &back));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].aor, f->aor);
  EXPECT_FALSE(ParseFilters("no tab\n", &back));
  EXPECT_FALSE(ParseFilters("a\tb", &back));
}

TEST(TraceRecord, RoundTripAndJson) {
  TraceRecord r;
  r.time_us = 1795849847123456;
  r.dropped_before = 7;
  r.shard = 1;
  r.direction = TraceRecord::kSent;
  r.transport = store::Transport::kTcp;
  r.local = "127.0.0.1:5060";
  r.peer = "[::1]:4000";
  r.aor = "sip:a@b";
  r.message = "SIP/2.0 200 OK\r\n\r\n\xff";
  std::string header, payload;
  EncodeTraceRecord(r, &header, &payload);
  const std::string bytes = header + payload;
  TraceRecord back;
  ASSERT_TRUE(DecodeTraceRecord(bytes, &back));
  EXPECT_EQ(back.dropped_before, 7u);
  EXPECT_EQ(back.peer, "[::1]:4000");
  EXPECT_EQ(back.message, r.message);
  EXPECT_EQ(TraceRecordJson(back),
            "{\"time\":\"2026-11-28T07:10:47.123456Z\",\"shard\":1,\"direction\":\"out\",\"transport\":\"TCP\","
            "\"local\":\"127.0.0.1:5060\",\"peer\":\"[::1]:4000\",\"aor\":\"sip:a@b\","
            "\"message\":\"SIP/2.0 200 OK\\u000d\\u000a\\u000d\\u000a\\ufffd\"}");
  EXPECT_FALSE(DecodeTraceRecord(bytes.substr(0, bytes.size() - 1), &back));
  EXPECT_FALSE(DecodeTraceRecord("short", &back));
}

}  // namespace
}  // namespace locus::engine
