// UDP, one shard's side of it: a socket per configured address (shared
// with the other shards through SO_REUSEPORT), datagrams received by one
// multishot recvmsg per socket into a provided-buffer ring; the responses of
// a loop turn collected in a pool of slots and sent together, one sendmmsg
// per socket (FlushSends).
//
// Contract:
//  - Received datagrams are handed to the caller's sink with their socket
//    and source address; the bytes are valid until ReturnBuffers(), which
//    the shard calls once per completion batch.
//  - No datagram is ever truncated: each buffer holds the largest one
//    (64 KiB) plus the recvmsg header and source address; a truncated or
//    malformed completion is counted as a parse error and dropped.
//  - Kernels without provided-buffer rings (or --udp_receive=plain) get 16
//    plain recvmsg in flight per socket instead.
//  - Send() never blocks and never allocates once the pool is warm. A
//    response leaves at the next FlushSends(), which the shard calls once
//    per loop turn before it sleeps: one non-blocking sendmmsg per socket
//    and no completion to handle. Only what the socket cannot take at once
//    (EAGAIN) goes through the ring as a sendmsg that waits for room; while
//    every slot is taken by those, Send() falls back to a non-blocking
//    sendto.
#ifndef LOCUS_ENGINE_TRANSPORT_UDP_H_
#define LOCUS_ENGINE_TRANSPORT_UDP_H_

#include <liburing.h>
#include <sys/socket.h>

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

namespace locus::engine {

class UdpTransport {
 public:
  // (socket, bytes, source, arrival): `arrival` is when the kernel took the
  // datagram in, on the monotonic clock (ns), so that the time it waited in
  // the socket's queue counts in the latency.
  using DatagramSink = absl::FunctionRef<void(size_t socket, std::string_view bytes,
                                              const Endpoint& source, uint64_t arrival_ns)>;

  explicit UdpTransport(ShardCounters& counters);
  ~UdpTransport();
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  // Binds a socket per address (`receive_buffer`: its SO_RCVBUF) and
  // registers the receive buffers on `ring`. `plain_receive` forces the plain
  // recvmsg fallback. `shard` is for logs.
  absl::Status Open(io_uring* ring, const std::vector<Endpoint>& addresses, int receive_buffer,
                    bool plain_receive, int shard);
  // Arms the receives (on the shard's thread, before its loop).
  void StartReceiving();
  // Stops receiving: every receive ends; sends still go out.
  void ShutdownReceive();

  // Completions, tagged IoOp::kUdpMultishot, kUdpPlain and kUdpSend.
  void OnMultishot(size_t socket, const io_uring_cqe* cqe, bool stopping, DatagramSink sink);
  void OnPlain(size_t slot, const io_uring_cqe* cqe, bool stopping, DatagramSink sink);
  void OnSent(size_t slot, int result);
  // Gives the buffers of this completion batch back to the kernel.
  void ReturnBuffers();

  // Queues `bytes` for `to` through socket `socket` (the one the request
  // came in by, so the client sees one address), sent at the next
  // FlushSends().
  void Send(size_t socket, const Endpoint& to, std::string_view bytes);
  // Sends every queued response: one sendmmsg per run of responses on the
  // same socket.
  void FlushSends();

  bool multishot() const { return multishot_; }
  // Responses not yet on the wire: queued, or waiting in the ring for room.
  size_t sends_in_flight() const { return sends_in_flight_ + queued_.size(); }

 private:
  struct SendSlot;
  struct RecvSlot;
  void ArmMultishot(size_t socket);
  void ArmPlain(RecvSlot* slot);
  // Sends queued_[begin, end), all on one socket.
  void SendRun(size_t begin, size_t end);
  // Hands a queued response to the ring (the socket had no room).
  void SubmitSend(SendSlot* slot);
  void FreeSlot(SendSlot* slot) { free_send_slots_.push_back(slot); }
  void CountSent(size_t bytes);
  void Received(size_t socket, std::string_view bytes, const Endpoint& source, uint64_t arrival_ns,
                DatagramSink sink);
  // The arrival time (monotonic ns) in a received message's control data
  // (SO_TIMESTAMPNS, a realtime stamp); now when it has none.
  static uint64_t ArrivalOf(const msghdr* msg, const cmsghdr* first);

  ShardCounters& counters_;
  io_uring* ring_ = nullptr;
  bool multishot_ = false;
  std::vector<int> fds_;
  msghdr recv_template_{};
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  std::unique_ptr<char[]> buffers_;
  size_t buffer_size_ = 0;
  uint32_t buffer_count_ = 0;
  uint32_t buffers_returned_ = 0;
  std::vector<std::unique_ptr<RecvSlot>> recv_slots_;  // plain recvmsg fallback
  std::vector<std::unique_ptr<SendSlot>> send_slots_;
  std::vector<SendSlot*> free_send_slots_;
  std::vector<SendSlot*> queued_;    // this turn's responses, in order
  std::vector<mmsghdr> batch_;       // sendmmsg's view of a run of queued_
  size_t sends_in_flight_ = 0;       // sendmsg in the ring
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_UDP_H_
