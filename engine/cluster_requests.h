// Cluster mode's request path on one shard (docs/cluster.md): Redis holds
// every AOR's state, the shard's binding table is its cache.
//
//  - A REGISTER that changed bindings (Disposition::commit) was applied to
//    the cache; its AOR's new state goes to Redis as a compare-and-set on
//    the version it was decided on (cluster/aor_store.h), and its 200 is
//    held until Redis answers:
//      committed   -> the 200 leaves (after WAIT, with cluster_ack replicas);
//      conflict    -> another node changed the AOR: its state, which came
//                     with the answer, replaces the cached one, and steps
//                     6-8 run again on it (at most kMaxDecisions times;
//                     from the second decision on, a conflict also takes
//                     the AOR's next turn, cluster/aor_store.h, so that a
//                     node cannot lose every race to another);
//      turn held   -> another node holds the AOR's turn: the request waits
//                     until that node's commit is announced (an
//                     invalidation) or the turn ends, then is decided again
//                     (counted as a decision);
//      failure     -> the AOR leaves the cache (it is read again next time)
//                     and the request is answered 500 with Retry-After.
//  - A request parked by the handler (Disposition::kPark) waits for its
//    AOR's read or commit, then is handled again; a read's state replaces
//    the cached one. A read that fails lets the requests answer from the
//    cache as it is.
//  - Invalidations from Redis mark cached AORs stale for reads: a lookup
//    reads a stale AOR again; a REGISTER still decides on it, and the
//    compare-and-set refuses that decision when it is out of date.
//
// Client outcomes are recorded as they arrive and acted on by
// ProcessReady(), outside the client's calls. Bounded: requests waiting
// (count and bytes), Redis commands in flight (the client's bounds).
#ifndef LOCUS_ENGINE_CLUSTER_REQUESTS_H_
#define LOCUS_ENGINE_CLUSTER_REQUESTS_H_

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "engine/admin/shard_admin.h"
#include "engine/cluster/aor_flights.h"
#include "engine/cluster/cluster_client.h"
#include "engine/counters.h"
#include "engine/durability/commit_batch.h"
#include "engine/message_origin.h"
#include "engine/sip/request_handler.h"
#include "engine/transport/redis_links.h"
#include "engine/uring.h"
#include "store/binding_table.h"

namespace locus::engine {

class ClusterRequests {
 public:
  // A final answer: (route, status, transaction key or "", bytes).
  using Deliver =
      absl::FunctionRef<void(const ResponseRoute&, int status, std::string_view key, std::string_view bytes)>;
  // Handles a stored request again, on this shard: (bytes, inbound, origin).
  using Rerun = absl::FunctionRef<void(std::string_view, const Inbound&, const MessageOrigin&)>;

  // A REGISTER is decided at most this many times (the first decision and
  // those after each conflict), then answered 500.
  static constexpr int kMaxDecisions = 8;
  // A decision from this one on asks, with its compare-and-set, for the
  // AOR's next turn should it conflict; the turn lasts at most kTurnMs
  // (a holder that died blocks the AOR's other writers no longer).
  static constexpr int kFirstDecisionAskingTurn = 2;
  static constexpr uint32_t kTurnMs = 20;
  // Requests waiting for their AOR, per shard, and their bytes.
  static constexpr size_t kMaxWaiting = 8192;
  static constexpr size_t kMaxWaitingBytes = 32u << 20;

  struct Options {
    std::vector<cluster::NodeAddress> seeds;  // IP literals
    int replica_acks = 0;                     // with cluster_ack replicas: 1
  };

  ClusterRequests(Options options, store::BindingTable& table, RequestHandler& handler,
                  ShardAdmin& admin, ShardCounters& counters);
  ClusterRequests(const ClusterRequests&) = delete;
  ClusterRequests& operator=(const ClusterRequests&) = delete;

  const cluster::AorFlights& flights() const { return flights_; }
  const cluster::ClusterClient& client() const { return client_; }

  // On the shard's thread, once its ring exists.
  void Open(io_uring* ring);

  // --- The request path ------------------------------------------------------
  // A request the handler parked: kept until its AOR's operation in flight
  // ends, or else until a read of the AOR does. False when the waiting bound
  // is reached (the caller answers 503).
  bool Park(std::string_view bytes, const Inbound& inbound, const MessageOrigin& origin,
            std::string_view aor, uint64_t now_ms);
  // A REGISTER that changed its AOR (handler.cluster_commit()): sends the
  // AOR's cached state; `ok` (the 200) leaves once Redis took it.
  void Commit(std::string_view bytes, const Inbound& inbound, const MessageOrigin& origin,
              const ResponseRoute& route, int status, std::string_view key, std::string_view ok,
              const ClusterCommit& commit, uint64_t now_ms);

  // An admin lookup or remove (ShardAdmin::TakeClusterRequests): answered
  // once its AOR is known current; a remove is committed like a REGISTER.
  void AdminRequest(const AdminHeader& header, std::string_view payload, uint64_t now_ms);

  // --- The loop's side -------------------------------------------------------
  // Publishes the cluster gauges (ShardCounters::cluster_*).
  void PublishGauges();
  // Once per turn: invalidations, the links' connects, timeouts and sends,
  // and the outcomes that arrived.
  void Turn(uint64_t now_ms, Deliver deliver, Rerun rerun);
  // A completion of a Redis link (IoOp::kRedis*).
  void OnCompletion(IoOp op, size_t slot, uint32_t generation, int res, uint64_t now_ms);
  // Acts on the outcomes recorded since the last call.
  void ProcessReady(uint64_t now_ms, Deliver deliver, Rerun rerun);
  // Stopping: nothing waits for Redis any more (requests in flight were
  // answered); every link closes.
  bool Idle() const { return committing_ == 0; }
  // When a request waiting for another node's turn is due to be decided
  // again (the loop sleeps no longer), if one waits.
  std::optional<uint64_t> NextDueMs() const;
  void CloseAll(uint64_t now_ms);
  bool Closed() const { return links_ == nullptr || links_->in_flight() == 0; }

 private:
  // A request kept meanwhile: one waiting for its AOR, or a REGISTER
  // waiting for its commit.
  struct Waiting {
    std::string bytes;
    Inbound inbound;
    MessageOrigin origin;
    // A commit's: its held answer, where it goes, and what it changed.
    ResponseRoute route;
    int status = 0;
    std::string key;
    std::string ok;
    ClusterCommit counts;
    int decisions = 0;
    // An admin request (lookup or remove; bytes: its payload).
    bool admin = false;
    AdminHeader header{};
  };
  enum class Outcome : uint8_t { kNone, kCommitted, kConflict, kTurnHeld, kFailed, kRead, kReadFailed };
  struct FlightResult {
    Outcome outcome = Outcome::kNone;
    uint64_t version = 0;
    uint32_t turn_left_ms = 0;
    cluster::StoredAor stored;
    std::string failure;
  };

  uint32_t NewWaiting(std::string_view bytes, const Inbound& inbound, const MessageOrigin& origin);
  void FreeWaiting(uint32_t id);
  // Records the client's end of flight `tag`'s command.
  void OnResult(uint64_t tag, const redisReply* reply, std::string_view failure);
  void SendRead(uint32_t flight, uint64_t now_ms);
  // Replaces the cached state of the flight's AOR with `stored`.
  void Adopt(uint32_t flight, cluster::StoredAor& stored, bool current);
  void EndCommit(uint32_t flight, Deliver deliver, Rerun rerun);
  // The flight's commit is over (answered, or to be decided again): the id
  // of its request, which the caller frees.
  uint32_t EndCommitting(uint32_t flight);
  // A committing request decided again (after a conflict or a turn's wait).
  void DecideAgain(Waiting& w, Rerun rerun);
  // Decides again the requests waiting for a turn that are due (or whose
  // AOR changed meanwhile).
  void EndTurnWaits(uint64_t now_ms, Rerun rerun);
  // Answers an admin lookup, or applies and commits an admin remove.
  void RunAdmin(const AdminHeader& header, std::string_view payload, int decisions, uint64_t now_ms);
  // Sends the compare-and-set of the flight's AOR as cached now.
  void SendCas(uint32_t flight, uint32_t waiting, uint64_t expected_version, uint64_t now_ms);
  // A stored request handled again (SIP or admin).
  void RunAgain(Waiting& w, const Inbound& inbound, int decisions, Rerun rerun);

  // Handles the flight's waiting requests again while it is idle; ends an
  // idle flight with nothing waiting. `read_failed`: its read just failed.
  void Release(uint32_t flight, bool read_failed, Rerun rerun);
  void TakeInvalidations();
  // The client's Done: each command's end goes to OnResult.
  struct OnEnd {
    ClusterRequests* requests;
    void operator()(uint64_t tag, const redisReply* reply, std::string_view failure) const {
      requests->OnResult(tag, reply, failure);
    }
  };
  const OnEnd on_end_{this};

  store::BindingTable& table_;
  RequestHandler& handler_;
  ShardAdmin& admin_;
  ShardCounters& counters_;
  const int replica_acks_;
  // This shard's id as a committer (random, per process and shard).
  const std::string committer_id_;
  cluster::ClusterClient client_;
  std::unique_ptr<RedisLinks> links_;
  cluster::AorFlights flights_;
  std::vector<FlightResult> results_;    // by flight id
  std::vector<uint32_t> turn_waits_;     // flights waiting for another's turn
  std::vector<uint32_t> committers_;     // by flight id: the committing request
  std::vector<uint32_t> ready_;          // flights with an outcome to act on
  std::vector<std::unique_ptr<Waiting>> waiting_;
  std::vector<uint32_t> free_waiting_;
  size_t waiting_count_ = 0;
  size_t waiting_bytes_ = 0;
  size_t committing_ = 0;
  int decisions_of_rerun_ = 0;  // of the REGISTER being decided again
  std::string failure_;         // a held 200 turned into a 500
  uint32_t now_s_ = 0;
  uint64_t now_ms_ = 0;
  uint32_t warned_s_ = 0;       // failures are logged at most once a second
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_CLUSTER_REQUESTS_H_
