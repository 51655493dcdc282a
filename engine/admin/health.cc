#include "engine/admin/health.h"

namespace locus::engine {

std::vector<size_t> StalledShards(const std::vector<const ShardCounters*>& shards, uint64_t now_ms) {
  std::vector<size_t> stalled;
  for (size_t i = 0; i < shards.size(); ++i) {
    const uint64_t beat = shards[i]->heartbeat_ms.Get();
    if (beat == 0 || now_ms > beat + kShardStallMs) stalled.push_back(i);
  }
  return stalled;
}

}  // namespace locus::engine
