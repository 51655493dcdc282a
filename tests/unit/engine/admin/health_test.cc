#include "engine/admin/health.h"

#include <memory>

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

// The rule behind `health`, /health and the systemd watchdog: a shard whose
// heartbeat is older than kShardStallMs, or was never set, is stalled.
TEST(Health, AShardSilentTooLongIsStalled) {
  auto shards = std::make_unique<ShardCounters[]>(3);
  std::vector<const ShardCounters*> views = {&shards[0], &shards[1], &shards[2]};
  const uint64_t now = 1000000;
  EXPECT_EQ(StalledShards(views, now), (std::vector<size_t>{0, 1, 2}));  // never turned
  shards[0].heartbeat_ms.Set(now - 5);
  shards[1].heartbeat_ms.Set(now - kShardStallMs);
  shards[2].heartbeat_ms.Set(now - kShardStallMs - 1);
  EXPECT_EQ(StalledShards(views, now), (std::vector<size_t>{2}));
  shards[2].heartbeat_ms.Set(now + 3);  // read after the shard wrote a later beat
  EXPECT_TRUE(StalledShards(views, now).empty());
  EXPECT_TRUE(StalledShards({}, now).empty());
}

}  // namespace
}  // namespace locus::engine
