// The shard's side of the admin channel (admin_channel.h): answers the
// admin thread's requests between two batches of SIP traffic, on the shard
// that owns the data, so that no other thread ever touches its table.
//  - lookup: the AOR's live bindings, as JSON;
//  - remove: an AOR's bindings (or one contact's), applied in one step
//    (atomic with respect to REGISTERs) and journaled like a REGISTER; in
//    sync mode answered once durable, through ReplyRemove();
//  - in cluster mode, lookups and removes go to the shard's cluster side
//    (TakeClusterRequests), which reads the AOR first when it is not known
//    current, answers through AnswerLookup, and commits a remove to Redis
//    (RemoveBindings, then ReplyRemove);
//  - dump: a BindingTable snapshot walked 1,000 bindings or 256 KiB per
//    request, the next chunk asked for only when the client read the last;
//  - snapshot: starts a journal snapshot; set-users: swaps the users file;
//    set-tls: swaps the TLS context new connections use.
//  - trace filters: what the shard's MessageTap copies to trace subscribers.
// At most 64 requests per call to Drain(), so the shard never stalls.
#ifndef LOCUS_ENGINE_ADMIN_SHARD_ADMIN_H_
#define LOCUS_ENGINE_ADMIN_SHARD_ADMIN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "engine/admin/admin_channel.h"
#include "engine/auth/authenticator.h"
#include "engine/counters.h"
#include "engine/durability/journal.h"
#include "engine/spsc_ring.h"
#include "engine/transport/stream_connections.h"
#include "engine/trace/message_tap.h"
#include "store/binding_table.h"

namespace locus::engine {

class ShardAdmin {
 public:
  ShardAdmin(store::BindingTable& table, ShardCounters& counters)
      : table_(table), counters_(counters) {}
  ShardAdmin(const ShardAdmin&) = delete;
  ShardAdmin& operator=(const ShardAdmin&) = delete;

  // `in` carries the admin thread's requests, `out` the answers; after
  // pushing answers the shard writes `notify_fd`; the admin thread writes
  // `wake_fd` after pushing requests (both eventfds, the admin thread's).
  void Connect(SpscRing* in, SpscRing* out, int notify_fd, int wake_fd);
  void SetJournal(Journal* journal) { journal_ = journal; }
  void SetAuthenticator(Authenticator* auth) { auth_ = auth; }
  void SetStreams(StreamConnections* streams) { streams_ = streams; }
  void SetTap(MessageTap* tap) { tap_ = tap; }
  int wake_fd() const { return wake_fd_; }

  // Answers up to 64 requests, then wakes the admin thread if it replied.
  void Drain(uint32_t now_s);

  // Cluster mode: lookups and removes are kept for the cluster side.
  void SetClusterMode() { cluster_mode_ = true; }
  void TakeClusterRequests(absl::FunctionRef<void(const AdminHeader&, std::string_view payload)> take);
  // An error answer to `header`'s request ({"error":...}).
  void ReplyError(const AdminHeader& header, std::string_view error);
  // A lookup's answer from the table as it is.
  void AnswerLookup(const AdminHeader& header, std::string_view aor, uint32_t now_s) {
    Lookup(header, aor, now_s);
  }
  // Removes the AOR's bindings (every one, or those of `contact`) from the
  // table; returns how many.
  uint32_t RemoveBindings(std::string_view aor, std::string_view contact);
  // A remove's payload: "aor" or "aor\ncontact".
  static std::string_view RemoveAorOf(std::string_view payload) { return payload.substr(0, payload.find('\n')); }
  static std::string_view RemoveContactOf(std::string_view payload) {
    const size_t newline = payload.find('\n');
    return newline == std::string_view::npos ? std::string_view() : payload.substr(newline + 1);
  }
  // The answer to a remove whose journal group was decided.
  void ReplyRemove(uint64_t id, bool committed, uint32_t count, std::string_view ok,
                   std::string_view fail);
  // Wakes the admin thread when answers were pushed since the last call.
  void Notify();

 private:
  void Lookup(const AdminHeader& header, std::string_view aor, uint32_t now_s);
  void Remove(const AdminHeader& header, std::string_view payload);
  void Dump(const AdminHeader& header, std::string_view filter, uint32_t now_s);
  void Reply(const AdminHeader& header, std::string_view payload);

  store::BindingTable& table_;
  ShardCounters& counters_;
  Journal* journal_ = nullptr;
  Authenticator* auth_ = nullptr;
  StreamConnections* streams_ = nullptr;
  MessageTap* tap_ = nullptr;
  SpscRing* in_ = nullptr;
  SpscRing* out_ = nullptr;
  int notify_fd_ = -1;
  int wake_fd_ = -1;
  bool replied_ = false;
  bool cluster_mode_ = false;
  std::vector<std::pair<AdminHeader, std::string>> cluster_requests_;
  struct DumpState {
    std::vector<const store::AorRecord*> records;  // a table snapshot
    size_t next = 0;
  };
  absl::flat_hash_map<uint64_t, DumpState> dumps_;  // by admin request id
  std::string text_;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_SHARD_ADMIN_H_
