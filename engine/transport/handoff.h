// The hand-off between shards (ARCHITECTURE section 3): a request received
// by one shard for an AOR another shard owns goes to the owner through the
// single-producer/single-consumer ring of that pair, and the owner is woken
// by an IORING_OP_MSG_RING on its ring (an eventfd on kernels without it),
// once per burst. Responses for a stream connection come back the same way
// to the shard that holds the connection.
//
// A record on a ring is a HandOffHeader followed by the message bytes (a
// request) or the response bytes (kStreamResponse). A request's bytes are
// followed by the receiving shard's parse of them (parser/message_offsets.h),
// so that the owner does not parse them again. Rings are bounded: a full ring
// refuses the record and the caller answers 503.
#ifndef LOCUS_ENGINE_TRANSPORT_HANDOFF_H_
#define LOCUS_ENGINE_TRANSPORT_HANDOFF_H_

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "engine/endpoint.h"
#include "engine/spsc_ring.h"
#include "store/binding.h"

namespace locus::engine {

struct HandOffHeader {
  // kFlowClosed: the WebSocket connection conn_id of from_shard closed (no
  // bytes follow).
  enum Kind : uint8_t { kRequest, kStreamResponse, kFlowClosed };
  Kind kind = kRequest;
  store::Transport transport = store::Transport::kUdp;
  bool too_large = false;    // parsed with the fallback limit: answer 513
  bool certified = false;    // TLS: the client certificate names the AOR
  uint16_t udp_socket = 0;   // UDP: the socket the request came in by
  uint16_t parse_size = 0;   // kRequest: bytes of the parse after the message; 0 if none
  uint32_t from_shard = 0;   // the shard that received it
  uint64_t conn_id = 0;      // streams: the connection, on from_shard
  uint64_t received_ns = 0;  // for the latency histogram
  Endpoint source;
};

class HandOff {
 public:
  explicit HandOff(int shard) : shard_(shard) {}
  ~HandOff();
  HandOff(const HandOff&) = delete;
  HandOff& operator=(const HandOff&) = delete;

  // inboxes[i] carries records from shard i to this one, outboxes[i] from
  // this one to shard i (null for i == this shard).
  void Connect(std::vector<HandOff*> peers, std::vector<SpscRing*> inboxes,
               std::vector<SpscRing*> outboxes);
  // On the shard's thread, once its ring exists: wake-ups by MSG_RING when
  // the kernel has it (unless `force_eventfd`), else by an eventfd.
  absl::Status Open(io_uring* ring, bool force_eventfd);
  // Arms the eventfd read (eventfd wake-ups only).
  void StartWaking();
  // Completion tagged IoOp::kWake: the inboxes are drained on every loop
  // turn anyway; this only re-arms the eventfd read.
  void OnWake(bool stopping);
  // From any thread: makes the shard's loop turn (eventfd wake-ups only; a
  // ring cannot be submitted to from another thread).
  void WakeFromAnyThread();

  // Appends a record for shard `to` (`parse`: header.parse_size bytes); false
  // when its ring is full.
  bool Push(int to, const HandOffHeader& header, std::string_view bytes, std::string_view parse = {});
  // Calls `on_record` for at most 256 records of each inbox, so one busy
  // peer cannot starve this shard's own sockets; true when some are left.
  bool Drain(absl::FunctionRef<void(const HandOffHeader&, std::string_view bytes)> on_record);
  // Wakes the peers this shard pushed to since the last call.
  void FlushWakes();

  bool uses_msg_ring() const { return use_msg_ring_; }
  // Bytes waiting in this shard's inboxes (any thread, approximate).
  size_t backlog_bytes() const;

 private:
  const int shard_;
  io_uring* ring_ = nullptr;
  bool use_msg_ring_ = false;
  int wake_fd_ = -1;  // eventfd, when MSG_RING is unavailable
  uint64_t wake_value_ = 0;
  std::vector<HandOff*> peers_;
  std::vector<SpscRing*> inboxes_;
  std::vector<SpscRing*> outboxes_;
  std::vector<bool> wake_needed_;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_HANDOFF_H_
