// The journal of one shard (engine/journal.h) on a real io_uring and real
// files: group commit holds responses until write + fdatasync are back, a
// failed group is undone newest first and answered with the failure
// responses, async mode flushes on its interval and refuses changes after a
// failure until a retry succeeds, and snapshots replace older files while the
// table keeps changing.
#include "engine/durability/journal.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "store/durable_files.h"
#include "store/journal_record.h"

namespace locus::engine {
namespace {

constexpr uint64_t kBase = 0xAB00000000000000ull;  // our user_data tag
constexpr uint32_t kNow = 1000000;

struct Decided {
  std::string bytes;
  std::string key;
  bool committed;
};

// Every test runs twice: with direct writes (O_DIRECT + RWF_DSYNC, where the
// file system of /tmp supports them) and with buffered writes + fdatasync.
class JournalTest : public ::testing::TestWithParam<bool> {
 protected:
  JournalTest() : table_(kNow) {
    char tmpl[] = "/tmp/locus-journal-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fault_ = dir_ + "/fault";
    EXPECT_EQ(io_uring_queue_init(64, &ring_, 0), 0);
  }
  ~JournalTest() override {
    journal_.reset();
    io_uring_queue_exit(&ring_);
    std::system(("rm -rf " + dir_).c_str());
  }

  void Make(DurabilityMode mode, uint64_t max_pending_bytes = 64ull << 20,
            uint64_t snapshot_journal_bytes = 64ull << 20) {
    JournalOptions options;
    options.mode = mode;
    options.generation_dir = dir_;
    options.shard = 0;
    options.async_interval_ms = 100;
    options.commit_window_us = commit_window_us_;
    options.max_pending_bytes = max_pending_bytes;
    options.snapshot_journal_bytes = snapshot_journal_bytes;
    options.fault_file = fault_;
    options.direct_writes = GetParam();
    journal_ = std::make_unique<Journal>(options, table_, counters_);
    ASSERT_TRUE(journal_->Open(1, {}, 0, 0).ok());
  }

  // A change as the request path makes it: saved state, the table changed,
  // the new state recorded.
  void Set(const std::string& aor, const std::string& contact) {
    journal_->BeforeChange(aor);
    std::vector<store::Binding> bindings;
    if (!contact.empty()) {
      store::Binding b;
      b.AssignText({contact, "call", "", "", ""});
      b.expires_at = kNow + 3600;
      bindings.push_back(std::move(b));
    }
    store::ApplyAorState(table_, aor, std::move(bindings), kNow);
    journal_->AfterChange(aor, table_.Find(aor));
  }
  void Hold(const std::string& name) {
    journal_->Hold(ResponseRoute{}, 200, "key-" + name, "OK " + name, "FAIL " + name);
  }
  std::string ContactOf(const std::string& aor) const {
    const store::AorRecord* r = table_.Find(aor);
    return r == nullptr || r->bindings().empty() ? "" : std::string(r->bindings()[0].contact());
  }

  // One loop turn: Poll, submit, then every completion within 1 s.
  void Turn(bool final_flush = false) {
    journal_->Poll(&ring_, now_ns_, now_ms_, kNow, final_flush, kBase);
    io_uring_submit(&ring_);
    Reap();
  }
  // Every completion of what is in flight (a slow disk gets 10 s).
  void Reap() {
    while (journal_->InFlight()) {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec timeout{10, 0};
      ASSERT_EQ(io_uring_wait_cqe_timeout(&ring_, &cqe, &timeout), 0);
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      const int result = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      ASSERT_EQ(data & ~uint64_t{0xFF}, kBase);
      ++ops_seen_[data & 0xFF];
      journal_->OnCompletion(static_cast<Journal::Op>(data & 0xFF), result, now_ms_, kNow);
    }
  }
  std::vector<Decided> TakeDecided() {
    std::vector<Decided> out;
    journal_->TakeDecided([&](const HeldResponse&, std::string_view key, std::string_view ok,
                              std::string_view fail, bool committed) {
      out.push_back({std::string(committed ? ok : fail), std::string(key), committed});
    });
    return out;
  }
  // AOR -> contact after loading the shard's files as start-up does.
  std::map<std::string, std::string> Load() {
    std::map<std::string, std::string> got;
    absl::StatusOr<store::ShardFiles> files = store::ListShardFiles(dir_, 0);
    EXPECT_TRUE(files.ok());
    absl::StatusOr<store::LoadStats> stats = store::LoadShard(
        dir_, 0, *files, false, [&](std::string_view aor, std::vector<store::Binding>&& b) {
          if (b.empty()) {
            got.erase(std::string(aor));
          } else {
            got[std::string(aor)] = std::string(b[0].contact());
          }
        });
    EXPECT_TRUE(stats.ok() && !stats->damaged);
    return got;
  }
  std::map<std::string, std::string> TableContents() const {
    std::map<std::string, std::string> got;
    table_.ForEach([&](const store::AorRecord& r) {
      if (!r.bindings().empty()) got[std::string(r.key())] = std::string(r.bindings()[0].contact());
    });
    return got;
  }
  void Touch(const std::string& path) { std::ofstream(path) << ""; }
  bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

  std::string dir_;
  std::string fault_;
  io_uring ring_{};
  store::BindingTable table_;
  ShardCounters counters_;
  std::unique_ptr<Journal> journal_;
  uint64_t now_ms_ = 5000;
  uint64_t now_ns_ = 5000000000;
  // Most tests write every group at once; the commit window has its own.
  uint64_t commit_window_us_ = 0;
  std::map<uint64_t, int> ops_seen_;  // completions by operation
};

TEST_P(JournalTest, SyncHoldsResponsesUntilTheGroupIsDurable) {
  Make(DurabilityMode::kSync);
  EXPECT_FALSE(journal_->MustHold());
  Set("sip:a@x", "sip:a1@h");
  EXPECT_TRUE(journal_->MustHold());
  Hold("a");
  Set("sip:b@x", "sip:b1@h");
  Hold("b");
  journal_->CountChanges({.created = 2});
  EXPECT_TRUE(TakeDecided().empty());
  EXPECT_EQ(counters_.bindings_created.Get(), 0u);  // not durable yet

  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  EXPECT_TRUE(TakeDecided().empty());  // submitted, not back
  EXPECT_TRUE(journal_->MustHold());   // a query now would see in-flight changes
  io_uring_submit(&ring_);
  Reap();
  const std::vector<Decided> decided = TakeDecided();
  ASSERT_EQ(decided.size(), 2u);
  EXPECT_EQ(decided[0].bytes, "OK a");
  EXPECT_EQ(decided[0].key, "key-a");
  EXPECT_TRUE(decided[0].committed);
  EXPECT_EQ(decided[1].bytes, "OK b");
  EXPECT_EQ(counters_.journal_commits.Get(), 1u);  // one write for both
  EXPECT_EQ(counters_.bindings_created.Get(), 2u);
  EXPECT_FALSE(journal_->MustHold());
  EXPECT_TRUE(journal_->Idle());
  EXPECT_EQ(Load(), (std::map<std::string, std::string>{{"sip:a@x", "sip:a1@h"}, {"sip:b@x", "sip:b1@h"}}));
}

TEST_P(JournalTest, SmallGroupWaitsOutItsCommitWindow) {
  commit_window_us_ = 50000;
  Make(DurabilityMode::kSync);
  EXPECT_FALSE(journal_->GroupDueInNs(now_ns_).has_value());  // nothing pending
  Set("sip:a@x", "sip:a1@h");
  Hold("a");
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  EXPECT_FALSE(journal_->InFlight());  // waits for more
  EXPECT_EQ(journal_->GroupDueInNs(now_ns_), 50000000u);

  now_ns_ += 30000000;  // 30 ms on: a second request joins the same group
  Set("sip:b@x", "sip:b1@h");
  Hold("b");
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  EXPECT_FALSE(journal_->InFlight());
  EXPECT_EQ(journal_->GroupDueInNs(now_ns_), 20000000u);  // from the first change

  now_ns_ += 20000000;  // the window closes
  Turn();
  EXPECT_FALSE(journal_->GroupDueInNs(now_ns_).has_value());
  const std::vector<Decided> decided = TakeDecided();
  ASSERT_EQ(decided.size(), 2u);
  EXPECT_TRUE(decided[0].committed && decided[1].committed);
  EXPECT_EQ(counters_.journal_commits.Get(), 1u);  // one fdatasync for both
}

TEST_P(JournalTest, FullGroupOrShutdownDoesNotWaitForTheWindow) {
  commit_window_us_ = 50000;
  Make(DurabilityMode::kSync);
  for (int i = 0; i < 8; ++i) {
    Set("sip:" + std::to_string(i) + "@x", "sip:c@h");
    Hold(std::to_string(i));
  }
  Turn();  // eight requests: written at once
  EXPECT_EQ(TakeDecided().size(), 8u);
  EXPECT_EQ(counters_.journal_commits.Get(), 1u);

  Set("sip:a@x", "sip:a1@h");
  Hold("a");
  Turn();
  EXPECT_TRUE(TakeDecided().empty());
  Turn(/*final_flush=*/true);  // stopping: written now
  EXPECT_EQ(TakeDecided().size(), 1u);
  EXPECT_EQ(counters_.journal_commits.Get(), 2u);
}

TEST_P(JournalTest, TheFileIsZeroedAheadOfItsRecordsAndCutBackWhenClosed) {
  Make(DurabilityMode::kSync);
  const std::string path = store::JournalPath(dir_, 0, 1);
  auto file_size = [&] {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_size);
  };
  Set("sip:a@x", "sip:a1@h");
  Turn();
  const uint64_t first = counters_.journal_bytes.Get();
  // The group (direct: padded to a block), then 1 MiB of zeros.
  const uint64_t written = journal_->direct() ? AlignUp(first) : first;
  EXPECT_EQ(file_size(), written + (1u << 20));
  // The next groups land inside the zeroed part: the size stays.
  for (int i = 0; i < 50; ++i) {
    Set("sip:n" + std::to_string(i) + "@x", "sip:c@h");
    Turn();
  }
  EXPECT_GT(counters_.journal_bytes.Get(), first);
  EXPECT_EQ(file_size(), written + (1u << 20));
  EXPECT_EQ(counters_.journal_commits.Get(), 51u);
  // Read back as a crash leaves it: zeros are the end, not damage.
  EXPECT_EQ(Load().size(), 51u);
  // Closed in order: cut back to its records.
  journal_.reset();
  EXPECT_EQ(file_size(), counters_.journal_bytes.Get());
  EXPECT_EQ(Load().size(), 51u);
}

TEST_P(JournalTest, HeldBehindACommittedGroupLeaveWithoutAWrite) {
  Make(DurabilityMode::kSync);
  Set("sip:a@x", "sip:a1@h");
  Hold("a");
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  Hold("query");  // a query while the group is in flight: no change of its own
  io_uring_submit(&ring_);
  Reap();
  EXPECT_EQ(TakeDecided().size(), 1u);
  Turn();
  const std::vector<Decided> decided = TakeDecided();
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].bytes, "OK query");
  EXPECT_EQ(counters_.journal_commits.Get(), 1u);
}

TEST_P(JournalTest, FailedGroupIsUndoneAndAnsweredWithFailures) {
  Make(DurabilityMode::kSync);
  Set("sip:a@x", "sip:a1@h");
  Turn();
  TakeDecided();
  const uint64_t size = counters_.journal_bytes.Get();

  Touch(fault_);
  Set("sip:a@x", "sip:a2@h");
  Hold("a");
  Set("sip:b@x", "sip:b1@h");
  Hold("b");
  Set("sip:a@x", "");  // and then removed
  Hold("a-gone");
  Turn();
  const std::vector<Decided> decided = TakeDecided();
  ASSERT_EQ(decided.size(), 3u);
  for (const Decided& d : decided) EXPECT_FALSE(d.committed);
  EXPECT_EQ(decided[1].bytes, "FAIL b");
  EXPECT_EQ(ContactOf("sip:a@x"), "sip:a1@h");  // back to the durable state
  EXPECT_EQ(table_.Find("sip:b@x"), nullptr);
  EXPECT_EQ(counters_.journal_failures.Get(), 1u);
  EXPECT_EQ(counters_.journal_undone.Get(), 3u);
  EXPECT_EQ(counters_.journal_bytes.Get(), size);

  // Recovers by itself once writes work again.
  unlink(fault_.c_str());
  Set("sip:b@x", "sip:b2@h");
  Hold("b2");
  Turn();
  const std::vector<Decided> after = TakeDecided();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_TRUE(after[0].committed);
  EXPECT_EQ(Load(), (std::map<std::string, std::string>{{"sip:a@x", "sip:a1@h"}, {"sip:b@x", "sip:b2@h"}}));
}

TEST_P(JournalTest, KernelErrorUndoesInFlightAndPendingNewestFirst) {
  Make(DurabilityMode::kSync);
  Set("sip:a@x", "sip:a1@h");
  Hold("first");
  // Prepared but never submitted: the completions below stand in for the
  // kernel's (a write cut short by a full disk).
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  Set("sip:a@x", "sip:a2@h");  // pending, on top of the in-flight change
  Hold("second");
  journal_->OnCompletion(Journal::kJournalWrite, 7, now_ms_, kNow);
  journal_->OnCompletion(Journal::kJournalZeros, -ECANCELED, now_ms_, kNow);  // the new file's zeros
  if (!journal_->direct()) journal_->OnCompletion(Journal::kJournalSync, -ECANCELED, now_ms_, kNow);
  const std::vector<Decided> decided = TakeDecided();
  ASSERT_EQ(decided.size(), 2u);
  EXPECT_EQ(decided[0].bytes, "FAIL first");
  EXPECT_EQ(decided[1].bytes, "FAIL second");
  EXPECT_EQ(table_.Find("sip:a@x"), nullptr);  // as before both
  EXPECT_EQ(counters_.journal_undone.Get(), 2u);
}

TEST_P(JournalTest, SyncFailureAfterTheWriteStillFails) {
  Make(DurabilityMode::kSync);
  Set("sip:a@x", "sip:a1@h");
  Hold("a");
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  if (journal_->direct()) {
    // The write's own RWF_DSYNC failed.
    journal_->OnCompletion(Journal::kJournalWrite, -EIO, now_ms_, kNow);
    journal_->OnCompletion(Journal::kJournalZeros, -ECANCELED, now_ms_, kNow);
  } else {
    journal_->OnCompletion(Journal::kJournalWrite, 0, now_ms_, kNow);  // nothing written
    journal_->OnCompletion(Journal::kJournalZeros, 1 << 20, now_ms_, kNow);
    journal_->OnCompletion(Journal::kJournalSync, -EIO, now_ms_, kNow);
  }
  const std::vector<Decided> decided = TakeDecided();
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_FALSE(decided[0].committed);
}

TEST_P(JournalTest, PendingBytesAreBounded) {
  Make(DurabilityMode::kSync, /*max_pending_bytes=*/4096);
  int accepted = 0;
  while (journal_->Accepting() && accepted < 1000) {
    Set("sip:u" + std::to_string(accepted) + "@x", "sip:c@h");
    ++accepted;
  }
  EXPECT_LT(accepted, 100);
  Turn();
  EXPECT_TRUE(journal_->Accepting());
}

TEST_P(JournalTest, AsyncWritesOnItsIntervalAndNeverHolds) {
  Make(DurabilityMode::kAsync);
  Set("sip:a@x", "sip:a1@h");
  EXPECT_FALSE(journal_->MustHold());
  journal_->CountChanges({.created = 1});
  EXPECT_EQ(counters_.bindings_created.Get(), 1u);  // counted at once
  Turn();
  EXPECT_EQ(counters_.journal_commits.Get(), 1u);
  Set("sip:b@x", "sip:b1@h");
  now_ms_ += 50;
  Turn();
  EXPECT_EQ(counters_.journal_commits.Get(), 1u);  // interval not over
  now_ms_ += 50;
  Turn();
  EXPECT_EQ(counters_.journal_commits.Get(), 2u);
  Set("sip:c@x", "sip:c1@h");
  Turn(/*final_flush=*/true);  // shutdown writes at once
  EXPECT_EQ(counters_.journal_commits.Get(), 3u);
  EXPECT_EQ(Load().size(), 3u);
}

TEST_P(JournalTest, AsyncRefusesChangesAfterAFailureUntilARetrySucceeds) {
  Make(DurabilityMode::kAsync);
  Set("sip:a@x", "sip:a1@h");
  Touch(fault_);
  Turn();
  EXPECT_EQ(counters_.journal_failures.Get(), 1u);
  EXPECT_FALSE(journal_->Accepting());
  EXPECT_EQ(ContactOf("sip:a@x"), "sip:a1@h");  // acknowledged: stays
  now_ms_ += 100;
  Turn();  // the retry fails too
  EXPECT_EQ(counters_.journal_failures.Get(), 2u);
  unlink(fault_.c_str());
  now_ms_ += 100;
  Turn();
  EXPECT_TRUE(journal_->Accepting());
  EXPECT_EQ(Load(), (std::map<std::string, std::string>{{"sip:a@x", "sip:a1@h"}}));
}

TEST_P(JournalTest, SnapshotReplacesOlderFilesWhileTheTableChanges) {
  Make(DurabilityMode::kSync);
  for (int i = 0; i < 6000; ++i) Set("sip:user" + std::to_string(i) + "@example.com", "sip:c" + std::to_string(i) + "@h");
  Turn();
  TakeDecided();
  journal_->RequestSnapshot();
  int turns = 0;
  for (; counters_.snapshots.Get() == 0 && turns < 1000; ++turns) {
    // Changes between chunks: updates, removals, new AORs.
    Set("sip:user" + std::to_string(turns * 7 % 6000) + "@example.com", "sip:new" + std::to_string(turns) + "@h");
    Set("sip:user" + std::to_string(turns * 13 % 6000 + 1) + "@example.com", "");
    Set("sip:fresh" + std::to_string(turns) + "@example.com", "sip:f@h");
    Turn();
    TakeDecided();
  }
  ASSERT_EQ(counters_.snapshots.Get(), 1u);
  EXPECT_GT(turns, 1);  // written over several turns
  EXPECT_FALSE(Exists(store::JournalPath(dir_, 0, 1)));
  EXPECT_TRUE(Exists(store::SnapshotPath(dir_, 0, 2)));
  EXPECT_TRUE(Exists(store::JournalPath(dir_, 0, 2)));
  EXPECT_FALSE(Exists(store::SnapshotPath(dir_, 0, 2) + ".tmp"));
  EXPECT_EQ(table_.open_snapshots(), 0u);
  Set("sip:late@example.com", "sip:l@h");
  Turn();
  EXPECT_EQ(Load(), TableContents());

  // A second snapshot replaces the first.
  journal_->RequestSnapshot();
  for (int i = 0; counters_.snapshots.Get() < 2 && i < 1000; ++i) Turn();
  EXPECT_FALSE(Exists(store::SnapshotPath(dir_, 0, 2)));
  EXPECT_FALSE(Exists(store::JournalPath(dir_, 0, 2)));
  EXPECT_TRUE(Exists(store::SnapshotPath(dir_, 0, 3)));
  EXPECT_EQ(Load(), TableContents());
}

TEST_P(JournalTest, ALargeSnapshotIsWrittenBackAsItGoes) {
  Make(DurabilityMode::kSync);
  const std::string padding(120, 'p');
  for (int i = 0; i < 90000; ++i) {
    Set("sip:user" + std::to_string(i) + "@example.com", "sip:" + padding + std::to_string(i) + "@h");
  }
  Turn();
  TakeDecided();
  journal_->RequestSnapshot();
  for (int i = 0; counters_.snapshots.Get() == 0 && i < 10000; ++i) Turn();
  ASSERT_EQ(counters_.snapshots.Get(), 1u);
  EXPECT_GE(ops_seen_[Journal::kSnapshotFlush], 1) << "more than 8 MiB, flushed in steps";
  EXPECT_EQ(ops_seen_[Journal::kSnapshotSync], 1);
  EXPECT_EQ(Load(), TableContents());
}

TEST_P(JournalTest, SnapshotWaitsForTheGroupsItHoldsAndDiesWithThem) {
  Make(DurabilityMode::kSync);
  Set("sip:a@x", "sip:a1@h");
  Turn();
  Set("sip:b@x", "sip:b1@h");  // pending: the snapshot will hold it
  Hold("b");
  journal_->RequestSnapshot();
  // Prepared, never submitted: the completions below stand in for the kernel.
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);  // rotation, group write, first chunk
  std::string chunk;
  for (const char* aor : {"sip:a@x", "sip:b@x"}) CommitBatch::AppendState(aor, table_.Find(aor), &chunk);
  journal_->OnCompletion(Journal::kSnapshotWrite, static_cast<int>(chunk.size()), now_ms_, kNow);
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);  // the snapshot's fdatasync
  journal_->OnCompletion(Journal::kSnapshotSync, 0, now_ms_, kNow);
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  EXPECT_EQ(counters_.snapshots.Get(), 0u);  // b's group is not decided yet
  // b's group fails: b is undone, so the snapshot holding it must not stand.
  journal_->OnCompletion(Journal::kJournalWrite, -ENOSPC, now_ms_, kNow);
  journal_->OnCompletion(Journal::kJournalZeros, -ECANCELED, now_ms_, kNow);  // the new file's zeros
  journal_->OnCompletion(Journal::kJournalSync, -ECANCELED, now_ms_, kNow);
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  EXPECT_EQ(counters_.snapshots.Get(), 0u);
  EXPECT_EQ(counters_.snapshot_failures.Get(), 1u);
  EXPECT_FALSE(Exists(store::SnapshotPath(dir_, 0, 2)));
  EXPECT_FALSE(Exists(store::SnapshotPath(dir_, 0, 2) + ".tmp"));
  EXPECT_EQ(table_.Find("sip:b@x"), nullptr);
}

TEST_P(JournalTest, SnapshotAbandonedOnFailureLeavesNothingBehind) {
  Make(DurabilityMode::kSync);
  for (int i = 0; i < 100; ++i) Set("sip:u" + std::to_string(i) + "@x", "sip:c@h");
  Turn();
  Touch(fault_);
  journal_->RequestSnapshot();
  Turn();
  Turn();
  EXPECT_EQ(counters_.snapshots.Get(), 0u);
  EXPECT_GE(counters_.snapshot_failures.Get(), 1u);
  EXPECT_FALSE(Exists(store::SnapshotPath(dir_, 0, 2) + ".tmp"));
  EXPECT_EQ(table_.open_snapshots(), 0u);
  unlink(fault_.c_str());
  EXPECT_EQ(Load().size(), 100u);
}

TEST_P(JournalTest, SnapshotStartsByItselfPastTheJournalSize) {
  Make(DurabilityMode::kSync, 64ull << 20, /*snapshot_journal_bytes=*/8192);
  for (int i = 0; i < 200 && counters_.snapshots.Get() == 0; ++i) {
    Set("sip:u" + std::to_string(i % 20) + "@x", "sip:c" + std::to_string(i) + "@h");
    Turn();
  }
  EXPECT_GE(counters_.snapshots.Get(), 1u);
  for (int i = 0; i < 10; ++i) Turn();
  EXPECT_EQ(Load(), TableContents());
}

TEST_P(JournalTest, WritesDirectlyWhereTheFileSystemAllows) {
  Make(DurabilityMode::kSync);
  struct statx info {};
  const std::string path = store::JournalPath(dir_, 0, 1);
  ASSERT_EQ(statx(AT_FDCWD, path.c_str(), 0, STATX_DIOALIGN, &info), 0);
  const bool supported = (info.stx_mask & STATX_DIOALIGN) != 0 && info.stx_dio_offset_align != 0 &&
                         kDirectBlock % info.stx_dio_offset_align == 0 &&
                         kDirectBlock % info.stx_dio_mem_align == 0;
  EXPECT_EQ(journal_->direct(), GetParam() && supported);
}

TEST_P(JournalTest, ARefusedDirectWriteFailsItsGroupAndLaterOnesAreBuffered) {
  Make(DurabilityMode::kSync);
  if (!journal_->direct()) GTEST_SKIP() << "no direct writes here";
  Set("sip:a@x", "sip:a1@h");
  Turn();
  TakeDecided();
  Set("sip:a@x", "sip:a2@h");
  Hold("a");
  // Prepared but never submitted: the completion stands in for the kernel's.
  journal_->Poll(&ring_, now_ns_, now_ms_, kNow, false, kBase);
  journal_->OnCompletion(Journal::kJournalWrite, -EINVAL, now_ms_, kNow);
  std::vector<Decided> decided = TakeDecided();
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_FALSE(decided[0].committed);
  EXPECT_FALSE(journal_->direct());
  EXPECT_EQ(ContactOf("sip:a@x"), "sip:a1@h");
  // The ring still holds the unsubmitted write: start from a fresh ring.
  io_uring_queue_exit(&ring_);
  ASSERT_EQ(io_uring_queue_init(64, &ring_, 0), 0);
  Set("sip:a@x", "sip:a3@h");
  Hold("a3");
  Set("sip:b@x", "sip:b1@h");
  Turn();
  decided = TakeDecided();
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_TRUE(decided[0].committed);
  journal_.reset();
  EXPECT_EQ(Load(), (std::map<std::string, std::string>{{"sip:a@x", "sip:a3@h"}, {"sip:b@x", "sip:b1@h"}}));
}

TEST_P(JournalTest, GroupsOfEverySizeAcrossBlockBoundariesReadBackWhole) {
  Make(DurabilityMode::kSync);
  // Groups of 1 to 40 changes with contacts of many lengths: group writes
  // start inside a block, end inside another, and some span several blocks.
  int n = 0;
  for (int group = 1; group <= 40; ++group) {
    for (int i = 0; i < group; ++i, ++n) {
      Set("sip:u" + std::to_string(n % 300) + "@x",
          "sip:" + std::string(1 + (n * 37) % 200, 'c') + std::to_string(n) + "@h");
    }
    Turn();
    ASSERT_EQ(counters_.journal_commits.Get(), static_cast<uint64_t>(group));
  }
  EXPECT_GT(counters_.journal_bytes.Get(), 4 * kDirectBlock);
  // As a crash leaves the file (the padding and the zeroed tail read as the
  // end), and then closed in order.
  EXPECT_EQ(Load(), TableContents());
  journal_.reset();
  EXPECT_EQ(Load(), TableContents());
}

INSTANTIATE_TEST_SUITE_P(Writes, JournalTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Direct" : "Buffered";
                         });

}  // namespace
}  // namespace locus::engine
