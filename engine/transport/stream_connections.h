// The stream connections of one shard: what every connection-oriented
// transport shares, whatever runs over the bytes. A connection belongs to
// the shard that accepted it; responses for it computed on another shard
// come back through the hand-off rings.
//
// A connection's bytes pass through up to two layers, chosen by the
// listener that accepted it:
//   security:  none (TCP, WS) or TLS (tls_session.h: OpenSSL on memory BIOs);
//   framing:   SIP text framed by Content-Length (tcp.h), or WebSocket
//              (websocket.h: the HTTP Upgrade, then one SIP message per
//              WebSocket message).
// So TCP is (none, SIP text), TLS (TLS, SIP text), WS (none, WebSocket) and
// WSS (TLS, WebSocket). Received bytes go to `in`; TLS decrypts them into
// `plain`; the framing consumes the plaintext and hands each SIP message to
// the caller's sink. SIP responses go the other way through Send().
//
// Contract and limits:
//  - The plaintext buffer starts at 4 KiB and grows to the message limit
//    (plus 1 KiB of CRLFs); a message that does not fit closes the
//    connection. TLS receives into a fixed 4 KiB buffer, drained into
//    OpenSSL at every receive, and decrypts into a plaintext buffer that
//    grows like the TCP one.
//  - More than 1 MiB of responses the client has not read closes it.
//  - No byte for `idle_timeout_s` closes it; so does the peer's close or
//    any receive or send error. A connection must send its first message
//    within `request_timeout_s` of its accept (or of its TLS handshake's
//    end), and finish a message within `request_timeout_s` of its first
//    byte (slowloris: a byte now and then does not keep a half message
//    open). A TLS handshake must end within
//    `handshake_timeout_s`, and at most `max_handshakes` run at once per
//    shard (further TLS connections are closed at accept).
//  - At `max_connections` open, further accepts are closed at once.
//  - A connection's slot is freed only when its receive and send are both
//    back, so a reused descriptor never gets a stale completion; each reuse
//    of a slot has a new generation, and connection ids carry it.
#ifndef LOCUS_ENGINE_TRANSPORT_STREAM_CONNECTIONS_H_
#define LOCUS_ENGINE_TRANSPORT_STREAM_CONNECTIONS_H_

#include <liburing.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "engine/transport/tls_context.h"
#include "engine/transport/tls_session.h"
#include "engine/transport/websocket.h"
#include "parser/message.h"
#include "store/binding.h"
#include "store/timer_wheel.h"

namespace locus::engine {

// The kinds of stream listener, one per SIP transport.
enum class StreamKind : uint8_t { kTcp, kTls, kWs, kWss };
inline constexpr size_t kStreamKinds = 4;

struct StreamConnection : store::TimerNode {
  uint32_t slot = 0;
  uint32_t generation = 0;
  int fd = -1;
  Endpoint peer;
  StreamKind kind = StreamKind::kTcp;
  std::unique_ptr<TlsSession> tls;       // TLS and WSS
  std::unique_ptr<WebSocketSession> ws;  // WS and WSS
  std::vector<char> in;     // received bytes not yet consumed: [0, in_size)
  size_t in_size = 0;
  std::vector<char> plain;  // TLS: decrypted bytes not yet consumed: [0, plain_size)
  size_t plain_size = 0;
  std::string tls_plain_out;  // TLS: responses of this loop turn, encrypted together
  std::string out_pending;  // bytes waiting for the send in flight
  std::string out_flight;   // bytes of the send in flight, from out_sent on
  size_t out_sent = 0;
  bool receiving = false;
  bool sending = false;
  bool closing = false;
  bool close_when_sent = false;  // close once what is queued has gone out
  bool handshaking = false;      // TLS handshake under way
  uint64_t accepted_s = 0;       // monotonic seconds (a TLS one: its handshake's end)
  uint64_t last_activity_s = 0;  // monotonic seconds
  uint64_t partial_since_s = 0;  // a message started then and not yet complete; 0: none
  uint64_t messages = 0;         // SIP messages received

  // Names the connection across shards and slot reuse.
  uint64_t id() const { return (static_cast<uint64_t>(slot) << 32) | generation; }
  // The SIP transport of the messages it carries (Via, bindings).
  store::Transport transport() const;
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
    uint32_t request_timeout_s = 32;
    uint32_t max_connections = 10000;
    uint32_t handshake_timeout_s = 10;
    uint32_t max_handshakes = 256;
  };

  StreamConnections(Limits limits, ShardCounters& counters, int shard, uint64_t now_s);
  ~StreamConnections();
  StreamConnections(const StreamConnections&) = delete;
  StreamConnections& operator=(const StreamConnections&) = delete;

  // Binds a listener of `kind` per address (SO_REUSEPORT, shared by the
  // shards). TLS kinds need a context (SetTlsContext) before accepting.
  absl::Status Listen(io_uring* ring, const std::vector<Endpoint>& addresses, StreamKind kind);
  // The TLS configuration new connections use (a reload swaps it).
  void SetTlsContext(std::shared_ptr<const TlsContext> context) { tls_ = std::move(context); }
  void StartAccepting();
  // Stops accepting (at shutdown); open connections carry on.
  void ShutdownListeners();

  // Completions, tagged IoOp::kAccept, kStreamReceive and kStreamSend.
  void OnAccept(size_t listener, const io_uring_cqe* cqe, bool stopping, uint64_t now_s);
  void OnReceive(size_t slot, uint32_t generation, int result, uint64_t now_s, MessageSink sink);
  void OnSent(size_t slot, uint32_t generation, int result);

  // Queues a SIP message for connection `id`, through its layers. A
  // connection closed meanwhile loses it (the client retransmits or times
  // out).
  void Send(uint64_t id, std::string_view sip_bytes);
  // Encrypts what the TLS connections were given since the last call, one
  // write per connection (so a burst of responses makes few records). The
  // shard calls it once per loop turn, before submitting.
  void FlushTlsWrites();
  // Closes connections idle for longer than the limit, those past their
  // request timeout, and TLS handshakes past theirs.
  void ExpireIdle(uint64_t now_s);

  // WebSocket connections closed since the last call (their ids): the
  // bindings registered over them end with them.
  std::vector<uint64_t> TakeClosedWebSockets() { return std::exchange(closed_ws_, {}); }

  size_t open_count() const { return open_; }
  size_t open_count(StreamKind kind) const { return open_by_kind_[static_cast<size_t>(kind)]; }

  // For the framings: bytes for the peer below the framing (through TLS
  // when there is one); close (the slot is freed once no operation is in
  // flight).
  void SendBytes(StreamConnection& c, std::string_view bytes);
  void Close(StreamConnection& c);
  ShardCounters& counters() { return counters_; }
  int shard() const { return shard_; }
  size_t max_message_size() const { return limits_.max_message_size; }

 private:
  StreamConnection* Find(uint64_t id);
  StreamConnection* Completed(size_t slot, uint32_t generation);
  // When an established connection must close unless something happens:
  // its idle limit, or its request timeout (no message yet, or one started).
  uint64_t DeadlineOf(const StreamConnection& c) const;
  // After bytes were consumed: starts or ends the message timer.
  void TrackPartial(StreamConnection& c, uint64_t now_s);
  void ArmAccept(size_t listener);
  void ArmReceive(StreamConnection& c);
  void ArmSend(StreamConnection& c);
  void MaybeFree(StreamConnection& c);
  // Bytes for the socket as they are.
  void WriteWire(StreamConnection& c, std::string_view wire_bytes);
  // Puts what TLS has for the peer on the wire.
  void FlushTls(StreamConnection& c);
  // Closes once what is queued has been sent.
  void CloseWhenSent(StreamConnection& c);
  // TLS: decrypts what arrived and consumes the plaintext.
  void ReceiveTls(StreamConnection& c, uint64_t now_s, MessageSink sink);
  // The framing's part: consumes `data`, returns the bytes used.
  size_t Consume(StreamConnection& c, std::string_view data, MessageSink sink);
  // Grows `buffer` (holding `used` bytes) when full, up to the message
  // limit; false when it cannot grow (the connection is closed).
  bool MakeRoom(StreamConnection& c, std::vector<char>& buffer, size_t used);

  const Limits limits_;
  ShardCounters& counters_;
  const int shard_;
  io_uring* ring_ = nullptr;
  std::shared_ptr<const TlsContext> tls_;
  std::vector<int> listen_fds_;
  std::vector<StreamKind> listen_kinds_;
  std::vector<std::unique_ptr<StreamConnection>> slots_;
  std::vector<uint32_t> free_slots_;
  size_t open_ = 0;
  std::array<size_t, kStreamKinds> open_by_kind_{};
  size_t handshakes_ = 0;
  std::string scratch_;  // a layer's output, reused
  std::string wire_;     // TLS output, reused
  std::vector<uint64_t> tls_writes_;  // connections with tls_plain_out to encrypt
  std::vector<uint64_t> closed_ws_;
  store::TimerWheel idle_wheel_;  // seconds, monotonic
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_STREAM_CONNECTIONS_H_
