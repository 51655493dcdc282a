// A shard's client of a Redis Cluster (or of one stand-alone Redis), without
// I/O: which master each command goes to, one RespPipeline per node,
// connecting and reconnecting with back-off, the slot map and its
// corrections (-MOVED, -ASK, a master's failover), and each command's end.
// The shard's loop does the socket work it asks for and reports back; tests
// drive the same client over plain sockets.
//
// Contract:
//  - A command is submitted with the key it is about and a tag of the
//    caller's. It ends exactly once, through the `Done` given to Received,
//    Closed or Tick: with its reply (an error reply included, other than
//    the redirections handled here), or with no reply and the reason
//    (connection lost, no answer within the reply timeout, too many
//    redirections). The strings its arguments point to must live until then.
//  - Every connection's first command is FUNCTION LOAD REPLACE of the AOR
//    store's library (aor_store.h), so a master always has it before our
//    first FCALL; a replica's READONLY refusal of it is ignored.
//  - With a tracking prefix, each node has a second connection subscribed
//    to __redis__:invalidate (RESP2; its CLIENT ID asked first), and the
//    data connection turns on CLIENT TRACKING ... REDIRECT <that id> BCAST
//    PREFIX <prefix>: keys changed by any client, this one included, come
//    back as invalidations (TakeInvalidations). When either
//    connection of a node is lost, or tracking is (re)confirmed, every key
//    may have changed unseen: TakeInvalidations says "all". A lost
//    invalidation connection closes its node's data connection too, so
//    that tracking restarts with the new connection's id.
//  - The slot map is read (CLUSTER SLOTS) at start, after a -MOVED and
//    after a connection loss; a node that answers that it has no cluster
//    support serves every slot.
//  - Bounded: commands per connection, bytes unsent per connection, nodes
//    (at most one per hash slot), redirections per command.
#ifndef LOCUS_ENGINE_CLUSTER_CLUSTER_CLIENT_H_
#define LOCUS_ENGINE_CLUSTER_CLUSTER_CLIENT_H_

#include <cstddef>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "engine/cluster/resp_pipeline.h"
#include "engine/cluster/slot_map.h"

namespace locus::engine::cluster {

class ClusterClient {
 public:
  struct Options {
    std::vector<NodeAddress> seeds;
    size_t max_in_flight = 65536;             // commands per connection
    size_t max_output_bytes = 16 * 1024 * 1024;  // unsent bytes per connection
    uint64_t reply_timeout_ms = 2000;         // also the connect timeout
    uint64_t reconnect_min_ms = 100;          // back-off after a failure, doubling
    uint64_t reconnect_max_ms = 5000;
    int max_redirections = 5;
    // While a master of the map is down, the map is read again this often:
    // a failover shows as soon as the cluster has promoted a replica.
    uint64_t degraded_map_read_ms = 250;
    // Non-empty: invalidations for the keys that start with it.
    std::string tracking_prefix;
    // An idle invalidation connection is sent a PING this often, so that
    // one that died silently fails its reply timeout.
    uint64_t keepalive_ms = 5000;
    // > 0: a command ends with its reply only once this many replicas have
    // it: its connection's commands are followed by WAIT <replica_acks>
    // <replica_wait_ms>, and their replies held until WAIT answers (fewer
    // replicas: they fail, "not replicated").
    int replica_acks = 0;
    uint64_t replica_wait_ms = 1000;
  };

  // (tag, reply, failure): reply null when the command failed, and then
  // `failure` says why.
  using Done = absl::FunctionRef<void(uint64_t tag, const redisReply* reply, std::string_view failure)>;

  enum class ConnectionState : uint8_t {
    kIdle,        // no socket, nothing asked of it
    kConnecting,  // the loop is connecting (commands may queue)
    kReady,       // connected
    kBackoff,     // failed; connects again at retry_at_ms
  };

  explicit ClusterClient(Options options);
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;
  ~ClusterClient();

  // --- The request path ----------------------------------------------------
  // Queues `args` for the master of `key`'s slot. False, with nothing queued,
  // when it cannot go now: no slot map yet, no master for the slot, the
  // master's connection down (in back-off), or a bound reached. A `write`
  // ends only once replica_acks replicas have it (reads end at once).
  bool Submit(std::string_view key, std::span<const std::string_view> args, uint64_t tag,
              uint64_t now_ms, bool write = false);

  // The slot map covers every slot and every master's connection is up.
  bool ready() const;
  // ready(), and tracking confirmed on every master's data connection.
  bool tracking() const;
  // Slots whose master's connection is up (for health; walks every slot).
  size_t ReachableSlots() const;

  // The keys other clients changed since the last call, each given to
  // `invalidated`; or *all true (and no keys) when any key may have.
  void TakeInvalidations(absl::FunctionRef<void(std::string_view key)> invalidated, bool* all);
  const SlotMap& slot_map() const { return map_; }
  // Why the client last failed, for health and logs ("" when never).
  const std::string& last_error() const { return last_error_; }

  // --- The loop's side -------------------------------------------------------
  // Connections to open now: connect(conn, address). Each was Closed before,
  // or is new; the loop answers with Connected or Closed.
  void TakeConnects(uint64_t now_ms, absl::FunctionRef<void(int conn, const NodeAddress&)> connect);
  void Connected(int conn, uint64_t now_ms);
  // Bytes the connection has to send, and how many the socket took.
  std::string_view Unsent(int conn) const;
  void Sent(int conn, size_t bytes);
  // Bytes received; ends the commands they answer. False when the stream is
  // broken: the loop closes the socket and calls Closed.
  bool Received(int conn, std::string_view bytes, uint64_t now_ms, Done done);
  // The socket is gone (refused, reset, closed): every command on it fails,
  // and it connects again after a back-off.
  void Closed(int conn, uint64_t now_ms, Done done);
  // With replica_acks: a WAIT after the commands queued since the last one,
  // on every connection (once per loop turn, before the sends).
  void QueueWaits(uint64_t now_ms);
  // Connections whose oldest command (or connect) has waited past the reply
  // timeout: close(conn); the loop closes them and calls Closed. Also reads
  // the map again while a master is down, and pings idle invalidation
  // connections.
  void Tick(uint64_t now_ms, absl::FunctionRef<void(int conn)> close);

  size_t connection_count() const { return connections_.size(); }
  const NodeAddress& address(int conn) const { return connections_[static_cast<size_t>(conn)]->address; }
  ConnectionState state(int conn) const { return connections_[static_cast<size_t>(conn)]->state; }
  size_t in_flight(int conn) const { return connections_[static_cast<size_t>(conn)]->pipeline.in_flight(); }

  // Totals, for counters.
  uint64_t redirections() const { return redirections_; }
  uint64_t connection_failures() const { return connection_failures_; }
  uint64_t timeouts() const { return timeouts_; }
  uint64_t slot_map_reads() const { return slot_map_reads_; }
  uint64_t invalidations() const { return invalidations_; }

 private:
  enum class OpKind : uint8_t {
    kCommand,
    kFunctionLoad,
    kClusterSlots,
    kAsking,
    kClientId,   // invalidation connection: its id, for REDIRECT
    kSubscribe,  // invalidation connection: SUBSCRIBE __redis__:invalidate
    kTracking,   // data connection: CLIENT TRACKING on ... REDIRECT <id>
    kPing,       // invalidation connection: keep-alive
    kWait,       // data connection: WAIT for replicas (replica_acks)
    kWrite,      // a command (as kCommand) that waits for replicas
  };
  enum class Role : uint8_t { kData, kInvalidations };
  struct Op {
    OpKind kind = OpKind::kCommand;
    int redirections = 0;
    uint64_t tag = 0;
    uint64_t submitted_ms = 0;
    std::span<const std::string_view> args;
    uint32_t next_free = 0;
  };
  struct Connection {
    Connection(NodeAddress a, size_t max_output_bytes, size_t max_in_flight)
        : address(std::move(a)), pipeline(max_output_bytes, max_in_flight) {}
    NodeAddress address;
    RespPipeline pipeline;
    Role role = Role::kData;
    int peer = -1;  // the node's other connection (with a tracking prefix)
    ConnectionState state = ConnectionState::kIdle;
    bool tracking = false;    // data: CLIENT TRACKING confirmed in this life
    bool must_close = false;  // data: its invalidation connection was lost
    std::string redirect_id;  // data: the invalidation connection's id, "" until known
    std::array<std::string_view, 8> tracking_args{};
    uint64_t connect_started_ms = 0;
    uint64_t last_ping_ms = 0;
    uint64_t retry_at_ms = 0;
    uint64_t backoff_ms = 0;
    // replica_acks: commands queued since the last WAIT, and the replies
    // that wait for theirs.
    bool wait_wanted = false;
    std::vector<std::pair<uint64_t, Reply>> unreplicated;
    std::string wait_replicas, wait_timeout;
    std::array<std::string_view, 3> wait_args{};
  };

  // The data connection to `node`, or -1 when there is none.
  int DataConnectionOf(const NodeAddress& node) const;
  // The data connection to `node`, made (idle) if new, with its
  // invalidation connection; -1 past the node bound.
  int ConnectionFor(const NodeAddress& node);
  int NewConnection(const NodeAddress& node, Role role);
  // Queues the first commands of a connection's life.
  void StartLife(int conn, uint64_t now_ms);
  void QueueTracking(int data_conn, uint64_t now_ms);
  void OnPush(const redisReply& reply);
  void InvalidateAll();
  int MasterConnection(uint16_t slot);
  // Queues an op on `conn`; false (op freed) when the pipeline refuses.
  bool Queue(int conn, uint32_t op);
  uint32_t NewOp(OpKind kind, uint64_t tag, std::span<const std::string_view> args, uint64_t now_ms);
  void FreeOp(uint32_t op);
  void OnReply(int conn, uint32_t op, Reply& reply, uint64_t now_ms, Done done);
  // Ends the replies that waited for a WAIT: replicated, or not.
  void EndUnreplicated(Connection& c, bool replicated, std::string_view why, Done done);
  void OnClusterSlots(int conn, const redisReply& reply);
  // Ends a command without a reply.
  void Fail(uint32_t op, std::string_view why, Done done);
  // Sends CLUSTER SLOTS to a connection that is up, when a read is wanted
  // and none is in flight.
  void MaybeReadSlotMap(uint64_t now_ms);
  // A master of the map has its connection in back-off.
  bool MasterDown() const;

  const Options options_;
  SlotMap map_;
  bool have_map_ = false;
  bool map_wanted_ = true;
  bool map_read_in_flight_ = false;
  uint64_t next_degraded_read_ms_ = 0;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Op> ops_;
  uint32_t free_op_ = 0;  // 1 + index of the first free op; 0: none
  std::string last_error_;
  uint64_t redirections_ = 0;
  uint64_t connection_failures_ = 0;
  uint64_t timeouts_ = 0;
  uint64_t slot_map_reads_ = 0;
  uint64_t invalidations_ = 0;
  // Invalidated keys not yet taken: u32 size, then the key, for each.
  std::string invalidated_;
  bool invalidate_all_ = false;
};

}  // namespace locus::engine::cluster

#endif  // LOCUS_ENGINE_CLUSTER_CLUSTER_CLIENT_H_
