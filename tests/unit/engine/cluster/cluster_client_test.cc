// ClusterClient (engine/cluster/cluster_client.h) driven by hand: what it
// asks the loop to connect and send, and the replies a Redis Cluster would
// give -- the slot map, routing, -MOVED, -ASK, a lost connection and its
// back-off, timeouts, a stand-alone Redis. Against a real cluster:
// tests/integration/cluster/redis_protocol_check.cc.
#include "engine/cluster/cluster_client.h"

#include <hiredis/hiredis.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/cluster/hash_slot.h"
#include "gtest/gtest.h"

namespace locus::engine::cluster {
namespace {

std::string Bulk(std::string_view s) { return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n"; }

// CLUSTER SLOTS: 0-8191 on port 7000, 8192-16383 on port 7001.
std::string TwoMasters() {
  return "*2\r\n*3\r\n:0\r\n:8191\r\n*2\r\n" + Bulk("127.0.0.1") + ":7000\r\n" +
         "*3\r\n:8192\r\n:16383\r\n*2\r\n" + Bulk("127.0.0.1") + ":7001\r\n";
}

// A key whose slot is in [first, last].
std::string KeyIn(uint16_t first, uint16_t last) {
  for (int i = 0;; ++i) {
    std::string key = "locus:aor:sip:k" + std::to_string(i) + "@example.com";
    const uint16_t slot = HashSlot(key);
    if (slot >= first && slot <= last) return key;
  }
}

// The port of the master the client's map names for `slot`.
uint16_t MasterPort(const ClusterClient& client, uint16_t slot) {
  return client.slot_map().nodes()[static_cast<size_t>(client.slot_map().MasterOf(slot))].port;
}

struct Ended {
  uint64_t tag;
  std::string reply;  // the string, status or error text
  std::string failure;
};

class Loop {
 public:
  explicit Loop(ClusterClient& client) : client_(client) {}
  // Connects what the client asks for, and says the sockets are up.
  std::vector<int> ConnectAll(uint64_t now) {
    std::vector<int> conns;
    client_.TakeConnects(now, [&](int conn, const NodeAddress&) { conns.push_back(conn); });
    for (int conn : conns) client_.Connected(conn, now);
    return conns;
  }
  std::string TakeSent(int conn) {
    std::string bytes(client_.Unsent(conn));
    client_.Sent(conn, bytes.size());
    return bytes;
  }
  bool Reply(int conn, std::string_view bytes, uint64_t now = 0) {
    return client_.Received(conn, bytes, now, [&](uint64_t tag, const redisReply* reply, std::string_view why) {
      ended.push_back({tag, reply ? std::string(reply->str ? reply->str : "", reply->len) : "", std::string(why)});
    });
  }
  void Close(int conn, uint64_t now) {
    client_.Closed(conn, now, [&](uint64_t tag, const redisReply*, std::string_view why) {
      ended.push_back({tag, "", std::string(why)});
    });
  }
  int ConnectionTo(uint16_t port) {
    for (size_t i = 0; i < client_.connection_count(); ++i) {
      if (client_.address(static_cast<int>(i)).port == port) return static_cast<int>(i);
    }
    return -1;
  }
  std::vector<Ended> ended;

 private:
  ClusterClient& client_;
};

constexpr std::string_view kLoaded = "$8\r\nlocus_v2\r\n";

ClusterClient::Options TwoSeeds() {
  ClusterClient::Options options;
  options.seeds = {{"127.0.0.1", 7000}, {"127.0.0.1", 7001}};
  options.reply_timeout_ms = 1000;
  return options;
}

// Both seeds connected, the function loaded on each, the map read from the first.
void Start(ClusterClient& client, Loop& loop) {
  EXPECT_EQ(loop.ConnectAll(0), (std::vector<int>{0, 1}));
  const std::string first = loop.TakeSent(0);
  EXPECT_TRUE(first.starts_with("*4\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$7\r\nREPLACE\r\n")) << first;
  EXPECT_NE(first.find("*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n"), std::string::npos);
  EXPECT_TRUE(loop.TakeSent(1).starts_with("*4\r\n$8\r\nFUNCTION"));
  EXPECT_FALSE(client.ready());
  ASSERT_TRUE(loop.Reply(0, std::string(kLoaded) + TwoMasters()));
  ASSERT_TRUE(loop.Reply(1, kLoaded));
  EXPECT_TRUE(client.ready());
  EXPECT_EQ(client.slot_map().covered(), kHashSlots);
  EXPECT_EQ(client.last_error(), "");
}

TEST(ClusterClient, RoutesEachKeyToItsMasterAndEndsCommandsWithTheirTags) {
  ClusterClient client(TwoSeeds());
  Loop loop(client);
  const std::string low = KeyIn(0, 8191), high = KeyIn(8192, 16383);
  const std::string_view get_low[] = {"GET", low}, get_high[] = {"GET", high};
  EXPECT_FALSE(client.Submit(low, get_low, 1, 0));  // no slot map yet
  Start(client, loop);
  ASSERT_TRUE(client.Submit(low, get_low, 1, 0));
  ASSERT_TRUE(client.Submit(high, get_high, 2, 0));
  EXPECT_EQ(loop.TakeSent(0), "*2\r\n$3\r\nGET\r\n" + Bulk(low));
  EXPECT_EQ(loop.TakeSent(1), "*2\r\n$3\r\nGET\r\n" + Bulk(high));
  ASSERT_TRUE(loop.Reply(1, Bulk("two")));
  ASSERT_TRUE(loop.Reply(0, "-ERR wrong type\r\n"));
  ASSERT_EQ(loop.ended.size(), 2u);
  EXPECT_EQ(loop.ended[0].tag, 2u);
  EXPECT_EQ(loop.ended[0].reply, "two");
  EXPECT_EQ(loop.ended[1].tag, 1u);
  EXPECT_EQ(loop.ended[1].reply, "ERR wrong type");  // error replies are the caller's
}

TEST(ClusterClient, MovedResendsToTheNamedMasterAndRereadsTheMap) {
  ClusterClient client(TwoSeeds());
  Loop loop(client);
  Start(client, loop);
  const std::string low = KeyIn(0, 8191);
  const uint16_t slot = HashSlot(low);
  const std::string_view get[] = {"GET", low};
  ASSERT_TRUE(client.Submit(low, get, 7, 0));
  loop.TakeSent(0);
  // The slot moved to a third master.
  ASSERT_TRUE(loop.Reply(0, "-MOVED " + std::to_string(slot) + " 127.0.0.1:7002\r\n"));
  EXPECT_TRUE(loop.ended.empty());
  EXPECT_EQ(client.redirections(), 1u);
  const int third = loop.ConnectionTo(7002);
  ASSERT_GE(third, 0);
  EXPECT_EQ(MasterPort(client, slot), 7002);
  // The map is read again, from a connection that is up.
  EXPECT_EQ(loop.TakeSent(0), "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n");
  EXPECT_EQ(loop.ConnectAll(1), (std::vector<int>{third}));
  const std::string sent = loop.TakeSent(third);
  EXPECT_TRUE(sent.starts_with("*4\r\n$8\r\nFUNCTION")) << sent;  // the library first
  EXPECT_TRUE(sent.ends_with("*2\r\n$3\r\nGET\r\n" + Bulk(low))) << sent;
  ASSERT_TRUE(loop.Reply(third, std::string(kLoaded) + Bulk("moved value")));
  ASSERT_EQ(loop.ended.size(), 1u);
  EXPECT_EQ(loop.ended[0].tag, 7u);
  EXPECT_EQ(loop.ended[0].reply, "moved value");
}

TEST(ClusterClient, AskSendsAskingFirstAndKeepsTheMap) {
  ClusterClient client(TwoSeeds());
  Loop loop(client);
  Start(client, loop);
  const std::string low = KeyIn(0, 8191);
  const uint16_t slot = HashSlot(low);
  const std::string_view get[] = {"GET", low};
  ASSERT_TRUE(client.Submit(low, get, 3, 0));
  loop.TakeSent(0);
  ASSERT_TRUE(loop.Reply(0, "-ASK " + std::to_string(slot) + " 127.0.0.1:7001\r\n"));
  EXPECT_EQ(loop.TakeSent(1), "*1\r\n$6\r\nASKING\r\n*2\r\n$3\r\nGET\r\n" + Bulk(low));
  EXPECT_EQ(MasterPort(client, slot), 7000);
  ASSERT_TRUE(loop.Reply(1, "+OK\r\n" + Bulk("asked")));
  ASSERT_EQ(loop.ended.size(), 1u);
  EXPECT_EQ(loop.ended[0].reply, "asked");
}

TEST(ClusterClient, RedirectionsAreBounded) {
  ClusterClient::Options options = TwoSeeds();
  options.max_redirections = 2;
  ClusterClient client(options);
  Loop loop(client);
  Start(client, loop);
  const std::string low = KeyIn(0, 8191);
  const std::string ask = "-ASK " + std::to_string(HashSlot(low));
  const std::string_view get[] = {"GET", low};
  ASSERT_TRUE(client.Submit(low, get, 4, 0));
  loop.TakeSent(0);
  ASSERT_TRUE(loop.Reply(0, ask + " 127.0.0.1:7001\r\n"));
  loop.TakeSent(1);
  ASSERT_TRUE(loop.Reply(1, "+OK\r\n" + ask + " 127.0.0.1:7000\r\n"));
  loop.TakeSent(0);
  ASSERT_TRUE(loop.Reply(0, "+OK\r\n" + ask + " 127.0.0.1:7001\r\n"));
  ASSERT_EQ(loop.ended.size(), 1u);
  EXPECT_EQ(loop.ended[0].tag, 4u);
  EXPECT_EQ(loop.ended[0].failure, "too many redirections");
}

TEST(ClusterClient, ALostConnectionFailsItsCommandsAndBacksOff) {
  ClusterClient client(TwoSeeds());
  Loop loop(client);
  Start(client, loop);
  const std::string low = KeyIn(0, 8191), high = KeyIn(8192, 16383);
  const std::string_view get_low[] = {"GET", low}, get_high[] = {"GET", high};
  ASSERT_TRUE(client.Submit(low, get_low, 1, 100));
  ASSERT_TRUE(client.Submit(low, get_low, 2, 100));
  ASSERT_TRUE(client.Submit(high, get_high, 3, 100));
  loop.Close(0, 200);
  ASSERT_EQ(loop.ended.size(), 2u);
  EXPECT_EQ(loop.ended[0].tag, 1u);
  EXPECT_EQ(loop.ended[1].tag, 2u);
  EXPECT_EQ(loop.ended[0].failure, "connection to Redis lost");
  EXPECT_FALSE(client.ready());
  EXPECT_EQ(client.state(0), ClusterClient::ConnectionState::kBackoff);
  EXPECT_NE(client.last_error().find("127.0.0.1:7000"), std::string::npos);
  // Down: its keys are refused at once; the other master's go on.
  EXPECT_FALSE(client.Submit(low, get_low, 4, 250));
  EXPECT_EQ(loop.TakeSent(1), "*2\r\n$3\r\nGET\r\n" + Bulk(high) + "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n");
  // No reconnect before the back-off (100 ms), then one; refused, the
  // back-off doubles.
  EXPECT_TRUE(loop.ConnectAll(299).empty());
  std::vector<int> connecting;
  client.TakeConnects(300, [&](int conn, const NodeAddress&) { connecting.push_back(conn); });
  EXPECT_EQ(connecting, (std::vector<int>{0}));
  loop.Close(0, 310);
  EXPECT_TRUE(loop.ConnectAll(509).empty());
  EXPECT_EQ(loop.ConnectAll(510), (std::vector<int>{0}));
  EXPECT_TRUE(loop.TakeSent(0).starts_with("*4\r\n$8\r\nFUNCTION"));
  ASSERT_TRUE(loop.Reply(0, kLoaded));
  ASSERT_TRUE(loop.Reply(1, Bulk("high") + TwoMasters()));
  EXPECT_TRUE(client.ready());
  EXPECT_TRUE(client.Submit(low, get_low, 5, 600));
  EXPECT_EQ(client.connection_failures(), 2u);
}

TEST(ClusterClient, WhileAMasterIsDownTheMapIsReadAgainAndAgain) {
  ClusterClient client(TwoSeeds());
  Loop loop(client);
  Start(client, loop);
  loop.Close(0, 1000);
  const std::string slots = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
  EXPECT_EQ(loop.TakeSent(1), slots);
  ASSERT_TRUE(loop.Reply(1, TwoMasters()));  // no failover yet
  auto never = [](int) { ADD_FAILURE() << "nothing times out here"; };
  client.Tick(1000, never);
  EXPECT_EQ(loop.TakeSent(1), slots);
  ASSERT_TRUE(loop.Reply(1, TwoMasters()));
  client.Tick(1249, never);
  EXPECT_EQ(loop.TakeSent(1), "");
  client.Tick(1250, never);
  EXPECT_EQ(loop.TakeSent(1), slots);
  // The replica on 7002 was promoted: the map moves there, reads stop.
  ASSERT_TRUE(loop.Reply(1, "*2\r\n*3\r\n:0\r\n:8191\r\n*2\r\n" + Bulk("127.0.0.1") + ":7002\r\n" +
                                "*3\r\n:8192\r\n:16383\r\n*2\r\n" + Bulk("127.0.0.1") + ":7001\r\n"));
  const int promoted = loop.ConnectionTo(7002);
  ASSERT_GE(promoted, 0);
  // (The dead master, a seed, is still tried after its back-off.)
  EXPECT_EQ(loop.ConnectAll(1300), (std::vector<int>{0, promoted}));
  client.Tick(2000, never);
  EXPECT_EQ(loop.TakeSent(1), "");
  const std::string low = KeyIn(0, 8191);
  const std::string_view get[] = {"GET", low};
  EXPECT_TRUE(client.Submit(low, get, 1, 2000));
  EXPECT_TRUE(loop.TakeSent(promoted).ends_with("*2\r\n$3\r\nGET\r\n" + Bulk(low)));
}

std::vector<std::string> TakeKeys(ClusterClient& client, bool* all) {
  std::vector<std::string> keys;
  client.TakeInvalidations([&](std::string_view key) { keys.emplace_back(key); }, all);
  return keys;
}

TEST(ClusterClient, InvalidationsThroughASubscribedConnectionPerNode) {
  ClusterClient::Options options;
  options.seeds = {{"127.0.0.1", 7000}};
  options.tracking_prefix = "locus:aor:";
  ClusterClient client(options);
  Loop loop(client);
  // A data connection and an invalidation connection.
  ASSERT_EQ(client.connection_count(), 2u);
  EXPECT_EQ(loop.ConnectAll(0), (std::vector<int>{0, 1}));
  EXPECT_EQ(loop.TakeSent(1), "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n"
                              "*2\r\n$9\r\nSUBSCRIBE\r\n$20\r\n__redis__:invalidate\r\n");
  EXPECT_TRUE(loop.TakeSent(0).starts_with("*4\r\n$8\r\nFUNCTION"));
  const std::string subscribed = "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n";
  ASSERT_TRUE(loop.Reply(1, ":17\r\n" + subscribed));
  // Tracking redirected to that id, for our prefix, our own writes included.
  EXPECT_EQ(loop.TakeSent(0), "*8\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n$8\r\nREDIRECT\r\n$2\r\n17\r\n"
                              "$5\r\nBCAST\r\n$6\r\nPREFIX\r\n$10\r\nlocus:aor:\r\n");
  ASSERT_TRUE(loop.Reply(0, std::string(kLoaded) + "-ERR This instance has cluster support disabled\r\n+OK\r\n"));
  EXPECT_TRUE(client.ready());
  EXPECT_TRUE(client.tracking());
  bool all = false;
  EXPECT_TRUE(TakeKeys(client, &all).empty());
  EXPECT_TRUE(all);  // tracking began: what was read before may be stale
  // Keys changed elsewhere.
  const std::string message = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";
  ASSERT_TRUE(loop.Reply(1, message + "*2\r\n" + Bulk("locus:aor:a") + Bulk("locus:aor:b")));
  ASSERT_TRUE(loop.Reply(1, message + "*1\r\n" + Bulk("locus:aor:c")));
  EXPECT_EQ(TakeKeys(client, &all), (std::vector<std::string>{"locus:aor:a", "locus:aor:b", "locus:aor:c"}));
  EXPECT_FALSE(all);
  EXPECT_EQ(client.invalidations(), 3u);
  EXPECT_TRUE(TakeKeys(client, &all).empty());
  // A flush: everything.
  ASSERT_TRUE(loop.Reply(1, message + "$-1\r\n"));
  EXPECT_TRUE(TakeKeys(client, &all).empty());
  EXPECT_TRUE(all);
  // The invalidation connection lost: everything, and the data connection
  // is closed so that tracking restarts with the next id.
  loop.Close(1, 10);
  EXPECT_TRUE(TakeKeys(client, &all).empty());
  EXPECT_TRUE(all);
  EXPECT_FALSE(client.tracking());
  std::vector<int> closed;
  client.Tick(10, [&](int conn) { closed.push_back(conn); });
  EXPECT_EQ(closed, (std::vector<int>{0}));
  loop.Close(0, 10);
  EXPECT_EQ(loop.ConnectAll(200), (std::vector<int>{0, 1}));
  const std::string first = loop.TakeSent(0);
  EXPECT_TRUE(first.starts_with("*4\r\n$8\r\nFUNCTION"));
  EXPECT_TRUE(first.ends_with("*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n"));  // the map again
  ASSERT_TRUE(loop.Reply(0, kLoaded));
  ASSERT_TRUE(loop.Reply(1, ":18\r\n" + subscribed));
  EXPECT_NE(loop.TakeSent(0).find("$8\r\nREDIRECT\r\n$2\r\n18\r\n"), std::string::npos);
  ASSERT_TRUE(loop.Reply(0, "-ERR This instance has cluster support disabled\r\n+OK\r\n"));
  EXPECT_TRUE(client.tracking());
}

TEST(ClusterClient, AnIdleInvalidationConnectionIsPingedAndClosedWhenSilent) {
  ClusterClient::Options options;
  options.seeds = {{"127.0.0.1", 7000}};
  options.tracking_prefix = "locus:aor:";
  options.keepalive_ms = 5000;
  options.reply_timeout_ms = 1000;
  ClusterClient client(options);
  Loop loop(client);
  loop.ConnectAll(0);
  loop.TakeSent(0);
  loop.TakeSent(1);
  ASSERT_TRUE(loop.Reply(1, ":17\r\n*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"));
  ASSERT_TRUE(loop.Reply(0, std::string(kLoaded) + "-ERR This instance has cluster support disabled\r\n+OK\r\n"));
  ASSERT_TRUE(client.tracking());
  bool all = false;
  TakeKeys(client, &all);
  EXPECT_TRUE(all);  // tracking began
  auto none = [](int conn) { ADD_FAILURE() << "closed " << conn; };
  client.Tick(4999, none);
  EXPECT_EQ(loop.TakeSent(1), "");
  client.Tick(5000, none);
  EXPECT_EQ(loop.TakeSent(1), "*1\r\n$4\r\nPING\r\n");
  // A published message before the pong is still an invalidation.
  const std::string message = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n" +
                              Bulk("locus:aor:x");
  ASSERT_TRUE(loop.Reply(1, message + "*2\r\n$4\r\npong\r\n$0\r\n\r\n"));
  EXPECT_EQ(TakeKeys(client, &all), (std::vector<std::string>{"locus:aor:x"}));
  EXPECT_FALSE(all);
  EXPECT_EQ(client.in_flight(1), 0u);
  // The next PING is not answered: the connection is closed.
  client.Tick(10000, none);
  EXPECT_EQ(loop.TakeSent(1), "*1\r\n$4\r\nPING\r\n");
  std::vector<int> closed;
  client.Tick(11001, [&](int conn) { closed.push_back(conn); });
  EXPECT_EQ(closed, (std::vector<int>{1}));
}

TEST(ClusterClient, SilentConnectionsTimeOut) {
  ClusterClient client(TwoSeeds());
  Loop loop(client);
  Start(client, loop);
  const std::string low = KeyIn(0, 8191);
  const std::string_view get[] = {"GET", low};
  ASSERT_TRUE(client.Submit(low, get, 1, 5000));
  std::vector<int> closed;
  client.Tick(6000, [&](int conn) { closed.push_back(conn); });
  EXPECT_TRUE(closed.empty());
  client.Tick(6001, [&](int conn) { closed.push_back(conn); });
  EXPECT_EQ(closed, (std::vector<int>{0}));
  EXPECT_EQ(client.timeouts(), 1u);
  // A connect that never completes times out too. (The loss made the
  // client read the map again from the other master: answered.)
  loop.Close(0, 6001);
  EXPECT_EQ(loop.TakeSent(1), "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n");
  ASSERT_TRUE(loop.Reply(1, TwoMasters()));
  std::vector<int> connecting;
  client.TakeConnects(7000, [&](int conn, const NodeAddress&) { connecting.push_back(conn); });
  ASSERT_EQ(connecting, (std::vector<int>{0}));
  closed.clear();
  client.Tick(8001, [&](int conn) { closed.push_back(conn); });
  EXPECT_EQ(closed, (std::vector<int>{0}));
}

TEST(ClusterClient, AStandAloneRedisServesEverySlot) {
  ClusterClient::Options options;
  options.seeds = {{"127.0.0.1", 6379}};
  ClusterClient client(options);
  Loop loop(client);
  EXPECT_EQ(loop.ConnectAll(0), (std::vector<int>{0}));
  loop.TakeSent(0);
  ASSERT_TRUE(loop.Reply(0, std::string(kLoaded) + "-ERR This instance has cluster support disabled\r\n"));
  EXPECT_TRUE(client.ready());
  EXPECT_EQ(client.slot_map().covered(), kHashSlots);
  const std::string_view get[] = {"GET", "any"};
  EXPECT_TRUE(client.Submit("any", get, 1, 0));
}

TEST(ClusterClient, AMasterRefusingTheLibraryIsReportedAReplicaIsNot) {
  ClusterClient client(TwoSeeds());
  Loop loop(client);
  loop.ConnectAll(0);
  ASSERT_TRUE(loop.Reply(1, "-READONLY You can't write against a read only replica.\r\n"));
  EXPECT_EQ(client.last_error(), "");
  ASSERT_TRUE(loop.Reply(0, "-ERR Error compiling function\r\n"));
  EXPECT_NE(client.last_error().find("FUNCTION LOAD"), std::string::npos);
  // Garbage breaks the stream: the loop must close it.
  EXPECT_FALSE(loop.Reply(0, "?garbage\r\n"));
}

TEST(ClusterClient, WithReplicaAcksRepliesWaitForTheWaitBehindThem) {
  ClusterClient::Options options = TwoSeeds();
  options.replica_acks = 1;
  options.replica_wait_ms = 500;
  ClusterClient client(options);
  Loop loop(client);
  Start(client, loop);
  const std::string low = KeyIn(0, 8191);
  const std::string_view set[] = {"SET", low, "x"};
  const std::string_view get[] = {"GET", low};
  client.QueueWaits(0);
  ASSERT_TRUE(client.Submit(low, get, 9, 0));  // a read: no WAIT, not held
  client.QueueWaits(0);
  EXPECT_EQ(loop.TakeSent(0), "*2\r\n$3\r\nGET\r\n" + Bulk(low));
  ASSERT_TRUE(loop.Reply(0, Bulk("x")));
  ASSERT_EQ(loop.ended.size(), 1u);
  loop.ended.clear();
  ASSERT_TRUE(client.Submit(low, set, 1, 0, /*write=*/true));
  ASSERT_TRUE(client.Submit(low, set, 2, 0, /*write=*/true));
  client.QueueWaits(0);
  client.QueueWaits(0);  // one WAIT for the writes queued since the last
  const std::string wait = "*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n500\r\n";
  const std::string sent = loop.TakeSent(0);
  EXPECT_EQ(sent, "*3\r\n$3\r\nSET\r\n" + Bulk(low) + "$1\r\nx\r\n" + "*3\r\n$3\r\nSET\r\n" + Bulk(low) +
                      "$1\r\nx\r\n" + wait);
  ASSERT_TRUE(loop.Reply(0, "+OK\r\n+OK\r\n"));
  EXPECT_TRUE(loop.ended.empty());  // held until a replica has them
  ASSERT_TRUE(loop.Reply(0, ":1\r\n"));
  ASSERT_EQ(loop.ended.size(), 2u);
  EXPECT_EQ(loop.ended[0].tag, 1u);
  EXPECT_EQ(loop.ended[0].reply, "OK");
  EXPECT_EQ(loop.ended[1].tag, 2u);

  // No replica took the next one within the wait: it fails.
  ASSERT_TRUE(client.Submit(low, set, 3, 0, /*write=*/true));
  client.QueueWaits(0);
  EXPECT_EQ(loop.TakeSent(0), "*3\r\n$3\r\nSET\r\n" + Bulk(low) + "$1\r\nx\r\n" + wait);
  ASSERT_TRUE(loop.Reply(0, "+OK\r\n:0\r\n"));
  ASSERT_EQ(loop.ended.size(), 3u);
  EXPECT_EQ(loop.ended[2].tag, 3u);
  EXPECT_EQ(loop.ended[2].reply, "");
  EXPECT_NE(loop.ended[2].failure.find("not replicated"), std::string::npos) << loop.ended[2].failure;

  // A connection lost between the reply and the WAIT's: it fails too.
  ASSERT_TRUE(client.Submit(low, set, 4, 0, /*write=*/true));
  client.QueueWaits(0);
  loop.TakeSent(0);
  ASSERT_TRUE(loop.Reply(0, "+OK\r\n"));
  loop.Close(0, 0);
  ASSERT_EQ(loop.ended.size(), 4u);
  EXPECT_EQ(loop.ended[3].tag, 4u);
  EXPECT_NE(loop.ended[3].failure.find("before a replica had it"), std::string::npos) << loop.ended[3].failure;
}

}  // namespace
}  // namespace locus::engine::cluster
