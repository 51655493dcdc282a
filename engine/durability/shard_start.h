// Starting a shard's durable state (ARCHITECTURE section 6), before its
// sockets exist: the engine picks the generation of the bindings directory
// for this shard count (generations.h), then each shard, on its own thread,
// restores its table and opens a new journal here.
#ifndef LOCUS_ENGINE_DURABILITY_SHARD_START_H_
#define LOCUS_ENGINE_DURABILITY_SHARD_START_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/config.h"
#include "engine/counters.h"
#include "engine/durability/journal.h"
#include "store/binding_table.h"

namespace locus::engine {

// How a shard starts its durable state.
struct DurableStart {
  std::string generation_dir;  // empty: durability off
  // True: load this shard's own files of the generation (same shard count
  // as the last run). False: the table was filled by the engine from
  // another generation; write it as this shard's first snapshot.
  bool load_own_files = true;
};

// Restores shard `shard`'s table -- its newest snapshot, then the journals
// after it, a damaged file cut at its last intact record, bindings that
// lapsed while down dropped -- or writes the table as the first snapshot of
// a new generation; then opens the shard's next journal. Null when
// durability is off.
absl::StatusOr<std::unique_ptr<Journal>> StartShardJournal(const DurableStart& start, int shard,
                                                           const Config& config,
                                                           store::BindingTable& table,
                                                           ShardCounters& counters);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DURABILITY_SHARD_START_H_
