// The admin endpoint (ARCHITECTURE section 7): a Unix stream socket speaking
// newline-delimited JSON, served by its own thread so that nothing an operator
// does -- or a slow, malformed or vanished client -- slows the shards down.
//
// Counters and gauges are read directly (relaxed atomics, single writers).
// Anything in a binding table (lookup, remove, dump) is asked of the owning
// shard through that shard's admin rings; the shard answers between two
// batches of SIP traffic, a dump one chunk at a time. Protocol: docs/admin.md.
//
// The same thread serves the HTTP endpoint (http_endpoint.h) when one is
// configured. It runs from before the shards restore their bindings, so that
// /ready can say 503 until they have and their sockets are open (SetReady);
// the admin socket itself opens then (Open).
#ifndef LOCUS_ENGINE_ADMIN_ADMIN_SERVER_H_
#define LOCUS_ENGINE_ADMIN_ADMIN_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/config.h"
#include "engine/admin/admin_channel.h"
#include "engine/admin/http_endpoint.h"
#include "engine/counters.h"
#include "engine/spsc_ring.h"
#include "engine/trace/trace_filter.h"
#include "engine/trace/trace_record.h"
#include "engine/trace/trace_switch.h"

namespace locus::engine {

class AdminServer : private HttpEndpoint::Backend {
 public:
  static constexpr size_t kMaxRequestBytes = 64 << 10;   // one request line
  static constexpr size_t kMaxClients = 64;
  static constexpr size_t kMaxPendingOutput = 8 << 20;   // then the client is dropped
  static constexpr size_t kDumpPauseOutput = 1 << 20;    // dump waits above this
  static constexpr uint64_t kShardTimeoutMs = 5000;
  static constexpr size_t kMaxTracers = 8;                 // `trace` subscribers at once
  static constexpr size_t kTracePauseOutput = 1 << 20;     // a slower tracer misses lines

  // What the admin thread reads of one shard: its counters (relaxed atomics,
  // single writer) and its hand-off inboxes (for their backlog).
  struct ShardView {
    const ShardCounters* counters = nullptr;
    std::vector<const SpscRing*> inboxes;
  };

  AdminServer(const Config& config, std::vector<ShardView> shards);
  ~AdminServer() override;
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Rings and wake-ups the shards must be connected to before they run
  // (ShardAdmin::Connect): the shard reads wake_fd(i), written after
  // requests are pushed, and writes notify_fd() after pushing answers.
  SpscRing* to_shard(size_t i) { return to_shards_[i].get(); }
  SpscRing* from_shard(size_t i) { return from_shards_[i].get(); }
  // What the shards' MessageTaps need (MessageTap::Connect): the switch
  // trace subscribers turn on, and shard i's ring of trace copies.
  TraceSwitch& trace_switch() { return trace_switch_; }
  SpscRing* trace_ring(size_t i) { return trace_rings_[i].get(); }
  int wake_fd(size_t i) const { return wake_fds_[i]; }
  int notify_fd() const { return notify_fd_; }

  // Listens for HTTP on `at`, before Run().
  absl::Status OpenHttp(const Endpoint& at);
  // Creates the socket (mode 0660) at `path`, replacing a stale one; fails
  // when a live daemon answers there. May be called while Run() runs.
  absl::Status Open(const std::string& path);
  void Run();
  // From any thread: every shard restored and listening (/ready: 200); then
  // draining (/ready: 503 again).
  void SetReady();
  void SetStopping();
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
  void WakeSelf();  // the admin thread's own eventfd
  size_t HandOffBacklog(size_t shard) const;
  void Close(Client* c);
  void Reply(Client* c, std::string_view json);  // appends a line
  void ReplyError(Client* c, std::string_view message);
  void ReloadUsers(Client* c);
  void ReloadTls(Client* c);
  void StartSnapshots(Client* c);
  void StartTrace(Client* c, std::string_view aor, std::string_view source);
  size_t Tracers() const;
  // Sends every tracer's filter to the shards marked in filters_pending_.
  void PushTraceFilters();
  void DrainTraces();
  void SendTrace(const TraceRecord& record);

  // HttpEndpoint::Backend
  HttpEndpoint::Reply Metrics() override;
  HttpEndpoint::Reply Health() override;
  HttpEndpoint::Reply Ready() override;
  std::optional<HttpEndpoint::Reply> StartLookup(std::string_view aor, uint64_t token) override;

  std::vector<const ShardCounters*> Counters() const;
  uint64_t UptimeSeconds() const;
  std::string StatsJson() const;
  std::string ShardsJson() const;
  std::string HealthJson(bool* healthy) const;
  // Cluster mode: a shard's ",\"cluster\":{...}" for `stats`; "" otherwise.
  std::string ClusterStatsJson(const ShardCounters& c) const;

  const Config& config_;
  std::vector<ShardView> shards_;
  std::vector<int> wake_fds_;  // one eventfd per shard
  std::vector<std::unique_ptr<SpscRing>> to_shards_;
  std::vector<std::unique_ptr<SpscRing>> from_shards_;
  int notify_fd_ = -1;
  int listen_fd_ = -1;
  std::string path_;
  std::atomic<bool> listening_{false};  // listen_fd_ is set (Open)
  enum Phase : int { kStarting, kReady, kStopping };
  std::atomic<int> phase_{kStarting};
  std::atomic<bool> stop_{false};
  std::unique_ptr<HttpEndpoint> http_;
  TraceSwitch trace_switch_;
  std::vector<std::unique_ptr<SpscRing>> trace_rings_;  // shard -> here
  std::vector<bool> filters_pending_;  // shards still to be sent the tracers' filters
  std::vector<std::unique_ptr<Client>> clients_;
  // A request to a shard in flight: for an admin client, or for an HTTP
  // lookup (its token), with its start time.
  struct Waiting {
    Client* client = nullptr;
    uint64_t http_token = 0;
    uint64_t since_ms = 0;
    size_t shard = 0;
  };
  absl::flat_hash_map<uint64_t, Waiting> pending_;  // request id ->
  uint64_t next_id_ = 1;
  uint64_t started_ms_ = 0;
  uint64_t malformed_requests_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_ADMIN_SERVER_H_
