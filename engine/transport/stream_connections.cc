#include "engine/transport/stream_connections.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "engine/log.h"
#include "engine/transport/listen_socket.h"
#include "engine/transport/tcp.h"
#include "engine/uring.h"

namespace locus::engine {
namespace {

constexpr size_t kInitialBuffer = 4096;
constexpr size_t kMaxPendingOutput = 1 << 20;  // a client that does not read is closed

}  // namespace

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

absl::Status StreamConnections::ListenTcp(io_uring* ring, const std::vector<Endpoint>& addresses) {
  ring_ = ring;
  for (const Endpoint& at : addresses) {
    absl::StatusOr<int> fd = OpenListenSocket(at, SOCK_STREAM);
    if (!fd.ok()) return fd.status();
    listen_fds_.push_back(*fd);
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
    if (open_ >= limits_.max_connections || stopping) {
      close(fd);
      counters_.tcp_refused.Add();
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
      c.protocol = StreamProtocol::kTcp;
      c.in.assign(kInitialBuffer, 0);
      c.in_size = 0;
      c.out_pending.clear();
      c.out_flight.clear();
      c.out_sent = 0;
      c.receiving = c.sending = c.closing = false;
      c.last_activity_s = now_s;
      idle_wheel_.Schedule(&c, c.last_activity_s + limits_.idle_timeout_s);
      ++open_;
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
  if (c.in.size() - c.in_size == 0) return;  // full: OnReceive grows or closes
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_recv(sqe, c.fd, c.in.data() + c.in_size, c.in.size() - c.in_size, 0);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kStreamReceive, c.slot, c.generation));
  c.receiving = true;
}

void StreamConnections::ArmSend(StreamConnection& c) {
  if (c.sending || c.closing) return;
  if (c.out_sent >= c.out_flight.size()) {
    if (c.out_pending.empty()) return;
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
  const size_t consumed = Consume(c, sink);
  if (c.closing) {
    MaybeFree(c);
    return;
  }
  if (consumed > 0) {
    std::memmove(c.in.data(), c.in.data() + consumed, c.in_size - consumed);
    c.in_size -= consumed;
  }
  if (c.in_size == c.in.size()) {
    // A message larger than the buffer: grow up to the message limit (plus
    // room for the CRLFs that may precede it).
    const size_t limit = limits_.max_message_size + 1024;
    if (c.in.size() >= limit) {
      counters_.parse_errors.Add();
      Close(c);
      MaybeFree(c);
      return;
    }
    c.in.resize(std::min(limit, c.in.size() * 2));
  }
  ArmReceive(c);
}

size_t StreamConnections::Consume(StreamConnection& c, MessageSink sink) {
  switch (c.protocol) {
    case StreamProtocol::kTcp:
      return TcpConsume(*this, c, sink);
  }
  return 0;
}

void StreamConnections::Send(uint64_t id, std::string_view sip_bytes) {
  StreamConnection* c = Find(id);
  if (c == nullptr || c->closing) return;  // closed meanwhile: the answer is lost
  switch (c->protocol) {
    case StreamProtocol::kTcp:
      WriteWire(*c, sip_bytes);
      break;
  }
}

void StreamConnections::WriteWire(StreamConnection& c, std::string_view wire_bytes) {
  if (c.closing) return;
  if (c.out_pending.size() + wire_bytes.size() > kMaxPendingOutput) {
    Log(LogLevel::kDebug, "shard %d: stream client %s does not read its responses: closing",
        shard_, c.peer.ToString());
    Close(c);
    MaybeFree(c);
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
  ArmSend(c);  // the rest of this send, or the next batch
}

void StreamConnections::Close(StreamConnection& c) {
  if (c.closing) return;
  c.closing = true;
  idle_wheel_.Cancel(&c);
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
  c.out_pending = {};
  c.out_flight = {};
  --open_;
  free_slots_.push_back(c.slot);
}

void StreamConnections::ExpireIdle(uint64_t now_s) {
  idle_wheel_.Advance(now_s, [this, now_s](store::TimerNode* node) {
    StreamConnection& c = *static_cast<StreamConnection*>(node);
    const uint64_t idle_until = c.last_activity_s + limits_.idle_timeout_s;
    if (idle_until > now_s) {
      idle_wheel_.Schedule(&c, idle_until);
    } else {
      Log(LogLevel::kDebug, "shard %d: closing idle stream connection from %s", shard_,
          c.peer.ToString());
      Close(c);
    }
  });
}

}  // namespace locus::engine
