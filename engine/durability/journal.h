// The journal of one shard (ARCHITECTURE section 6): the writer of its
// group commits (group_commit.h) to an append-only file through the shard's
// io_uring, and its snapshots, written a chunk per loop turn while requests
// keep flowing.
//
// Group writes. Once per loop turn, when no write is in flight, the pending
// group becomes the in-flight group: one IORING_OP_WRITE after the last
// record. Where the file system allows it the file is opened O_DIRECT and
// the write carries RWF_DSYNC (direct_writes.h: the last partial block is
// written again, the group is padded with zeros to a block), so it is
// durable when it completes; elsewhere it is a buffered write linked to one
// IORING_OP_FSYNC (DATASYNC). The file is kept ahead of its records with
// zeros (a 1 MiB chunk written in the same chain when less than 256 KiB is
// left), so most group writes change no metadata and flush data only; a
// journal closed in order is cut back to its records, and a zeroed tail left
// by a crash reads as the end of them. In
// sync mode a group is written as soon as the previous one is back when it
// holds enough requests (kFullGroup) or its first change is
// `commit_window_us` old: at low load a few requests share one flush
// instead of each paying for its own. In async mode every
// `async_interval_ms` (or sooner past 1 MiB), so a crash loses at most that
// much plus one write. A failed write is cut back off the file (ftruncate)
// and reported to the group commit, which undoes (sync) or retries (async);
// the next group tries again, so the journal recovers by itself when the
// disk does. With durability off no Journal exists.
//
// Snapshots. When the journal has grown past `snapshot_journal_bytes` and
// past the last snapshot's size (or on request), the shard opens a new
// journal, takes a BindingTable snapshot (the record pointers, in one pass)
// and writes every AOR's state, a chunk per loop turn, to <seq>.snapshot.tmp;
// then fdatasync, rename, and the older snapshot and journals are deleted.
#ifndef LOCUS_ENGINE_DURABILITY_JOURNAL_H_
#define LOCUS_ENGINE_DURABILITY_JOURNAL_H_

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "engine/durability/commit_batch.h"
#include "engine/durability/direct_writes.h"
#include "engine/durability/group_commit.h"
#include "engine/counters.h"
#include "engine/durability_mode.h"
#include "store/binding_table.h"

namespace locus::engine {

struct JournalOptions {
  DurabilityMode mode = DurabilityMode::kSync;
  std::string generation_dir;  // store::GenerationDir of the current generation
  int shard = 0;
  uint64_t async_interval_ms = 100;
  // Sync: how long a group of few requests waits for more before it is
  // written (0: written as soon as the previous group is back).
  uint64_t commit_window_us = 500;
  // A snapshot starts when the journal is this big and bigger than the last
  // snapshot (so snapshots cost at most as many bytes as the journal).
  uint64_t snapshot_journal_bytes = 64ull << 20;
  // Pending bytes past which changes are refused (500) until a write drains
  // them: bounds memory when the disk is slower than the requests.
  uint64_t max_pending_bytes = 64ull << 20;
  // Direct writes (O_DIRECT + RWF_DSYNC) where the file system supports them;
  // false: buffered writes, each followed by an fdatasync.
  bool direct_writes = true;
  // Testing: while this file exists, every journal and snapshot write fails
  // with ENOSPC, as on a full disk. Empty: off.
  std::string fault_file;
};

class Journal : public GroupCommit {
 public:
  // Which of our operations a completion is about (the low bits of its
  // user_data, below the shard's own tag).
  enum Op : uint64_t {
    kJournalWrite = 0,
    kJournalSync = 1,
    kSnapshotWrite = 2,
    kSnapshotSync = 3,
    kSnapshotFlush = 4,
    kFileRemove = 5,
    kJournalZeros = 6,
  };

  Journal(JournalOptions options, store::BindingTable& table, ShardCounters& counters);
  ~Journal();

  // Opens journal number `seq` (a new, empty file). `existing_seqs`: the
  // numbers of the shard's snapshot and journals loaded at start-up, deleted
  // after the next snapshot; `journal_bytes` and `snapshot_bytes`: their sizes.
  absl::Status Open(uint64_t seq, std::vector<uint64_t> existing_seqs, uint64_t journal_bytes,
                    uint64_t snapshot_bytes);

  // --- Event loop ----------------------------------------------------------
  // Once per loop turn, before submitting: starts the group write when one is
  // due, and moves a snapshot on. `now_ns`: a fine monotonic clock (the
  // commit window), `now_ms` the coarse one. `final_flush`: write what is
  // pending now (shutdown). SQEs go to `ring` (the shard's); user_data is
  // user_data_base | Op.
  void Poll(io_uring* ring, uint64_t now_ns, uint64_t now_ms, uint32_t now_s, bool final_flush,
            uint64_t user_data_base);
  // Sync: nanoseconds until the pending group's commit window closes (0: it
  // is due now), when one waits for it; the loop must not sleep longer.
  std::optional<uint64_t> GroupDueInNs(uint64_t now_ns) const;
  void OnCompletion(Op op, int result, uint64_t now_ms, uint32_t now_s);

  // Starts a snapshot at the next Poll (no-op when one is running).
  void RequestSnapshot() { snapshot_requested_ = snapshot_ == nullptr; }
  // Nothing in flight and nothing pending: safe to stop.
  bool Idle() const;
  // A group write, a snapshot operation or a file removal is in the ring.
  bool InFlight() const;
  // The open journal is written directly (O_DIRECT + RWF_DSYNC).
  bool direct() const { return direct_; }

 private:
  struct Snapshot;
  bool FaultInjected() const;
  bool SyncGroupDue(uint64_t now_ns, bool final_flush) const;
  void StartGroupWrite(io_uring* ring, uint64_t now_ms, uint32_t now_s, uint64_t user_data_base);
  // Direct writes: the in-flight group after the file's last partial block,
  // padded to a block, in staging_; false when no memory could be had.
  bool StageDirectWrite(const CommitBatch& group);
  void DecideGroup(uint32_t now_s);
  void FailGroup(int error, uint32_t now_s);
  void StartSnapshot(uint64_t now_ms);
  void StepSnapshot(io_uring* ring, uint64_t now_ms, uint64_t user_data_base);
  void FinishSnapshot(io_uring* ring, uint64_t now_ms, uint64_t user_data_base);
  void RemoveObsoleteFiles(io_uring* ring, uint64_t user_data_base);
  void AbandonSnapshot(std::string_view why, int error, uint64_t now_ms);
  absl::Status OpenJournalFile(uint64_t seq);
  // Cuts the open journal's zeroed tail off and closes it.
  void CloseJournalFile();

  JournalOptions options_;

  int fd_ = -1;
  bool direct_ = false;          // fd_ is O_DIRECT: group writes carry RWF_DSYNC
  uint64_t seq_ = 0;             // number of the open journal
  uint64_t file_size_ = 0;       // durable (decided) bytes of the open journal
  uint64_t zeroed_end_ = 0;      // the file's durable size: zeros from file_size_ on
  // Direct writes: the bytes of the file's last, partial block (file_size_
  // modulo kDirectBlock of them), written again before the next group.
  char tail_block_[kDirectBlock];
  AlignedBuffer staging_;        // the in-flight direct write
  uint64_t journal_bytes_ = 0;   // journal bytes since the last snapshot
  uint64_t snapshot_bytes_ = 0;  // size of the last snapshot
  std::vector<uint64_t> old_seqs_;  // files the next snapshot makes obsolete
  // Obsolete files being unlinked through the ring (an unlink of a large file
  // takes the file system 50-300 ms: never on the loop thread). The paths
  // stay alive until their completions.
  std::vector<std::string> removing_;
  int removals_in_flight_ = 0;

  int write_result_ = 0;
  int zero_result_ = 0;
  int sync_result_ = 0;
  uint64_t zeroing_to_ = 0;     // of the in-flight group: the zeros' end, 0 if none
  uint64_t write_from_ = 0;     // of the in-flight group: where its write starts
  uint64_t write_bytes_ = 0;    // and how many bytes it writes
  int completions_due_ = 0;     // of the in-flight group
  uint64_t failed_groups_ = 0;  // in the current failure burst
  uint64_t last_write_ms_ = 0;
  uint64_t pending_since_ns_ = 0;  // when Poll first saw the pending group's records

  std::unique_ptr<Snapshot> snapshot_;
  bool snapshot_requested_ = false;
  uint64_t snapshot_retry_ms_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DURABILITY_JOURNAL_H_
