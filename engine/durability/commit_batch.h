// One group commit of a shard's journal: the AOR-state records of
// the changes made since the previous group, the states before those changes
// (to undo them when the write fails), and the responses that may leave only
// once the group is durable. Reused from group to group: once warmed up, a
// request adds to it without allocating.
#ifndef LOCUS_ENGINE_DURABILITY_COMMIT_BATCH_H_
#define LOCUS_ENGINE_DURABILITY_COMMIT_BATCH_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/endpoint.h"
#include "store/binding.h"
#include "store/binding_changes.h"
#include "store/binding_table.h"

namespace locus::engine {

// Where a held response goes once its group is decided.
struct ResponseRoute {
  store::Transport transport = store::Transport::kUdp;
  uint16_t udp_socket = 0;   // UDP: the socket it leaves by
  Endpoint destination;      // UDP: where
  uint64_t conn_id = 0;      // TCP: the connection, on shard from_shard
  int from_shard = 0;
  uint64_t received_ns = 0;  // for the latency histogram
  // Not SIP: the answer to an admin `remove` (its request id, bindings removed).
  bool admin = false;
  uint64_t admin_id = 0;
  uint32_t admin_count = 0;
};

// A response waiting for its group: the success response (200) and, when
// the caller wants one kept, the failure response (for a SIP request it is
// made from the success response only when needed, see
// RequestHandler::FailureFor).
struct HeldResponse {
  ResponseRoute route;
  int status = 200;         // of the success response
  uint32_t key_offset = 0;  // transaction key (empty: not cached, TCP)
  uint32_t key_size = 0;
  uint32_t ok_offset = 0;
  uint32_t ok_size = 0;
  uint32_t fail_offset = 0;
  uint32_t fail_size = 0;
};

class CommitBatch {
 public:
  // Journal records, in commit order (what the group write writes).
  std::string records;
  // The state of an AOR before each change, in change order.
  std::string undo;
  std::vector<uint32_t> undo_offsets;
  std::vector<HeldResponse> held;
  uint64_t id = 0;  // groups are numbered in commit order
  // Binding changes, counted once the group is durable.
  store::BindingChanges changes;

  bool empty() const { return records.empty() && held.empty(); }
  void Clear();

  // Appends the state of `aor` to `out`: the bindings of `record`, or none
  // when it is null.
  static void AppendState(store::AorKey aor, const store::AorRecord* record, std::string* out);
  // The state before a change, for undo.
  void SaveUndo(const store::BindingTable& table, store::AorKey aor);
  void Hold(const ResponseRoute& route, int status, std::string_view key, std::string_view ok,
            std::string_view fail);

  std::string_view key(const HeldResponse& h) const { return View(h.key_offset, h.key_size); }
  std::string_view ok(const HeldResponse& h) const { return View(h.ok_offset, h.ok_size); }
  std::string_view fail(const HeldResponse& h) const { return View(h.fail_offset, h.fail_size); }

  // Restores the saved states, newest first, into `table` (bindings that
  // lapsed meanwhile are dropped). Returns how many AOR states it restored.
  size_t Undo(store::BindingTable& table, uint32_t now) const;

 private:
  std::string_view View(uint32_t offset, uint32_t size) const { return {arena_.data() + offset, size}; }
  uint32_t Put(std::string_view bytes);
  std::string arena_;  // held response bytes and keys
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DURABILITY_COMMIT_BATCH_H_
