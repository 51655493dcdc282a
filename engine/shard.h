// One shard: a thread with its own io_uring, its own UDP sockets and TCP
// listeners on the shared addresses (SO_REUSEPORT), its own binding table,
// transaction table, timers and counters (ARCHITECTURE section 3). Requests
// whose AOR another shard owns are handed over through that pair's SpscRing,
// with an IORING_OP_MSG_RING (or eventfd) wake-up; the owner answers UDP
// itself through its socket bound to the same address, and sends TCP answers
// back to the shard that holds the connection.
#ifndef LOCUS_ENGINE_SHARD_H_
#define LOCUS_ENGINE_SHARD_H_

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/container/flat_hash_map.h"
#include "engine/admin_channel.h"
#include "engine/authenticator.h"
#include "engine/config.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "engine/journal.h"
#include "engine/request_handler.h"
#include "engine/spsc_ring.h"
#include "parser/message.h"
#include "store/binding_table.h"
#include "store/timer_wheel.h"

namespace locus::engine {

class Shard {
 public:
  Shard(int index, int count, const Config& config, uint64_t tag_seed);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Wires the hand-off rings: inbox[i] carries records from shard i to this
  // one, outbox[i] from this one to shard i (null for i == index).
  void Connect(std::vector<Shard*> peers, std::vector<SpscRing*> inboxes,
               std::vector<SpscRing*> outboxes);

  // The admin thread's rings: `in` carries its requests, `out` the answers;
  // after pushing answers the shard writes `notify_fd` (an eventfd).
  void ConnectAdmin(SpscRing* in, SpscRing* out, int notify_fd);
  // Turns on Digest authentication with these users (before Run()).
  void EnableAuth(const NonceService* nonces, FailureTable* failures,
                  std::shared_ptr<const UserDb> users);
  // Written by the admin thread after pushing requests (an eventfd).
  int admin_wake_fd() const { return admin_wake_fd_; }

  // How this shard starts its durable state (issue 8), set before Open().
  struct DurableStart {
    std::string generation_dir;  // empty: durability off
    // True: load this shard's own files of the generation (same shard count
    // as the last run). False: the table was filled by the engine from
    // another generation; write it as this shard's first snapshot.
    bool load_own_files = true;
  };
  void SetDurableStart(DurableStart start) { durable_start_ = std::move(start); }
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
  int ring_fd() const { return ring_.ring_fd; }
  const ShardCounters& counters() const { return counters_; }
  bool multishot() const { return multishot_; }
  bool uses_msg_ring() const { return use_msg_ring_; }
  // Bytes waiting in this shard's hand-off inboxes (any thread, approximate).
  size_t handoff_backlog_bytes() const {
    size_t bytes = 0;
    for (const SpscRing* ring : inboxes_) bytes += ring != nullptr ? ring->used_bytes() : 0;
    return bytes;
  }

 private:
  struct SendSlot;
  struct RecvSlot;
  struct Connection;
  struct HandOffHeader;
  void ArmAdminWakeRead();

  // io_uring submission helpers.
  io_uring_sqe* GetSqe();
  void ArmUdpReceive(size_t socket);
  void ArmPlainReceive(RecvSlot* slot);
  void ArmAccept(size_t listener);
  void ArmWakeRead();
  void ArmConnectionReceive(Connection* c);
  void ArmConnectionSend(Connection* c);

  void HandleCompletion(io_uring_cqe* cqe);
  void OnUdpMultishot(size_t socket, io_uring_cqe* cqe);
  void OnUdpDatagram(size_t socket, std::string_view bytes, const Endpoint& source);
  void OnAccept(size_t listener, io_uring_cqe* cqe);
  void OnConnectionReceive(Connection* c, int result);
  void OnConnectionSend(Connection* c, int result);
  void FrameConnection(Connection* c);

  absl::Status OpenDurability();
  // Sends a response where `route` says, counting it.
  void Deliver(const ResponseRoute& route, std::string_view bytes);
  // Sends the held responses of journal groups decided since the last call.
  void DeliverDecided();

  // Runs the pipeline on one framed message and routes the outcome.
  void Process(std::string_view bytes, bool too_large, const Inbound& inbound,
               size_t udp_socket, uint64_t conn_id, bool handed_off, int from_shard);
  // The same, for a message already parsed (TCP framing parses it).
  void ProcessMessage(const sip::Message& message, std::string_view bytes, const Inbound& inbound,
                      size_t udp_socket, uint64_t conn_id, bool handed_off, int from_shard);
  void SendUdp(size_t socket, const Endpoint& to, std::string_view bytes);
  void SendOnConnection(uint64_t conn_id, std::string_view bytes);
  // Processes hand-offs from peers; true when some are left for the next turn.
  bool DrainInboxes();
  // Answers the admin thread's requests (lookup, remove, dump chunks).
  void DrainAdmin();
  void AdminLookup(const AdminHeader& header, std::string_view aor);
  void AdminRemove(const AdminHeader& header, std::string_view payload);
  void AdminDump(const AdminHeader& header, std::string_view filter);
  void AdminReply(const AdminHeader& header, std::string_view payload);
  // Wakes the admin thread when replies were pushed since the last call.
  void NotifyAdmin();
  void PublishGauges();
  void FlushWakes();
  void CloseConnection(Connection* c);
  void MaybeFreeConnection(Connection* c);
  Connection* FindConnection(uint64_t conn_id);
  void UpdateClocks();
  void RunTimers();

  const int index_;
  const int count_;
  const Config& config_;
  io_uring ring_{};
  bool ring_open_ = false;
  std::atomic<bool> stop_{false};
  bool multishot_ = false;
  bool use_msg_ring_ = false;
  int wake_fd_ = -1;  // eventfd, when MSG_RING is unavailable
  uint64_t wake_value_ = 0;

  ShardCounters counters_;
  store::BindingTable table_;
  RequestHandler handler_;
  std::unique_ptr<Journal> journal_;  // null: durability off
  DurableStart durable_start_;
  std::string response_;  // reused for every response
  std::string failure_;   // a held response's failure answer

  // UDP.
  std::vector<int> udp_fds_;
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
  size_t sends_in_flight_ = 0;

  // TCP.
  std::vector<int> listen_fds_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<uint32_t> free_connections_;
  size_t open_connections_ = 0;
  store::TimerWheel idle_wheel_;  // seconds, monotonic

  // Shards.
  std::vector<Shard*> peers_;
  std::vector<SpscRing*> inboxes_;
  std::vector<SpscRing*> outboxes_;
  std::vector<bool> wake_needed_;

  std::unique_ptr<Authenticator> auth_;

  // Admin.
  SpscRing* admin_in_ = nullptr;
  SpscRing* admin_out_ = nullptr;
  int admin_notify_fd_ = -1;
  int admin_wake_fd_ = -1;
  uint64_t admin_wake_value_ = 0;
  bool admin_replied_ = false;
  struct Dump {
    std::vector<const store::AorRecord*> records;  // a table snapshot
    size_t next = 0;
  };
  absl::flat_hash_map<uint64_t, Dump> dumps_;  // by admin request id
  std::string admin_text_;

  // Clocks.
  uint32_t now_s_ = 0;      // wall clock, seconds since the Unix epoch
  uint64_t now_ms_ = 0;     // monotonic
  uint32_t last_expire_s_ = 0;
  uint32_t cpu_published_s_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SHARD_H_
