#include "engine/shard.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "engine/binding_json.h"
#include "engine/clock.h"
#include "engine/text.h"
#include "store/durable_files.h"
#include "store/journal_record.h"
#include "parser/uri.h"
#include "parser/uri_compare.h"
#include "engine/log.h"
#include "parser/message.h"

namespace locus::engine {
namespace {

// What a completion is about: the top byte of its user_data.
enum Op : uint64_t {
  kOpUdpMultishot = 1,  // index: UDP socket
  kOpUdpPlain,          // index: receive slot
  kOpUdpSend,           // index: send slot
  kOpAccept,            // index: listener
  kOpConnReceive,       // index: connection slot, low 32 bits: generation
  kOpConnSend,
  kOpWake,              // a peer's MSG_RING, or our eventfd read
  kOpAdminWake,         // the admin thread's eventfd
  kOpJournal,           // generation: a Journal::Op
  kOpIgnore,            // completions we do not need (MSG_RING sent, cancels)
};

constexpr uint64_t UserData(Op op, uint64_t index, uint32_t generation = 0) {
  return (static_cast<uint64_t>(op) << 56) | ((index & 0xFFFFFF) << 32) | generation;
}
constexpr Op OpOf(uint64_t data) { return static_cast<Op>(data >> 56); }
constexpr size_t IndexOf(uint64_t data) { return (data >> 32) & 0xFFFFFF; }
constexpr uint32_t GenerationOf(uint64_t data) { return static_cast<uint32_t>(data); }

constexpr unsigned kRingEntries = 4096;
constexpr unsigned kCqEntries = 32768;
constexpr uint32_t kUdpBuffers = 256;      // provided buffers per shard
constexpr size_t kPlainSlotsPerSocket = 16;  // fallback: recvmsg calls in flight
constexpr size_t kSendSlots = 2048;
constexpr size_t kTcpInitialBuffer = 4096;
constexpr size_t kTcpMaxPendingOutput = 1 << 20;  // a client that does not read is closed
constexpr uint32_t kOverloadRetryAfter = 1;  // seconds, in 503s

absl::Status Errno(std::string_view what) {
  return absl::InternalError(Cat(what, ": ", std::strerror(errno)));
}

absl::StatusOr<int> OpenSocket(const Endpoint& at, int type) {
  const int fd = socket(at.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    close(fd);
    return Errno("SO_REUSEPORT");
  }
  if (at.is_v6()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (type == SOCK_DGRAM) {
    // Bursts of REGISTERs must not overflow the receive queue (ARCHITECTURE
    // section 8 / issue 6: overflows turn into retransmission storms).
    const int size = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
  } else {
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (bind(fd, at.addr(), at.len()) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return Errno(Cat("bind ", at.ToString()));
  }
  if (type == SOCK_STREAM && listen(fd, 1024) != 0) {
    close(fd);
    return Errno("listen");
  }
  return fd;
}

}  // namespace

// A UDP response in flight: its bytes and the sendmsg arguments.
struct Shard::SendSlot {
  size_t index = 0;
  std::string data;
  sockaddr_storage to{};
  iovec iov{};
  msghdr msg{};
};

// Fallback receive (no provided-buffer ring): one recvmsg in flight.
struct Shard::RecvSlot {
  size_t index = 0;
  size_t socket = 0;
  std::unique_ptr<char[]> data;
  sockaddr_storage from{};
  iovec iov{};
  msghdr msg{};
};

// A TCP connection, owned by the shard that accepted it.
struct Shard::Connection : store::TimerNode {
  uint32_t slot = 0;
  uint32_t generation = 0;
  int fd = -1;
  Endpoint peer;
  std::vector<char> in;     // received bytes not yet framed: [0, in_size)
  size_t in_size = 0;
  std::string out_pending;  // responses waiting for the send in flight
  std::string out_flight;   // bytes of the send in flight, from out_sent on
  size_t out_sent = 0;
  bool receiving = false;
  bool sending = false;
  bool closing = false;
  uint64_t last_activity_s = 0;  // monotonic seconds

  uint64_t id() const { return (static_cast<uint64_t>(slot) << 32) | generation; }
};

// A record on a hand-off ring, followed by the message bytes (requests) or
// the response bytes (kTcpResponse).
struct Shard::HandOffHeader {
  enum Kind : uint8_t { kRequest, kTcpResponse };
  Kind kind = kRequest;
  store::Transport transport = store::Transport::kUdp;
  bool too_large = false;
  uint16_t udp_socket = 0;
  uint32_t from_shard = 0;
  uint64_t conn_id = 0;
  uint64_t received_ns = 0;  // for the latency histogram
  Endpoint source;
};

Shard::Shard(int index, int count, const Config& config, uint64_t tag_seed)
    : index_(index),
      count_(count),
      config_(config),
      table_(WallSeconds()),
      handler_(config, index, count, tag_seed, table_, counters_),
      idle_wheel_(MonotonicMs() / 1000) {
  response_.reserve(8192);
  table_.Reserve(config.expected_aors / static_cast<uint64_t>(count > 0 ? count : 1));
}

Shard::~Shard() {
  for (auto& c : connections_) {
    if (c && c->fd >= 0) close(c->fd);
  }
  for (int fd : udp_fds_) close(fd);
  for (int fd : listen_fds_) close(fd);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (admin_wake_fd_ >= 0) close(admin_wake_fd_);
  if (ring_open_) io_uring_queue_exit(&ring_);
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
  idle_wheel_.Clear();
}

void Shard::Connect(std::vector<Shard*> peers, std::vector<SpscRing*> inboxes,
                    std::vector<SpscRing*> outboxes) {
  peers_ = std::move(peers);
  inboxes_ = std::move(inboxes);
  outboxes_ = std::move(outboxes);
  wake_needed_.assign(peers_.size(), false);
}

absl::Status Shard::OpenDurability() {
  if (durable_start_.generation_dir.empty()) return absl::OkStatus();
  const uint64_t started_ns = MonotonicNs();
  const uint32_t now = WallSeconds();
  const std::string& dir = durable_start_.generation_dir;
  uint64_t seq = 1;
  std::vector<uint64_t> existing;
  uint64_t journal_bytes = 0;
  uint64_t snapshot_bytes = 0;
  if (durable_start_.load_own_files) {
    absl::StatusOr<store::ShardFiles> files = store::ListShardFiles(dir, index_);
    if (!files.ok()) return files.status();
    for (const std::string& path : files->obsolete) {
      if (absl::Status s = store::RemoveFile(path); !s.ok()) return s;
    }
    uint64_t kept = 0;
    absl::StatusOr<store::LoadStats> stats = store::LoadShard(
        dir, index_, *files, /*repair=*/true,
        [&](std::string_view aor, std::vector<store::Binding>&& bindings) {
          kept += store::ApplyAorState(table_, aor, std::move(bindings), now);
        });
    if (!stats.ok()) return stats.status();
    if (stats->damaged) {
      Log(LogLevel::kWarning,
          "shard %d: %s is damaged at byte %d: restored the records before it, discarded %d bytes",
          index_, stats->damaged_file, stats->damaged_offset, stats->discarded_bytes);
    }
    Log(LogLevel::kInfo, "shard %d: restored %d AORs, %d bindings (%d records, %d bytes) in %d ms",
        index_, table_.aor_count(), table_.binding_count(), stats->records, stats->bytes,
        (MonotonicNs() - started_ns) / 1000000);
    if (files->snapshot != 0) existing.push_back(files->snapshot);
    for (uint64_t j : files->journals) existing.push_back(j);
    seq = files->last_seq + 1;
    journal_bytes = stats->journal_bytes;
    snapshot_bytes = stats->bytes - stats->journal_bytes;
  } else {
    // The shard count changed: the engine routed the old generation's AORs
    // here; they become snapshot 1 of the new generation.
    absl::StatusOr<uint64_t> bytes =
        store::WriteSnapshotFile(store::SnapshotPath(dir, index_, 1), table_, now);
    if (!bytes.ok()) return bytes.status();
    snapshot_bytes = *bytes;
    Log(LogLevel::kInfo, "shard %d: wrote %d AORs, %d bindings (%d bytes) as its first snapshot",
        index_, table_.aor_count(), table_.binding_count(), *bytes);
  }
  JournalOptions options;
  options.mode = config_.durability;
  options.generation_dir = dir;
  options.shard = index_;
  options.async_interval_ms = config_.async_flush_interval;
  options.snapshot_journal_bytes = config_.snapshot_journal_size;
  options.fault_file = config_.journal_fault_file;
  journal_ = std::make_unique<Journal>(std::move(options), table_, counters_);
  if (absl::Status s = journal_->Open(seq, std::move(existing), journal_bytes, snapshot_bytes);
      !s.ok()) {
    return s;
  }
  handler_.SetJournal(journal_.get());
  return absl::OkStatus();
}

absl::Status Shard::Open() {
  if (absl::Status s = OpenDurability(); !s.ok()) return s;
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  params.cq_entries = kCqEntries;
  int r = io_uring_queue_init_params(kRingEntries, &ring_, &params);
  if (r == -EINVAL) {  // kernels before 6.1
    params = {};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kCqEntries;
    r = io_uring_queue_init_params(kRingEntries, &ring_, &params);
  }
  if (r < 0) return absl::InternalError(Cat("io_uring_queue_init: ", std::strerror(-r)));
  ring_open_ = true;

  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  use_msg_ring_ = !config_.eventfd_wakeup && probe != nullptr &&
                  io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!use_msg_ring_) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return Errno("eventfd");
  }
  admin_wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (admin_wake_fd_ < 0) return Errno("eventfd");

  for (const Endpoint& at : config_.udp) {
    absl::StatusOr<int> fd = OpenSocket(at, SOCK_DGRAM);
    if (!fd.ok()) return fd.status();
    udp_fds_.push_back(*fd);
  }
  for (const Endpoint& at : config_.tcp) {
    absl::StatusOr<int> fd = OpenSocket(at, SOCK_STREAM);
    if (!fd.ok()) return fd.status();
    listen_fds_.push_back(*fd);
  }

  // Receive buffers: each holds the io_uring_recvmsg_out header, the source
  // address and the largest datagram, so nothing is ever truncated.
  recv_template_.msg_namelen = sizeof(sockaddr_storage);
  buffer_size_ = (sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) + 65536 + 63) & ~size_t{63};
  buffer_count_ = kUdpBuffers;
  buffers_.reset(new char[buffer_size_ * buffer_count_]);
  if (!udp_fds_.empty()) {
    buf_ring_bytes_ = buffer_count_ * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return Errno("mmap");
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = buffer_count_;
    reg.bgid = 0;
    multishot_ = !config_.plain_udp_receive && io_uring_register_buf_ring(&ring_, &reg, 0) == 0;
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
      if (!config_.plain_udp_receive) {
        Log(LogLevel::kWarning, "shard %d: no provided-buffer rings (kernel too old): plain recvmsg",
            index_);
      }
    }
  }
  send_slots_.reserve(kSendSlots);
  for (size_t i = 0; i < kSendSlots; ++i) {
    auto slot = std::make_unique<SendSlot>();
    slot->index = i;
    free_send_slots_.push_back(slot.get());
    send_slots_.push_back(std::move(slot));
  }
  UpdateClocks();
  return absl::OkStatus();
}

io_uring_sqe* Shard::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void Shard::ArmUdpReceive(size_t socket) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recvmsg_multishot(sqe, udp_fds_[socket], &recv_template_, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  io_uring_sqe_set_data64(sqe, UserData(kOpUdpMultishot, socket));
}

void Shard::ArmPlainReceive(RecvSlot* slot) {
  slot->iov = {slot->data.get(), 65536};
  slot->msg = {};
  slot->msg.msg_name = &slot->from;
  slot->msg.msg_namelen = sizeof(slot->from);
  slot->msg.msg_iov = &slot->iov;
  slot->msg.msg_iovlen = 1;
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recvmsg(sqe, udp_fds_[slot->socket], &slot->msg, 0);
  io_uring_sqe_set_data64(sqe, UserData(kOpUdpPlain, slot->index));
}

void Shard::ArmAdminWakeRead() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, admin_wake_fd_, &admin_wake_value_, sizeof(admin_wake_value_), 0);
  io_uring_sqe_set_data64(sqe, UserData(kOpAdminWake, 0));
}

void Shard::ArmAccept(size_t listener) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_multishot_accept(sqe, listen_fds_[listener], nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, UserData(kOpAccept, listener));
}

void Shard::ArmWakeRead() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(sqe, UserData(kOpWake, 0));
}

void Shard::ArmConnectionReceive(Connection* c) {
  if (c->in.size() - c->in_size == 0) return;  // full: FrameConnection grows or closes
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recv(sqe, c->fd, c->in.data() + c->in_size, c->in.size() - c->in_size, 0);
  io_uring_sqe_set_data64(sqe, UserData(kOpConnReceive, c->slot, c->generation));
  c->receiving = true;
}

void Shard::ArmConnectionSend(Connection* c) {
  if (c->sending || c->closing) return;
  if (c->out_sent >= c->out_flight.size()) {
    if (c->out_pending.empty()) return;
    c->out_flight.clear();
    c->out_flight.swap(c->out_pending);
    c->out_sent = 0;
  }
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_send(sqe, c->fd, c->out_flight.data() + c->out_sent,
                     c->out_flight.size() - c->out_sent, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, UserData(kOpConnSend, c->slot, c->generation));
  c->sending = true;
}

void Shard::UpdateClocks() {
  now_s_ = WallSeconds();
  now_ms_ = MonotonicMs();
  handler_.SetTime(now_s_, now_ms_);
}

void Shard::RunTimers() {
  handler_.Expire();
  idle_wheel_.Advance(now_ms_ / 1000, [this](store::TimerNode* node) {
    Connection* c = static_cast<Connection*>(node);
    const uint64_t idle_until = c->last_activity_s + config_.tcp_idle_timeout;
    if (idle_until > now_ms_ / 1000) {
      idle_wheel_.Schedule(c, idle_until);
    } else {
      Log(LogLevel::kDebug, "shard %d: closing idle TCP connection from %s", index_,
          c->peer.ToString());
      CloseConnection(c);
    }
  });
}

void Shard::RequestStop() {
  stop_.store(true, std::memory_order_release);
  // Other threads cannot submit to this ring (SINGLE_ISSUER), and the signal
  // thread has no ring to send a MSG_RING from; the loop never sleeps longer
  // than 100 ms, so it sees stop_ soon. With the eventfd wake-up, use it.
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
}

void Shard::Run() {
  for (size_t i = 0; i < udp_fds_.size(); ++i) {
    if (multishot_) {
      ArmUdpReceive(i);
    } else {
      for (size_t k = 0; k < kPlainSlotsPerSocket; ++k) {
        auto slot = std::make_unique<RecvSlot>();
        slot->index = recv_slots_.size();
        slot->socket = i;
        slot->data.reset(new char[65536]);
        ArmPlainReceive(slot.get());
        recv_slots_.push_back(std::move(slot));
      }
    }
  }
  for (size_t i = 0; i < listen_fds_.size(); ++i) ArmAccept(i);
  if (wake_fd_ >= 0) ArmWakeRead();
  ArmAdminWakeRead();

  uint64_t stop_deadline_ms = 0;
  for (;;) {
    UpdateClocks();
    if (now_s_ != last_expire_s_ || handler_.transactions().NextExpiry().value_or(UINT64_MAX) <= now_ms_) {
      RunTimers();
      last_expire_s_ = now_s_;
    }
    const bool backlog = DrainInboxes();
    FlushWakes();
    DrainAdmin();
    const bool stopping = stop_.load(std::memory_order_acquire);
    if (journal_ != nullptr) {
      // Group commit: this turn's changes in one write (and sync).
      journal_->Poll(&ring_, now_ms_, now_s_, stopping, UserData(kOpJournal, 0));
      DeliverDecided();
      FlushWakes();
    }
    PublishGauges();
    if (stopping) {
      if (stop_deadline_ms == 0) {
        stop_deadline_ms = now_ms_ + 2000;
        // Stop receiving: shutting the sockets down ends every receive and
        // accept; responses already queued still go out.
        for (int fd : udp_fds_) shutdown(fd, SHUT_RD);
        for (int fd : listen_fds_) shutdown(fd, SHUT_RDWR);
      }
      const bool journal_idle = journal_ == nullptr || journal_->Idle();
      if ((sends_in_flight_ == 0 && journal_idle) || now_ms_ >= stop_deadline_ms) break;
    }
    // Sleep until the next timer (at most 100 ms, so a stop is seen soon).
    // With a hand-off backlog left, only submit and look for completions.
    __kernel_timespec timeout{0, 100 * 1000 * 1000};
    io_uring_cqe* cqe = nullptr;
    if (backlog) {
      io_uring_submit(&ring_);
    } else {
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
    }
    unsigned head;
    unsigned seen = 0;
    UpdateClocks();
    io_uring_for_each_cqe(&ring_, head, cqe) {
      HandleCompletion(cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    if (journal_ != nullptr) DeliverDecided();
    if (buffers_returned_ != 0) {
      io_uring_buf_ring_advance(buf_ring_, static_cast<int>(buffers_returned_));
      buffers_returned_ = 0;
    }
  }
  io_uring_submit(&ring_);
}

void Shard::HandleCompletion(io_uring_cqe* cqe) {
  const uint64_t data = io_uring_cqe_get_data64(cqe);
  switch (OpOf(data)) {
    case kOpUdpMultishot:
      OnUdpMultishot(IndexOf(data), cqe);
      break;
    case kOpUdpPlain: {
      RecvSlot* slot = recv_slots_[IndexOf(data)].get();
      if (cqe->res > 0) {
        OnUdpDatagram(slot->socket, {slot->data.get(), static_cast<size_t>(cqe->res)},
                      Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&slot->from),
                                             slot->msg.msg_namelen));
      }
      if (!stop_.load(std::memory_order_relaxed)) ArmPlainReceive(slot);
      break;
    }
    case kOpUdpSend: {
      SendSlot* slot = send_slots_[IndexOf(data)].get();
      if (cqe->res < 0) {
        counters_.send_errors.Add();
      } else {
        counters_.udp_packets_out.Add();
        counters_.udp_bytes_out.Add(static_cast<uint64_t>(cqe->res));
      }
      free_send_slots_.push_back(slot);
      --sends_in_flight_;
      break;
    }
    case kOpAccept:
      OnAccept(IndexOf(data), cqe);
      break;
    case kOpConnReceive:
    case kOpConnSend: {
      Connection* c = connections_[IndexOf(data)].get();
      if (c == nullptr || c->generation != GenerationOf(data)) break;  // cannot happen
      if (OpOf(data) == kOpConnReceive) {
        OnConnectionReceive(c, cqe->res);
      } else {
        OnConnectionSend(c, cqe->res);
      }
      break;
    }
    case kOpJournal:
      journal_->OnCompletion(static_cast<Journal::Op>(GenerationOf(data)), cqe->res, now_ms_, now_s_);
      break;
    case kOpAdminWake:
      if (!stop_.load(std::memory_order_relaxed)) ArmAdminWakeRead();
      break;  // DrainAdmin runs on every turn
    case kOpWake:
      if (wake_fd_ >= 0 && !stop_.load(std::memory_order_relaxed)) ArmWakeRead();
      break;  // the loop drains the inboxes on every turn
    default:
      break;
  }
}

void Shard::OnUdpMultishot(size_t socket, io_uring_cqe* cqe) {
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
      OnUdpDatagram(socket, {payload, size}, source);
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
  if (!more && !stop_.load(std::memory_order_relaxed)) ArmUdpReceive(socket);
}

void Shard::OnUdpDatagram(size_t socket, std::string_view bytes, const Endpoint& source) {
  counters_.udp_packets_in.Add();
  counters_.udp_bytes_in.Add(bytes.size());
  if (!source.valid()) return;
  Inbound inbound;
  inbound.source = source;
  inbound.transport = store::Transport::kUdp;
  inbound.received_ns = MonotonicNs();
  Process(bytes, false, inbound, socket, 0, false, index_);
}

void Shard::Process(std::string_view bytes, bool too_large, const Inbound& given,
                    size_t udp_socket, uint64_t conn_id, bool handed_off, int from_shard) {
  sip::ParseOptions options;
  options.max_message_size = config_.max_message_size;
  sip::Message message;
  Inbound inbound = given;
  inbound.too_large = too_large;
  sip::ParseError error = sip::ParseMessage(bytes, options, &message);
  if (error.code == sip::ErrorCode::kTooLarge && inbound.transport == store::Transport::kUdp) {
    // Over the limit but perhaps answerable: read it with the UDP maximum
    // only to find where a 513 goes.
    options.max_message_size = 65535;
    error = sip::ParseMessage(bytes, options, &message);
    inbound.too_large = true;
  }
  if (!error.ok()) {
    if (error.code != sip::ErrorCode::kEmpty) counters_.parse_errors.Add();
    return;  // ARCHITECTURE section 5: unparseable input is dropped
  }
  ProcessMessage(message, bytes, inbound, udp_socket, conn_id, handed_off, from_shard);
}

void Shard::ProcessMessage(const sip::Message& message, std::string_view bytes,
                           const Inbound& inbound, size_t udp_socket, uint64_t conn_id,
                           bool handed_off, int from_shard) {
  if (message.is_request() && !handed_off) counters_.requests_received.Add();
  if (handed_off) counters_.handoffs_received.Add();
  Disposition d = handler_.Handle(message, inbound, handed_off, &response_);
  if (d.kind == Disposition::Kind::kHandOff) {
    HandOffHeader header;
    header.kind = HandOffHeader::kRequest;
    header.transport = inbound.transport;
    header.too_large = inbound.too_large;
    header.udp_socket = static_cast<uint16_t>(udp_socket);
    header.from_shard = static_cast<uint32_t>(index_);
    header.conn_id = conn_id;
    header.received_ns = inbound.received_ns;
    header.source = inbound.source;
    SpscRing* ring = outboxes_[static_cast<size_t>(d.owner)];
    if (ring->TryPush({reinterpret_cast<const char*>(&header), sizeof(header)}, bytes)) {
      counters_.handed_off.Add();
      wake_needed_[static_cast<size_t>(d.owner)] = true;
      return;
    }
    counters_.overflows.Add();
    d = handler_.Reject(message, inbound, 503, "Service Unavailable", kOverloadRetryAfter,
                        &response_);
  }
  if (d.kind != Disposition::Kind::kRespond) return;
  ResponseRoute route;
  route.transport = inbound.transport;
  route.udp_socket = static_cast<uint16_t>(udp_socket);
  route.destination = d.destination;
  route.conn_id = conn_id;
  route.from_shard = from_shard;
  route.received_ns = inbound.received_ns;
  if (d.hold) {
    // Leaves once the journal group holding its changes is durable.
    journal_->Hold(route, d.status, handler_.transaction_key(), response_, {});
    return;
  }
  Deliver(route, response_);
}

void Shard::Deliver(const ResponseRoute& route, std::string_view bytes) {
  counters_.answered.Add();
  if (route.received_ns != 0) counters_.latency.Record(MonotonicNs() - route.received_ns);
  if (route.transport == store::Transport::kUdp) {
    SendUdp(route.udp_socket, route.destination, bytes);
  } else if (route.from_shard == index_) {
    SendOnConnection(route.conn_id, bytes);
  } else {
    // The connection belongs to the shard that received the request.
    HandOffHeader header;
    header.kind = HandOffHeader::kTcpResponse;
    header.conn_id = route.conn_id;
    SpscRing* ring = outboxes_[static_cast<size_t>(route.from_shard)];
    if (ring->TryPush({reinterpret_cast<const char*>(&header), sizeof(header)}, bytes)) {
      wake_needed_[static_cast<size_t>(route.from_shard)] = true;
    } else {
      counters_.overflows.Add();  // the client retransmits or times out
    }
  }
}

void Shard::DeliverDecided() {
  journal_->TakeDecided([this](const HeldResponse& held, std::string_view key,
                               std::string_view ok, std::string_view fail, bool committed) {
    if (held.route.admin) {
      AdminReply({held.route.admin_id, AdminHeader::kRemove, true,
                  committed ? held.route.admin_count : 0},
                 committed ? ok : fail);
      return;
    }
    std::string_view bytes = ok;
    if (!committed) {
      RequestHandler::FailureFor(ok, &failure_);  // nothing of it was applied
      bytes = failure_;
    }
    if (!key.empty()) handler_.CacheResponse(key, bytes);
    counters_.CountStatus(committed ? held.status : 500);
    Deliver(held.route, bytes);
  });
  NotifyAdmin();
}

void Shard::SendUdp(size_t socket, const Endpoint& to, std::string_view bytes) {
  if (socket >= udp_fds_.size() || !to.valid()) return;
  if (free_send_slots_.empty()) {
    // Every slot is in flight: send synchronously rather than drop.
    const ssize_t n = sendto(udp_fds_[socket], bytes.data(), bytes.size(), MSG_DONTWAIT,
                             to.addr(), to.len());
    if (n < 0) {
      counters_.send_errors.Add();
    } else {
      counters_.udp_packets_out.Add();
      counters_.udp_bytes_out.Add(static_cast<uint64_t>(n));
    }
    return;
  }
  SendSlot* slot = free_send_slots_.back();
  free_send_slots_.pop_back();
  slot->data.assign(bytes);
  std::memcpy(&slot->to, to.addr(), to.len());
  slot->iov = {slot->data.data(), slot->data.size()};
  slot->msg = {};
  slot->msg.msg_name = &slot->to;
  slot->msg.msg_namelen = to.len();
  slot->msg.msg_iov = &slot->iov;
  slot->msg.msg_iovlen = 1;
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_sendmsg(sqe, udp_fds_[socket], &slot->msg, 0);
  io_uring_sqe_set_data64(sqe, UserData(kOpUdpSend, slot->index));
  ++sends_in_flight_;
}

void Shard::OnAccept(size_t listener, io_uring_cqe* cqe) {
  if (cqe->res >= 0) {
    const int fd = cqe->res;
    if (open_connections_ >= config_.max_tcp_connections || stop_.load(std::memory_order_relaxed)) {
      close(fd);
      counters_.tcp_refused.Add();
    } else {
      uint32_t slot;
      if (!free_connections_.empty()) {
        slot = free_connections_.back();
        free_connections_.pop_back();
      } else {
        slot = static_cast<uint32_t>(connections_.size());
        connections_.push_back(std::make_unique<Connection>());
        connections_.back()->slot = slot;
      }
      Connection* c = connections_[slot].get();
      ++c->generation;
      c->fd = fd;
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);
      c->peer = Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&peer), len);
      c->in.assign(kTcpInitialBuffer, 0);
      c->in_size = 0;
      c->out_pending.clear();
      c->out_flight.clear();
      c->out_sent = 0;
      c->receiving = c->sending = c->closing = false;
      c->last_activity_s = now_ms_ / 1000;
      idle_wheel_.Schedule(c, c->last_activity_s + config_.tcp_idle_timeout);
      ++open_connections_;
      counters_.tcp_accepted.Add();
      ArmConnectionReceive(c);
    }
  }
  if ((cqe->flags & IORING_CQE_F_MORE) == 0 && !stop_.load(std::memory_order_relaxed)) {
    ArmAccept(listener);
  }
}

void Shard::OnConnectionReceive(Connection* c, int result) {
  c->receiving = false;
  if (c->closing || result <= 0) {
    if (!c->closing) CloseConnection(c);  // peer closed (0) or error
    MaybeFreeConnection(c);
    return;
  }
  counters_.tcp_bytes_in.Add(static_cast<uint64_t>(result));
  c->in_size += static_cast<size_t>(result);
  c->last_activity_s = now_ms_ / 1000;
  FrameConnection(c);
  if (!c->closing) {
    ArmConnectionReceive(c);
  } else {
    MaybeFreeConnection(c);
  }
}

void Shard::FrameConnection(Connection* c) {
  // Section 18.3: on a stream, Content-Length delimits each message.
  sip::ParseOptions options;
  options.max_message_size = config_.max_message_size;
  options.stream = true;
  size_t start = 0;
  while (start < c->in_size && !c->closing) {
    const std::string_view data(c->in.data() + start, c->in_size - start);
    sip::Message message;
    const sip::ParseError error = sip::ParseMessage(data, options, &message);
    if (error.code == sip::ErrorCode::kNeedMore) break;
    if (error.code == sip::ErrorCode::kEmpty) {
      // RFC 5626 section 3.5.1: a double-CRLF ping gets a single-CRLF pong.
      size_t crlfs = 0;
      while (crlfs + 1 < data.size() && data[crlfs] == '\r' && data[crlfs + 1] == '\n') crlfs += 2;
      if (crlfs >= 4) SendOnConnection(c->id(), "\r\n");
      if (crlfs == 0) break;  // a lone CR: wait for more
      start += crlfs;
      continue;
    }
    if (!error.ok()) {
      // Framing is lost: nothing after this point can be delimited.
      counters_.parse_errors.Add();
      Log(LogLevel::kDebug, "shard %d: closing TCP connection from %s: %s", index_,
          c->peer.ToString(), sip::Describe(error));
      CloseConnection(c);
      return;
    }
    const size_t size = message.consumed();
    Inbound inbound;
    inbound.source = c->peer;
    inbound.transport = store::Transport::kTcp;
    inbound.received_ns = MonotonicNs();
    ProcessMessage(message, data.substr(0, size), inbound, 0, c->id(), false, index_);
    start += size;
  }
  if (c->closing) return;
  if (start > 0) {
    std::memmove(c->in.data(), c->in.data() + start, c->in_size - start);
    c->in_size -= start;
  }
  if (c->in_size == c->in.size()) {
    // A message larger than the buffer: grow up to the message limit (plus
    // room for the CRLFs that may precede it).
    const size_t limit = config_.max_message_size + 1024;
    if (c->in.size() >= limit) {
      counters_.parse_errors.Add();
      CloseConnection(c);
      return;
    }
    c->in.resize(std::min(limit, c->in.size() * 2));
  }
}

void Shard::SendOnConnection(uint64_t conn_id, std::string_view bytes) {
  Connection* c = FindConnection(conn_id);
  if (c == nullptr || c->closing) return;  // closed meanwhile: the answer is lost
  if (c->out_pending.size() + bytes.size() > kTcpMaxPendingOutput) {
    Log(LogLevel::kDebug, "shard %d: TCP client %s does not read its responses: closing",
        index_, c->peer.ToString());
    CloseConnection(c);
    MaybeFreeConnection(c);
    return;
  }
  c->out_pending.append(bytes);
  ArmConnectionSend(c);
}

void Shard::OnConnectionSend(Connection* c, int result) {
  c->sending = false;
  if (c->closing || result < 0) {
    if (!c->closing) CloseConnection(c);
    MaybeFreeConnection(c);
    return;
  }
  counters_.tcp_bytes_out.Add(static_cast<uint64_t>(result));
  c->out_sent += static_cast<size_t>(result);
  ArmConnectionSend(c);  // the rest of this send, or the next batch
}

Shard::Connection* Shard::FindConnection(uint64_t conn_id) {
  const uint32_t slot = static_cast<uint32_t>(conn_id >> 32);
  if (slot >= connections_.size()) return nullptr;
  Connection* c = connections_[slot].get();
  if (c->generation != static_cast<uint32_t>(conn_id) || c->fd < 0) return nullptr;
  return c;
}

void Shard::CloseConnection(Connection* c) {
  if (c->closing) return;
  c->closing = true;
  idle_wheel_.Cancel(c);
  // Ends the receive (and a send) in flight; the fd is closed once both are
  // back, so that a reused fd number never gets a stale completion.
  shutdown(c->fd, SHUT_RDWR);
  counters_.tcp_closed.Add();
  MaybeFreeConnection(c);
}

void Shard::MaybeFreeConnection(Connection* c) {
  if (!c->closing || c->receiving || c->sending || c->fd < 0) return;
  close(c->fd);
  c->fd = -1;
  c->in = {};
  c->out_pending = {};
  c->out_flight = {};
  --open_connections_;
  free_connections_.push_back(c->slot);
}

bool Shard::DrainInboxes() {
  bool backlog = false;
  for (size_t from = 0; from < inboxes_.size(); ++from) {
    SpscRing* ring = inboxes_[from];
    if (ring == nullptr) continue;
    ring->wake_pending.store(false, std::memory_order_relaxed);
    std::string_view record;
    // Bounded per turn, so that one busy peer cannot starve our own sockets.
    for (int n = 0; n < 256 && ring->Peek(&record); ++n) {
      HandOffHeader header;
      std::memcpy(&header, record.data(), sizeof(header));
      const std::string_view bytes = record.substr(sizeof(header));
      if (header.kind == HandOffHeader::kTcpResponse) {
        SendOnConnection(header.conn_id, bytes);
      } else {
        Inbound inbound;
        inbound.source = header.source;
        inbound.transport = header.transport;
        inbound.received_ns = header.received_ns;
        Process(bytes, header.too_large, inbound, header.udp_socket, header.conn_id, true,
                static_cast<int>(header.from_shard));
      }
      ring->Pop();
    }
    backlog = backlog || ring->Peek(&record);
  }
  return backlog;
}

void Shard::FlushWakes() {
  for (size_t to = 0; to < wake_needed_.size(); ++to) {
    if (!wake_needed_[to]) continue;
    wake_needed_[to] = false;
    SpscRing* ring = outboxes_[to];
    if (ring->wake_pending.exchange(true, std::memory_order_acq_rel)) continue;  // already woken
    Shard* peer = peers_[to];
    if (use_msg_ring_) {
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_msg_ring(sqe, peer->ring_fd(), 0, UserData(kOpWake, 0), 0);
      sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
      io_uring_sqe_set_data64(sqe, UserData(kOpIgnore, 0));
    } else {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = write(peer->wake_fd_, &one, sizeof(one));
    }
  }
}

void Shard::ConnectAdmin(SpscRing* in, SpscRing* out, int notify_fd) {
  admin_in_ = in;
  admin_out_ = out;
  admin_notify_fd_ = notify_fd;
}

void Shard::EnableAuth(const NonceService* nonces, FailureTable* failures,
                       std::shared_ptr<const UserDb> users) {
  AuthPolicy policy;
  policy.realm = config_.AuthRealm();
  for (const std::string& name : config_.auth_algorithms) {
    DigestAlgorithm a;
    if (ParseDigestAlgorithm(name, &a)) policy.algorithms.push_back(a);
  }
  policy.max_failures = config_.auth_max_failures;
  policy.failure_window = config_.auth_failure_window;
  auth_ = std::make_unique<Authenticator>(std::move(policy), nonces, failures, counters_, index_);
  auth_->SetUsers(std::move(users));
  handler_.SetAuthenticator(auth_.get());
}

void Shard::PublishGauges() {
  counters_.aors.Set(table_.aor_count());
  counters_.bindings.Set(table_.binding_count());
  counters_.tcp_open.Set(open_connections_);
  counters_.heartbeat_ms.Set(now_ms_);
  if (now_s_ != cpu_published_s_) {
    timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    counters_.cpu.Set(static_cast<uint64_t>(cpu.tv_sec) * 1000000000 +
                      static_cast<uint64_t>(cpu.tv_nsec));
    cpu_published_s_ = now_s_;
  }
}

void Shard::AdminReply(const AdminHeader& header, std::string_view payload) {
  // The admin thread drains its rings continuously; a full ring means it is
  // gone or stuck, and the answer is dropped (it times the request out).
  if (admin_out_->TryPush(HeaderBytes(header), payload)) admin_replied_ = true;
}

void Shard::DrainAdmin() {
  if (admin_in_ == nullptr) return;
  std::string_view record;
  for (int n = 0; n < 64 && admin_in_->Peek(&record); ++n) {
    const AdminHeader header = ReadAdminHeader(record);
    const std::string_view payload = record.substr(sizeof(AdminHeader));
    switch (header.op) {
      case AdminHeader::kLookup:
        AdminLookup(header, payload);
        break;
      case AdminHeader::kRemove:
        AdminRemove(header, payload);
        break;
      case AdminHeader::kDump:
        AdminDump(header, payload);
        break;
      case AdminHeader::kDumpCancel:
        if (dumps_.erase(header.id) > 0) table_.EndSnapshot();
        break;
      case AdminHeader::kSnapshot:
        if (journal_ != nullptr) journal_->RequestSnapshot();
        break;
      case AdminHeader::kSetUsers: {
        std::shared_ptr<const UserDb>* handle = nullptr;
        if (payload.size() == sizeof(handle)) {
          std::memcpy(&handle, payload.data(), sizeof(handle));
          if (auth_ != nullptr) auth_->SetUsers(std::move(*handle));
          delete handle;
        }
        break;
      }
    }
    admin_in_->Pop();
  }
  NotifyAdmin();
}

void Shard::NotifyAdmin() {
  if (admin_replied_) {
    admin_replied_ = false;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(admin_notify_fd_, &one, sizeof(one));
  }
}

void Shard::AdminLookup(const AdminHeader& header, std::string_view aor) {
  AdminHeader reply{header.id, header.op, true, 0};
  admin_text_.assign("{\"aor\":");
  AppendJsonString(aor, &admin_text_);
  admin_text_.append(",\"bindings\":[");
  if (const store::AorRecord* record = table_.Find(aor)) {
    for (const store::Binding& b : record->bindings()) {
      if (b.expires_at <= now_s_) continue;
      if (reply.count++ > 0) admin_text_.push_back(',');
      AppendBindingJson(*record, b, now_s_, &admin_text_);
    }
  }
  admin_text_.append("]}");
  AdminReply(reply, admin_text_);
}

void Shard::AdminRemove(const AdminHeader& header, std::string_view payload) {
  // Applied here, by the owner, in one step: atomic with respect to REGISTERs.
  const size_t newline = payload.find('\n');
  const std::string_view aor = payload.substr(0, newline);
  const std::string_view contact =
      newline == std::string_view::npos ? std::string_view() : payload.substr(newline + 1);
  AdminHeader reply{header.id, header.op, true, 0};
  if (journal_ != nullptr && !journal_->Accepting()) {
    AdminReply(reply, "{\"error\":\"the journal cannot take changes now; try again\"}");
    return;
  }
  if (journal_ != nullptr) journal_->BeforeChange(aor);
  if (store::AorRecord* record = table_.FindMutable(aor)) {
    if (contact.empty()) {
      reply.count = static_cast<uint32_t>(record->bindings().size());
      table_.RemoveAor(aor);
    } else {
      sip::Uri wanted;
      const bool parsed = sip::ParseUri(contact, sip::HeaderId::kContact, &wanted).ok();
      const auto& bindings = record->bindings();
      for (size_t i = bindings.size(); i-- > 0;) {
        sip::Uri stored;
        const bool match =
            bindings[i].contact() == contact ||
            (parsed && sip::ParseUri(bindings[i].contact(), sip::HeaderId::kContact, &stored).ok() &&
             sip::UriEquals(stored, wanted));
        if (match) {
          table_.RemoveBinding(record, i);
          ++reply.count;
        }
      }
      if (reply.count > 0) table_.Rearm(record);
    }
  }
  const std::string removed = Cat("{\"removed\":", reply.count, "}");
  if (journal_ == nullptr) {
    counters_.bindings_removed.Add(reply.count);
    AdminReply(reply, removed);
    return;
  }
  // Journaled like a REGISTER, and in sync mode answered like one: once the
  // group is durable (or, when it failed and was undone, with an error).
  journal_->AfterChange(aor, table_.Find(aor));
  journal_->CountChanges(0, 0, reply.count);
  if (journal_->MustHold()) {
    ResponseRoute route;
    route.admin = true;
    route.admin_id = header.id;
    route.admin_count = reply.count;
    journal_->Hold(route, 200, {}, removed,
                   "{\"error\":\"the journal write failed: nothing removed; try again\"}");
    return;
  }
  AdminReply(reply, removed);
}

void Shard::AdminDump(const AdminHeader& header, std::string_view filter) {
  // A chunk per request, so the shard never stalls: the snapshot is taken on
  // the first request, then walked 1,000 bindings (or 256 KiB) at a time.
  constexpr uint32_t kChunkBindings = 1000;
  constexpr size_t kChunkBytes = 256 << 10;
  auto [it, created] = dumps_.try_emplace(header.id);
  Dump& dump = it->second;
  if (created) dump.records = table_.BeginSnapshot();
  AdminHeader reply{header.id, header.op, false, 0};
  admin_text_.clear();
  while (dump.next < dump.records.size() && reply.count < kChunkBindings &&
         admin_text_.size() < kChunkBytes) {
    const store::AorRecord* record = dump.records[dump.next++];
    if (record->erased() || !DumpFilterMatches(filter, record->key())) continue;
    for (const store::Binding& b : record->bindings()) {
      if (b.expires_at <= now_s_) continue;
      AppendBindingJson(*record, b, now_s_, &admin_text_);
      admin_text_.push_back('\n');
      ++reply.count;
    }
  }
  if (dump.next >= dump.records.size()) {
    reply.done = true;
    dumps_.erase(it);
    table_.EndSnapshot();
  }
  AdminReply(reply, admin_text_);
}

}  // namespace locus::engine
