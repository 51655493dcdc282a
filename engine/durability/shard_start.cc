#include "engine/durability/shard_start.h"

#include <algorithm>

#include "engine/clock.h"
#include "engine/log.h"
#include "store/durable_files.h"
#include "store/journal_record.h"

namespace locus::engine {
namespace {

// About what a restored AOR of one binding takes in a snapshot or a journal,
// to size the table before the files are read.
constexpr uint64_t kFileBytesPerAor = 128;

}  // namespace

absl::StatusOr<std::unique_ptr<Journal>> StartShardJournal(const DurableStart& start, int shard,
                                                           const Config& config,
                                                           store::BindingTable& table,
                                                           ShardCounters& counters) {
  if (start.generation_dir.empty()) return nullptr;
  const uint64_t started_ns = MonotonicNs();
  const uint32_t now = WallSeconds();
  const std::string& dir = start.generation_dir;
  uint64_t seq = 1;
  std::vector<uint64_t> existing;
  uint64_t journal_bytes = 0;
  uint64_t snapshot_bytes = 0;
  if (start.load_own_files) {
    absl::StatusOr<store::ShardFiles> files = store::ListShardFiles(dir, shard);
    if (!files.ok()) return files.status();
    for (const std::string& path : files->obsolete) {
      if (absl::Status s = store::RemoveFile(path); !s.ok()) return s;
    }
    // Room for the AORs the files hold, so that the table does not grow while
    // it is filled (with millions of AORs, growing made a restore take about
    // 1.5 times as long), at most the node's AOR budget.
    const uint64_t held = store::ShardFilesBytes(dir, shard, *files) / kFileBytesPerAor;
    table.Reserve(static_cast<size_t>(std::min(held, EffectiveMaxAors(config))));
    absl::StatusOr<store::LoadStats> stats = store::LoadShard(
        dir, shard, *files, /*repair=*/true,
        [&](std::string_view aor, std::vector<store::Binding>&& bindings) {
          store::ApplyAorState(table, aor, std::move(bindings), now);
        });
    if (!stats.ok()) return stats.status();
    if (stats->damaged) {
      Log(LogLevel::kWarning,
          "shard %d: %s is damaged at byte %d: restored the records before it, discarded %d bytes",
          shard, stats->damaged_file, stats->damaged_offset, stats->discarded_bytes);
    }
    Log(LogLevel::kInfo, "shard %d: restored %d AORs, %d bindings (%d records, %d bytes) in %d ms",
        shard, table.aor_count(), table.binding_count(), stats->records, stats->bytes,
        (MonotonicNs() - started_ns) / 1000000);
    if (files->snapshot != 0) existing.push_back(files->snapshot);
    for (uint64_t j : files->journals) existing.push_back(j);
    seq = files->last_seq + 1;
    journal_bytes = stats->journal_bytes;
    snapshot_bytes = stats->bytes - stats->journal_bytes;
  } else {
    // The shard count changed: the engine routed the old generation's AORs
    // here; they become snapshot 1 of the new generation.
    absl::StatusOr<uint64_t> bytes =
        store::WriteSnapshotFile(store::SnapshotPath(dir, shard, 1), table, now);
    if (!bytes.ok()) return bytes.status();
    snapshot_bytes = *bytes;
    Log(LogLevel::kInfo, "shard %d: wrote %d AORs, %d bindings (%d bytes) as its first snapshot",
        shard, table.aor_count(), table.binding_count(), *bytes);
  }
  JournalOptions options;
  options.mode = config.durability;
  options.generation_dir = dir;
  options.shard = shard;
  options.async_interval_ms = config.async_flush_interval;
  options.commit_window_us = config.sync_commit_window;
  options.snapshot_journal_bytes = config.snapshot_journal_size;
  options.fault_file = config.journal_fault_file;
  auto journal = std::make_unique<Journal>(std::move(options), table, counters);
  if (absl::Status s = journal->Open(seq, std::move(existing), journal_bytes, snapshot_bytes);
      !s.ok()) {
    return s;
  }
  return journal;
}

}  // namespace locus::engine
