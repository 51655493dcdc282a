// The stream connections of one shard: what every connection-oriented
// transport shares, whatever runs over the bytes. A connection belongs to
// the shard that accepted it; responses for it computed on another shard
// come back through the hand-off rings.
//
// The interface a stream transport sees is small: bytes arrive in the
// connection's input buffer; its protocol (a plain switch on
// StreamConnection::protocol, in one place) frames them into SIP messages
// and says how many bytes it consumed; SIP responses go out through Send(),
// which the protocol encodes; either side may Close(). TCP is the protocol
// of today (tcp.h): a TLS or WebSocket layer is a new file beside it and one
// more case in each switch of stream_connections.cc.
//
// Contract and limits:
//  - A connection's input buffer starts at 4 KiB and grows to the message
//    limit (plus 1 KiB of CRLFs); a message that does not fit closes it.
//  - More than 1 MiB of responses the client has not read closes it.
//  - No byte for `idle_timeout_s` closes it; so does the peer's close or
//    any receive or send error.
//  - At `max_connections` open, further accepts are closed at once.
//  - A connection's slot is freed only when its receive and send are both
//    back, so a reused descriptor never gets a stale completion; each reuse
//    of a slot has a new generation, and connection ids carry it.
#ifndef LOCUS_ENGINE_TRANSPORT_STREAM_CONNECTIONS_H_
#define LOCUS_ENGINE_TRANSPORT_STREAM_CONNECTIONS_H_

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "parser/message.h"
#include "store/binding.h"
#include "store/timer_wheel.h"

namespace locus::engine {

// What runs over a connection's bytes.
enum class StreamProtocol : uint8_t {
  kTcp,  // SIP text framed by Content-Length (tcp.h)
};

struct StreamConnection : store::TimerNode {
  uint32_t slot = 0;
  uint32_t generation = 0;
  int fd = -1;
  Endpoint peer;
  StreamProtocol protocol = StreamProtocol::kTcp;
  std::vector<char> in;     // received bytes not yet consumed: [0, in_size)
  size_t in_size = 0;
  std::string out_pending;  // bytes waiting for the send in flight
  std::string out_flight;   // bytes of the send in flight, from out_sent on
  size_t out_sent = 0;
  bool receiving = false;
  bool sending = false;
  bool closing = false;
  uint64_t last_activity_s = 0;  // monotonic seconds

  // Names the connection across shards and slot reuse.
  uint64_t id() const { return (static_cast<uint64_t>(slot) << 32) | generation; }
  // The SIP transport of the messages it carries (Via, bindings).
  store::Transport transport() const { return store::Transport::kTcp; }
};

class StreamConnections {
 public:
  // Receives each SIP message framed on a connection; `bytes` is the whole
  // message, valid during the call.
  using MessageSink = absl::FunctionRef<void(const sip::Message& message, std::string_view bytes,
                                             const StreamConnection& connection)>;

  struct Limits {
    size_t max_message_size = 65535;
    uint32_t idle_timeout_s = 900;
    uint32_t max_connections = 10000;
  };

  StreamConnections(Limits limits, ShardCounters& counters, int shard, uint64_t now_s);
  ~StreamConnections();
  StreamConnections(const StreamConnections&) = delete;
  StreamConnections& operator=(const StreamConnections&) = delete;

  // Binds a TCP listener per address (SO_REUSEPORT, shared by the shards).
  absl::Status ListenTcp(io_uring* ring, const std::vector<Endpoint>& addresses);
  void StartAccepting();
  // Stops accepting (at shutdown); open connections carry on.
  void ShutdownListeners();

  // Completions, tagged IoOp::kAccept, kStreamReceive and kStreamSend.
  void OnAccept(size_t listener, const io_uring_cqe* cqe, bool stopping, uint64_t now_s);
  void OnReceive(size_t slot, uint32_t generation, int result, uint64_t now_s, MessageSink sink);
  void OnSent(size_t slot, uint32_t generation, int result);

  // Queues a SIP message for connection `id`, encoded by its protocol. A
  // connection closed meanwhile loses it (the client retransmits or times
  // out).
  void Send(uint64_t id, std::string_view sip_bytes);
  // Closes connections idle for longer than the limit.
  void ExpireIdle(uint64_t now_s);

  size_t open_count() const { return open_; }

  // For the protocols: queue bytes as they go on the wire; close.
  void WriteWire(StreamConnection& c, std::string_view wire_bytes);
  void Close(StreamConnection& c);
  ShardCounters& counters() { return counters_; }
  int shard() const { return shard_; }
  size_t max_message_size() const { return limits_.max_message_size; }

 private:
  StreamConnection* Find(uint64_t id);
  StreamConnection* Completed(size_t slot, uint32_t generation);
  void ArmAccept(size_t listener);
  void ArmReceive(StreamConnection& c);
  void ArmSend(StreamConnection& c);
  void MaybeFree(StreamConnection& c);
  // The protocol's part: frames what arrived, returns the bytes consumed.
  size_t Consume(StreamConnection& c, MessageSink sink);

  const Limits limits_;
  ShardCounters& counters_;
  const int shard_;
  io_uring* ring_ = nullptr;
  std::vector<int> listen_fds_;
  std::vector<std::unique_ptr<StreamConnection>> slots_;
  std::vector<uint32_t> free_slots_;
  size_t open_ = 0;
  store::TimerWheel idle_wheel_;  // seconds, monotonic
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_STREAM_CONNECTIONS_H_
