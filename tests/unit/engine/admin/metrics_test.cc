#include "engine/admin/metrics.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

TEST(Metrics, PrometheusTextNamesEveryCounterPerShard) {
  auto shards = std::make_unique<ShardCounters[]>(2);
  shards[0].method_register.Add(5);
  shards[1].method_register.Add(7);
  shards[1].CountStatus(423);
  shards[1].bindings.Set(42);
  for (int i = 0; i < 4; ++i) shards[0].latency.Record(1000000);  // 1 ms
  const std::string text = PrometheusText({&shards[0], &shards[1]}, 99);
  EXPECT_TRUE(Has(text, "# TYPE locus_requests_register_total counter")) << text;
  EXPECT_TRUE(Has(text, "locus_requests_register_total{shard=\"0\"} 5"));
  EXPECT_TRUE(Has(text, "locus_requests_register_total{shard=\"1\"} 7"));
  EXPECT_TRUE(Has(text, "locus_responses_423_total{shard=\"1\"} 1"));
  EXPECT_TRUE(Has(text, "# TYPE locus_bindings gauge"));
  EXPECT_TRUE(Has(text, "locus_bindings{shard=\"1\"} 42"));
  EXPECT_TRUE(Has(text, "locus_request_latency_seconds_count{shard=\"0\"} 4"));
  EXPECT_TRUE(Has(text, "locus_request_latency_seconds_sum{shard=\"0\"} 0.004000000"));
  // 1 ms lands in a bucket whose upper bound is within 19% above it.
  const size_t at = text.find("locus_request_latency_seconds{shard=\"0\",quantile=\"0.99\"} ");
  ASSERT_NE(at, std::string::npos);
  const double p99 = std::stod(text.substr(text.find("} ", at) + 2));
  EXPECT_GE(p99, 0.001);
  EXPECT_LE(p99, 0.00119);
  EXPECT_TRUE(Has(text, "locus_uptime_seconds 99"));
  EXPECT_TRUE(Has(text, "locus_shards 2"));
  // Every counter of CounterValues is there, as a counter, for both shards.
  for (const auto& [name, value] : CounterValues(shards[0])) {
    EXPECT_TRUE(Has(text, "# TYPE locus_" + std::string(name) + "_total counter")) << name;
    EXPECT_TRUE(Has(text, "locus_" + std::string(name) + "_total{shard=\"0\"} " + std::to_string(value))) << name;
  }
}

TEST(Metrics, StatsJsonAddsTheShardsUp) {
  auto shards = std::make_unique<ShardCounters[]>(2);
  shards[0].method_register.Add(5);
  shards[1].method_register.Add(7);
  const std::string json = StatsJson({&shards[0], &shards[1]}, 3, 1);
  EXPECT_TRUE(json.starts_with("{\"ok\":true,\"uptime_s\":3,\"shard_count\":2,\"admin_malformed_requests\":1,"));
  EXPECT_NE(json.find("\"totals\":{\"counters\":{\"requests_received\":0"), std::string::npos);
  EXPECT_NE(json.find("\"requests_register\":12"), std::string::npos) << json;
}

}  // namespace
}  // namespace locus::engine
