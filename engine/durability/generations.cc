#include "engine/durability/generations.h"

#include <dirent.h>

#include <optional>
#include <vector>

#include "engine/clock.h"
#include "engine/file_util.h"
#include "engine/log.h"
#include "engine/text.h"
#include "store/aor_hash.h"
#include "store/durable_files.h"
#include "store/journal_record.h"

namespace locus::engine {

absl::Status GenerationPlan::Prepare(const Config& config, int shard_count,
                                     absl::FunctionRef<store::BindingTable&(int)> table_of) {
  dir_ = config.BindingsDir();
  shard_count_ = shard_count;
  if (absl::Status s = MakeDirectories(dir_ + "/"); !s.ok()) return s;
  absl::StatusOr<std::optional<store::Generation>> current = store::ReadCurrent(dir_);
  if (!current.ok()) return current.status();
  const int n = shard_count;
  uint64_t generation = 1;
  bool load_own_files = true;
  if (!current->has_value()) {
    // A fresh directory: generation 1 for this shard count.
    if (absl::Status s = MakeDirectories(store::GenerationDir(dir_, 1) + "/"); !s.ok()) return s;
    if (absl::Status s = store::WriteCurrent(dir_, {1, n}); !s.ok()) return s;
  } else if ((*current)->shards == n) {
    generation = (*current)->number;
  } else {
    // The shard count changed: every AOR may belong to another shard now.
    const uint64_t started_ns = MonotonicNs();
    const uint32_t now = WallSeconds();
    old_generation_ = (*current)->number;
    generation = new_generation_ = old_generation_ + 1;
    const std::string old_dir = store::GenerationDir(dir_, old_generation_);
    const std::string new_dir = store::GenerationDir(dir_, generation);
    if (absl::Status s = store::RemoveGeneration(new_dir); !s.ok()) return s;  // a crashed attempt
    if (absl::Status s = MakeDirectories(new_dir + "/"); !s.ok()) return s;
    uint64_t records = 0;
    for (int old_shard = 0; old_shard < (*current)->shards; ++old_shard) {
      absl::StatusOr<store::ShardFiles> files = store::ListShardFiles(old_dir, old_shard);
      if (!files.ok()) return files.status();
      absl::StatusOr<store::LoadStats> stats = store::LoadShard(
          old_dir, old_shard, *files, /*repair=*/false,
          [&](std::string_view aor, std::vector<store::Binding>&& bindings) {
            store::ApplyAorState(table_of(store::OwnerShardOf(aor, n)), aor, std::move(bindings),
                                 now);
          });
      if (!stats.ok()) return stats.status();
      if (stats->damaged) {
        Log(LogLevel::kWarning, "%s is damaged at byte %d: restored the records before it",
            stats->damaged_file, stats->damaged_offset);
      }
      records += stats->records;
    }
    Log(LogLevel::kInfo, "shard count changed from %d to %d: read %d records of generation %d in %d ms",
        (*current)->shards, n, records, old_generation_, (MonotonicNs() - started_ns) / 1000000);
    load_own_files = false;
  }
  // Other generation directories are leftovers of an interrupted change.
  if (DIR* d = opendir(dir_.c_str())) {
    std::vector<std::string> stale;
    while (dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name.starts_with("gen-") && name != Cat("gen-", generation) &&
          name != Cat("gen-", old_generation_)) {
        stale.push_back(dir_ + "/" + name);
      }
    }
    closedir(d);
    for (const std::string& path : stale) {
      if (absl::Status s = store::RemoveGeneration(path); !s.ok()) return s;
    }
  }
  start_ = {store::GenerationDir(dir_, generation), load_own_files};
  return absl::OkStatus();
}

absl::Status GenerationPlan::Commit() {
  if (new_generation_ == 0) return absl::OkStatus();
  if (absl::Status s = store::WriteCurrent(dir_, {new_generation_, shard_count_}); !s.ok()) return s;
  Log(LogLevel::kInfo, "generation %d (%d shards) is current; generation %d deleted", new_generation_,
      shard_count_, old_generation_);
  return store::RemoveGeneration(store::GenerationDir(dir_, old_generation_));
}

}  // namespace locus::engine
