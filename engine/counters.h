// Per-shard counters: written only by the shard's own thread, read by anyone
// with relaxed loads (no locks, no read-modify-write atomics on the hot path).
// Each shard's block is cache-line aligned so that shards never share a line.
#ifndef LOCUS_ENGINE_COUNTERS_H_
#define LOCUS_ENGINE_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "engine/latency_histogram.h"
#include "store/binding_changes.h"

namespace locus::engine {

// A counter with one writer thread.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Set(uint64_t n) { value_.store(n, std::memory_order_relaxed); }  // gauges
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Status codes counted one by one; others land in `other`.
inline constexpr int kCountedStatuses[] = {200, 302, 400, 401, 403, 404, 405, 416,
                                           420, 423, 439, 480, 481, 500, 503, 513};
inline constexpr int kCountedStatusCount = sizeof(kCountedStatuses) / sizeof(int);

struct alignas(64) ShardCounters {
  Counter requests_received;  // SIP requests received on this shard's sockets
  Counter handed_off;         // of those, passed to the shard that owns the AOR
  Counter handoffs_received;  // requests this shard processed for another shard
  Counter answered;           // responses sent (including retransmitted ones)
  Counter parse_errors;       // unparseable messages, or without a usable Via
  Counter responses_ignored;  // SIP responses received (a registrar sends none)
  Counter retransmissions;    // requests answered from the transaction cache
  // ... of which not answered again: they arrived before their response left
  Counter retransmissions_before_answer;
  Counter overflows;          // hand-offs refused because a ring was full (503)
  Counter send_errors;        // responses that could not be sent
  Counter udp_packets_in, udp_bytes_in, udp_packets_out, udp_bytes_out;
  Counter tcp_bytes_in, tcp_bytes_out, tcp_accepted, tcp_closed, tcp_refused, tcp_request_timeouts;
  // TLS and WebSocket (the tcp_* counters above count every stream): TLS
  // handshakes completed, failed (a bad client certificate, a protocol
  // error), timed out, refused at accept (too many under way); WebSocket
  // Upgrades accepted and refused.
  Counter tls_handshakes, tls_handshake_failures, tls_handshake_timeouts, tls_refused,
      ws_upgrades, ws_upgrade_failures;
  Counter status[kCountedStatusCount];
  Counter status_other;
  // Requests by method (section 7.1), counted by the shard that received them.
  Counter method_register, method_options, method_cancel, method_ack, method_invite, method_other;
  // The redirect server: 302s sent again by Timer G (INVITE over UDP), ACKs
  // that ended an INVITE transaction, and the lookups answered (302, or
  // 480/404 without bindings).
  Counter invite_retransmissions, acks_absorbed, lookups;
  // RFC 5626 section 8.4: STUN binding requests answered on a SIP UDP port,
  // and datagrams that looked like STUN but were not a valid request.
  Counter stun_requests, stun_invalid;
  // Binding changes applied by this shard; REGISTERs refused (503) because
  // they would have added an AOR or a binding past the memory budget.
  Counter bindings_created, bindings_refreshed, bindings_removed, bindings_expired, capacity_refused;
  void CountBindings(const store::BindingChanges& c) {
    bindings_created.Add(c.created);
    bindings_refreshed.Add(c.refreshed);
    bindings_removed.Add(c.removed);
    bindings_expired.Add(c.expired);
  }
  // Digest authentication: 401s sent, and what the credentials were.
  Counter auth_challenges, auth_successes, auth_failures, auth_stale, auth_replays,
      auth_forbidden, auth_malformed, auth_locked_out;
  // REGISTERs authorized by a client certificate naming their AOR (mutual TLS).
  Counter auth_certificates;
  // Durability: group writes that became durable and their bytes,
  // group writes that failed, AOR changes undone by a failed group (sync),
  // snapshots written and abandoned.
  Counter journal_commits, journal_bytes, journal_failures, journal_undone, snapshots,
      snapshot_failures;
  // Cluster mode (docs/cluster.md): REGISTERs committed to Redis, decided
  // again after another node's change, waited for another node's turn,
  // failed (500) or refused for want of room to wait (503); AOR states
  // read; invalidations received; requests about an AOR not cached whose
  // read failed (500).
  Counter cluster_commits, cluster_conflicts, cluster_turn_waits, cluster_failures,
      cluster_waiting_refused, cluster_reads, cluster_invalidations, cluster_unanswerable;
  // Message capture: HEP packets sent to the capture server and those
  // refused or too large; trace copies dropped by the rate bound or a full
  // ring (engine/trace/).
  Counter hep_packets, hep_errors, trace_dropped;
  // Gauges, published by the shard once per loop turn.
  Counter aors, bindings, tcp_open, tls_open, ws_open, wss_open, heartbeat_ms, cpu;
  // Cluster mode, published once a second: kClusterOff, kClusterUp (every
  // slot's master reachable, invalidations flowing) or kClusterDown; the
  // masters known, the slots whose master is reachable, requests waiting
  // for their AOR and commits in flight.
  static constexpr uint64_t kClusterOff = 0, kClusterUp = 1, kClusterDown = 2;
  Counter cluster_state, cluster_masters, cluster_slots_reachable, cluster_waiting,
      cluster_commits_in_flight;
  // Receive to send, for every response this shard sent.
  LatencyHistogram latency;

  void CountStatus(int code) {
    for (int i = 0; i < kCountedStatusCount; ++i) {
      if (kCountedStatuses[i] == code) {
        status[i].Add();
        return;
      }
    }
    status_other.Add();
  }
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_COUNTERS_H_
