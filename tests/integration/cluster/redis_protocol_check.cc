// engine/cluster/'s protocol side against a real Redis Cluster: the slot map
// from its CLUSTER SLOTS, our hash slot against its CLUSTER KEYSLOT, the
// locus_cas2 function's compare-and-set and turns, and -MOVED from a master that does
// not serve a key. Run by test_redis_cluster.py, which starts the cluster and
// names its seeds in LOCUS_REDIS_SEEDS; the sockets here are plain blocking
// ones (locusd drives the same pipelines on io_uring).
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/text.h"
#include "engine/cluster/aor_store.h"
#include "engine/cluster/cluster_client.h"
#include "engine/cluster/hash_slot.h"
#include "engine/cluster/resp_pipeline.h"
#include "engine/cluster/slot_map.h"
#include "engine/transport/redis_links.h"
#include "engine/uring.h"
#include "gtest/gtest.h"

namespace locus::engine::cluster {
namespace {

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// The loop a shard runs around a ClusterClient, on poll(2) and non-blocking
// sockets: connects, sends, receives, closes and ticks as the client asks.
class PollLoop {
 public:
  using OnEnd = std::function<void(uint64_t tag, const redisReply* reply, std::string_view failure)>;

  PollLoop(ClusterClient& client, OnEnd on_end) : client_(client), on_end_(std::move(on_end)) {}
  // How long a turn waits for a socket (0: it only looks).
  void set_poll_ms(int ms) { poll_ms_ = ms; }
  ~PollLoop() {
    for (auto& [conn, fd] : fds_) close(fd);
  }

  // Turns until `until()` or `timeout_ms`; true when `until()` came true.
  bool RunUntil(const std::function<bool()>& until, uint64_t timeout_ms) {
    const uint64_t deadline = NowMs() + timeout_ms;
    while (!until()) {
      if (NowMs() > deadline) return false;
      Turn();
    }
    return true;
  }

  void Turn() {
    const uint64_t now = NowMs();
    std::vector<int> refused;
    client_.TakeConnects(now, [&](int conn, const NodeAddress& address) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(address.port);
      inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr);
      if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
        close(fd);
        refused.push_back(conn);
        return;
      }
      fds_[conn] = fd;
      connecting_[conn] = true;
    });
    for (int conn : refused) client_.Closed(conn, now, on_end_);
    std::vector<pollfd> polls;
    std::vector<int> conns;
    for (auto& [conn, fd] : fds_) {
      short events = POLLIN;
      if (connecting_[conn] || !client_.Unsent(conn).empty()) events |= POLLOUT;
      polls.push_back({fd, events, 0});
      conns.push_back(conn);
    }
    poll(polls.data(), polls.size(), poll_ms_);
    for (size_t i = 0; i < polls.size(); ++i) {
      const int conn = conns[i];
      const int fd = polls[i].fd;
      if (polls[i].revents == 0) continue;
      if (connecting_[conn]) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          Drop(conn);
          continue;
        }
        connecting_[conn] = false;
        client_.Connected(conn, NowMs());
      }
      if (polls[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buffer[65536];
        const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0 || !client_.Received(conn, std::string_view(buffer, static_cast<size_t>(n)), NowMs(), on_end_)) {
          Drop(conn);
          continue;
        }
      }
      const std::string_view unsent = client_.Unsent(conn);
      if (!unsent.empty()) {
        const ssize_t n = send(fd, unsent.data(), unsent.size(), MSG_NOSIGNAL);
        if (n > 0) client_.Sent(conn, static_cast<size_t>(n));
      }
    }
    std::vector<int> stale;
    client_.Tick(NowMs(), [&](int conn) { stale.push_back(conn); });
    for (int conn : stale) Drop(conn);
  }

 private:
  void Drop(int conn) {
    close(fds_[conn]);
    fds_.erase(conn);
    connecting_.erase(conn);
    client_.Closed(conn, NowMs(), on_end_);
  }

  ClusterClient& client_;
  OnEnd on_end_;
  std::map<int, int> fds_;
  std::map<int, bool> connecting_;
  int poll_ms_ = 10;
};

// The same client on io_uring, through RedisLinks, as a shard runs it.
class UringLoop {
 public:
  UringLoop(ClusterClient& client, PollLoop::OnEnd on_end) : on_end_(std::move(on_end)) {
    ok_ = io_uring_queue_init(256, &ring_, 0) == 0;
    links_ = std::make_unique<RedisLinks>(&ring_, client);
  }
  ~UringLoop() {
    if (!ok_) return;
    links_->CloseAll(NowMs(), on_end_);
    const uint64_t deadline = NowMs() + 5000;
    while (links_->in_flight() > 0 && NowMs() < deadline) Wait();
    links_.reset();
    io_uring_queue_exit(&ring_);
  }
  bool ok() const { return ok_; }
  const RedisLinks& links() const { return *links_; }

  bool RunUntil(const std::function<bool()>& until, uint64_t timeout_ms) {
    const uint64_t deadline = NowMs() + timeout_ms;
    while (!until()) {
      if (NowMs() > deadline) return false;
      links_->Turn(NowMs(), on_end_);
      Wait();
    }
    return true;
  }

 private:
  void Wait() {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec timeout{0, 10 * 1000 * 1000};
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t tag = io_uring_cqe_get_data64(cqe);
      const size_t slot = IoIndexOf(tag);
      const uint32_t generation = IoGenerationOf(tag);
      switch (IoOpOf(tag)) {
        case IoOp::kRedisConnect:
          links_->OnConnect(slot, generation, cqe->res, NowMs(), on_end_);
          break;
        case IoOp::kRedisReceive:
          links_->OnReceive(slot, generation, cqe->res, NowMs(), on_end_);
          break;
        case IoOp::kRedisSend:
          links_->OnSent(slot, generation, cqe->res, NowMs(), on_end_);
          break;
        default:
          break;
      }
    }
    io_uring_cq_advance(&ring_, seen);
  }

  io_uring ring_{};
  bool ok_ = false;
  PollLoop::OnEnd on_end_;
  std::unique_ptr<RedisLinks> links_;
};

// One blocking connection to a node, driving a RespPipeline.
class Node {
 public:
  explicit Node(const NodeAddress& address) : pipeline_(1 << 24, 100000) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(address.port);
    inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  ~Node() { close(fd_); }
  bool connected() const { return connected_; }

  void Queue(std::span<const std::string_view> args) {
    ASSERT_TRUE(pipeline_.Append(args, next_tag_++));
  }
  // Sends everything queued and reads every reply, in order.
  std::vector<Reply> Flush() {
    std::vector<Reply> replies;
    while (!pipeline_.unsent().empty()) {
      const ssize_t n = send(fd_, pipeline_.unsent().data(), pipeline_.unsent().size(), MSG_NOSIGNAL);
      if (n <= 0) return replies;
      pipeline_.Sent(static_cast<size_t>(n));
    }
    char buffer[65536];
    while (pipeline_.in_flight() > 0) {
      uint64_t tag = 0;
      Reply reply;
      if (pipeline_.NextReply(&tag, &reply)) {
        EXPECT_EQ(tag, first_tag_ + replies.size());
        replies.push_back(std::move(reply));
        continue;
      }
      if (pipeline_.broken()) break;
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0 || !pipeline_.Feed(std::string_view(buffer, static_cast<size_t>(n))).ok()) break;
    }
    first_tag_ = next_tag_;
    return replies;
  }
  Reply Call(std::span<const std::string_view> args) {
    Queue(args);
    std::vector<Reply> replies = Flush();
    return replies.empty() ? Reply() : std::move(replies[0]);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  RespPipeline pipeline_;
  uint64_t next_tag_ = 1;
  uint64_t first_tag_ = 1;
};

std::string_view Text(const Reply& reply) {
  return reply ? std::string_view(reply->str ? reply->str : "", reply->len) : std::string_view();
}

store::Binding MakeBinding(int i, uint32_t expires_at) {
  store::Binding b;
  b.AssignText({"sip:phone" + std::to_string(i) + "@10.0.0.1:5060", "call-" + std::to_string(i), "", "", ""});
  b.cseq = static_cast<uint32_t>(i);
  b.expires_at = expires_at;
  return b;
}

class RedisCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* seeds = std::getenv("LOCUS_REDIS_SEEDS");
    ASSERT_NE(seeds, nullptr) << "LOCUS_REDIS_SEEDS names the cluster's seed nodes";
    for (std::string_view seed : SplitList(seeds)) {
      std::optional<NodeAddress> node = ParseNodeAddress(seed);
      ASSERT_TRUE(node) << seed;
      seeds_.push_back(*node);
    }
    Node seed(seeds_[0]);
    ASSERT_TRUE(seed.connected());
    const std::string_view slots[] = {"CLUSTER", "SLOTS"};
    Reply reply = seed.Call(slots);
    ASSERT_TRUE(reply);
    absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(*reply, seeds_[0]);
    ASSERT_TRUE(map.ok()) << map.status();
    map_ = std::move(*map);
    for (const NodeAddress& address : map_.nodes()) {
      masters_.push_back(std::make_unique<Node>(address));
      ASSERT_TRUE(masters_.back()->connected()) << address.ToString();
      const std::string_view load[] = {"FUNCTION", "LOAD", "REPLACE", FunctionLibrary()};
      EXPECT_EQ(Text(masters_.back()->Call(load)), kFunctionLibraryName);
    }
  }

  Node& MasterFor(std::string_view key) {
    const int index = map_.MasterOf(HashSlot(key));
    EXPECT_GE(index, 0);
    return *masters_[static_cast<size_t>(index < 0 ? 0 : index)];
  }

  std::vector<NodeAddress> seeds_;
  SlotMap map_;
  std::vector<std::unique_ptr<Node>> masters_;
};

TEST_F(RedisCluster, SlotMapCoversEverySlotWithTheMasters) {
  EXPECT_EQ(map_.covered(), kHashSlots);
  EXPECT_EQ(map_.nodes().size(), seeds_.size());
  for (const NodeAddress& seed : seeds_) {
    bool found = false;
    for (const NodeAddress& node : map_.nodes()) found |= node == seed;
    EXPECT_TRUE(found) << seed.ToString();
  }
}

TEST_F(RedisCluster, OurHashSlotIsTheServersKeySlot) {
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) keys.push_back(Cat(kAorKeyPrefix, "sip:user", i, "@example.com"));
  for (const char* odd : {"", "{", "}", "{}", "a{b}c", "a{}b{c}", "{{x}}", "sips:\xff\x01@[::1]", "%7Bq%7D"}) {
    keys.push_back(Cat(kAorKeyPrefix, odd));
    keys.push_back(odd);
  }
  Node& node = *masters_[0];
  for (const std::string& key : keys) {
    const std::string_view keyslot[] = {"CLUSTER", "KEYSLOT", key};
    node.Queue(keyslot);
  }
  std::vector<Reply> replies = node.Flush();
  ASSERT_EQ(replies.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(replies[i]->type, REDIS_REPLY_INTEGER) << keys[i];
    EXPECT_EQ(replies[i]->integer, HashSlot(keys[i])) << keys[i];
  }
}

TEST_F(RedisCluster, CompareAndSetOfAnAor) {
  const std::string aor = "sip:cas-" + std::to_string(getpid()) + "@example.com";
  const uint32_t later = static_cast<uint32_t>(time(nullptr)) + 3600;
  ReadCommand read(aor);
  Node& node = MasterFor(read.key());
  StoredAor stored;

  // Absent: version 0.
  ASSERT_TRUE(DecodeRead(*node.Call(read.args()), aor, &stored).ok());
  EXPECT_EQ(stored.version, 0u);

  // Created from version 0.
  std::vector<store::Binding> two;
  two.push_back(MakeBinding(1, later));
  two.push_back(MakeBinding(2, later + 60));
  CasCommand create(aor, 0, two);
  uint32_t turn_left_ms = 0;
  absl::StatusOr<CasOutcome> outcome = DecodeCas(*node.Call(create.args()), aor, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(*outcome, CasOutcome::kCommitted);
  const uint64_t v1 = stored.version;
  EXPECT_GT(v1, uint64_t{1600000000} * 1000000);  // the master's clock, in microseconds

  // Read back; the key expires with the last binding.
  ASSERT_TRUE(DecodeRead(*node.Call(read.args()), aor, &stored).ok());
  EXPECT_EQ(stored.version, v1);
  ASSERT_EQ(stored.bindings.size(), 2u);
  EXPECT_EQ(stored.bindings[1].contact(), two[1].contact());
  const std::string key(read.key());
  const std::string_view expiretime[] = {"PEXPIRETIME", key};
  EXPECT_EQ(node.Call(expiretime)->integer, int64_t{later + 60} * 1000);

  // A decision made on a stale version conflicts, and gets the state.
  std::vector<store::Binding> one;
  one.push_back(MakeBinding(3, later));
  CasCommand stale(aor, 0, one);
  outcome = DecodeCas(*node.Call(stale.args()), aor, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, CasOutcome::kConflict);
  EXPECT_EQ(stored.version, v1);
  EXPECT_EQ(stored.bindings.size(), 2u);

  // Decided again on v1: committed, a larger version.
  CasCommand again(aor, v1, one);
  outcome = DecodeCas(*node.Call(again.args()), aor, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok() && *outcome == CasOutcome::kCommitted);
  const uint64_t v2 = stored.version;
  EXPECT_GT(v2, v1);

  // The last binding removed: the key is gone, version 0 ...
  CasCommand remove(aor, v2, {});
  outcome = DecodeCas(*node.Call(remove.args()), aor, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok() && *outcome == CasOutcome::kCommitted);
  ASSERT_TRUE(DecodeRead(*node.Call(read.args()), aor, &stored).ok());
  EXPECT_EQ(stored.version, 0u);
  const std::string_view exists[] = {"EXISTS", key};
  EXPECT_EQ(node.Call(exists)->integer, 0);
  // ... and a new life of the key never reuses an old version.
  CasCommand recreate(aor, 0, one);
  outcome = DecodeCas(*node.Call(recreate.args()), aor, &stored, &turn_left_ms);
  ASSERT_TRUE(outcome.ok() && *outcome == CasOutcome::kCommitted);
  EXPECT_GT(stored.version, v2);
}

// Two committers of one AOR take turns: the one that lost a race and asked
// for the turn commits next; the other is refused, with the turn's time
// left, until then or until the turn ends.
TEST_F(RedisCluster, CommittersTakeTurns) {
  const std::string aor = "sip:turn-" + std::to_string(getpid()) + "@example.com";
  const uint32_t later = static_cast<uint32_t>(time(nullptr)) + 3600;
  ReadCommand read(aor);
  Node& node = MasterFor(read.key());
  const std::string key(read.key());
  std::vector<store::Binding> a_binding, b_binding;
  a_binding.push_back(MakeBinding(1, later));
  b_binding.push_back(MakeBinding(2, later + 60));
  StoredAor stored;
  uint32_t turn_left_ms = 0;
  auto cas = [&](uint64_t expected, const std::vector<store::Binding>& bindings, std::string_view who,
                 uint32_t turn_ms) {
    CasCommand command(aor, expected, bindings, who, turn_ms);
    absl::StatusOr<CasOutcome> outcome = DecodeCas(*node.Call(command.args()), aor, &stored, &turn_left_ms);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? *outcome : CasOutcome::kConflict;
  };
  auto holder = [&]() {
    const std::string_view hget[] = {"HGET", key, "t"};
    Reply reply = node.Call(hget);
    return reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : std::string();
  };

  ASSERT_EQ(cas(0, a_binding, "a", 0), CasOutcome::kCommitted);
  const uint64_t v1 = stored.version;
  // A conflict that asks for no turn takes none.
  ASSERT_EQ(cas(0, b_binding, "b", 0), CasOutcome::kConflict);
  EXPECT_EQ(holder(), "");
  // One that asks takes it ...
  ASSERT_EQ(cas(0, b_binding, "b", 5000), CasOutcome::kConflict);
  EXPECT_EQ(stored.version, v1);
  EXPECT_EQ(holder(), "b");
  // ... so that a commit of another on the current version is refused, with
  // the state and the turn's time left ...
  ASSERT_EQ(cas(v1, a_binding, "a", 5000), CasOutcome::kTurnHeld);
  EXPECT_EQ(stored.version, v1);
  EXPECT_GT(turn_left_ms, 0u);
  EXPECT_LE(turn_left_ms, 5001u);
  EXPECT_EQ(holder(), "b");  // a refused committer takes no turn
  // ... and the holder commits; that ends its turn, the key keeps its expiry.
  ASSERT_EQ(cas(v1, b_binding, "b", 5000), CasOutcome::kCommitted);
  const uint64_t v2 = stored.version;
  EXPECT_GT(v2, v1);
  EXPECT_EQ(holder(), "");
  const std::string_view expiretime[] = {"PEXPIRETIME", key};
  EXPECT_EQ(node.Call(expiretime)->integer, int64_t{later + 60} * 1000);
  ASSERT_EQ(cas(v2, a_binding, "a", 0), CasOutcome::kCommitted);
  const uint64_t v3 = stored.version;

  // A turn that is not used ends by itself: the other commits once it has.
  ASSERT_EQ(cas(v1, b_binding, "b", 150), CasOutcome::kConflict);
  ASSERT_EQ(cas(v3, a_binding, "a", 0), CasOutcome::kTurnHeld);
  const uint64_t refused_at = NowMs();
  CasOutcome outcome = CasOutcome::kTurnHeld;
  while (outcome == CasOutcome::kTurnHeld && NowMs() < refused_at + 5000) {
    outcome = cas(v3, a_binding, "a", 0);
  }
  EXPECT_EQ(outcome, CasOutcome::kCommitted);
  EXPECT_LE(NowMs(), refused_at + 1000);

  // A turn taken on an AOR without bindings is a key that lives no longer
  // than the turn, and reads as no bindings.
  const std::string absent = "sip:turn-absent-" + std::to_string(getpid()) + "@example.com";
  ReadCommand read_absent(absent);
  Node& absent_node = MasterFor(read_absent.key());
  CasCommand stale(absent, 7, b_binding, "b", 150);
  ASSERT_EQ(DecodeCas(*absent_node.Call(stale.args()), absent, &stored, &turn_left_ms).value_or(CasOutcome::kCommitted),
            CasOutcome::kConflict);
  EXPECT_EQ(stored.version, 0u);
  ASSERT_TRUE(DecodeRead(*absent_node.Call(read_absent.args()), absent, &stored).ok());
  EXPECT_EQ(stored.version, 0u);
  EXPECT_TRUE(stored.bindings.empty());
  const std::string absent_key(read_absent.key());
  const std::string_view pttl[] = {"PTTL", absent_key};
  const long long ttl = absent_node.Call(pttl)->integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 150);
}

TEST_F(RedisCluster, ManyCommitsPipelinedPerMaster) {
  const uint32_t later = static_cast<uint32_t>(time(nullptr)) + 3600;
  std::vector<std::unique_ptr<CasCommand>> commands;
  std::vector<std::vector<size_t>> per_master(masters_.size());
  for (int i = 0; i < 3000; ++i) {
    const std::string aor = Cat("sip:pipe", i, "-", getpid(), "@example.com");
    std::vector<store::Binding> one;
    one.push_back(MakeBinding(i, later));
    commands.push_back(std::make_unique<CasCommand>(aor, 0, one));
    const int master = map_.MasterOf(HashSlot(commands.back()->key()));
    ASSERT_GE(master, 0);
    masters_[static_cast<size_t>(master)]->Queue(commands.back()->args());
    per_master[static_cast<size_t>(master)].push_back(commands.size() - 1);
  }
  size_t committed = 0;
  for (size_t m = 0; m < masters_.size(); ++m) {
    std::vector<Reply> replies = masters_[m]->Flush();
    ASSERT_EQ(replies.size(), per_master[m].size());
    for (const Reply& reply : replies) committed += reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
  }
  EXPECT_EQ(committed, commands.size());
}

TEST_F(RedisCluster, AMasterThatDoesNotServeTheKeySaysMoved) {
  ReadCommand read("sip:moved@example.com");
  const uint16_t slot = HashSlot(read.key());
  const int owner = map_.MasterOf(slot);
  ASSERT_GE(owner, 0);
  Node& other = *masters_[(static_cast<size_t>(owner) + 1) % masters_.size()];
  Reply reply = other.Call(read.args());
  ASSERT_EQ(reply->type, REDIS_REPLY_ERROR);
  std::optional<Redirection> redirection = ParseRedirection(Text(reply));
  ASSERT_TRUE(redirection) << Text(reply);
  EXPECT_EQ(redirection->kind, Redirection::Kind::kMoved);
  EXPECT_EQ(redirection->slot, slot);
  EXPECT_EQ(redirection->node, map_.nodes()[static_cast<size_t>(owner)]);
}

// Servers of the cluster by port: their PIDs (LOCUS_REDIS_PIDS, "port=pid,...").
std::map<uint16_t, pid_t> ServerPids() {
  std::map<uint16_t, pid_t> pids;
  const char* text = std::getenv("LOCUS_REDIS_PIDS");
  if (text == nullptr) return pids;
  for (std::string_view item : SplitList(text)) {
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos) continue;
    pids[static_cast<uint16_t>(std::stoi(std::string(item.substr(0, equals))))] =
        std::stoi(std::string(item.substr(equals + 1)));
  }
  return pids;
}

// A ClusterClient on a poll loop, with what its commands ended as.
struct ClientRun {
  explicit ClientRun(std::vector<NodeAddress> seeds) : client(Options(std::move(seeds))), loop(client, OnEnd()) {}
  static ClusterClient::Options Options(std::vector<NodeAddress> seeds) {
    ClusterClient::Options options;
    options.seeds = std::move(seeds);
    return options;
  }
  PollLoop::OnEnd OnEnd() {
    return [this](uint64_t tag, const redisReply* reply, std::string_view failure) {
      ++ended;
      last_tag = tag;
      last_type = reply ? reply->type : 0;
      last_integer = reply ? reply->integer : 0;
      last_failure = std::string(failure);
      if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) ++failed;
    };
  }
  ClusterClient client;
  PollLoop loop;
  size_t ended = 0, failed = 0;
  uint64_t last_tag = 0;
  int last_type = 0;
  long long last_integer = 0;
  std::string last_failure;
};

TEST_F(RedisCluster, ClientCommitsThroughEveryMaster) {
  ClientRun run(seeds_);
  ASSERT_TRUE(run.loop.RunUntil([&] { return run.client.ready(); }, 10000)) << run.client.last_error();
  EXPECT_EQ(run.client.slot_map().nodes().size(), 3u);
  const uint32_t later = static_cast<uint32_t>(time(nullptr)) + 3600;
  std::vector<std::unique_ptr<CasCommand>> commands;
  for (int i = 0; i < 3000; ++i) {
    std::vector<store::Binding> one;
    one.push_back(MakeBinding(i, later));
    commands.push_back(std::make_unique<CasCommand>(Cat("sip:client", i, "-", getpid(), "@example.com"), 0, one));
    ASSERT_TRUE(run.client.Submit(commands.back()->key(), commands.back()->args(), static_cast<uint64_t>(i), NowMs()));
  }
  ASSERT_TRUE(run.loop.RunUntil([&] { return run.ended == commands.size(); }, 20000));
  EXPECT_EQ(run.failed, 0u) << run.last_failure;
  EXPECT_EQ(run.client.redirections(), 0u);
}

TEST_F(RedisCluster, ClientOnIoUringCommitsThroughEveryMaster) {
  size_t ended = 0, committed = 0;
  std::string failure;
  ClusterClient client(ClientRun::Options(seeds_));
  UringLoop loop(client, [&](uint64_t, const redisReply* reply, std::string_view why) {
    ++ended;
    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0) ++committed;
    if (reply == nullptr) failure = std::string(why);
  });
  ASSERT_TRUE(loop.ok());
  ASSERT_TRUE(loop.RunUntil([&] { return client.ready(); }, 10000)) << client.last_error();
  const uint32_t later = static_cast<uint32_t>(time(nullptr)) + 3600;
  std::vector<std::unique_ptr<CasCommand>> commands;
  // In rounds, as a shard's turns would send them.
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 1000; ++i) {
      std::vector<store::Binding> one;
      one.push_back(MakeBinding(i, later));
      commands.push_back(std::make_unique<CasCommand>(Cat("sip:uring", round, "-", i, "-", getpid(), "@example.com"),
                                                      0, one));
      ASSERT_TRUE(client.Submit(commands.back()->key(), commands.back()->args(), commands.size(), NowMs()));
    }
    ASSERT_TRUE(loop.RunUntil([&] { return ended == commands.size(); }, 20000)) << ended;
  }
  EXPECT_EQ(committed, commands.size()) << failure;
}

TEST_F(RedisCluster, ClientOnIoUringFailsFastWhereNothingListens) {
  // A port with nothing on it: the connect is refused, back-off follows.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t length = sizeof sa;
  getsockname(probe, reinterpret_cast<sockaddr*>(&sa), &length);
  const uint16_t port = ntohs(sa.sin_port);
  close(probe);
  ClusterClient client(ClientRun::Options({{"127.0.0.1", port}, {"not-an-address", 1}}));
  UringLoop loop(client, [](uint64_t, const redisReply*, std::string_view) {});
  ASSERT_TRUE(loop.ok());
  ASSERT_TRUE(loop.RunUntil([&] { return client.connection_failures() >= 4; }, 5000));
  EXPECT_FALSE(client.ready());
  EXPECT_EQ(client.state(0), ClusterClient::ConnectionState::kBackoff);
  EXPECT_EQ(client.state(1), ClusterClient::ConnectionState::kBackoff);
  EXPECT_NE(client.last_error().find("connection lost"), std::string::npos);
}

uint64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

TEST_F(RedisCluster, InvalidationsReachEveryTrackingClientTheWriterIncluded) {
  ClientRun writer(seeds_);
  ClusterClient::Options options = ClientRun::Options(seeds_);
  options.tracking_prefix = std::string(kAorKeyPrefix);
  ClusterClient reader(options);
  size_t reader_ended = 0;
  PollLoop reader_loop(reader, [&](uint64_t, const redisReply*, std::string_view) { ++reader_ended; });
  writer.loop.set_poll_ms(0);
  reader_loop.set_poll_ms(0);
  auto both = [&] {
    writer.loop.Turn();
    reader_loop.Turn();
  };
  const uint64_t deadline = NowMs() + 10000;
  while (!(writer.client.ready() && reader.tracking()) && NowMs() < deadline) both();
  ASSERT_TRUE(reader.tracking()) << reader.last_error();
  ASSERT_EQ(reader.connection_count(), 2 * map_.nodes().size());
  bool all = false;
  reader.TakeInvalidations([](std::string_view) {}, &all);
  EXPECT_TRUE(all);  // tracking began

  const uint32_t later = static_cast<uint32_t>(time(nullptr)) + 3600;
  std::vector<uint64_t> delays_us;
  size_t own_seen = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<store::Binding> one;
    one.push_back(MakeBinding(i, later));
    // The reader writes a key of its own first, on the same master: its
    // own changes come back as invalidations too (no NOLOOP), every time.
    const std::string aor = Cat("sip:inval", i, "-", getpid(), "@example.com");
    const int master = map_.MasterOf(HashSlot(Cat(kAorKeyPrefix, aor)));
    std::string own_aor;
    for (int j = 0;; ++j) {
      own_aor = Cat("sip:own", i, "-", j, "-", getpid(), "@example.com");
      if (map_.MasterOf(HashSlot(Cat(kAorKeyPrefix, own_aor))) == master) break;
    }
    CasCommand own(own_aor, 0, one);
    ASSERT_TRUE(reader.Submit(own.key(), own.args(), 1, NowMs()));
    const size_t reader_before = reader_ended;
    while (reader_ended == reader_before && NowMs() < deadline + 60000) both();
    CasCommand cas(aor, 0, one);
    const size_t before = writer.ended;
    ASSERT_TRUE(writer.client.Submit(cas.key(), cas.args(), 1, NowMs()));
    while (writer.ended == before) both();
    ASSERT_EQ(writer.failed, 0u) << writer.last_failure;
    const uint64_t acknowledged = NowUs();
    bool seen = false, seen_own = false;
    while (!seen && NowUs() < acknowledged + 2000000) {
      both();
      reader.TakeInvalidations(
          [&](std::string_view key) {
            seen |= key == cas.key();
            seen_own |= key == own.key();
          },
          &all);
      ASSERT_FALSE(all);
    }
    ASSERT_TRUE(seen) << cas.key();
    own_seen += seen_own;
    delays_us.push_back(NowUs() - acknowledged);
  }
  std::sort(delays_us.begin(), delays_us.end());
  std::printf("invalidation after the writer's acknowledgement: p50 %llu us, p99 %llu us, max %llu us (%zu writes);"
              " own writes invalidated: %zu\n",
              static_cast<unsigned long long>(delays_us[delays_us.size() / 2]),
              static_cast<unsigned long long>(delays_us[delays_us.size() * 99 / 100]),
              static_cast<unsigned long long>(delays_us.back()), delays_us.size(), own_seen);
  EXPECT_EQ(own_seen, delays_us.size());
  EXPECT_EQ(reader.invalidations(), delays_us.size() + own_seen);
}

// Destructive from here on: the tests below change the cluster's masters.

TEST_F(RedisCluster, ClientFollowsAManualFailoverThroughMoved) {
  ClientRun run(seeds_);
  ASSERT_TRUE(run.loop.RunUntil([&] { return run.client.ready(); }, 10000)) << run.client.last_error();
  ReadCommand read("sip:failover@example.com");
  const NodeAddress master = map_.nodes()[static_cast<size_t>(map_.MasterOf(HashSlot(read.key())))];
  // The master's replica takes over (CLUSTER FAILOVER on the replica).
  std::unique_ptr<Node> replica;
  for (const auto& [port, pid] : ServerPids()) {
    auto node = std::make_unique<Node>(NodeAddress{"127.0.0.1", port});
    const std::string_view role[] = {"ROLE"};
    Reply reply = node->Call(role);
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3 &&
        std::string_view(reply->element[0]->str, reply->element[0]->len) == "slave" &&
        reply->element[2]->integer == master.port) {
      replica = std::move(node);
      break;
    }
  }
  ASSERT_NE(replica, nullptr) << "no replica of " << master.ToString();
  const std::string_view failover[] = {"CLUSTER", "FAILOVER"};
  EXPECT_EQ(Text(replica->Call(failover)), "OK");
  const std::string_view role[] = {"ROLE"};
  const uint64_t deadline = NowMs() + 15000;
  while (NowMs() < deadline) {
    Reply reply = replica->Call(role);
    if (reply && std::string_view(reply->element[0]->str, reply->element[0]->len) == "master") break;
    usleep(50000);
  }
  // The client still sends to the old master, which redirects.
  ASSERT_TRUE(run.client.Submit(read.key(), read.args(), 1, NowMs()));
  ASSERT_TRUE(run.loop.RunUntil([&] { return run.ended == 1; }, 10000));
  EXPECT_EQ(run.failed, 0u) << run.last_failure;
  EXPECT_EQ(run.last_type, REDIS_REPLY_ARRAY);
  EXPECT_GE(run.client.redirections(), 1u);
  ASSERT_TRUE(run.loop.RunUntil([&] { return run.client.ready(); }, 10000));
}

TEST_F(RedisCluster, ClientRidesOutAMasterKilled) {
  const std::map<uint16_t, pid_t> pids = ServerPids();
  ASSERT_FALSE(pids.empty()) << "LOCUS_REDIS_PIDS names the servers' PIDs";
  ClientRun run(seeds_);
  ASSERT_TRUE(run.loop.RunUntil([&] { return run.client.ready(); }, 10000)) << run.client.last_error();
  ReadCommand read("sip:killed@example.com");
  const NodeAddress master = run.client.slot_map().nodes()[static_cast<size_t>(
      run.client.slot_map().MasterOf(HashSlot(read.key())))];
  // Its replica must be in sync first, or Redis will not promote it (a
  // replica cut off mid-sync is too stale to take over).
  bool in_sync = false;
  const uint64_t sync_deadline = NowMs() + 20000;
  while (!in_sync && NowMs() < sync_deadline) {
    for (const auto& [port, pid] : pids) {
      Node node(NodeAddress{"127.0.0.1", port});
      const std::string_view info[] = {"INFO", "replication"};
      Reply reply = node.Call(info);
      const std::string_view text = Text(reply);
      if (text.find(Cat("master_port:", master.port, "\r\n")) != std::string_view::npos &&
          text.find("master_link_status:up") != std::string_view::npos &&
          text.find("master_sync_in_progress:0") != std::string_view::npos) {
        in_sync = true;
      }
    }
    if (!in_sync) usleep(100000);
  }
  ASSERT_TRUE(in_sync) << "no replica of " << master.ToString() << " in sync";
  ASSERT_EQ(kill(pids.at(master.port), SIGKILL), 0);
  const uint64_t killed = NowMs();
  // A read every 20 ms until one succeeds on the promoted replica.
  uint64_t tag = 0;
  size_t succeeded = 0;
  while (succeeded == 0 && NowMs() < killed + 30000) {
    const size_t failed_before = run.failed;
    if (run.client.Submit(read.key(), read.args(), ++tag, NowMs())) {
      ASSERT_TRUE(run.loop.RunUntil([&] { return run.ended == tag; }, 10000));
      succeeded += run.failed == failed_before;
    } else {
      ++run.ended;  // refused at once: the master is down
    }
    run.loop.RunUntil([] { return false; }, 20);
  }
  ASSERT_EQ(succeeded, 1u) << run.client.last_error();
  std::printf("master %s killed: reads failed for %llu ms, %zu attempts failed\n", master.ToString().c_str(),
              static_cast<unsigned long long>(NowMs() - killed), static_cast<size_t>(tag - 1));
  EXPECT_EQ(run.last_type, REDIS_REPLY_ARRAY);
  EXPECT_GE(run.client.connection_failures(), 1u);
}

}  // namespace
}  // namespace locus::engine::cluster
