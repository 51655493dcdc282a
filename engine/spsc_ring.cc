#include "engine/spsc_ring.h"

#include <bit>

namespace locus::engine {

SpscRing::SpscRing(size_t capacity)
    : capacity_(std::bit_ceil(capacity < 4096 ? size_t{4096} : capacity)),
      data_(new char[capacity_]) {}

bool SpscRing::TryPush(std::string_view header, std::string_view payload,
                       std::string_view trailer) {
  const size_t body = header.size() + payload.size() + trailer.size();
  if (body > max_record()) return false;
  const size_t need = kLengthSize + Aligned(body);
  uint64_t head = head_.load(std::memory_order_relaxed);
  size_t at = head & (capacity_ - 1);
  const size_t padding = at + need > capacity_ ? capacity_ - at : 0;
  if (head + padding + need - cached_tail_ > capacity_) {
    cached_tail_ = tail_.load(std::memory_order_acquire);
    if (head + padding + need - cached_tail_ > capacity_) return false;
  }
  if (padding != 0) {
    // The record would straddle the end: mark the rest unused, start over.
    std::memcpy(data_.get() + at, &kWrapMarker, kLengthSize);
    head += padding;
    at = 0;
  }
  const uint64_t length = body;
  std::memcpy(data_.get() + at, &length, kLengthSize);
  std::memcpy(data_.get() + at + kLengthSize, header.data(), header.size());
  if (!payload.empty()) {
    std::memcpy(data_.get() + at + kLengthSize + header.size(), payload.data(), payload.size());
  }
  if (!trailer.empty()) {
    std::memcpy(data_.get() + at + kLengthSize + header.size() + payload.size(), trailer.data(),
                trailer.size());
  }
  head_.store(head + need, std::memory_order_release);
  return true;
}

bool SpscRing::Peek(std::string_view* record) {
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  for (;;) {
    if (tail == cached_head_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail == cached_head_) return false;
    }
    const size_t at = tail & (capacity_ - 1);
    uint64_t length;
    std::memcpy(&length, data_.get() + at, kLengthSize);
    if (length == kWrapMarker) {
      tail += capacity_ - at;
      tail_.store(tail, std::memory_order_release);
      continue;
    }
    *record = std::string_view(data_.get() + at + kLengthSize, length);
    peeked_size_ = kLengthSize + Aligned(length);
    return true;
  }
}

void SpscRing::Pop() {
  tail_.store(tail_.load(std::memory_order_relaxed) + peeked_size_, std::memory_order_release);
  peeked_size_ = 0;
}

}  // namespace locus::engine
