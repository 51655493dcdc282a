#include "engine/transport/stream_connections.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "engine/log.h"
#include "engine/transport/listen_socket.h"
#include "engine/transport/tcp.h"
#include "engine/uring.h"

namespace locus::engine {
namespace {

constexpr size_t kInitialBuffer = 4096;
constexpr size_t kMaxPendingOutput = 1 << 20;    // a client that does not read is closed

}  // namespace

store::Transport StreamConnection::transport() const {
  switch (kind) {
    case StreamKind::kTcp: return store::Transport::kTcp;
    case StreamKind::kTls: return store::Transport::kTls;
    case StreamKind::kWs: return store::Transport::kWs;
    case StreamKind::kWss: return store::Transport::kWss;
  }
  return store::Transport::kTcp;
}

StreamConnections::StreamConnections(Limits limits, ShardCounters& counters, int shard,
                                     uint64_t now_s)
    : limits_(limits), counters_(counters), shard_(shard), idle_wheel_(now_s) {}

StreamConnections::~StreamConnections() {
  for (auto& c : slots_) {
    if (c && c->fd >= 0) close(c->fd);
  }
  for (int fd : listen_fds_) close(fd);
  idle_wheel_.Clear();
}

absl::Status StreamConnections::Listen(io_uring* ring, const std::vector<Endpoint>& addresses,
                                       StreamKind kind) {
  ring_ = ring;
  for (const Endpoint& at : addresses) {
    absl::StatusOr<int> fd = OpenListenSocket(at, SOCK_STREAM);
    if (!fd.ok()) return fd.status();
    listen_fds_.push_back(*fd);
    listen_kinds_.push_back(kind);
  }
  return absl::OkStatus();
}

void StreamConnections::StartAccepting() {
  for (size_t i = 0; i < listen_fds_.size(); ++i) ArmAccept(i);
}

void StreamConnections::ShutdownListeners() {
  for (int fd : listen_fds_) shutdown(fd, SHUT_RDWR);
}

void StreamConnections::ArmAccept(size_t listener) {
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_multishot_accept(sqe, listen_fds_[listener], nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kAccept, listener));
}

void StreamConnections::OnAccept(size_t listener, const io_uring_cqe* cqe, bool stopping,
                                 uint64_t now_s) {
  if (cqe->res >= 0) {
    const int fd = cqe->res;
    const StreamKind kind = listen_kinds_[listener];
    const bool tls = kind == StreamKind::kTls || kind == StreamKind::kWss;
    if (open_ >= limits_.max_connections || stopping) {
      close(fd);
      counters_.tcp_refused.Add();
    } else if (tls && (tls_ == nullptr || handshakes_ >= limits_.max_handshakes)) {
      close(fd);  // a burst of handshakes must not starve the shard
      counters_.tls_refused.Add();
    } else {
      uint32_t slot;
      if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
      } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.push_back(std::make_unique<StreamConnection>());
        slots_.back()->slot = slot;
      }
      StreamConnection& c = *slots_[slot];
      ++c.generation;
      c.fd = fd;
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);
      c.peer = Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&peer), len);
      c.kind = kind;
      c.in.assign(kInitialBuffer, 0);
      c.in_size = 0;
      c.plain_size = 0;
      if (tls) c.plain.assign(kInitialBuffer, 0);
      c.tls = tls ? std::make_unique<TlsSession>(*tls_) : nullptr;
      c.ws = kind == StreamKind::kWs || kind == StreamKind::kWss
                 ? std::make_unique<WebSocketSession>(limits_.max_message_size)
                 : nullptr;
      c.out_pending.clear();
      c.out_flight.clear();
      c.out_sent = 0;
      c.receiving = c.sending = c.closing = c.close_when_sent = false;
      c.handshaking = tls;
      c.accepted_s = now_s;
      c.last_activity_s = now_s;
      c.partial_since_s = 0;
      c.messages = 0;
      if (tls) ++handshakes_;
      idle_wheel_.Schedule(&c, tls ? now_s + limits_.handshake_timeout_s : DeadlineOf(c));
      ++open_;
      ++open_by_kind_[static_cast<size_t>(kind)];
      counters_.tcp_accepted.Add();
      ArmReceive(c);
    }
  }
  if ((cqe->flags & IORING_CQE_F_MORE) == 0 && !stopping) ArmAccept(listener);
}

StreamConnection* StreamConnections::Completed(size_t slot, uint32_t generation) {
  if (slot >= slots_.size()) return nullptr;
  StreamConnection* c = slots_[slot].get();
  // A slot is reused only once both operations are back: cannot differ.
  return c->generation == generation ? c : nullptr;
}

StreamConnection* StreamConnections::Find(uint64_t id) {
  const uint32_t slot = static_cast<uint32_t>(id >> 32);
  if (slot >= slots_.size()) return nullptr;
  StreamConnection* c = slots_[slot].get();
  if (c->generation != static_cast<uint32_t>(id) || c->fd < 0) return nullptr;
  return c;
}

void StreamConnections::ArmReceive(StreamConnection& c) {
  if (c.close_when_sent || c.in.size() - c.in_size == 0) return;  // full: OnReceive grows or closes
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_recv(sqe, c.fd, c.in.data() + c.in_size, c.in.size() - c.in_size, 0);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kStreamReceive, c.slot, c.generation));
  c.receiving = true;
}

void StreamConnections::ArmSend(StreamConnection& c) {
  if (c.sending || c.closing) return;
  if (c.out_sent >= c.out_flight.size()) {
    if (c.out_pending.empty()) {
      if (c.close_when_sent) Close(c);
      return;
    }
    c.out_flight.clear();
    c.out_flight.swap(c.out_pending);
    c.out_sent = 0;
  }
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_send(sqe, c.fd, c.out_flight.data() + c.out_sent, c.out_flight.size() - c.out_sent,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kStreamSend, c.slot, c.generation));
  c.sending = true;
}

bool StreamConnections::MakeRoom(StreamConnection& c, std::vector<char>& buffer, size_t used) {
  if (used < buffer.size()) return true;
  // A message larger than the buffer: grow up to the message limit (plus
  // room for the CRLFs that may precede it, or a WebSocket Upgrade).
  const size_t limit = std::max(limits_.max_message_size + 1024, WebSocketSession::kMaxUpgradeBytes);
  if (buffer.size() >= limit) {
    counters_.parse_errors.Add();
    Close(c);
    return false;
  }
  buffer.resize(std::min(limit, buffer.size() * 2));
  return true;
}

void StreamConnections::OnReceive(size_t slot, uint32_t generation, int result, uint64_t now_s,
                                  MessageSink sink) {
  StreamConnection* found = Completed(slot, generation);
  if (found == nullptr) return;
  StreamConnection& c = *found;
  c.receiving = false;
  if (c.closing || result <= 0) {
    if (!c.closing) Close(c);  // the peer closed (0), or an error
    MaybeFree(c);
    return;
  }
  counters_.tcp_bytes_in.Add(static_cast<uint64_t>(result));
  c.in_size += static_cast<size_t>(result);
  c.last_activity_s = now_s;
  auto counted = [&c, sink](const sip::Message& message, std::string_view bytes,
                            const StreamConnection& connection) {
    ++c.messages;
    sink(message, bytes, connection);
  };
  if (c.tls != nullptr) {
    ReceiveTls(c, now_s, counted);
  } else {
    const size_t consumed = Consume(c, {c.in.data(), c.in_size}, counted);
    if (!c.closing && consumed > 0) {
      std::memmove(c.in.data(), c.in.data() + consumed, c.in_size - consumed);
      c.in_size -= consumed;
    }
    if (!c.closing) MakeRoom(c, c.in, c.in_size);
  }
  if (c.closing) {
    MaybeFree(c);
    return;
  }
  if (!c.handshaking) TrackPartial(c, now_s);
  ArmReceive(c);
}

void StreamConnections::TrackPartial(StreamConnection& c, uint64_t now_s) {
  // Bytes left unconsumed are the start of a message (or of a WebSocket
  // frame) not yet complete.
  const bool partial = c.in_size > 0 || c.plain_size > 0;
  if (!partial) {
    c.partial_since_s = 0;
    return;
  }
  if (c.partial_since_s != 0) return;
  c.partial_since_s = now_s;
  // The wheel may hold a later deadline (the idle one): bring it forward.
  const uint64_t deadline = DeadlineOf(c);
  if (!c.scheduled() || deadline < c.expiry) idle_wheel_.Schedule(&c, deadline);
}

uint64_t StreamConnections::DeadlineOf(const StreamConnection& c) const {
  uint64_t deadline = c.last_activity_s + limits_.idle_timeout_s;
  if (c.messages == 0) deadline = std::min(deadline, c.accepted_s + limits_.request_timeout_s);
  if (c.partial_since_s != 0) {
    deadline = std::min(deadline, c.partial_since_s + limits_.request_timeout_s);
  }
  return deadline;
}

void StreamConnections::ReceiveTls(StreamConnection& c, uint64_t now_s, MessageSink sink) {
  TlsSession& tls = *c.tls;
  const bool fed = tls.Receive({c.in.data(), c.in_size});
  c.in_size = 0;  // all of it is OpenSSL's now
  FlushTls(c);    // handshake records, alerts
  if (!fed) {
    if (c.handshaking) counters_.tls_handshake_failures.Add();
    Log(LogLevel::kDebug, "shard %d: TLS connection from %s: %s", shard_, c.peer.ToString(),
        tls.failure());
    CloseWhenSent(c);
    return;
  }
  if (tls.TakeHandshakeCompleted()) {
    c.handshaking = false;
    --handshakes_;
    counters_.tls_handshakes.Add();
    c.accepted_s = now_s;  // the first message is due from here
    idle_wheel_.Schedule(&c, DeadlineOf(c));
  }
  // Decrypt and consume until OpenSSL has nothing more.
  while (!c.closing && !c.close_when_sent) {
    if (!MakeRoom(c, c.plain, c.plain_size)) return;
    const long n = tls.ReadPlain(c.plain.data() + c.plain_size, c.plain.size() - c.plain_size);
    if (n < 0) {
      FlushTls(c);
      CloseWhenSent(c);
      return;
    }
    if (n == 0) break;
    c.plain_size += static_cast<size_t>(n);
    const size_t consumed = Consume(c, {c.plain.data(), c.plain_size}, sink);
    if (c.closing) return;
    if (consumed > 0) {
      std::memmove(c.plain.data(), c.plain.data() + consumed, c.plain_size - consumed);
      c.plain_size -= consumed;
    }
  }
  FlushTls(c);
}

size_t StreamConnections::Consume(StreamConnection& c, std::string_view data, MessageSink sink) {
  if (c.ws == nullptr) return ConsumeSipStream(*this, c, data, sink);
  size_t consumed = 0;
  std::string out;
  const WebSocketSession::Outcome outcome =
      c.ws->Consume(data, &consumed, &out, [&](std::string_view message) {
        // RFC 7118 section 5: one SIP message per WebSocket message.
        sip::Message parsed;
        sip::ParseOptions options;
        options.max_message_size = limits_.max_message_size;
        const sip::ParseError error = sip::ParseMessage(message, options, &parsed);
        if (!error.ok()) {
          if (error.code != sip::ErrorCode::kEmpty) counters_.parse_errors.Add();
          return;  // the frame delimited it: the connection goes on
        }
        sink(parsed, message, c);
      });
  if (!out.empty()) SendBytes(c, out);
  switch (outcome) {
    case WebSocketSession::Outcome::kOpen:
      break;
    case WebSocketSession::Outcome::kUpgraded:
      counters_.ws_upgrades.Add();
      break;
    case WebSocketSession::Outcome::kRefused:
      counters_.ws_upgrade_failures.Add();
      Log(LogLevel::kDebug, "shard %d: WebSocket Upgrade from %s refused: %s", shard_,
          c.peer.ToString(), c.ws->problem());
      CloseWhenSent(c);
      break;
    case WebSocketSession::Outcome::kClosed:
      CloseWhenSent(c);
      break;
  }
  return consumed;
}

void StreamConnections::Send(uint64_t id, std::string_view sip_bytes) {
  StreamConnection* c = Find(id);
  if (c == nullptr || c->closing || c->close_when_sent) return;  // closed meanwhile: lost
  if (c->ws == nullptr) {
    SendBytes(*c, sip_bytes);
    return;
  }
  scratch_.clear();
  if (c->ws->Send(sip_bytes, &scratch_)) SendBytes(*c, scratch_);
}

void StreamConnections::SendBytes(StreamConnection& c, std::string_view bytes) {
  if (c.closing) return;
  if (c.tls == nullptr) {
    WriteWire(c, bytes);
    return;
  }
  if (!c.tls->handshake_done()) return;  // nothing to say before it
  if (c.tls_plain_out.size() + bytes.size() > kMaxPendingOutput) {
    Close(c);  // a client that does not read its responses
    return;
  }
  if (c.tls_plain_out.empty()) tls_writes_.push_back(c.id());
  c.tls_plain_out.append(bytes);
}

void StreamConnections::FlushTlsWrites() {
  for (const uint64_t id : tls_writes_) {
    StreamConnection* c = Find(id);
    if (c == nullptr || c->closing || c->tls_plain_out.empty()) continue;
    const bool written = c->tls->Write(c->tls_plain_out);
    c->tls_plain_out.clear();
    if (!written) {
      Close(*c);
      continue;
    }
    FlushTls(*c);
  }
  tls_writes_.clear();
}

void StreamConnections::FlushTls(StreamConnection& c) {
  wire_.clear();
  if (c.tls != nullptr && c.tls->TakeOutput(&wire_)) WriteWire(c, wire_);
}

void StreamConnections::WriteWire(StreamConnection& c, std::string_view wire_bytes) {
  if (c.closing) return;
  if (c.out_pending.size() + wire_bytes.size() > kMaxPendingOutput) {
    Log(LogLevel::kDebug, "shard %d: stream client %s does not read its responses: closing",
        shard_, c.peer.ToString());
    Close(c);
    return;
  }
  c.out_pending.append(wire_bytes);
  ArmSend(c);
}

void StreamConnections::OnSent(size_t slot, uint32_t generation, int result) {
  StreamConnection* found = Completed(slot, generation);
  if (found == nullptr) return;
  StreamConnection& c = *found;
  c.sending = false;
  if (c.closing || result < 0) {
    if (!c.closing) Close(c);
    MaybeFree(c);
    return;
  }
  counters_.tcp_bytes_out.Add(static_cast<uint64_t>(result));
  c.out_sent += static_cast<size_t>(result);
  ArmSend(c);  // the rest of this send, the next batch, or a close when all went out
}

void StreamConnections::CloseWhenSent(StreamConnection& c) {
  if (c.closing) return;
  c.close_when_sent = true;
  if (!c.sending && c.out_pending.empty()) Close(c);
}

void StreamConnections::Close(StreamConnection& c) {
  if (c.closing) return;
  c.closing = true;
  idle_wheel_.Cancel(&c);
  if (c.handshaking) {
    c.handshaking = false;
    --handshakes_;
  }
  if (c.ws != nullptr && c.ws->upgraded()) closed_ws_.push_back(c.id());
  // Ends the receive (and a send) in flight; the fd is closed once both are
  // back, so that a reused fd number never gets a stale completion.
  shutdown(c.fd, SHUT_RDWR);
  counters_.tcp_closed.Add();
  MaybeFree(c);
}

void StreamConnections::MaybeFree(StreamConnection& c) {
  if (!c.closing || c.receiving || c.sending || c.fd < 0) return;
  close(c.fd);
  c.fd = -1;
  c.in = {};
  c.plain = {};
  c.tls.reset();
  c.ws.reset();
  c.out_pending = {};
  c.out_flight = {};
  c.tls_plain_out = {};
  --open_;
  --open_by_kind_[static_cast<size_t>(c.kind)];
  free_slots_.push_back(c.slot);
}

void StreamConnections::ExpireIdle(uint64_t now_s) {
  idle_wheel_.Advance(now_s, [this, now_s](store::TimerNode* node) {
    StreamConnection& c = *static_cast<StreamConnection*>(node);
    if (c.handshaking) {
      counters_.tls_handshake_timeouts.Add();
      Log(LogLevel::kDebug, "shard %d: TLS handshake from %s timed out", shard_, c.peer.ToString());
      Close(c);
      return;
    }
    const uint64_t deadline = DeadlineOf(c);
    if (deadline > now_s) {
      idle_wheel_.Schedule(&c, deadline);
      return;
    }
    if (c.messages == 0 || c.partial_since_s != 0) {
      // Nothing asked within the request timeout, or a message left half sent.
      counters_.tcp_request_timeouts.Add();
      Log(LogLevel::kDebug, "shard %d: closing stream connection from %s: no complete request within %u s",
          shard_, c.peer.ToString(), limits_.request_timeout_s);
    } else {
      Log(LogLevel::kDebug, "shard %d: closing idle stream connection from %s", shard_,
          c.peer.ToString());
    }
    Close(c);
  });
}

}  // namespace locus::engine
