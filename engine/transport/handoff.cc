#include "engine/transport/handoff.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/text.h"
#include "engine/uring.h"

namespace locus::engine {

HandOff::~HandOff() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void HandOff::Connect(std::vector<HandOff*> peers, std::vector<SpscRing*> inboxes,
                      std::vector<SpscRing*> outboxes) {
  peers_ = std::move(peers);
  inboxes_ = std::move(inboxes);
  outboxes_ = std::move(outboxes);
  wake_needed_.assign(peers_.size(), false);
}

absl::Status HandOff::Open(io_uring* ring, bool force_eventfd) {
  ring_ = ring;
  io_uring_probe* probe = io_uring_get_probe_ring(ring);
  use_msg_ring_ = !force_eventfd && probe != nullptr &&
                  io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!use_msg_ring_) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return absl::InternalError(Cat("eventfd: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void HandOff::StartWaking() {
  if (wake_fd_ < 0) return;
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kWake, 0));
}

void HandOff::OnWake(bool stopping) {
  if (wake_fd_ >= 0 && !stopping) StartWaking();
}

void HandOff::WakeFromAnyThread() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

bool HandOff::Push(int to, const HandOffHeader& header, std::string_view bytes,
                   std::string_view parse) {
  SpscRing* ring = outboxes_[static_cast<size_t>(to)];
  if (!ring->TryPush({reinterpret_cast<const char*>(&header), sizeof(header)}, bytes, parse)) {
    return false;
  }
  wake_needed_[static_cast<size_t>(to)] = true;
  return true;
}

bool HandOff::Drain(absl::FunctionRef<void(const HandOffHeader&, std::string_view)> on_record) {
  bool backlog = false;
  for (SpscRing* ring : inboxes_) {
    if (ring == nullptr) continue;
    ring->wake_pending.store(false, std::memory_order_relaxed);
    std::string_view record;
    for (int n = 0; n < 256 && ring->Peek(&record); ++n) {
      HandOffHeader header;
      std::memcpy(&header, record.data(), sizeof(header));
      on_record(header, record.substr(sizeof(header)));
      ring->Pop();
    }
    backlog = backlog || ring->Peek(&record);
  }
  return backlog;
}

void HandOff::FlushWakes() {
  for (size_t to = 0; to < wake_needed_.size(); ++to) {
    if (!wake_needed_[to]) continue;
    wake_needed_[to] = false;
    SpscRing* ring = outboxes_[to];
    if (ring->wake_pending.exchange(true, std::memory_order_acq_rel)) continue;  // already woken
    HandOff* peer = peers_[to];
    if (use_msg_ring_) {
      io_uring_sqe* sqe = GetSqe(ring_);
      io_uring_prep_msg_ring(sqe, peer->ring_->ring_fd, 0, IoTag(IoOp::kWake, 0), 0);
      sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
      io_uring_sqe_set_data64(sqe, IoTag(IoOp::kIgnore, 0));
    } else {
      peer->WakeFromAnyThread();
    }
  }
}

size_t HandOff::backlog_bytes() const {
  size_t bytes = 0;
  for (const SpscRing* ring : inboxes_) bytes += ring != nullptr ? ring->used_bytes() : 0;
  return bytes;
}

}  // namespace locus::engine
