// The request pipeline in cluster mode (docs/cluster.md), without Redis: which
// requests wait for their AOR's read or commit, which decide on the cache,
// what a decided REGISTER hands over for its compare-and-set, and how a
// request handled again (after a read, a failed read or a conflict) is
// answered. ClusterRequests and Redis itself: integration.cluster_nodes.
#include <string>

#include "engine/cluster/aor_flights.h"
#include "engine/sip/request_handler.h"
#include "gtest/gtest.h"
#include "parser/message.h"

namespace locus::engine {
namespace {

constexpr uint32_t kNow = 1800000000;

std::string Request(std::string_view method, std::string_view ruri, std::string_view user,
                    std::string_view extra, int cseq = 1, std::string_view branch = "z9hG4bKc1") {
  std::string m = std::string(method) + " " + std::string(ruri) + " SIP/2.0\r\n";
  m += "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=" + std::string(branch) + ";rport\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <sip:caller@example.com>;tag=f1\r\n";
  m += "To: <sip:" + std::string(user) + "@example.com>\r\n";
  m += "Call-ID: call-" + std::string(user) + "\r\n";
  m += "CSeq: " + std::to_string(cseq) + " " + std::string(method) + "\r\n";
  m += std::string(extra);
  m += "Content-Length: 0\r\n\r\n";
  return m;
}

std::string Register(std::string_view user, std::string_view extra, int cseq = 1,
                     std::string_view branch = "z9hG4bKc1") {
  return Request("REGISTER", "sip:example.com", user, extra, cseq, branch);
}

std::string Message(std::string_view user, std::string_view branch = "z9hG4bKm1") {
  return Request("MESSAGE", "sip:" + std::string(user) + "@example.com", user, "", 1, branch);
}

class ClusterModeTest : public ::testing::Test {
 protected:
  ClusterModeTest() : table_(kNow), handler_(config_, 0, 1, 42, table_, counters_) {
    handler_.SetTime(kNow, 5000);
    handler_.SetCluster(&flights_);
    Endpoint::Parse("198.51.100.9:40000", &inbound_.source);
  }

  Disposition Send(const std::string& text, const Inbound& inbound) {
    sip::Message message;
    EXPECT_TRUE(sip::ParseMessage(text, sip::ParseOptions{}, &message).ok());
    // Handled as the owner shard, as ClusterRequests hands requests back.
    return handler_.Handle(message, inbound, true, &response_);
  }
  Disposition Send(const std::string& text) { return Send(text, inbound_); }
  Inbound After(bool read_failed = false) const {
    Inbound i = inbound_;
    i.state_read = true;
    i.read_failed = read_failed;
    return i;
  }
  // The commit of a held REGISTER succeeded: its record has a version and
  // is current.
  void Committed(std::string_view aor, uint64_t version) {
    store::AorRecord* record = table_.FindMutable(aor);
    ASSERT_NE(record, nullptr);
    record->set_version(version);
    record->set_cache_epoch(flights_.epoch());
  }

  std::string StatusLine() const { return response_.substr(0, response_.find("\r\n")); }
  bool Has(std::string_view line) const { return response_.find(line) != std::string::npos; }

  Config config_ = Config::Defaults();
  store::BindingTable table_;
  ShardCounters counters_;
  RequestHandler handler_;
  cluster::AorFlights flights_;
  Inbound inbound_;
  std::string response_;
};

TEST_F(ClusterModeTest, ANewRegistrationIsDecidedAsVersionZeroAndHeldForItsCommit) {
  const Disposition d = Send(Register("ann", "Contact: <sip:ann@10.0.0.1>\r\n"));
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_TRUE(d.hold);
  EXPECT_TRUE(d.commit);
  EXPECT_EQ(handler_.cluster_commit().aor, "sip:ann@example.com");
  EXPECT_EQ(handler_.cluster_commit().expected_version, 0u);
  EXPECT_EQ(handler_.cluster_commit().changes.created, 1u);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  EXPECT_TRUE(Has("Contact: <sip:ann@10.0.0.1>;expires=3600\r\n"));
  // Applied to the cache at once; counted only once Redis took it.
  EXPECT_EQ(table_.binding_count(), 1u);
  EXPECT_EQ(counters_.bindings_created.Get(), 0u);
  EXPECT_EQ(counters_.status[0].Get() + counters_.status_other.Get(), 0u);  // counted when it leaves
}

TEST_F(ClusterModeTest, ARetransmissionOfAHeldRegisterIsAbsorbed) {
  const std::string text = Register("bea", "Contact: <sip:bea@10.0.0.1>\r\n");
  ASSERT_TRUE(Send(text).hold);
  EXPECT_EQ(Send(text).kind, Disposition::Kind::kDrop);
  EXPECT_EQ(counters_.retransmissions.Get(), 1u);
}

TEST_F(ClusterModeTest, ARefreshOfACurrentAorIsDecidedOnItsVersion) {
  Send(Register("cat", "Contact: <sip:cat@10.0.0.1>\r\n"));
  Committed("sip:cat@example.com", 77);
  const Disposition d = Send(Register("cat", "Contact: <sip:cat@10.0.0.1>;expires=600\r\n", 2, "z9hG4bKc2"));
  ASSERT_TRUE(d.commit);
  EXPECT_EQ(handler_.cluster_commit().expected_version, 77u);
  EXPECT_EQ(handler_.cluster_commit().changes.refreshed, 1u);
}

TEST_F(ClusterModeTest, RequestsForAnAorWithAnOperationInFlightWait) {
  flights_.at(flights_.Get("sip:dan@example.com")).committing = true;
  Disposition d = Send(Register("dan", "Contact: <sip:dan@10.0.0.1>\r\n"));
  EXPECT_EQ(d.kind, Disposition::Kind::kPark);
  EXPECT_EQ(handler_.parked_aor(), "sip:dan@example.com");
  d = Send(Message("dan"));
  EXPECT_EQ(d.kind, Disposition::Kind::kPark);
  EXPECT_EQ(table_.binding_count(), 0u);
}

TEST_F(ClusterModeTest, ALookupOfAnAorNotCachedOrStaleReadsItFirst) {
  Disposition d = Send(Message("eve"));
  EXPECT_EQ(d.kind, Disposition::Kind::kPark);
  // After a read that found no bindings: answered from the cache.
  d = Send(Message("eve"), After());
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(d.status, 404);

  Send(Register("eve", "Contact: <sip:eve@10.0.0.1>\r\n", 1, "z9hG4bKr1"));
  Committed("sip:eve@example.com", 5);
  d = Send(Message("eve", "z9hG4bKm2"));
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(d.status, 302);
  // Another node changed it: stale for reads.
  flights_.InvalidateAll();
  d = Send(Message("eve", "z9hG4bKm3"));
  EXPECT_EQ(d.kind, Disposition::Kind::kPark);
  // A REGISTER reads it first too, then decides on what it read.
  d = Send(Register("eve", "Contact: <sip:eve@10.0.0.2>\r\n", 2, "z9hG4bKr2"));
  EXPECT_EQ(d.kind, Disposition::Kind::kPark);
  d = Send(Register("eve", "Contact: <sip:eve@10.0.0.2>\r\n", 2, "z9hG4bKr2"), After());
  ASSERT_TRUE(d.commit);
  EXPECT_EQ(handler_.cluster_commit().expected_version, 5u);
}

TEST_F(ClusterModeTest, AQueryOfAnAorNotCachedReadsItAndAFailedReadAnswers500) {
  Disposition d = Send(Register("fay", ""));
  EXPECT_EQ(d.kind, Disposition::Kind::kPark);
  d = Send(Register("fay", ""), After(/*read_failed=*/true));
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(d.status, 500);
  EXPECT_TRUE(Has("Retry-After: 5\r\n")) << response_;
  d = Send(Message("fay"), After(/*read_failed=*/true));
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(d.status, 500);
  EXPECT_EQ(counters_.cluster_unanswerable.Get(), 2u);
}

TEST_F(ClusterModeTest, AfterAConflictOnlyStepsSixToEightRunAgainOnTheAdoptedState) {
  const std::string text = Register("gus", "Contact: <sip:gus@10.0.0.1>\r\n");
  ASSERT_TRUE(Send(text).commit);
  // Redis held another node's binding: the cache now has it (version 9).
  table_.RemoveAor("sip:gus@example.com");
  store::AorRecord* record = table_.FindOrCreate("sip:gus@example.com");
  store::Binding other;
  other.AssignText({"sip:gus@10.9.9.9", "call-other", "", "", ""});
  other.expires_at = kNow + 1000;
  other.cseq = 4;
  table_.AddBinding(record, std::move(other));
  record = table_.Rearm(record);
  record->set_version(9);
  record->set_cache_epoch(flights_.epoch());

  Inbound again = After();
  again.redecide = true;
  const Disposition d = Send(text, again);  // the same transaction, held
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  ASSERT_TRUE(d.commit);
  EXPECT_EQ(handler_.cluster_commit().expected_version, 9u);
  EXPECT_TRUE(Has("Contact: <sip:gus@10.9.9.9>;expires=1000\r\n")) << response_;
  EXPECT_TRUE(Has("Contact: <sip:gus@10.0.0.1>;expires=3600\r\n")) << response_;
}

}  // namespace
}  // namespace locus::engine
