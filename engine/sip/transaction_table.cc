#include "engine/sip/transaction_table.h"

#include <cstring>

namespace locus::engine {

TransactionTable::TransactionTable(size_t max_entries, size_t max_bytes)
    : entries_(max_entries < 1 ? 1 : max_entries),
      arena_(new char[max_bytes]),
      arena_size_(max_bytes) {}

std::optional<std::string_view> TransactionTable::Find(std::string_view key, uint64_t now_ms,
                                                       uint64_t* expires_ms) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  const Entry& e = entries_[it->second % entries_.size()];
  if (e.expires_ms <= now_ms) return std::nullopt;
  if (expires_ms != nullptr) *expires_ms = e.expires_ms;
  return std::string_view(arena_.get() + e.offset + e.key_size, e.response_size);
}

std::optional<size_t> TransactionTable::Place(size_t size) const {
  if (count_ == 0) return size <= arena_size_ ? std::optional<size_t>(0) : std::nullopt;
  const size_t oldest = Oldest().offset;
  if (write_offset_ > oldest) {
    // Live data is [oldest, write_offset_): room at the end, or at the start.
    if (write_offset_ + size <= arena_size_) return write_offset_;
    if (size <= oldest) return 0;
    return std::nullopt;
  }
  // Wrapped: live data is [oldest, end of used space) and [0, write_offset_).
  if (write_offset_ + size <= oldest) return write_offset_;
  return std::nullopt;
}

bool TransactionTable::Insert(std::string_view key, std::string_view response,
                              uint64_t expires_ms) {
  const size_t size = key.size() + response.size();
  if (size > arena_size_ / 4 || key.size() > UINT32_MAX) {
    ++too_large_;
    return false;
  }
  // A stale entry with the same key stops being findable; it is dropped in
  // its turn (PopOldest only unindexes entries that still own their key).
  index_.erase(key);
  std::optional<size_t> offset;
  while (count_ == entries_.size() || !(offset = Place(size))) {
    ++evicted_early_;
    PopOldest();
  }
  char* at = arena_.get() + *offset;
  std::memcpy(at, key.data(), key.size());
  std::memcpy(at + key.size(), response.data(), response.size());
  Entry& e = entries_[next_seq_ % entries_.size()];
  e = Entry{next_seq_, expires_ms, static_cast<uint32_t>(*offset),
            static_cast<uint32_t>(key.size()), static_cast<uint32_t>(response.size())};
  index_.emplace(std::string_view(at, key.size()), next_seq_);
  ++next_seq_;
  ++count_;
  write_offset_ = *offset + size;
  live_bytes_ += size;
  return true;
}

void TransactionTable::PopOldest() {
  const Entry& e = Oldest();
  auto it = index_.find(KeyOf(e));
  if (it != index_.end() && it->second == e.seq) index_.erase(it);
  live_bytes_ -= e.key_size + e.response_size;
  --count_;
  if (count_ == 0) write_offset_ = 0;
}

void TransactionTable::Expire(uint64_t now_ms) {
  while (count_ > 0 && Oldest().expires_ms <= now_ms) PopOldest();
}

std::optional<uint64_t> TransactionTable::NextExpiry() const {
  if (count_ == 0) return std::nullopt;
  return Oldest().expires_ms;
}

}  // namespace locus::engine
