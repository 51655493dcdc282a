// The bindings of one address-of-record. A record is allocated once with its
// key stored right behind it (one allocation per AOR), never moves (the timer
// wheel links it by address), and is owned by the BindingTable of its shard.
#ifndef LOCUS_STORE_AOR_RECORD_H_
#define LOCUS_STORE_AOR_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "store/binding.h"
#include "store/timer_wheel.h"

namespace locus::store {

// The canonical AOR (parser/aor.h) is the key: byte equality is AOR equality.
using AorKey = std::string_view;

// A record is the timer node of its own expiry (armed at EarliestExpiry()
// while it has bindings): the wheel hands back the node, and a static_cast
// recovers the record.
class AorRecord : public TimerNode {
 public:
  using Bindings = absl::InlinedVector<Binding, 1>;

  static constexpr size_t kMaxKeySize = 0xFFFF;

  // Allocates a record holding a copy of `key` (at most kMaxKeySize bytes).
  static AorRecord* Create(AorKey key);
  // Frees a record made by Create. The caller cancels its timer first.
  static void Destroy(AorRecord* record);

  AorKey key() const { return {reinterpret_cast<const char*>(this + 1), key_size_}; }

  const Bindings& bindings() const { return bindings_; }
  Bindings& mutable_bindings() { return bindings_; }

  // Earliest expires_at of the bindings; 0 when there are none.
  uint32_t EarliestExpiry() const;

  // True once the table has erased the record while a snapshot still holds
  // it (see BindingTable::BeginSnapshot): it has no bindings and is not found.
  bool erased() const { return erased_; }

  // Cluster mode (docs/cluster.md): the version of this state in the store
  // of record, and the cache epoch in which it was last known current (the
  // cache marks it stale by moving its epoch on, or by zeroing this one).
  uint64_t version() const { return version_; }
  void set_version(uint64_t version) { version_ = version; }
  uint32_t cache_epoch() const { return cache_epoch_; }
  void set_cache_epoch(uint32_t epoch) { cache_epoch_ = epoch; }

 private:
  explicit AorRecord(uint16_t key_size) : key_size_(key_size) {}
  ~AorRecord() = default;

  friend class BindingTable;
  Bindings bindings_;
  uint64_t version_ = 0;
  uint32_t cache_epoch_ = 0;
  uint16_t key_size_;
  bool erased_ = false;
};

}  // namespace locus::store

#endif  // LOCUS_STORE_AOR_RECORD_H_
