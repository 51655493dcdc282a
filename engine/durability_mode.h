// How much of a shard's state survives a crash (docs/durability.md).
#ifndef LOCUS_ENGINE_DURABILITY_MODE_H_
#define LOCUS_ENGINE_DURABILITY_MODE_H_

#include <cstdint>

namespace locus::engine {

enum class DurabilityMode : uint8_t {
  kSync,   // a 200 leaves once the change is on disk (group commit)
  kAsync,  // changes are written and synced every async_flush_interval ms
  kOff,    // nothing is kept
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DURABILITY_MODE_H_
