#include "engine/transport/udp.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/text.h"
#include "engine/transport/listen_socket.h"
#include "engine/uring.h"

namespace locus::engine {
namespace {

constexpr uint32_t kBuffers = 256;           // provided buffers per shard
constexpr size_t kPlainSlotsPerSocket = 16;  // fallback: recvmsg calls in flight
constexpr size_t kSendSlots = 2048;
constexpr size_t kMaxBatch = 1024;  // sendmmsg takes at most UIO_MAXIOV messages
constexpr size_t kMaxDatagram = 65536;
// Room for a receive's control data: the SO_TIMESTAMPNS stamp.
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(timespec));

}  // namespace

// A response queued or in flight: its bytes and the sendmsg arguments.
struct UdpTransport::SendSlot {
  size_t index = 0;
  size_t socket = 0;
  std::string data;
  sockaddr_storage to{};
  iovec iov{};
  msghdr msg{};
};

// Fallback receive (no provided-buffer ring): one recvmsg in flight.
struct UdpTransport::RecvSlot {
  size_t index = 0;
  size_t socket = 0;
  std::unique_ptr<char[]> data;
  sockaddr_storage from{};
  alignas(cmsghdr) char control[kControlBytes];
  iovec iov{};
  msghdr msg{};
};

UdpTransport::UdpTransport(ShardCounters& counters) : counters_(counters) {}

UdpTransport::~UdpTransport() {
  for (int fd : fds_) close(fd);
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
}

absl::Status UdpTransport::Open(io_uring* ring, const std::vector<Endpoint>& addresses,
                                int receive_buffer, bool plain_receive, int shard) {
  ring_ = ring;
  for (const Endpoint& at : addresses) {
    absl::StatusOr<int> fd = OpenListenSocket(at, SOCK_DGRAM, receive_buffer);
    if (!fd.ok()) return fd.status();
    fds_.push_back(*fd);
  }
  // Each datagram's arrival time, for the time it waited in the queue.
  for (int fd : fds_) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
  }
  // Receive buffers: each holds the io_uring_recvmsg_out header, the source
  // address, the timestamp and the largest datagram, so nothing is ever
  // truncated.
  recv_template_.msg_namelen = sizeof(sockaddr_storage);
  recv_template_.msg_controllen = kControlBytes;
  buffer_size_ =
      (sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) + kControlBytes + kMaxDatagram + 63) &
      ~size_t{63};
  buffer_count_ = kBuffers;
  if (!fds_.empty()) {
    buffers_.reset(new char[buffer_size_ * buffer_count_]);
    // liburing 2.3 has no io_uring_setup_buf_ring: the ring memory is
    // mapped and registered here.
    buf_ring_bytes_ = buffer_count_ * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return absl::InternalError(Cat("mmap: ", std::strerror(errno)));
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = buffer_count_;
    reg.bgid = 0;
    multishot_ = !plain_receive && io_uring_register_buf_ring(ring_, &reg, 0) == 0;
    if (multishot_) {
      for (uint32_t i = 0; i < buffer_count_; ++i) {
        io_uring_buf_ring_add(buf_ring_, buffers_.get() + i * buffer_size_,
                              static_cast<unsigned>(buffer_size_), static_cast<unsigned short>(i),
                              io_uring_buf_ring_mask(buffer_count_), static_cast<int>(i));
      }
      io_uring_buf_ring_advance(buf_ring_, static_cast<int>(buffer_count_));
    } else {
      munmap(buf_ring_, buf_ring_bytes_);
      buf_ring_ = nullptr;
      buffers_.reset();
      if (!plain_receive) {
        Log(LogLevel::kWarning, "shard %d: no provided-buffer rings (kernel too old): plain recvmsg",
            shard);
      }
    }
  }
  send_slots_.reserve(kSendSlots);
  queued_.reserve(kSendSlots);
  batch_.resize(kMaxBatch);
  for (size_t i = 0; i < kSendSlots; ++i) {
    auto slot = std::make_unique<SendSlot>();
    slot->index = i;
    free_send_slots_.push_back(slot.get());
    send_slots_.push_back(std::move(slot));
  }
  return absl::OkStatus();
}

void UdpTransport::StartReceiving() {
  for (size_t i = 0; i < fds_.size(); ++i) {
    if (multishot_) {
      ArmMultishot(i);
      continue;
    }
    for (size_t k = 0; k < kPlainSlotsPerSocket; ++k) {
      auto slot = std::make_unique<RecvSlot>();
      slot->index = recv_slots_.size();
      slot->socket = i;
      slot->data.reset(new char[kMaxDatagram]);
      ArmPlain(slot.get());
      recv_slots_.push_back(std::move(slot));
    }
  }
}

void UdpTransport::ShutdownReceive() {
  for (int fd : fds_) shutdown(fd, SHUT_RD);
}

void UdpTransport::ArmMultishot(size_t socket) {
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_recvmsg_multishot(sqe, fds_[socket], &recv_template_, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kUdpMultishot, socket));
}

void UdpTransport::ArmPlain(RecvSlot* slot) {
  slot->iov = {slot->data.get(), kMaxDatagram};
  slot->msg = {};
  slot->msg.msg_name = &slot->from;
  slot->msg.msg_namelen = sizeof(slot->from);
  slot->msg.msg_iov = &slot->iov;
  slot->msg.msg_iovlen = 1;
  slot->msg.msg_control = slot->control;
  slot->msg.msg_controllen = sizeof(slot->control);
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_recvmsg(sqe, fds_[slot->socket], &slot->msg, 0);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kUdpPlain, slot->index));
}

void UdpTransport::OnMultishot(size_t socket, const io_uring_cqe* cqe, bool stopping,
                               DatagramSink sink) {
  const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
  if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER) != 0) {
    const uint16_t id = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    char* buffer = buffers_.get() + static_cast<size_t>(id) * buffer_size_;
    io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buffer, cqe->res, &recv_template_);
    if (out != nullptr && (out->flags & MSG_TRUNC) == 0) {
      const char* payload = static_cast<const char*>(io_uring_recvmsg_payload(out, &recv_template_));
      const size_t size = io_uring_recvmsg_payload_length(out, cqe->res, &recv_template_);
      const Endpoint source = Endpoint::FromSockaddr(
          static_cast<const sockaddr*>(io_uring_recvmsg_name(out)), out->namelen);
      const uint64_t arrival = ArrivalOf(&recv_template_, io_uring_recvmsg_cmsg_firsthdr(out, &recv_template_));
      Received(socket, {payload, size}, source, arrival, sink);
    } else {
      counters_.parse_errors.Add();
    }
    // Hand the buffer back; the ring's tail moves once per completion batch.
    io_uring_buf_ring_add(buf_ring_, buffer, static_cast<unsigned>(buffer_size_), id,
                          io_uring_buf_ring_mask(buffer_count_),
                          static_cast<int>(buffers_returned_));
    ++buffers_returned_;
  }
  // The kernel ends a multishot receive when buffers ran out (ENOBUFS) or
  // on errors; re-arm it unless we are stopping.
  if (!more && !stopping) ArmMultishot(socket);
}

void UdpTransport::OnPlain(size_t slot_index, const io_uring_cqe* cqe, bool stopping,
                           DatagramSink sink) {
  RecvSlot* slot = recv_slots_[slot_index].get();
  if (cqe->res > 0) {
    Received(slot->socket, {slot->data.get(), static_cast<size_t>(cqe->res)},
             Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&slot->from), slot->msg.msg_namelen),
             ArrivalOf(&slot->msg, CMSG_FIRSTHDR(&slot->msg)), sink);
  }
  if (!stopping) ArmPlain(slot);
}

void UdpTransport::Received(size_t socket, std::string_view bytes, const Endpoint& source,
                            uint64_t arrival_ns, DatagramSink sink) {
  counters_.udp_packets_in.Add();
  counters_.udp_bytes_in.Add(bytes.size());
  if (!source.valid()) return;
  sink(socket, bytes, source, arrival_ns);
}

uint64_t UdpTransport::ArrivalOf(const msghdr* msg, const cmsghdr* first) {
  const uint64_t now = MonotonicNs();
  for (const cmsghdr* c = first; c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
        c->cmsg_len < CMSG_LEN(sizeof(timespec))) {
      continue;
    }
    timespec stamp;
    std::memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
    const uint64_t stamped = static_cast<uint64_t>(stamp.tv_sec) * 1000000000ull + static_cast<uint64_t>(stamp.tv_nsec);
    const uint64_t wall = WallNs();
    // Waited (wall - stamped) before now; a stamp from the future (the
    // clock stepped back) counts as no wait.
    return wall > stamped && wall - stamped < now ? now - (wall - stamped) : now;
  }
  return now;
}

void UdpTransport::ReturnBuffers() {
  if (buffers_returned_ == 0) return;
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(buffers_returned_));
  buffers_returned_ = 0;
}

void UdpTransport::OnSent(size_t slot_index, int result) {
  if (result < 0) {
    counters_.send_errors.Add();
  } else {
    CountSent(static_cast<size_t>(result));
  }
  FreeSlot(send_slots_[slot_index].get());
  --sends_in_flight_;
}

void UdpTransport::CountSent(size_t bytes) {
  counters_.udp_packets_out.Add();
  counters_.udp_bytes_out.Add(bytes);
}

void UdpTransport::Send(size_t socket, const Endpoint& to, std::string_view bytes) {
  if (socket >= fds_.size() || !to.valid()) return;
  if (free_send_slots_.empty()) FlushSends();
  if (free_send_slots_.empty()) {
    // Every slot waits in the ring for room: send directly rather than drop.
    const ssize_t n =
        sendto(fds_[socket], bytes.data(), bytes.size(), MSG_DONTWAIT, to.addr(), to.len());
    if (n < 0) {
      counters_.send_errors.Add();
    } else {
      CountSent(static_cast<size_t>(n));
    }
    return;
  }
  SendSlot* slot = free_send_slots_.back();
  free_send_slots_.pop_back();
  slot->socket = socket;
  slot->data.assign(bytes);
  std::memcpy(&slot->to, to.addr(), to.len());
  slot->iov = {slot->data.data(), slot->data.size()};
  slot->msg = {};
  slot->msg.msg_name = &slot->to;
  slot->msg.msg_namelen = to.len();
  slot->msg.msg_iov = &slot->iov;
  slot->msg.msg_iovlen = 1;
  queued_.push_back(slot);
}

void UdpTransport::FlushSends() {
  size_t begin = 0;
  while (begin < queued_.size()) {
    size_t end = begin + 1;
    while (end < queued_.size() && end - begin < kMaxBatch &&
           queued_[end]->socket == queued_[begin]->socket) {
      ++end;
    }
    SendRun(begin, end);
    begin = end;
  }
  queued_.clear();
}

void UdpTransport::SendRun(size_t begin, size_t end) {
  SendSlot** slots = &queued_[begin];
  const size_t count = end - begin;
  for (size_t i = 0; i < count; ++i) batch_[i] = {slots[i]->msg, 0};
  const int fd = fds_[slots[0]->socket];
  size_t next = 0;
  while (next < count) {
    const int sent = sendmmsg(fd, &batch_[next], static_cast<unsigned>(count - next), MSG_DONTWAIT);
    if (sent > 0) {
      for (size_t i = next; i < next + static_cast<size_t>(sent); ++i) {
        CountSent(batch_[i].msg_len);
        FreeSlot(slots[i]);
      }
      next += static_cast<size_t>(sent);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The socket's send buffer is full: the rest wait in the ring.
      for (; next < count; ++next) SubmitSend(slots[next]);
    } else {
      // This datagram cannot go (its destination is refused); the rest can.
      counters_.send_errors.Add();
      FreeSlot(slots[next++]);
    }
  }
}

void UdpTransport::SubmitSend(SendSlot* slot) {
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_sendmsg(sqe, fds_[slot->socket], &slot->msg, 0);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kUdpSend, slot->index));
  ++sends_in_flight_;
}

}  // namespace locus::engine
