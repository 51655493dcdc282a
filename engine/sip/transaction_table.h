// The completed state of RFC 3261 section 17.2.2 non-INVITE server
// transactions, for one shard: the final response of each recent request, kept
// for Timer J (64*T1 = 32 s on unreliable transports; 0 on reliable ones, which
// are therefore never cached), so that a retransmitted request gets the same
// response again and is never re-applied.
//
// Memory is bounded twice: by entry count and by bytes. Entries live in one
// circular arena in arrival order, which for a constant Timer J is also expiry
// order, so expiry and eviction both pop the oldest entry. At either bound the
// oldest response is dropped before its Timer J (counted in evicted_early()):
// under overload the absorption window shrinks from 32 s to bound / rate, and a
// retransmission arriving after that is processed again as a new request (a
// REGISTER that is the very request that set its bindings changes nothing and
// is answered 200 again: store/registrar.cc, SameRequestAgain).
// Lookups and inserts allocate nothing once the hash index has grown.
#ifndef LOCUS_ENGINE_SIP_TRANSACTION_TABLE_H_
#define LOCUS_ENGINE_SIP_TRANSACTION_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace locus::engine {

inline constexpr uint64_t kTimerJMs = 64 * 500;  // 64 * T1 (section 17.2.2, table 4)

class TransactionTable {
 public:
  TransactionTable(size_t max_entries, size_t max_bytes);
  TransactionTable(const TransactionTable&) = delete;
  TransactionTable& operator=(const TransactionTable&) = delete;

  // The cached response for `key`, unless absent or expired at `now_ms`. The
  // view stays valid until the next Insert or Expire. `expires_ms`, when
  // given, receives the entry's expiry.
  std::optional<std::string_view> Find(std::string_view key, uint64_t now_ms,
                                       uint64_t* expires_ms = nullptr) const;

  // Caches `response` for `key` until `expires_ms`. Expiry times must not
  // decrease from one insert to the next. An entry larger than a quarter of
  // max_bytes is not cached (returns false, counted in too_large()).
  bool Insert(std::string_view key, std::string_view response, uint64_t expires_ms);

  // Drops every entry with expires_ms <= now_ms.
  void Expire(uint64_t now_ms);

  size_t size() const { return count_; }
  size_t bytes() const { return live_bytes_; }
  uint64_t evicted_early() const { return evicted_early_; }
  uint64_t too_large() const { return too_large_; }
  // Expiry time of the oldest entry, if any.
  std::optional<uint64_t> NextExpiry() const;

 private:
  struct Entry {
    uint64_t seq;
    uint64_t expires_ms;
    uint32_t offset;  // in arena_
    uint32_t key_size;
    uint32_t response_size;
  };
  const Entry& Oldest() const { return entries_[(next_seq_ - count_) % entries_.size()]; }
  std::string_view KeyOf(const Entry& e) const { return {arena_.get() + e.offset, e.key_size}; }
  void PopOldest();
  // Where an entry of `size` bytes would go, if it fits now.
  std::optional<size_t> Place(size_t size) const;

  std::vector<Entry> entries_;  // ring indexed by seq % size
  std::unique_ptr<char[]> arena_;
  size_t arena_size_;
  size_t write_offset_ = 0;
  size_t count_ = 0;
  uint64_t next_seq_ = 0;
  size_t live_bytes_ = 0;
  uint64_t evicted_early_ = 0;
  uint64_t too_large_ = 0;
  absl::flat_hash_map<std::string_view, uint64_t> index_;  // key -> seq
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_TRANSACTION_TABLE_H_
