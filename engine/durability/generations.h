// The generations of the bindings directory (docs/durability.md): every
// shard's files live in gen-<g>/, and CURRENT names the generation and its
// shard count. The same count as the last run reuses the generation. A
// changed count starts a new one: the old generation is read once, every
// AOR routed to its new owner's table, each shard writes its part as its
// first snapshot, and only then does CURRENT switch (Commit), so a crash
// midway leaves the old generation in charge.
#ifndef LOCUS_ENGINE_DURABILITY_GENERATIONS_H_
#define LOCUS_ENGINE_DURABILITY_GENERATIONS_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "engine/config.h"
#include "engine/durability/shard_start.h"
#include "store/binding_table.h"

namespace locus::engine {

class GenerationPlan {
 public:
  // Picks the generation for `shard_count` shards under config.BindingsDir()
  // (durability must be on); when the count changed, loads the old
  // generation into table_of(owner shard). Removes leftovers of an
  // interrupted change.
  absl::Status Prepare(const Config& config, int shard_count,
                       absl::FunctionRef<store::BindingTable&(int shard)> table_of);
  // How every shard starts.
  const DurableStart& start() const { return start_; }
  // Once every shard has opened: a new generation becomes CURRENT and the
  // old one is deleted. Nothing to do when the count did not change.
  absl::Status Commit();

 private:
  std::string dir_;
  int shard_count_ = 0;
  DurableStart start_;
  uint64_t new_generation_ = 0;  // 0: none
  uint64_t old_generation_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DURABILITY_GENERATIONS_H_
