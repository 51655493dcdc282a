#include "engine/auth/failure_table.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace locus::engine {

std::array<size_t, 2> FailureTable::SlotsOf(std::string_view key) const {
  const uint64_t h = absl::Hash<std::string_view>{}(key);
  const size_t a = h & (kSlots - 1);
  size_t b = (h >> 32) & (kSlots - 1);
  if (b == a) b = (b + 1) & (kSlots - 1);
  return {a, b};
}

void FailureTable::Fail(std::string_view key, uint32_t now) {
  for (size_t slot : SlotsOf(key)) {
    std::atomic<uint64_t>& s = slots_[slot];
    uint64_t old = s.load(std::memory_order_relaxed);
    for (;;) {
      const uint32_t start = static_cast<uint32_t>(old >> 32);
      const uint32_t count = static_cast<uint32_t>(old);
      const uint64_t updated = now >= start + window_ || start > now
                                   ? (static_cast<uint64_t>(now) << 32) | 1
                                   : (old & ~uint64_t{0xFFFFFFFF}) | std::min<uint64_t>(count + 1u, 0xFFFFFFFFu);
      if (s.compare_exchange_weak(old, updated, std::memory_order_relaxed)) break;
    }
  }
}

uint32_t FailureTable::Count(std::string_view key, uint32_t now, uint32_t* window_left) const {
  uint32_t lowest = UINT32_MAX;
  uint32_t left = 0;
  for (size_t slot : SlotsOf(key)) {
    const uint64_t v = slots_[slot].load(std::memory_order_relaxed);
    const uint32_t start = static_cast<uint32_t>(v >> 32);
    const uint32_t count = now >= start + window_ || start > now ? 0 : static_cast<uint32_t>(v);
    if (count < lowest) {
      lowest = count;
      left = count == 0 ? 0 : start + window_ - now;
    }
  }
  *window_left = left;
  return lowest;
}

}  // namespace locus::engine
