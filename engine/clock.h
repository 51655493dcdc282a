// The clocks of the engine. Shards read them once per loop turn (coarse, a
// few ms resolution: expiry and timeouts) or per request (latency).
#ifndef LOCUS_ENGINE_CLOCK_H_
#define LOCUS_ENGINE_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace locus::engine {

inline uint64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

inline uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

// Nanoseconds since the Unix epoch (to read kernel receive timestamps).
inline uint64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

// Seconds since the Unix epoch (binding expiry, Date).
inline uint32_t WallSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<uint32_t>(ts.tv_sec);
}

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_CLOCK_H_
