// Failed authentication attempts, counted across every shard without locks:
// a fixed table of atomic slots, each holding a window start and a count.
// A key (a user, a source address) maps to two slots by two hashes, and its
// count is the smaller of the two (a count-min sketch), so that a collision
// with a busy key rarely locks out an innocent one. Memory is fixed:
// kSlots * 8 bytes, whatever the number of keys.
#ifndef LOCUS_ENGINE_AUTH_FAILURE_TABLE_H_
#define LOCUS_ENGINE_AUTH_FAILURE_TABLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace locus::engine {

class FailureTable {
 public:
  static constexpr size_t kSlots = 1 << 18;

  explicit FailureTable(uint32_t window_s) : window_(window_s), slots_(new std::atomic<uint64_t>[kSlots]) {
    for (size_t i = 0; i < kSlots; ++i) slots_[i].store(0, std::memory_order_relaxed);
  }

  // One more failure for `key` at `now` (seconds).
  void Fail(std::string_view key, uint32_t now);

  // Failures of `key` in its current window, and the seconds left in it.
  uint32_t Count(std::string_view key, uint32_t now, uint32_t* window_left) const;

 private:
  std::array<size_t, 2> SlotsOf(std::string_view key) const;

  const uint32_t window_;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;  // (window start << 32) | count
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_AUTH_FAILURE_TABLE_H_
