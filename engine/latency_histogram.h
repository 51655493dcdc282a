// A log-bucketed latency histogram with one writer thread and lock-free
// readers: 4 buckets per power of two (about 19% relative precision), from
// 1 ns to 2^63 ns. Readers merge the histograms of every shard and read
// percentiles from the merged counts.
#ifndef LOCUS_ENGINE_LATENCY_HISTOGRAM_H_
#define LOCUS_ENGINE_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace locus::engine {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 2;
  static constexpr size_t kBuckets = 64 << kSubBits;

  // The bucket of a value: its power of two and the next kSubBits bits.
  static size_t BucketOf(uint64_t ns) {
    if (ns < (1u << kSubBits)) return ns;
    const int msb = 63 - std::countl_zero(ns);
    const uint64_t sub = (ns >> (msb - kSubBits)) & ((1u << kSubBits) - 1);
    return (static_cast<size_t>(msb - kSubBits + 1) << kSubBits) | sub;
  }
  // The largest value that falls in bucket `b` (what percentiles report).
  static uint64_t UpperBound(size_t b) {
    if (b < (1u << kSubBits)) return b;
    const int msb = static_cast<int>(b >> kSubBits) + kSubBits - 1;
    const uint64_t sub = b & ((1u << kSubBits) - 1);
    const uint64_t low = (uint64_t{1} << msb) | (sub << (msb - kSubBits));
    return low + (uint64_t{1} << (msb - kSubBits)) - 1;
  }

  // Writer only.
  void Record(uint64_t ns) {
    std::atomic<uint64_t>& c = counts_[BucketOf(ns)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }

  // Sum of every recorded value (for averages and Prometheus summaries).
  uint64_t sum_ns() const { return sum_ns_.load(std::memory_order_relaxed); }

  // Any thread: adds this histogram's counts into `into`.
  void AddTo(std::array<uint64_t, kBuckets>& into) const {
    for (size_t b = 0; b < kBuckets; ++b) into[b] += counts_[b].load(std::memory_order_relaxed);
  }

  // The value at quantile q (0..1) of merged counts; 0 when empty.
  static uint64_t Quantile(const std::array<uint64_t, kBuckets>& counts, double q) {
    uint64_t total = 0;
    for (uint64_t c : counts) total += c;
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total));
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      seen += counts[b];
      if (seen > rank) return UpperBound(b);
    }
    return UpperBound(kBuckets - 1);
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_LATENCY_HISTOGRAM_H_
