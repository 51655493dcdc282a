// The numbers operators read, in one place for every way they are read:
// the admin `stats` answer (JSON) and the Prometheus text exposition that the
// admin `metrics` command, `locusctl metrics` and the HTTP endpoint's
// /metrics all serve. Every value is read from the shards' counters with
// relaxed loads (single writers); nothing here takes a lock or asks a shard.
#ifndef LOCUS_ENGINE_ADMIN_METRICS_H_
#define LOCUS_ENGINE_ADMIN_METRICS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/counters.h"

namespace locus::engine {

// Values of one shard by name: counters (monotonic) and gauges (current).
using MetricValues = std::vector<std::pair<std::string_view, uint64_t>>;
MetricValues CounterValues(const ShardCounters& counters);
MetricValues GaugeValues(const ShardCounters& counters);

// {"ok":true,"uptime_s":..,"shard_count":N,"admin_malformed_requests":..,
//  "totals":T,"shards":[{"shard":i,...T}]} (docs/admin.md).
std::string StatsJson(const std::vector<const ShardCounters*>& shards, uint64_t uptime_s,
                      uint64_t admin_malformed_requests);

// Prometheus text exposition format 0.0.4: per shard, with a `shard` label,
// counters as locus_<name>_total, gauges as locus_<name>, the latency as the
// summary locus_request_latency_seconds (quantiles 0.5, 0.9, 0.99, 0.999,
// _sum, _count); then locus_uptime_seconds and locus_shards.
std::string PrometheusText(const std::vector<const ShardCounters*>& shards, uint64_t uptime_s);

// The content type of PrometheusText for HTTP.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_METRICS_H_
