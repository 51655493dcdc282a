// Group commit of one shard's binding changes, without the I/O: the
// request path's side of durability, and the bookkeeping of the groups a
// writer (the journal, durability/journal.h) makes durable.
//
// A REGISTER that changes bindings is applied to the table at once (later
// requests see it); its AOR's state before the change goes to the pending
// group's undo log (sync mode) and its state after to the group's records.
// The writer takes the pending group as the in-flight one (BeginGroup),
// writes it, and reports the outcome:
//  - sync:  a response showing changes not yet durable is held in the group
//           until the group -- and every group before -- is durable. A
//           failed group is undone with the pending one, newest first, and
//           their held requests get their failure answer instead.
//  - async: responses leave at once; a failed group's records are kept and
//           written again first, and changes are refused (500) until a write
//           succeeds.
// Memory is bounded: past `max_pending_bytes` of records and undo state,
// changes are refused until a write drains them. Batches are reused, so a
// warm shard adds to a group without allocating.
#ifndef LOCUS_ENGINE_DURABILITY_GROUP_COMMIT_H_
#define LOCUS_ENGINE_DURABILITY_GROUP_COMMIT_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "engine/counters.h"
#include "engine/durability/commit_batch.h"
#include "engine/durability_mode.h"
#include "store/binding_table.h"

namespace locus::engine {

class GroupCommit {
 public:
  GroupCommit(DurabilityMode mode, uint64_t max_pending_bytes, store::BindingTable& table,
              ShardCounters& counters);
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  DurabilityMode mode() const { return mode_; }

  // --- Request path --------------------------------------------------------
  // False when a change must be refused with 500 now (async mode after a
  // failed write, or too many bytes pending).
  bool Accepting() const;
  // Call before changing `aor` (its state is saved for undo), and after (its
  // new state becomes a record of the group).
  void BeforeChange(store::AorKey aor);
  // `record`: the AOR's record after the change (null: it has none left).
  void AfterChange(store::AorKey aor, const store::AorRecord* record);
  void CountChanges(const store::BindingChanges& changes);
  // Sync mode, with changes not yet durable: a response showing bindings must
  // be held until they are.
  bool MustHold() const;
  void Hold(const ResponseRoute& route, int status, std::string_view key, std::string_view ok,
            std::string_view fail);

  // Groups decided since the last call: deliver(held, key, ok, fail,
  // committed) for each held response (the bytes given to Hold), then the
  // group is recycled.
  void TakeDecided(absl::FunctionRef<void(const HeldResponse&, std::string_view key,
                                          std::string_view ok, std::string_view fail,
                                          bool committed)> deliver);

 protected:
  // --- The writer's side ---------------------------------------------------
  CommitBatch* pending() const { return pending_; }
  CommitBatch* inflight() const { return inflight_; }
  // The pending group becomes the in-flight one; a new group starts.
  CommitBatch* BeginGroup();
  // Sync: responses held only behind groups that have since committed leave
  // now (the pending group has nothing of its own to write).
  void ReleaseHeld();
  // The in-flight group is durable.
  void GroupCommitted();
  // The in-flight group failed (see the class comment); `now_s` drops, from
  // undone states, bindings that lapsed meanwhile.
  void GroupFailed(uint32_t now_s);
  // A write failed and none has succeeded since.
  bool failing() const { return failing_; }
  // Groups up to `group` (an id) not yet decided.
  bool Undecided(uint64_t group) const;
  // Nothing in flight, pending or waiting to be delivered.
  bool Drained() const;

  store::BindingTable& table_;
  ShardCounters& counters_;

 private:
  CommitBatch* NewBatch();
  void NewPending();  // a fresh pending group with the next id

  const DurabilityMode mode_;
  const uint64_t max_pending_bytes_;
  std::vector<std::unique_ptr<CommitBatch>> batches_;  // owns every batch
  std::vector<CommitBatch*> free_;
  CommitBatch* pending_ = nullptr;
  CommitBatch* inflight_ = nullptr;
  std::vector<std::pair<CommitBatch*, bool>> decided_;  // batch, committed
  uint64_t group_ids_ = 0;  // ids of pending groups, increasing
  bool failing_ = false;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DURABILITY_GROUP_COMMIT_H_
