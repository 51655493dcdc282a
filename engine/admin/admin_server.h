// The admin endpoint (ARCHITECTURE section 7): a Unix stream socket speaking
// newline-delimited JSON, served by its own thread so that nothing an operator
// does -- or a slow, malformed or vanished client -- slows the shards down.
//
// Counters and gauges are read directly (relaxed atomics, single writers).
// Anything in a binding table (lookup, remove, dump) is asked of the owning
// shard through that shard's admin rings; the shard answers between two
// batches of SIP traffic, a dump one chunk at a time. Protocol: docs/admin.md.
#ifndef LOCUS_ENGINE_ADMIN_ADMIN_SERVER_H_
#define LOCUS_ENGINE_ADMIN_ADMIN_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/config.h"
#include "engine/admin/admin_channel.h"
#include "engine/counters.h"
#include "engine/spsc_ring.h"

namespace locus::engine {

class AdminServer {
 public:
  static constexpr size_t kMaxRequestBytes = 64 << 10;   // one request line
  static constexpr size_t kMaxClients = 64;
  static constexpr size_t kMaxPendingOutput = 8 << 20;   // then the client is dropped
  static constexpr size_t kDumpPauseOutput = 1 << 20;    // dump waits above this
  static constexpr uint64_t kShardTimeoutMs = 5000;

  // What the admin thread reads of one shard: its counters (relaxed atomics,
  // single writer) and its hand-off inboxes (for their backlog).
  struct ShardView {
    const ShardCounters* counters = nullptr;
    std::vector<const SpscRing*> inboxes;
  };

  AdminServer(const Config& config, std::vector<ShardView> shards);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Rings and wake-ups the shards must be connected to before they run
  // (ShardAdmin::Connect): the shard reads wake_fd(i), written after
  // requests are pushed, and writes notify_fd() after pushing answers.
  SpscRing* to_shard(size_t i) { return to_shards_[i].get(); }
  SpscRing* from_shard(size_t i) { return from_shards_[i].get(); }
  int wake_fd(size_t i) const { return wake_fds_[i]; }
  int notify_fd() const { return notify_fd_; }

  // Creates the socket (mode 0660) at `path`, replacing a stale one; fails
  // when a live daemon answers there.
  absl::Status Open(const std::string& path);
  void Run();
  void RequestStop();
  const std::string& path() const { return path_; }

 private:
  struct Client;

  void Accept();
  void ReadFrom(Client* c);
  void WriteTo(Client* c);
  void HandleLine(Client* c, std::string_view line);
  void DrainShards();
  void OnShardReply(const AdminHeader& header, std::string_view payload);
  void AskShard(Client* c, size_t shard, AdminHeader::Op op, std::string_view payload);
  void ContinueDumps();
  void CheckTimeouts();
  void WakeShard(size_t shard);
  size_t HandOffBacklog(size_t shard) const;
  void Close(Client* c);
  void Reply(Client* c, std::string_view json);  // appends a line
  void ReplyError(Client* c, std::string_view message);
  void ReloadUsers(Client* c);
  void ReloadTls(Client* c);
  void StartSnapshots(Client* c);

  std::string StatsJson() const;
  std::string ShardsJson() const;
  std::string HealthJson(bool* healthy) const;

  const Config& config_;
  std::vector<ShardView> shards_;
  std::vector<int> wake_fds_;  // one eventfd per shard
  std::vector<std::unique_ptr<SpscRing>> to_shards_;
  std::vector<std::unique_ptr<SpscRing>> from_shards_;
  int notify_fd_ = -1;
  int listen_fd_ = -1;
  std::string path_;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<Client>> clients_;
  absl::flat_hash_map<uint64_t, Client*> pending_;  // request id -> client
  uint64_t next_id_ = 1;
  uint64_t started_ms_ = 0;
  uint64_t malformed_requests_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_ADMIN_SERVER_H_
