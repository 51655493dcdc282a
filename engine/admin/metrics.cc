#include "engine/admin/metrics.h"

#include <array>
#include <cstdio>

#include "engine/latency_histogram.h"
#include "engine/text.h"

namespace locus::engine {
namespace {

using Histogram = std::array<uint64_t, LatencyHistogram::kBuckets>;

struct Quantile {
  double q;
  std::string_view label;     // Prometheus
  std::string_view json_key;  // stats
};
constexpr Quantile kQuantiles[] = {
    {0.5, "0.5", "p50_us"}, {0.9, "0.9", "p90_us"}, {0.99, "0.99", "p99_us"}, {0.999, "0.999", "p999_us"}};

void AppendObject(const MetricValues& values, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : values) {
    if (!first) out->push_back(',');
    first = false;
    out->append(Cat("\"", name, "\":", value));
  }
  out->push_back('}');
}

void AddInto(MetricValues& total, const MetricValues& v) {
  if (total.empty()) {
    total = v;
    return;
  }
  for (size_t i = 0; i < v.size(); ++i) total[i].second += v[i].second;
}

void AppendLatency(const Histogram& counts, uint64_t sum_ns, std::string* out) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  out->append(Cat("{\"count\":", total, ",\"sum_us\":", sum_ns / 1000));
  for (const Quantile& q : kQuantiles) {
    const uint64_t ns = LatencyHistogram::Quantile(counts, q.q);
    out->append(Cat(",\"", q.json_key, "\":", ns / 1000, ".", static_cast<char>('0' + ns / 100 % 10)));
  }
  out->push_back('}');
}

// Nanoseconds as seconds with nine decimals.
std::string Seconds(uint64_t ns) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof(buf), "%llu.%09llu",
                              static_cast<unsigned long long>(ns / 1000000000),
                              static_cast<unsigned long long>(ns % 1000000000));
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

MetricValues CounterValues(const ShardCounters& c) {
  MetricValues v = {
      {"requests_received", c.requests_received.Get()},
      {"handed_off", c.handed_off.Get()},
      {"handoffs_received", c.handoffs_received.Get()},
      {"responses_sent", c.answered.Get()},
      {"parse_errors", c.parse_errors.Get()},
      {"responses_ignored", c.responses_ignored.Get()},
      {"retransmissions_absorbed", c.retransmissions.Get()},
      {"retransmissions_before_answer", c.retransmissions_before_answer.Get()},
      {"queue_overflows", c.overflows.Get()},
      {"send_errors", c.send_errors.Get()},
      {"udp_packets_in", c.udp_packets_in.Get()},
      {"udp_bytes_in", c.udp_bytes_in.Get()},
      {"udp_packets_out", c.udp_packets_out.Get()},
      {"udp_bytes_out", c.udp_bytes_out.Get()},
      {"tcp_bytes_in", c.tcp_bytes_in.Get()},
      {"tcp_bytes_out", c.tcp_bytes_out.Get()},
      {"tcp_accepted", c.tcp_accepted.Get()},
      {"tcp_closed", c.tcp_closed.Get()},
      {"tcp_refused", c.tcp_refused.Get()},
      {"tcp_request_timeouts", c.tcp_request_timeouts.Get()},
      {"tls_handshakes", c.tls_handshakes.Get()},
      {"tls_handshake_failures", c.tls_handshake_failures.Get()},
      {"tls_handshake_timeouts", c.tls_handshake_timeouts.Get()},
      {"tls_refused", c.tls_refused.Get()},
      {"ws_upgrades", c.ws_upgrades.Get()},
      {"ws_upgrade_failures", c.ws_upgrade_failures.Get()},
      {"requests_register", c.method_register.Get()},
      {"requests_options", c.method_options.Get()},
      {"requests_cancel", c.method_cancel.Get()},
      {"requests_ack", c.method_ack.Get()},
      {"requests_invite", c.method_invite.Get()},
      {"requests_other", c.method_other.Get()},
      {"lookups", c.lookups.Get()},
      {"invite_retransmissions", c.invite_retransmissions.Get()},
      {"acks_absorbed", c.acks_absorbed.Get()},
      {"stun_requests", c.stun_requests.Get()},
      {"stun_invalid", c.stun_invalid.Get()},
      {"bindings_created", c.bindings_created.Get()},
      {"bindings_refreshed", c.bindings_refreshed.Get()},
      {"bindings_removed", c.bindings_removed.Get()},
      {"bindings_expired", c.bindings_expired.Get()},
      {"capacity_refused", c.capacity_refused.Get()},
      {"auth_challenges", c.auth_challenges.Get()},
      {"auth_successes", c.auth_successes.Get()},
      {"auth_failures", c.auth_failures.Get()},
      {"auth_stale", c.auth_stale.Get()},
      {"auth_replays", c.auth_replays.Get()},
      {"auth_forbidden", c.auth_forbidden.Get()},
      {"auth_malformed", c.auth_malformed.Get()},
      {"auth_locked_out", c.auth_locked_out.Get()},
      {"auth_certificates", c.auth_certificates.Get()},
      {"journal_commits", c.journal_commits.Get()},
      {"journal_bytes", c.journal_bytes.Get()},
      {"journal_failures", c.journal_failures.Get()},
      {"journal_undone", c.journal_undone.Get()},
      {"snapshots", c.snapshots.Get()},
      {"snapshot_failures", c.snapshot_failures.Get()},
      {"cluster_commits", c.cluster_commits.Get()},
      {"cluster_conflicts", c.cluster_conflicts.Get()},
      {"cluster_turn_waits", c.cluster_turn_waits.Get()},
      {"cluster_failures", c.cluster_failures.Get()},
      {"cluster_waiting_refused", c.cluster_waiting_refused.Get()},
      {"cluster_reads", c.cluster_reads.Get()},
      {"cluster_invalidations", c.cluster_invalidations.Get()},
      {"cluster_unanswerable", c.cluster_unanswerable.Get()},
      {"hep_packets", c.hep_packets.Get()},
      {"hep_errors", c.hep_errors.Get()},
      {"trace_dropped", c.trace_dropped.Get()},
  };
  static const std::array<std::string, kCountedStatusCount> kStatusNames = [] {
    std::array<std::string, kCountedStatusCount> names;
    for (int i = 0; i < kCountedStatusCount; ++i) names[i] = Cat("responses_", kCountedStatuses[i]);
    return names;
  }();
  for (int i = 0; i < kCountedStatusCount; ++i) v.emplace_back(kStatusNames[i], c.status[i].Get());
  v.emplace_back("responses_other", c.status_other.Get());
  return v;
}

MetricValues GaugeValues(const ShardCounters& c) {
  return {{"aors", c.aors.Get()},
          {"bindings", c.bindings.Get()},
          {"tcp_connections", c.tcp_open.Get()},
          {"tls_connections", c.tls_open.Get()},
          {"ws_connections", c.ws_open.Get()},
          {"wss_connections", c.wss_open.Get()}};
}

std::string StatsJson(const std::vector<const ShardCounters*>& shards, uint64_t uptime_s,
                      uint64_t admin_malformed_requests) {
  std::string out = Cat("{\"ok\":true,\"uptime_s\":", uptime_s, ",\"shard_count\":", shards.size(),
                        ",\"admin_malformed_requests\":", admin_malformed_requests);
  MetricValues total_counters, total_gauges;
  Histogram all{};
  uint64_t all_sum_ns = 0;
  std::string per_shard = "[";
  for (size_t i = 0; i < shards.size(); ++i) {
    const ShardCounters& c = *shards[i];
    const MetricValues counters = CounterValues(c);
    const MetricValues gauges = GaugeValues(c);
    AddInto(total_counters, counters);
    AddInto(total_gauges, gauges);
    Histogram mine{};
    c.latency.AddTo(mine);
    c.latency.AddTo(all);
    if (i > 0) per_shard.push_back(',');
    per_shard.append(Cat("{\"shard\":", i, ",\"counters\":"));
    AppendObject(counters, &per_shard);
    per_shard.append(",\"gauges\":");
    AppendObject(gauges, &per_shard);
    per_shard.append(",\"latency\":");
    AppendLatency(mine, c.latency.sum_ns(), &per_shard);
    all_sum_ns += c.latency.sum_ns();
    per_shard.push_back('}');
  }
  per_shard.push_back(']');
  out.append(",\"totals\":{\"counters\":");
  AppendObject(total_counters, &out);
  out.append(",\"gauges\":");
  AppendObject(total_gauges, &out);
  out.append(",\"latency\":");
  AppendLatency(all, all_sum_ns, &out);
  out.append("},\"shards\":");
  out.append(per_shard);
  out.push_back('}');
  return out;
}

std::string PrometheusText(const std::vector<const ShardCounters*>& shards, uint64_t uptime_s) {
  // Read every shard once, then write family by family (all the samples of
  // a metric follow its TYPE line).
  std::vector<MetricValues> counters, gauges;
  std::vector<Histogram> latency(shards.size());
  std::vector<uint64_t> sums;
  for (size_t i = 0; i < shards.size(); ++i) {
    counters.push_back(CounterValues(*shards[i]));
    gauges.push_back(GaugeValues(*shards[i]));
    shards[i]->latency.AddTo(latency[i]);
    sums.push_back(shards[i]->latency.sum_ns());
  }
  std::string out;
  out.reserve(256 + shards.size() * 6000);
  auto family = [&](const std::vector<MetricValues>& values, std::string_view suffix,
                    std::string_view type) {
    if (values.empty()) return;
    for (size_t m = 0; m < values[0].size(); ++m) {
      const std::string name = Cat("locus_", values[0][m].first, suffix);
      out.append(Cat("# TYPE ", name, " ", type, "\n"));
      for (size_t i = 0; i < values.size(); ++i) {
        out.append(Cat(name, "{shard=\"", i, "\"} ", values[i][m].second, "\n"));
      }
    }
  };
  family(counters, "_total", "counter");
  family(gauges, "", "gauge");
  out.append("# TYPE locus_request_latency_seconds summary\n");
  for (size_t i = 0; i < shards.size(); ++i) {
    uint64_t count = 0;
    for (uint64_t c : latency[i]) count += c;
    for (const Quantile& q : kQuantiles) {
      out.append(Cat("locus_request_latency_seconds{shard=\"", i, "\",quantile=\"", q.label, "\"} ",
                     Seconds(LatencyHistogram::Quantile(latency[i], q.q)), "\n"));
    }
    out.append(Cat("locus_request_latency_seconds_sum{shard=\"", i, "\"} ", Seconds(sums[i]), "\n"));
    out.append(Cat("locus_request_latency_seconds_count{shard=\"", i, "\"} ", count, "\n"));
  }
  out.append(Cat("# TYPE locus_uptime_seconds gauge\nlocus_uptime_seconds ", uptime_s, "\n"));
  out.append(Cat("# TYPE locus_shards gauge\nlocus_shards ", shards.size(), "\n"));
  return out;
}

}  // namespace locus::engine
