// A lock-free single-producer / single-consumer queue of variable-size
// records in one fixed block of memory: the hand-off channel from one shard to
// another (ARCHITECTURE section 3). One thread pushes, one thread pops; the
// only shared state is two monotonically increasing byte positions, each
// written by one side (release) and read by the other (acquire), on separate
// cache lines. Nothing allocates after construction; a full ring refuses the
// record (the caller answers 503).
#ifndef LOCUS_ENGINE_SPSC_RING_H_
#define LOCUS_ENGINE_SPSC_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace locus::engine {

class SpscRing {
 public:
  // `capacity` is rounded up to a power of two, at least 4 KiB.
  explicit SpscRing(size_t capacity);
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // Producer: appends one record made of `header`, `payload` and `trailer`,
  // in that order. False when there is no room (nothing is written).
  bool TryPush(std::string_view header, std::string_view payload, std::string_view trailer = {});

  // Consumer: the oldest record, or false when empty. The view stays valid
  // until Pop().
  bool Peek(std::string_view* record);
  void Pop();

  // Bytes in the ring now (records and padding); any thread, approximate.
  size_t used_bytes() const {
    return head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_relaxed);
  }

  // Largest record that can ever fit.
  size_t max_record() const { return capacity_ / 2 - kLengthSize; }

  // Set by a producer that has sent a wake-up the consumer has not seen yet,
  // so that a burst of pushes costs one wake-up.
  std::atomic<bool> wake_pending{false};

 private:
  static constexpr size_t kLengthSize = 8;
  static constexpr uint64_t kWrapMarker = ~uint64_t{0};
  static size_t Aligned(size_t n) { return (n + 7) & ~size_t{7}; }

  const size_t capacity_;
  std::unique_ptr<char[]> data_;
  alignas(64) std::atomic<uint64_t> head_{0};  // written by the producer
  uint64_t cached_tail_ = 0;                   // producer's last view of tail_
  alignas(64) std::atomic<uint64_t> tail_{0};  // written by the consumer
  uint64_t cached_head_ = 0;                   // consumer's last view of head_
  uint64_t peeked_size_ = 0;                   // bytes Pop() releases
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SPSC_RING_H_
