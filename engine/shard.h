// One shard (ARCHITECTURE section 3): a thread with its own io_uring, its own
// UDP sockets and stream listeners on the shared addresses (SO_REUSEPORT),
// its own binding table, transaction table, journal, timers and counters.
// Nothing it owns is written by another thread.
//
// This file is the loop and its completion dispatch; the rooms do the work:
//   transport/  UDP, stream connections (TCP), the hand-off between shards;
//   sip/        the request pipeline (RequestHandler), without I/O;
//   durability/ the journal that makes the pipeline's changes durable;
//   admin/      the answers to the admin thread (ShardAdmin).
// A message goes: transport -> Process (parse) -> RequestHandler::Handle ->
// respond (Deliver), hold (until its journal group is durable), or hand off
// to the owning shard, which runs the same path and answers UDP itself
// through its socket bound to the same address, or sends a stream response
// back to the shard that holds the connection.
#ifndef LOCUS_ENGINE_SHARD_H_
#define LOCUS_ENGINE_SHARD_H_

#include <liburing.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/admin/shard_admin.h"
#include "engine/auth/authenticator.h"
#include "engine/cluster_requests.h"
#include "engine/config.h"
#include "engine/counters.h"
#include "engine/durability/journal.h"
#include "engine/durability/shard_start.h"
#include "engine/endpoint.h"
#include "engine/message_origin.h"
#include "engine/sip/request_handler.h"
#include "engine/spsc_ring.h"
#include "engine/trace/message_tap.h"
#include "engine/transport/handoff.h"
#include "parser/message_offsets.h"
#include "engine/transport/stream_connections.h"
#include "engine/transport/stun.h"
#include "engine/transport/udp.h"
#include "parser/message.h"
#include "store/binding_table.h"

namespace locus::engine {

class Shard {
 public:
  Shard(int index, int count, const Config& config, uint64_t tag_seed);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Wires the hand-off rings (HandOff::Connect), before Open().
  HandOff& handoff() { return handoff_; }
  // Wires the admin channel (ShardAdmin::Connect), before Run().
  ShardAdmin& admin() { return admin_; }
  // What the shard copies out of its traffic (MessageTap::Connect, Open),
  // before Run().
  MessageTap& tap() { return tap_; }
  // Turns on Digest authentication with these users (before Run()).
  void EnableAuth(const NonceService* nonces, FailureTable* failures,
                  std::shared_ptr<const UserDb> users);
  // The TLS configuration for new TLS and WSS connections (before Run(); a
  // reload comes through the admin channel).
  void SetTlsContext(std::shared_ptr<const TlsContext> context) {
    streams_.SetTlsContext(std::move(context));
  }
  // The server secret (raw bytes), which keys temp-gruus (before Run()).
  void SetServerSecret(std::string_view secret) { handler_.SetServerSecret(secret); }
  // How this shard starts its durable state, set before Open().
  void SetDurableStart(DurableStart start) { durable_start_ = std::move(start); }
  // Cluster mode (docs/cluster.md), set before Open(): Redis holds the
  // state, the table is its cache, and no journal is kept.
  void SetCluster(ClusterRequests::Options options) {
    cluster_ = std::make_unique<ClusterRequests>(std::move(options), table_, handler_, admin_, counters_);
    admin_.SetClusterMode();
  }
  // Cluster mode: its client (for the admin thread's view), or null.
  const ClusterRequests* cluster() const { return cluster_.get(); }
  // The table, for the engine to fill before Run() when the shard count
  // changed between runs.
  store::BindingTable& table() { return table_; }

  // On the shard's own thread, before Run(): restores the durable state and
  // opens the journal, then creates the ring, binds the sockets, registers
  // the receive buffers.
  absl::Status Open();
  // The event loop; returns after RequestStop() once in-flight sends drained.
  void Run();
  // From any thread.
  void RequestStop();

  int index() const { return index_; }
  const ShardCounters& counters() const { return counters_; }
  bool multishot() const { return udp_.multishot(); }
  bool uses_msg_ring() const { return handoff_.uses_msg_ring(); }

 private:
  void HandleCompletion(io_uring_cqe* cqe);
  void ArmAdminWakeRead();
  using Origin = MessageOrigin;
  void OnDatagram(size_t socket, std::string_view bytes, const Endpoint& source, uint64_t arrival_ns);
  // A STUN Binding request on a SIP port (RFC 5626 section 8.4).
  void AnswerStun(size_t socket, std::string_view bytes, const Endpoint& source);
  void OnStreamMessage(const sip::Message& message, std::string_view bytes,
                       const StreamConnection& connection);
  void OnHandOff(const HandOffHeader& header, std::string_view bytes);
  // Parses one datagram-framed message (UDP, hand-offs) and processes it.
  void Process(std::string_view bytes, const Inbound& inbound, const Origin& origin);
  // Runs the pipeline on one parsed message and routes the outcome.
  void ProcessMessage(const sip::Message& message, std::string_view bytes, const Inbound& inbound,
                      const Origin& origin);
  // Where the pipeline's outcome `d` goes: a response, a hand-off, a held
  // response (journal), a wait or a commit (cluster mode).
  void Route(Disposition d, const sip::Message& message, std::string_view bytes,
             const Inbound& inbound, const Origin& origin);
  // Cluster mode: a stored request handled again (parsed again).
  void Rerun(std::string_view bytes, const Inbound& inbound, const Origin& origin);
  // Cluster mode: the client's turn (turn), or the outcomes that arrived.
  void ClusterWork(bool turn);
  // A held response leaves: cached for its transaction, counted, sent.
  void DeliverHeld(const ResponseRoute& route, int status, std::string_view key,
                   std::string_view bytes);
  // Where the answer `d` to a message from `origin` goes.
  static ResponseRoute RouteOf(const Disposition& d, const Inbound& inbound, const Origin& origin);
  // Sends a response where `route` says, counting it.
  void Deliver(const ResponseRoute& route, std::string_view bytes);
  // Sends the held responses of journal groups decided since the last call.
  void DeliverDecided();
  // Tells every shard of the WebSocket connections that closed.
  void AnnounceClosedWebSockets();
  void PublishGauges();
  void UpdateClocks();
  void RunTimers();

  const int index_;
  const int count_;
  const Config& config_;
  io_uring ring_{};
  bool ring_open_ = false;
  std::atomic<bool> stop_{false};

  ShardCounters counters_;
  store::BindingTable table_;
  RequestHandler handler_;
  std::unique_ptr<Journal> journal_;  // null: durability off (or cluster mode)
  std::unique_ptr<ClusterRequests> cluster_;  // null: not in cluster mode
  DurableStart durable_start_;
  std::unique_ptr<Authenticator> auth_;
  std::string response_;  // reused for every response
  std::string failure_;   // a held response's failure answer
  std::array<char, sip::kMaxMessageOffsetsSize> handoff_parse_;  // a handed-off request's parse

  UdpTransport udp_;
  StunResponder stun_;
  StreamConnections streams_;
  HandOff handoff_;
  ShardAdmin admin_;
  MessageTap tap_;
  uint64_t admin_wake_value_ = 0;

  // Clocks.
  uint32_t now_s_ = 0;   // wall clock, seconds since the Unix epoch
  uint64_t now_ms_ = 0;  // monotonic
  uint32_t last_expire_s_ = 0;
  uint32_t cpu_published_s_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SHARD_H_
