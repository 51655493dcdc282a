#include "engine/durability/journal.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/log.h"
#include "store/durable_files.h"
#include "store/journal_record.h"

namespace locus::engine {
namespace {

constexpr uint64_t kSnapshotChunkBytes = 512 << 10;  // serialized per loop turn
// A snapshot is written back as it goes, this much at a time, so that its data
// never piles up in the page cache: ext4 (data=ordered) writes a file's newly
// allocated blocks before the metadata commit that the journal's next
// fdatasync waits for, and a whole snapshot there stalls a group for seconds.
constexpr uint64_t kSnapshotFlushBytes = 8 << 20;
constexpr uint64_t kSnapshotRetryMs = 10000;         // after a failed snapshot
constexpr uint64_t kAsyncEagerBytes = 1 << 20;        // async: write early past this
// Sync: a group holding this many responses is written without waiting for
// its commit window; at the loads where groups are this big, the write of
// the previous group already made it wait about a flush's time.
constexpr size_t kFullGroup = 8;
// The journal file is extended with zeros ahead of its records, a chunk at a
// time, so that a group write lands inside the file's size and its flush
// has no metadata to commit.
constexpr uint64_t kZeroChunkBytes = 1 << 20;
constexpr uint64_t kZeroAheadLowWater = 256 << 10;  // extend when less is left
alignas(kDirectBlock) char zero_chunk[kZeroChunkBytes];  // never written: zeros
// Direct writes: a staging buffer grown past this for a large group (async
// mode, or a backlog) is given back once the group is decided.
constexpr size_t kStagingKeptBytes = 4 << 20;

}  // namespace

// A snapshot being written.
struct Journal::Snapshot {
  uint64_t seq = 0;
  std::string path;
  std::string tmp_path;
  int fd = -1;
  std::vector<const store::AorRecord*> records;  // a BindingTable snapshot
  size_t next = 0;
  uint64_t aors = 0;
  std::string buffer;  // the chunk being written
  uint64_t offset = 0;
  uint64_t flushed = 0;      // bytes from the start whose writeback is done
  uint64_t flushing_to = 0;  // the end of the range being written back
  bool in_flight = false;
  bool syncing = false;
  bool synced = false;    // written and fdatasync'ed: waits for its groups
  uint64_t last_group = 0;  // sync: the newest group whose changes it may hold
  bool abandon = false;  // abandon once the operation in flight is back
  std::string abandon_reason;
  uint64_t started_ms = 0;
};

Journal::Journal(JournalOptions options, store::BindingTable& table, ShardCounters& counters)
    : GroupCommit(options.mode, options.max_pending_bytes, table, counters),
      options_(std::move(options)) {}

Journal::~Journal() {
  if (snapshot_ != nullptr) {
    if (snapshot_->fd >= 0) close(snapshot_->fd);
    unlink(snapshot_->tmp_path.c_str());
    table_.EndSnapshot();
  }
  CloseJournalFile();
}

void Journal::CloseJournalFile() {
  if (fd_ < 0) return;
  // A journal closed in order loses its zeroed tail (one left by a crash is
  // read as the end of its records).
  if (completions_due_ == 0 && ftruncate(fd_, static_cast<off_t>(file_size_)) != 0) {
    Log(LogLevel::kWarning, "shard %d: cannot cut the journal's zeroed tail: %s", options_.shard,
        std::strerror(errno));
  }
  close(fd_);
  fd_ = -1;
}

absl::Status Journal::OpenJournalFile(uint64_t seq) {
  const std::string path = store::JournalPath(options_.generation_dir, options_.shard, seq);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return absl::InternalError(path + ": " + std::strerror(errno));
  // The new name must be durable before anything written in it counts.
  if (absl::Status s = store::SyncDirectory(options_.generation_dir); !s.ok()) {
    close(fd);
    return s;
  }
  const bool first = fd_ < 0;
  const bool was_direct = direct_;
  CloseJournalFile();
  fd_ = fd;
  seq_ = seq;
  file_size_ = 0;
  zeroed_end_ = 0;
  direct_ = options_.direct_writes && EnableDirectWrites(fd);
  if (first || direct_ != was_direct) {
    Log(LogLevel::kInfo, "shard %d: journal written %s", options_.shard,
        direct_ ? "directly (O_DIRECT, RWF_DSYNC)" : "through the page cache, with fdatasync");
  }
  return absl::OkStatus();
}

absl::Status Journal::Open(uint64_t seq, std::vector<uint64_t> existing_seqs,
                           uint64_t journal_bytes, uint64_t snapshot_bytes) {
  old_seqs_ = std::move(existing_seqs);
  journal_bytes_ = journal_bytes;
  snapshot_bytes_ = snapshot_bytes;
  return OpenJournalFile(seq);
}

bool Journal::FaultInjected() const {
  return !options_.fault_file.empty() && access(options_.fault_file.c_str(), F_OK) == 0;
}

bool Journal::Idle() const { return !InFlight() && Drained(); }

bool Journal::InFlight() const {
  return (inflight() != nullptr && completions_due_ > 0) ||
         (snapshot_ != nullptr && snapshot_->in_flight) || removals_in_flight_ > 0;
}

void Journal::Poll(io_uring* ring, uint64_t now_ns, uint64_t now_ms, uint32_t now_s,
                   bool final_flush, uint64_t user_data_base) {
  if (pending()->records.empty()) {
    pending_since_ns_ = 0;
  } else if (pending_since_ns_ == 0) {
    pending_since_ns_ = now_ns;
  }
  if (snapshot_ == nullptr && inflight() == nullptr &&
      (snapshot_requested_ ||
       (now_ms >= snapshot_retry_ms_ && journal_bytes_ >= options_.snapshot_journal_bytes &&
        journal_bytes_ >= snapshot_bytes_))) {
    snapshot_requested_ = false;
    StartSnapshot(now_ms);
  }
  if (inflight() == nullptr) {
    if (mode() == DurabilityMode::kSync) {
      if (!pending()->records.empty()) {
        if (SyncGroupDue(now_ns, final_flush)) StartGroupWrite(ring, now_ms, now_s, user_data_base);
      } else if (!pending()->held.empty()) {
        // Held only behind a group that has since committed: nothing of
        // their own to write.
        ReleaseHeld();
      }
    } else if (!pending()->records.empty() &&
               (final_flush || now_ms >= last_write_ms_ + options_.async_interval_ms ||
                pending()->records.size() >= kAsyncEagerBytes)) {
      StartGroupWrite(ring, now_ms, now_s, user_data_base);
    }
  }
  StepSnapshot(ring, now_ms, user_data_base);
}

bool Journal::SyncGroupDue(uint64_t now_ns, bool final_flush) const {
  return final_flush || pending()->held.size() >= kFullGroup ||
         now_ns >= pending_since_ns_ + options_.commit_window_us * 1000;
}

std::optional<uint64_t> Journal::GroupDueInNs(uint64_t now_ns) const {
  if (mode() != DurabilityMode::kSync || inflight() != nullptr || pending()->records.empty() ||
      pending_since_ns_ == 0) {
    return std::nullopt;
  }
  const uint64_t due = pending_since_ns_ + options_.commit_window_us * 1000;
  return due > now_ns ? due - now_ns : 0;
}

void Journal::StartGroupWrite(io_uring* ring, uint64_t now_ms, uint32_t now_s,
                              uint64_t user_data_base) {
  const CommitBatch* group = BeginGroup();
  last_write_ms_ = now_ms;
  pending_since_ns_ = 0;
  zero_result_ = 0;
  sync_result_ = 0;  // direct writes have no fdatasync of their own
  zeroing_to_ = 0;
  if (FaultInjected()) {
    write_result_ = -ENOSPC;
    sync_result_ = -ECANCELED;
    completions_due_ = 0;
    DecideGroup(now_s);
    return;
  }
  const char* bytes = group->records.data();
  write_from_ = file_size_;
  write_bytes_ = group->records.size();
  if (direct_) {
    if (!StageDirectWrite(*group)) {
      write_result_ = -ENOMEM;
      completions_due_ = 0;
      DecideGroup(now_s);
      return;
    }
    bytes = staging_.data();
    write_from_ = AlignDown(file_size_);
    write_bytes_ = AlignUp(file_size_ + group->records.size()) - write_from_;
  }
  // Buffered, the write and its fdatasync are linked: the sync starts only
  // after the whole write succeeded. When the zeroed space ahead runs low, a
  // chunk of zeros is written after the group in the same chain (the
  // fdatasync, or the zeros' own RWF_DSYNC, then commits the file's new size
  // too). All SQEs go in the same submission.
  const uint64_t write_end = write_from_ + write_bytes_;
  const bool extend = write_end + kZeroAheadLowWater > zeroed_end_;
  if (io_uring_sq_space_left(ring) < 3) io_uring_submit(ring);
  io_uring_sqe* write = io_uring_get_sqe(ring);
  io_uring_prep_write(write, fd_, bytes, static_cast<unsigned>(write_bytes_), write_from_);
  if (direct_) write->rw_flags = RWF_DSYNC;
  io_uring_sqe_set_data64(write, user_data_base | kJournalWrite);
  completions_due_ = 1;
  if (extend || !direct_) write->flags |= IOSQE_IO_LINK;
  if (extend) {
    const uint64_t from = std::max(write_end, zeroed_end_);
    io_uring_sqe* zeros = io_uring_get_sqe(ring);
    io_uring_prep_write(zeros, fd_, zero_chunk, kZeroChunkBytes, from);
    if (direct_) {
      zeros->rw_flags = RWF_DSYNC;
    } else {
      zeros->flags |= IOSQE_IO_LINK;
    }
    io_uring_sqe_set_data64(zeros, user_data_base | kJournalZeros);
    zeroing_to_ = from + kZeroChunkBytes;
    ++completions_due_;
  }
  if (direct_) return;
  io_uring_sqe* sync = io_uring_get_sqe(ring);
  io_uring_prep_fsync(sync, fd_, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64(sync, user_data_base | kJournalSync);
  ++completions_due_;
}

bool Journal::StageDirectWrite(const CommitBatch& group) {
  const uint64_t tail = file_size_ - AlignDown(file_size_);
  const uint64_t used = tail + group.records.size();
  const uint64_t padded = AlignUp(used);
  if (!staging_.Reserve(padded)) return false;
  std::memcpy(staging_.data(), tail_block_, tail);
  std::memcpy(staging_.data() + tail, group.records.data(), group.records.size());
  std::memset(staging_.data() + used, 0, padded - used);
  return true;
}

void Journal::OnCompletion(Op op, int result, uint64_t now_ms, uint32_t now_s) {
  switch (op) {
    case kJournalWrite:
    case kJournalZeros:
    case kJournalSync:
      (op == kJournalWrite ? write_result_ : op == kJournalZeros ? zero_result_ : sync_result_) = result;
      if (--completions_due_ == 0) DecideGroup(now_s);
      break;
    case kFileRemove:
      if (result < 0 && result != -ENOENT) {
        // Harmless: start-up reads the newest snapshot and the journals
        // after it, and removes older files.
        Log(LogLevel::kWarning, "shard %d: cannot remove an obsolete file: %s", options_.shard,
            std::strerror(-result));
      }
      if (--removals_in_flight_ == 0) removing_.clear();
      break;
    case kSnapshotWrite:
    case kSnapshotSync:
    case kSnapshotFlush: {
      if (snapshot_ == nullptr) break;
      Snapshot& s = *snapshot_;
      s.in_flight = false;
      if (s.abandon) {
        AbandonSnapshot(s.abandon_reason, 0, now_ms);
      } else if (op == kSnapshotWrite && result != static_cast<int>(s.buffer.size())) {
        AbandonSnapshot("write", result < 0 ? -result : ENOSPC, now_ms);
      } else if (op == kSnapshotSync && result < 0) {
        AbandonSnapshot("fdatasync", -result, now_ms);
      } else if (op == kSnapshotFlush && result < 0) {
        AbandonSnapshot("sync_file_range", -result, now_ms);
      } else if (op == kSnapshotFlush) {
        s.flushed = s.flushing_to;
      } else if (op == kSnapshotWrite) {
        s.offset += s.buffer.size();
        s.buffer.clear();
      } else {
        s.synced = true;  // renamed once its groups are durable (StepSnapshot)
      }
      break;
    }
  }
}

void Journal::DecideGroup(uint32_t now_s) {
  const uint64_t size = inflight()->records.size();
  const bool written = write_result_ >= 0 && static_cast<uint64_t>(write_result_) == write_bytes_;
  const bool zeroed = zeroing_to_ == 0 || zero_result_ == static_cast<int>(kZeroChunkBytes);
  if (written && zeroed && sync_result_ == 0) {
    if (direct_) {
      // The new last partial block, for the next write (staging_ holds the
      // bytes from write_from_ on).
      const uint64_t end = file_size_ + size;
      std::memcpy(tail_block_, staging_.data() + (AlignDown(end) - write_from_),
                  end - AlignDown(end));
      if (staging_.capacity() > kStagingKeptBytes) staging_.Release();
    }
    file_size_ += size;
    zeroed_end_ = std::max({zeroed_end_, write_from_ + write_bytes_, zeroing_to_});
    journal_bytes_ += size;
    counters_.journal_commits.Add();
    counters_.journal_bytes.Add(size);
    if (failing()) {
      Log(LogLevel::kWarning, "shard %d: journal writes succeed again, after %d failed",
          options_.shard, failed_groups_);
      failed_groups_ = 0;
    }
    GroupCommitted();
    return;
  }
  const int error = write_result_ < 0 ? -write_result_
                    : !written          ? ENOSPC
                    : zero_result_ < 0                                ? -zero_result_
                    : !zeroed                                         ? ENOSPC
                                                                      : -sync_result_;
  FailGroup(error, now_s);
}

void Journal::FailGroup(int error, uint32_t now_s) {
  if (direct_ && error == EINVAL) {
    // The file system refused a direct write that statx said it takes:
    // later groups are written through the page cache.
    direct_ = !DisableDirectWrites(fd_);
    Log(LogLevel::kWarning, "shard %d: a direct journal write was refused (%s); %s", options_.shard,
        std::strerror(error),
        direct_ ? "cannot switch to buffered writes" : "writing through the page cache from now on");
  }
  // A partial write must not stay: the next group goes where this one began
  // (and the zeroed tail goes with it: it is made again).
  zeroed_end_ = file_size_;
  if (ftruncate(fd_, static_cast<off_t>(file_size_)) != 0) {
    Log(LogLevel::kError, "shard %d: cannot cut the journal back after a failed write: %s",
        options_.shard, std::strerror(errno));
  }
  counters_.journal_failures.Add();
  if (!failing()) {
    // Logged once per burst; journal_failures counts every failed group.
    Log(LogLevel::kError, "shard %d: journal write failed (%s): %s", options_.shard,
        std::strerror(error),
        mode() == DurabilityMode::kSync
            ? "its REGISTERs are undone and answered 500 until writes succeed again"
            : "REGISTERs that change bindings are answered 500 until a retry succeeds");
  }
  ++failed_groups_;
  GroupFailed(now_s);
  if (mode() == DurabilityMode::kSync && snapshot_ != nullptr) {
    // The snapshot may hold states just undone.
    snapshot_->abandon = true;
    snapshot_->abandon_reason = "changes it may hold were undone";
  }
}

void Journal::StartSnapshot(uint64_t now_ms) {
  if (FaultInjected()) {
    counters_.snapshot_failures.Add();
    snapshot_retry_ms_ = now_ms + kSnapshotRetryMs;
    return;
  }
  // Changes from now on go to a new journal, which the snapshot does not
  // replace: state = this snapshot + journals from its number on.
  const uint64_t previous = seq_;
  if (absl::Status s = OpenJournalFile(seq_ + 1); !s.ok()) {
    Log(LogLevel::kError, "shard %d: cannot open a new journal for a snapshot: %s", options_.shard,
        s.message());
    counters_.snapshot_failures.Add();
    snapshot_retry_ms_ = now_ms + kSnapshotRetryMs;
    return;
  }
  old_seqs_.push_back(previous);
  journal_bytes_ = 0;
  auto s = std::make_unique<Snapshot>();
  s->seq = seq_;
  s->path = store::SnapshotPath(options_.generation_dir, options_.shard, s->seq);
  s->tmp_path = s->path + ".tmp";
  s->fd = open(s->tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (s->fd < 0) {
    Log(LogLevel::kError, "shard %d: cannot create %s: %s", options_.shard, s->tmp_path,
        std::strerror(errno));
    counters_.snapshot_failures.Add();
    snapshot_retry_ms_ = now_ms + kSnapshotRetryMs;
    return;
  }
  s->records = table_.BeginSnapshot();
  s->started_ms = now_ms;
  snapshot_ = std::move(s);
}

void Journal::StepSnapshot(io_uring* ring, uint64_t now_ms, uint64_t user_data_base) {
  if (snapshot_ == nullptr || snapshot_->in_flight) return;
  Snapshot& s = *snapshot_;
  if (s.abandon) {
    AbandonSnapshot(s.abandon_reason, 0, now_ms);
    return;
  }
  if (s.synced) {
    // Sync mode: the snapshot may hold changes of groups not yet decided; it
    // replaces the journals only once they are durable (a failed one
    // abandons it, as its changes were undone).
    const bool undecided = mode() == DurabilityMode::kSync && Undecided(s.last_group);
    if (!undecided) FinishSnapshot(ring, now_ms, user_data_base);
    return;
  }
  if (FaultInjected()) {
    AbandonSnapshot("write", ENOSPC, now_ms);
    return;
  }
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (sqe == nullptr) {
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  if (s.offset - s.flushed >= kSnapshotFlushBytes) {
    // Written back, and waited for, before the next chunk is written.
    s.flushing_to = s.offset;
    io_uring_prep_sync_file_range(
        sqe, s.fd, static_cast<unsigned>(s.flushing_to - s.flushed), s.flushed,
        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    io_uring_sqe_set_data64(sqe, user_data_base | kSnapshotFlush);
    s.in_flight = true;
    return;
  }
  s.buffer.clear();
  while (s.next < s.records.size() && s.buffer.size() < kSnapshotChunkBytes) {
    // Records lie in hash order, all over memory: load a few ahead (the
    // record, then its first binding's strings).
    if (s.next + 8 < s.records.size()) __builtin_prefetch(s.records[s.next + 8]);
    if (s.next + 4 < s.records.size()) {
      const store::AorRecord* ahead = s.records[s.next + 4];
      if (!ahead->erased() && !ahead->bindings().empty()) ahead->bindings()[0].Prefetch();
    }
    const store::AorRecord* record = s.records[s.next++];
    if (record->erased() || record->bindings().empty()) continue;  // replaced by journal records
    store::AppendAorState(record->key(), {record->bindings().data(), record->bindings().size()},
                          &s.buffer);
    ++s.aors;
  }
  s.last_group = pending()->id;  // every change so far is in it or an older group
  if (!s.buffer.empty()) {
    io_uring_prep_write(sqe, s.fd, s.buffer.data(), static_cast<unsigned>(s.buffer.size()),
                        s.offset);
    io_uring_sqe_set_data64(sqe, user_data_base | kSnapshotWrite);
  } else {
    io_uring_prep_fsync(sqe, s.fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, user_data_base | kSnapshotSync);
    s.syncing = true;
  }
  s.in_flight = true;
}

void Journal::FinishSnapshot(io_uring* ring, uint64_t now_ms, uint64_t user_data_base) {
  Snapshot& s = *snapshot_;
  close(s.fd);
  s.fd = -1;
  if (rename(s.tmp_path.c_str(), s.path.c_str()) != 0) {
    AbandonSnapshot("rename", errno, now_ms);
    return;
  }
  // The snapshot replaces every older file of the shard, once its name is
  // durable.
  if (absl::Status status = store::SyncDirectory(options_.generation_dir); status.ok()) {
    RemoveObsoleteFiles(ring, user_data_base);
  } else {
    Log(LogLevel::kWarning, "shard %d: snapshot written, but: %s", options_.shard, status.message());
  }
  table_.EndSnapshot();
  snapshot_bytes_ = s.offset;
  counters_.snapshots.Add();
  Log(LogLevel::kInfo, "shard %d: snapshot %s: %d AORs, %d bytes, in %d ms", options_.shard,
      s.path, s.aors, s.offset, now_ms - s.started_ms);
  snapshot_.reset();
}

void Journal::RemoveObsoleteFiles(io_uring* ring, uint64_t user_data_base) {
  if (removals_in_flight_ > 0) return;  // the next snapshot takes them
  removing_.clear();
  for (uint64_t seq : old_seqs_) {
    removing_.push_back(store::SnapshotPath(options_.generation_dir, options_.shard, seq));
    removing_.push_back(store::JournalPath(options_.generation_dir, options_.shard, seq));
  }
  old_seqs_.clear();
  for (const std::string& path : removing_) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) {
      io_uring_submit(ring);
      sqe = io_uring_get_sqe(ring);
    }
    io_uring_prep_unlinkat(sqe, AT_FDCWD, path.c_str(), 0);
    io_uring_sqe_set_data64(sqe, user_data_base | kFileRemove);
    ++removals_in_flight_;
  }
}

void Journal::AbandonSnapshot(std::string_view why, int error, uint64_t now_ms) {
  Snapshot& s = *snapshot_;
  if (s.in_flight) {
    s.abandon = true;
    s.abandon_reason = std::string(why);
    return;
  }
  if (s.fd >= 0) close(s.fd);
  unlink(s.tmp_path.c_str());
  table_.EndSnapshot();
  counters_.snapshot_failures.Add();
  Log(LogLevel::kWarning, "shard %d: snapshot %d abandoned: %s%s%s; retrying in %d s",
      options_.shard, s.seq, why, error != 0 ? ": " : "", error != 0 ? std::strerror(error) : "",
      kSnapshotRetryMs / 1000);
  snapshot_retry_ms_ = now_ms + kSnapshotRetryMs;
  snapshot_.reset();
}

}  // namespace locus::engine
