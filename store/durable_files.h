// Where the durable state of the binding tables lives on disk, and how it is
// read back (ARCHITECTURE section 6). Every file holds AOR-state
// records (store/journal_record.h).
//
//   <dir>/CURRENT                     "<generation> <shards>\n", replaced atomically
//   <dir>/gen-<g>/<i>-<seq>.snapshot  every AOR of shard i, as it stood at some
//                                     moment after journal <seq> was opened
//   <dir>/gen-<g>/<i>-<seq>.journal   the AOR states shard i committed, in order
//   <dir>/gen-<g>/*.tmp               being written; deleted at start-up
//
// Shard i's state is its newest snapshot S, then every journal with a number
// >= S in increasing order (a missing snapshot counts as an empty S = 0). A
// generation belongs to one shard count; a restart with another count loads
// the old generation, writes a new one and switches CURRENT to it.
#ifndef LOCUS_STORE_DURABLE_FILES_H_
#define LOCUS_STORE_DURABLE_FILES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/binding.h"
#include "store/binding_table.h"

namespace locus::store {

struct Generation {
  uint64_t number = 0;
  int shards = 0;
};

// CURRENT of `dir`: nullopt when there is none (a fresh directory).
absl::StatusOr<std::optional<Generation>> ReadCurrent(const std::string& dir);
// Replaces CURRENT atomically and durably (temporary file, fsync, rename,
// fsync of the directory).
absl::Status WriteCurrent(const std::string& dir, Generation generation);

std::string GenerationDir(const std::string& dir, uint64_t generation);
std::string SnapshotPath(const std::string& generation_dir, int shard, uint64_t seq);
std::string JournalPath(const std::string& generation_dir, int shard, uint64_t seq);

// The files of one shard in a generation directory.
struct ShardFiles {
  uint64_t snapshot = 0;          // newest complete snapshot; 0: none
  std::vector<uint64_t> journals;  // numbers >= snapshot, increasing
  uint64_t last_seq = 0;           // highest number of any of its files
  std::vector<std::string> obsolete;  // older files and leftovers (*.tmp)
};
absl::StatusOr<ShardFiles> ListShardFiles(const std::string& generation_dir, int shard);

// Bytes of the snapshot and journals that `files` names (the ones that can be
// stat'ed), e.g. to size the table they will be loaded into.
uint64_t ShardFilesBytes(const std::string& generation_dir, int shard, const ShardFiles& files);

// What loading a shard found.
struct LoadStats {
  uint64_t records = 0;
  uint64_t bytes = 0;          // of intact records
  uint64_t journal_bytes = 0;  // of those, in journals
  bool damaged = false;        // a torn or corrupt record ended the load
  std::string damaged_file;    // where, and at which offset
  uint64_t damaged_offset = 0;
  uint64_t discarded_bytes = 0;  // from there to the end of that shard's files
};

// Reads `files` of `shard` in order and calls sink(aor, bindings) for every
// record. Stops at the first torn or corrupt record. With `repair`, the
// damaged journal is then cut back to its intact records and later journals
// are deleted, so that new records appended after them are read next time.
using RecordSink = absl::FunctionRef<void(std::string_view aor, std::vector<Binding>&& bindings)>;
absl::StatusOr<LoadStats> LoadShard(const std::string& generation_dir, int shard,
                                    const ShardFiles& files, bool repair, RecordSink sink);

// Writes every AOR of `table` with a live binding at `now` to `path`
// (through `path`.tmp, fsync, rename): a snapshot written in one go, for
// start-up. Returns the bytes written.
absl::StatusOr<uint64_t> WriteSnapshotFile(const std::string& path, const BindingTable& table,
                                           uint32_t now);

// Deletes `path`; a missing file is not an error.
absl::Status RemoveFile(const std::string& path);
// Deletes a generation directory and the files in it.
absl::Status RemoveGeneration(const std::string& generation_dir);
// fsync of a directory, after creating, renaming or deleting in it.
absl::Status SyncDirectory(const std::string& dir);

}  // namespace locus::store

#endif  // LOCUS_STORE_DURABLE_FILES_H_
