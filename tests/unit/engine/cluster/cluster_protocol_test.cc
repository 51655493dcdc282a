// The Redis Cluster client's protocol side (engine/cluster/): hash slots
// against the specification's examples, the RESP pipeline fed a byte at a
// time, the slot map and redirections, and the AOR store's replies. The
// same code against a real Redis Cluster: tests/integration/test_redis_cluster.py.
#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "engine/cluster/aor_store.h"
#include "engine/cluster/hash_slot.h"
#include "engine/cluster/resp_pipeline.h"
#include "engine/cluster/slot_map.h"
#include "gtest/gtest.h"
#include "store/journal_record.h"

namespace locus::engine::cluster {
namespace {

using namespace std::literals;

// A bulk string in RESP.
std::string Bulk(std::string_view s) { return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n"; }

// The reply that `resp` encodes, read through a pipeline.
Reply ReplyOf(const std::string& resp) {
  RespPipeline pipeline(1024, 4);
  const std::string_view ping[] = {"PING"};
  EXPECT_TRUE(pipeline.Append(ping, 1));
  EXPECT_TRUE(pipeline.Feed(resp).ok());
  uint64_t tag = 0;
  Reply reply;
  EXPECT_TRUE(pipeline.NextReply(&tag, &reply)) << resp;
  return reply;
}

store::Binding MakeBinding(int i, uint32_t expires_at) {
  store::Binding b;
  b.AssignText({"sip:phone" + std::to_string(i) + "@10.0.0.1:5060", "call-" + std::to_string(i), "Yealink",
                "", ""});
  b.cseq = static_cast<uint32_t>(100 + i);
  b.expires_at = expires_at;
  return b;
}

TEST(HashSlot, MatchesTheSpecification) {
  EXPECT_EQ(Crc16Xmodem("123456789"), 0x31C3);  // the specification's check value
  EXPECT_EQ(HashSlot("123456789"), 0x31C3 % kHashSlots);
  EXPECT_EQ(HashSlot("foo"), 12182);
  EXPECT_EQ(HashSlot(""), 0);
}

TEST(HashSlot, HashTags) {
  EXPECT_EQ(HashSlot("{user1000}.following"), HashSlot("user1000"));
  EXPECT_EQ(HashSlot("{user1000}.followers"), HashSlot("user1000"));
  EXPECT_EQ(HashSlot("foo{}{bar}"), Crc16Xmodem("foo{}{bar}") % kHashSlots);  // empty tag: whole key
  EXPECT_EQ(HashSlot("foo{{bar}}zap"), HashSlot("{bar"));
  EXPECT_EQ(HashSlot("foo{bar}{zap}"), HashSlot("bar"));
  EXPECT_EQ(HashSlot("foo{bar"), Crc16Xmodem("foo{bar") % kHashSlots);  // no closing brace
}

TEST(RespPipeline, RepliesComeInCommandOrderWithTheirTags) {
  RespPipeline pipeline(1 << 16, 8);
  const std::string_view set[] = {"SET", "k", std::string_view("a\0b\r\n", 5)};
  const std::string_view get[] = {"GET", "k"};
  ASSERT_TRUE(pipeline.Append(set, 10));
  ASSERT_TRUE(pipeline.Append(get, 11));
  EXPECT_EQ(pipeline.unsent(),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"sv);
  pipeline.Sent(pipeline.unsent().size());
  EXPECT_TRUE(pipeline.unsent().empty());
  EXPECT_EQ(pipeline.in_flight(), 2u);
  // The replies arrive one byte at a time.
  const std::string replies = "+OK\r\n" + Bulk(std::string_view("a\0b\r\n", 5));
  std::vector<std::pair<uint64_t, std::string>> seen;
  for (char c : replies) {
    ASSERT_TRUE(pipeline.Feed(std::string_view(&c, 1)).ok());
    uint64_t tag = 0;
    Reply reply;
    while (pipeline.NextReply(&tag, &reply)) seen.emplace_back(tag, std::string(reply->str, reply->len));
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<uint64_t, std::string>(10, "OK")));
  EXPECT_EQ(seen[1], (std::pair<uint64_t, std::string>(11, std::string("a\0b\r\n", 5))));
  EXPECT_EQ(pipeline.in_flight(), 0u);
  EXPECT_FALSE(pipeline.broken());
}

TEST(RespPipeline, BoundsRefuseWithoutQueueing) {
  RespPipeline pipeline(64, 2);
  const std::string_view ping[] = {"PING"};
  const std::string big(100, 'x');
  const std::string_view too_big[] = {"SET", "k", big};
  EXPECT_FALSE(pipeline.Append(too_big, 1));
  EXPECT_TRUE(pipeline.unsent().empty());
  EXPECT_TRUE(pipeline.Append(ping, 1));
  EXPECT_TRUE(pipeline.Append(ping, 2));
  EXPECT_FALSE(pipeline.Append(ping, 3));  // two in flight already
  EXPECT_EQ(pipeline.in_flight(), 2u);
  const std::vector<std::string_view> no_args;
  EXPECT_FALSE(pipeline.Append(no_args, 4));
  const std::vector<std::string_view> many(RespPipeline::kMaxArgs + 1, "x");
  EXPECT_FALSE(pipeline.Append(many, 5));
}

TEST(RespPipeline, GarbageAndUnaskedRepliesBreakTheStream) {
  {
    RespPipeline pipeline(1024, 4);
    const std::string_view ping[] = {"PING"};
    ASSERT_TRUE(pipeline.Append(ping, 1));
    ASSERT_TRUE(pipeline.Feed("!not resp\r\n").ok());
    uint64_t tag = 0;
    Reply reply;
    EXPECT_FALSE(pipeline.NextReply(&tag, &reply));
    EXPECT_TRUE(pipeline.broken());
    EXPECT_FALSE(pipeline.Feed("+OK\r\n").ok());
  }
  {
    RespPipeline pipeline(1024, 4);
    ASSERT_TRUE(pipeline.Feed("+OK\r\n").ok());
    uint64_t tag = 0;
    Reply reply;
    EXPECT_FALSE(pipeline.NextReply(&tag, &reply));
    EXPECT_TRUE(pipeline.broken());
  }
}

TEST(RespPipeline, ResetGivesBackEveryUnansweredTagInOrder) {
  RespPipeline pipeline(1024, 4);
  const std::string_view ping[] = {"PING"};
  for (uint64_t tag = 1; tag <= 3; ++tag) ASSERT_TRUE(pipeline.Append(ping, tag));
  pipeline.Sent(5);
  ASSERT_TRUE(pipeline.Feed("+PONG\r\n+PO").ok());
  uint64_t tag = 0;
  Reply reply;
  ASSERT_TRUE(pipeline.NextReply(&tag, &reply));
  EXPECT_EQ(tag, 1u);
  std::vector<uint64_t> lost;
  pipeline.Reset([&](uint64_t t) { lost.push_back(t); });
  EXPECT_EQ(lost, (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(pipeline.unsent().empty());
  // The half reply is gone with the old stream.
  ASSERT_TRUE(pipeline.Append(ping, 9));
  ASSERT_TRUE(pipeline.Feed("+PONG\r\n").ok());
  ASSERT_TRUE(pipeline.NextReply(&tag, &reply));
  EXPECT_EQ(tag, 9u);
  EXPECT_EQ(std::string_view(reply->str, reply->len), "PONG");
}

TEST(SlotMap, FromClusterSlots) {
  // Two masters, the first with a replica; the second named without a host.
  const std::string resp = "*2\r\n"
                           "*4\r\n:0\r\n:8191\r\n*3\r\n" + Bulk("127.0.0.1") + ":7000\r\n" + Bulk("id-a") +
                           "*3\r\n" + Bulk("127.0.0.1") + ":7003\r\n" + Bulk("id-d") +
                           "*3\r\n:8192\r\n:16383\r\n*3\r\n" + Bulk("") + ":7001\r\n" + Bulk("id-b");
  Reply reply = ReplyOf(resp);
  absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(*reply, {"10.1.1.1", 7999});
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->covered(), kHashSlots);
  ASSERT_EQ(map->nodes().size(), 2u);
  EXPECT_EQ(map->nodes()[0], (NodeAddress{"127.0.0.1", 7000}));
  EXPECT_EQ(map->nodes()[1], (NodeAddress{"10.1.1.1", 7001}));
  EXPECT_EQ(map->MasterOf(0), 0);
  EXPECT_EQ(map->MasterOf(8191), 0);
  EXPECT_EQ(map->MasterOf(8192), 1);
  EXPECT_EQ(map->MasterOf(16383), 1);
  // A -MOVED moves one slot.
  EXPECT_EQ(map->Assign(5, {"127.0.0.1", 7002}), 2);
  EXPECT_EQ(map->MasterOf(5), 2);
  EXPECT_EQ(map->MasterOf(4), 0);
}

TEST(SlotMap, PartialAndMalformedReplies) {
  const std::string partial = "*1\r\n*3\r\n:100\r\n:199\r\n*2\r\n" + Bulk("::1") + ":7000\r\n";
  absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(*ReplyOf(partial), {"::1", 7000});
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->covered(), 100u);
  EXPECT_EQ(map->MasterOf(99), SlotMap::kNoNode);
  EXPECT_EQ(map->nodes()[0].ToString(), "[::1]:7000");
  for (const std::string& bad : {std::string("+OK\r\n"), std::string("*1\r\n:1\r\n"),
                                 "*1\r\n*3\r\n:200\r\n:100\r\n*2\r\n" + Bulk("h") + ":1\r\n",
                                 "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n" + Bulk("h") + ":1\r\n",
                                 "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n" + Bulk("h") + ":70000\r\n",
                                 "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n" + Bulk("h")}) {
    EXPECT_FALSE(SlotMap::FromClusterSlots(*ReplyOf(bad), {"h", 1}).ok()) << bad;
  }
  EXPECT_EQ(SlotMap::Single({"127.0.0.1", 6379}).covered(), kHashSlots);
}

TEST(Redirection, MovedAndAsk) {
  std::optional<Redirection> moved = ParseRedirection("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirection::Kind::kMoved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 6381}));
  std::optional<Redirection> ask = ParseRedirection("ASK 1 ::1:7000");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirection::Kind::kAsk);
  EXPECT_EQ(ask->node, (NodeAddress{"::1", 7000}));
  for (std::string_view bad : {"ERR wrong", "MOVED", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h",
                               "MOVED 1 h:0", "MOVED 1 :1", "ASK 1 h:99999"}) {
    EXPECT_FALSE(ParseRedirection(bad)) << bad;
  }
}

TEST(AorStore, Commands) {
  ReadCommand read("sip:alice@example.com");
  EXPECT_EQ(read.key(), "locus:aor:sip:alice@example.com");
  ASSERT_EQ(read.args().size(), 4u);
  EXPECT_EQ(read.args()[0], "HMGET");
  std::vector<store::Binding> bindings;
  bindings.push_back(MakeBinding(1, 2000000000));
  bindings.push_back(MakeBinding(2, 2000000100));
  CasCommand cas("sip:alice@example.com", 42, bindings, "0123456789abcdef", 20);
  ASSERT_EQ(cas.args().size(), 9u);
  EXPECT_EQ(cas.args()[1], "locus_cas2");
  EXPECT_EQ(cas.args()[3], "locus:aor:sip:alice@example.com");
  EXPECT_EQ(cas.args()[4], "42");
  EXPECT_EQ(cas.args()[6], "2000000100000");  // the last binding's expiry, ms
  EXPECT_EQ(cas.args()[7], "0123456789abcdef");
  EXPECT_EQ(cas.args()[8], "20");
  CasCommand remove("sip:alice@example.com", 42, {});
  EXPECT_EQ(remove.args()[5], "");
  EXPECT_EQ(remove.args()[8], "0");  // no turn asked for
  EXPECT_TRUE(FunctionLibrary().starts_with("#!lua name=locus_v2\n"));
  EXPECT_NE(FunctionLibrary().find("register_function('locus_cas2'"), std::string_view::npos);
}

TEST(AorStore, DecodesStatesAndRefusesOthers) {
  std::vector<store::Binding> bindings;
  bindings.push_back(MakeBinding(1, 2000000000));
  std::string record;
  store::AppendAorState("sip:alice@example.com", bindings, &record);
  StoredAor stored;
  // Present.
  ASSERT_TRUE(DecodeRead(*ReplyOf("*2\r\n" + Bulk("1733550000123456") + Bulk(record)), "sip:alice@example.com",
                         &stored)
                  .ok());
  EXPECT_EQ(stored.version, 1733550000123456u);
  ASSERT_EQ(stored.bindings.size(), 1u);
  EXPECT_EQ(stored.bindings[0].contact(), bindings[0].contact());
  // Absent.
  ASSERT_TRUE(DecodeRead(*ReplyOf("*2\r\n$-1\r\n$-1\r\n"), "sip:alice@example.com", &stored).ok());
  EXPECT_EQ(stored.version, 0u);
  EXPECT_TRUE(stored.bindings.empty());
  // Another AOR's record, a flipped byte, a bad version, half a state.
  EXPECT_FALSE(DecodeRead(*ReplyOf("*2\r\n" + Bulk("5") + Bulk(record)), "sip:bob@example.com", &stored).ok());
  std::string flipped = record;
  flipped[flipped.size() - 3] ^= 1;
  EXPECT_FALSE(DecodeRead(*ReplyOf("*2\r\n" + Bulk("5") + Bulk(flipped)), "sip:alice@example.com", &stored).ok());
  EXPECT_FALSE(DecodeRead(*ReplyOf("*2\r\n" + Bulk("x5") + Bulk(record)), "sip:alice@example.com", &stored).ok());
  EXPECT_FALSE(DecodeRead(*ReplyOf("*2\r\n" + Bulk("5") + "$-1\r\n"), "sip:alice@example.com", &stored).ok());
  EXPECT_FALSE(DecodeRead(*ReplyOf(":5\r\n"), "sip:alice@example.com", &stored).ok());
  // CAS: committed, conflict with a state, conflict with none, another's
  // turn, errors.
  const std::string_view alice = "sip:alice@example.com";
  uint32_t turn_left_ms = 99;
  absl::StatusOr<CasOutcome> outcome = DecodeCas(*ReplyOf(":1733550000123457\r\n"), alice, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, CasOutcome::kCommitted);
  EXPECT_EQ(stored.version, 1733550000123457u);
  EXPECT_EQ(turn_left_ms, 0u);
  outcome = DecodeCas(*ReplyOf("*2\r\n" + Bulk("9") + Bulk(record)), alice, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, CasOutcome::kConflict);
  EXPECT_EQ(stored.version, 9u);
  EXPECT_EQ(stored.bindings.size(), 1u);
  outcome = DecodeCas(*ReplyOf("*2\r\n" + Bulk("0") + "$-1\r\n"), alice, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, CasOutcome::kConflict);
  EXPECT_EQ(stored.version, 0u);
  EXPECT_TRUE(stored.bindings.empty());
  outcome = DecodeCas(*ReplyOf("*3\r\n" + Bulk("9") + Bulk(record) + ":17\r\n"), alice, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, CasOutcome::kTurnHeld);
  EXPECT_EQ(turn_left_ms, 17u);
  EXPECT_EQ(stored.version, 9u);
  outcome = DecodeCas(*ReplyOf("*3\r\n" + Bulk("0") + "$-1\r\n:5\r\n"), alice, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, CasOutcome::kTurnHeld);
  EXPECT_EQ(stored.version, 0u);
  EXPECT_FALSE(DecodeCas(*ReplyOf("*3\r\n" + Bulk("9") + Bulk(record) + ":-1\r\n"), alice, &stored, &turn_left_ms).ok());
  EXPECT_FALSE(DecodeCas(*ReplyOf("*3\r\n" + Bulk("9") + Bulk(record) + Bulk("5")), alice, &stored, &turn_left_ms).ok());
  EXPECT_FALSE(DecodeCas(*ReplyOf("*1\r\n" + Bulk("9")), alice, &stored, &turn_left_ms).ok());
  EXPECT_FALSE(DecodeCas(*ReplyOf("-ERR boom\r\n"), alice, &stored, &turn_left_ms).ok());
  EXPECT_FALSE(DecodeCas(*ReplyOf("+OK\r\n"), alice, &stored, &turn_left_ms).ok());
}

}  // namespace
}  // namespace locus::engine::cluster
