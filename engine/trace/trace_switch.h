// Whether any SIP message must be copied out of the shards: the one check a
// shard makes per message when nobody traces (a relaxed load of one atomic
// that only changes when a trace starts or ends). One per process, shared
// by every shard; HEP export is fixed at start-up, trace subscribers come and
// go with `locusctl trace` clients (the admin thread counts them).
#ifndef LOCUS_ENGINE_TRACE_TRACE_SWITCH_H_
#define LOCUS_ENGINE_TRACE_TRACE_SWITCH_H_

#include <atomic>
#include <cstdint>

namespace locus::engine {

class TraceSwitch {
 public:
  // Any thread, per message: something wants messages.
  bool on() const { return state_.load(std::memory_order_relaxed) != 0; }
  bool hep() const { return (state_.load(std::memory_order_relaxed) & kHep) != 0; }
  bool tracing() const { return (state_.load(std::memory_order_relaxed) >> 1) != 0; }

  // Before the shards run.
  void SetHep(bool on) {
    if (on) {
      state_.fetch_or(kHep, std::memory_order_relaxed);
    } else {
      state_.fetch_and(~kHep, std::memory_order_relaxed);
    }
  }
  // The admin thread, as trace clients come and go.
  void AddTracer() { state_.fetch_add(2, std::memory_order_relaxed); }
  void RemoveTracer() { state_.fetch_sub(2, std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kHep = 1;
  std::atomic<uint32_t> state_{0};  // bit 0: HEP; the rest: tracers x 2
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRACE_TRACE_SWITCH_H_
