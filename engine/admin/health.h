// Whether every shard's loop turns: the one health rule shared by the admin
// `health` command, the HTTP endpoint's /health and the systemd watchdog.
// A shard publishes a heartbeat (monotonic ms) every loop turn, at least
// every 100 ms when idle; one silent for longer than kShardStallMs is stalled.
#ifndef LOCUS_ENGINE_ADMIN_HEALTH_H_
#define LOCUS_ENGINE_ADMIN_HEALTH_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/counters.h"

namespace locus::engine {

inline constexpr uint64_t kShardStallMs = 2000;

// The indexes of the shards whose heartbeat is older than kShardStallMs at
// `now_ms` (or was never set), in order; empty when every shard turns.
std::vector<size_t> StalledShards(const std::vector<const ShardCounters*>& shards, uint64_t now_ms);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_HEALTH_H_
