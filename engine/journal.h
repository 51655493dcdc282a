// The durability of one shard (issue 8, ARCHITECTURE section 6): its journal,
// written by group commit through the shard's io_uring, and its snapshots,
// written a chunk per loop turn while requests keep flowing.
//
// Group commit. A REGISTER that changes bindings is applied to the table at
// once (later requests see it), its AOR's state before the change goes to
// the pending group's undo log and its state after to the group's records.
// Once per loop turn, when no write is in flight, the pending group becomes
// the in-flight group: one IORING_OP_WRITE at the end of the journal, linked
// to one IORING_OP_FSYNC (DATASYNC).
//  - sync:  every 200 of a REGISTER waits (held here) until the group that
//           holds its changes -- and every group before -- is durable. When
//           the write or the sync fails, the file is cut back, every change
//           of the failed and pending groups is undone newest first, and their
//           requests get 500 with Retry-After instead. The next group tries
//           again: the journal recovers by itself when the disk does.
//  - async: 200s leave at once; the pending group is written and synced every
//           `async_interval_ms` (a crash loses at most that much plus one
//           write). When a write fails, changes are refused with 500 until a
//           retry of the same bytes succeeds.
//  - off:   no Journal exists.
//
// Snapshots. When the journal has grown past `snapshot_journal_bytes` and
// past the last snapshot's size (or on request), the shard opens a new
// journal, takes a BindingTable snapshot (the record pointers, in one pass)
// and writes every AOR's state, a chunk per loop turn, to <seq>.snapshot.tmp;
// then fdatasync, rename, and the older snapshot and journals are deleted.
#ifndef LOCUS_ENGINE_JOURNAL_H_
#define LOCUS_ENGINE_JOURNAL_H_

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "engine/commit_batch.h"
#include "engine/counters.h"
#include "engine/durability_mode.h"
#include "store/binding_table.h"

namespace locus::engine {

struct JournalOptions {
  DurabilityMode mode = DurabilityMode::kSync;
  std::string generation_dir;  // store::GenerationDir of the current generation
  int shard = 0;
  uint64_t async_interval_ms = 100;
  // A snapshot starts when the journal is this big and bigger than the last
  // snapshot (so snapshots cost at most as many bytes as the journal).
  uint64_t snapshot_journal_bytes = 64ull << 20;
  // Pending bytes past which changes are refused (500) until a write drains
  // them: bounds memory when the disk is slower than the requests.
  uint64_t max_pending_bytes = 64ull << 20;
  // Testing: while this file exists, every journal and snapshot write fails
  // with ENOSPC, as on a full disk. Empty: off.
  std::string fault_file;
};

class Journal {
 public:
  // Which of our operations a completion is about (the low bits of its
  // user_data, below the shard's own tag).
  enum Op : uint64_t { kJournalWrite = 0, kJournalSync = 1, kSnapshotWrite = 2, kSnapshotSync = 3 };

  Journal(JournalOptions options, store::BindingTable& table, ShardCounters& counters);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens journal number `seq` (a new, empty file). `existing_seqs`: the
  // numbers of the shard's snapshot and journals loaded at start-up, deleted
  // after the next snapshot; `journal_bytes` and `snapshot_bytes`: their sizes.
  absl::Status Open(uint64_t seq, std::vector<uint64_t> existing_seqs, uint64_t journal_bytes,
                    uint64_t snapshot_bytes);

  DurabilityMode mode() const { return options_.mode; }

  // --- Request path --------------------------------------------------------
  // False when a change must be refused with 500 now (async mode after a
  // failed write, or too many bytes pending).
  bool Accepting() const;
  // Call before changing `aor` (its state is saved for undo), and after (its
  // new state becomes a journal record).
  void BeforeChange(store::AorKey aor);
  // `record`: the AOR's record after the change (null: it has none left).
  void AfterChange(store::AorKey aor, const store::AorRecord* record);
  void CountChanges(uint64_t created, uint64_t refreshed, uint64_t removed);
  // Sync mode, with changes not yet durable: a response showing bindings must
  // be held until they are.
  bool MustHold() const;
  void Hold(const ResponseRoute& route, int status, std::string_view key, std::string_view ok,
            std::string_view fail);

  // --- Event loop ----------------------------------------------------------
  // Once per loop turn, before submitting: starts the group write when one is
  // due, and moves a snapshot on. `final_flush`: write what is pending now
  // (shutdown). SQEs go to `ring` (the shard's); user_data is
  // user_data_base | Op.
  void Poll(io_uring* ring, uint64_t now_ms, uint32_t now_s, bool final_flush,
            uint64_t user_data_base);
  void OnCompletion(Op op, int result, uint64_t now_ms, uint32_t now_s);

  // Groups decided since the last call: deliver(held, key, ok, fail,
  // committed) for each held response (the bytes given to Hold), then the
  // group is recycled.
  void TakeDecided(absl::FunctionRef<void(const HeldResponse&, std::string_view key,
                                          std::string_view ok, std::string_view fail,
                                          bool committed)> deliver);

  // Starts a snapshot at the next Poll (no-op when one is running).
  void RequestSnapshot() { snapshot_requested_ = snapshot_ == nullptr; }
  // Nothing in flight and nothing pending: safe to stop.
  bool Idle() const;
  // A group write or a snapshot operation is in the ring.
  bool InFlight() const;

 private:
  struct Snapshot;
  CommitBatch* NewBatch();
  void NewPending();  // a fresh pending group with the next id
  bool FaultInjected() const;
  void StartGroupWrite(io_uring* ring, uint64_t now_ms, uint32_t now_s, uint64_t user_data_base);
  void DecideGroup(uint32_t now_s);
  void FailGroup(int error, uint32_t now_s);
  void StartSnapshot(uint64_t now_ms);
  void StepSnapshot(io_uring* ring, uint64_t now_ms, uint64_t user_data_base);
  void FinishSnapshot(uint64_t now_ms);
  void AbandonSnapshot(std::string_view why, int error, uint64_t now_ms);
  absl::Status OpenJournalFile(uint64_t seq);

  JournalOptions options_;
  store::BindingTable& table_;
  ShardCounters& counters_;

  int fd_ = -1;
  uint64_t seq_ = 0;             // number of the open journal
  uint64_t file_size_ = 0;       // durable (decided) bytes of the open journal
  uint64_t journal_bytes_ = 0;   // journal bytes since the last snapshot
  uint64_t snapshot_bytes_ = 0;  // size of the last snapshot
  std::vector<uint64_t> old_seqs_;  // files the next snapshot makes obsolete

  std::vector<std::unique_ptr<CommitBatch>> batches_;  // owns every batch
  std::vector<CommitBatch*> free_;
  CommitBatch* pending_ = nullptr;
  CommitBatch* inflight_ = nullptr;
  std::vector<std::pair<CommitBatch*, bool>> decided_;  // batch, committed
  uint64_t group_ids_ = 0;  // ids of pending groups, increasing
  int write_result_ = 0;
  int sync_result_ = 0;
  int completions_due_ = 0;  // of the in-flight group
  bool failing_ = false;      // the last group write failed
  uint64_t failed_groups_ = 0;  // in the current failure burst
  uint64_t last_write_ms_ = 0;

  std::unique_ptr<Snapshot> snapshot_;
  bool snapshot_requested_ = false;
  uint64_t snapshot_retry_ms_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_JOURNAL_H_
