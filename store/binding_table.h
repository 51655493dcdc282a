// All AOR records of one shard. Owned and written by one thread only: no
// locks. Lookup by canonical AOR is heterogeneous (a string_view finds a
// record without building a string). Expiry is driven by a timer wheel with one
// timer per AOR, armed at its earliest binding expiry: lapsed bindings are
// removed without scanning the table. The hash table grows incrementally: when
// it is full, a table twice the size takes new records and the old one's move
// to it a few per insertion or change, so no request pays for rehashing millions.
#ifndef LOCUS_STORE_BINDING_TABLE_H_
#define LOCUS_STORE_BINDING_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "store/aor_record.h"
#include "store/timer_wheel.h"

namespace locus::store {

class BindingTable {
 public:
  // `now`: current time in seconds since the Unix epoch.
  explicit BindingTable(uint64_t now);
  ~BindingTable();
  BindingTable(const BindingTable&) = delete;
  BindingTable& operator=(const BindingTable&) = delete;

  // Makes room for `aors` records up front (a carrier knows its subscriber
  // count): the table then never grows below it.
  void Reserve(size_t aors);
  // Starts loading the hash-table memory for `key`, so that a Find() a little
  // later does not wait for it (for callers that see a batch of requests).
  void Prefetch(AorKey key) const {
    records_.prefetch(key);
    if (!moving_.empty()) moving_.prefetch(key);
  }

  const AorRecord* Find(AorKey key) const;
  AorRecord* FindMutable(AorKey key);
  // The record for `key`, created empty when absent. An empty record must be
  // given bindings or passed to Rearm() before the next Expire().
  AorRecord* FindOrCreate(AorKey key);

  // Adds or removes one binding of `record`, keeping the counts.
  void AddBinding(AorRecord* record, Binding&& binding);
  void RemoveBinding(AorRecord* record, size_t index);
  // Call after changing a record's bindings: makes sure its expiry timer fires
  // no later than its earliest binding expiry (it may fire earlier and re-arm),
  // or erases the record when it has no bindings left. Returns the record, or
  // nullptr when it was erased.
  AorRecord* Rearm(AorRecord* record);
  // Removes every binding of `key`; false when there was none.
  bool RemoveAor(AorKey key);

  // Moves time forward to `now` and removes every binding with
  // expires_at <= now, calling on_expired(const AorRecord&, const Binding&)
  // before each removal. Records left empty are erased. Cost: proportional to
  // the AORs whose timer is due, not to the table size.
  template <typename OnExpired>
  void Expire(uint64_t now, OnExpired&& on_expired) {
    ExpireAtMost(now, SIZE_MAX, on_expired);
  }
  // Expire, for at most `max_aors` AORs whose timer is due (a mass expiry is
  // then spread over several calls instead of pausing the caller). Returns
  // false when AORs due by `now` are left for the next call.
  template <typename OnExpired>
  bool ExpireAtMost(uint64_t now, size_t max_aors, OnExpired&& on_expired);

  uint64_t now() const { return wheel_.now(); }
  size_t aor_count() const { return records_.size() + moving_.size(); }
  // Whether the table is growing: records still in the previous hash table.
  bool growing() const { return !moving_.empty(); }
  size_t binding_count() const { return binding_count_; }

  // Snapshots, for readers that walk the whole table over many turns of the
  // event loop (the admin dump) without stalling it: BeginSnapshot() lists the
  // records present now (one pass over the hash slots, no record touched), and
  // until the matching EndSnapshot() no record is freed -- an erased one is
  // kept, empty and marked erased(), so every pointer of the list stays valid.
  // Several snapshots may be open at once.
  std::vector<const AorRecord*> BeginSnapshot();
  void EndSnapshot();
  size_t open_snapshots() const { return open_snapshots_; }

  // Calls f(const AorRecord&) for every record, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    for (const AorRecord* record : records_) f(*record);
    for (const AorRecord* record : moving_) f(*record);
  }

 private:
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(AorKey key) const { return absl::Hash<AorKey>{}(key); }
    size_t operator()(const AorRecord* r) const { return absl::Hash<AorKey>{}(r->key()); }
  };
  struct KeyEq {
    using is_transparent = void;
    static AorKey KeyOf(AorKey key) { return key; }
    static AorKey KeyOf(const AorRecord* r) { return r->key(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return KeyOf(a) == KeyOf(b);
    }
  };

  using RecordSet = absl::flat_hash_set<AorRecord*, KeyHash, KeyEq>;
  // Records moved from the previous hash table per insertion (and per change)
  // while growing: the move ends after an eighth as many insertions as it had
  // records, well before the new table (twice the size) fills.
  static constexpr int kMovedPerInsertion = 8;
  static constexpr size_t kMinimumRoom = 1024;

  void Erase(AorRecord* record);
  // Removes `record` from whichever hash table holds it.
  void Unlink(AorRecord* record);
  // Frees a record no longer in the hash tables, or keeps it while a snapshot
  // is open.
  void Release(AorRecord* record);
  void StartGrowing();
  void MoveSome();

  RecordSet records_;         // new records go here
  RecordSet moving_;          // while growing: the previous table, emptied into records_
  RecordSet::iterator next_;  // while growing: the next record of moving_ to move
  size_t room_ = 0;           // records_ takes this many before it must grow
  TimerWheel wheel_;
  size_t binding_count_ = 0;
  size_t open_snapshots_ = 0;
  std::vector<AorRecord*> erased_while_snapshot_;
};

template <typename OnExpired>
bool BindingTable::ExpireAtMost(uint64_t now, size_t max_aors, OnExpired&& on_expired) {
  return wheel_.AdvanceAtMost(now, max_aors, [&](TimerNode* node) {
    AorRecord* record = static_cast<AorRecord*>(node);
    AorRecord::Bindings& bindings = record->mutable_bindings();
    for (size_t i = bindings.size(); i-- > 0;) {
      if (bindings[i].expires_at <= now) {
        on_expired(static_cast<const AorRecord&>(*record), static_cast<const Binding&>(bindings[i]));
        RemoveBinding(record, i);
      }
    }
    Rearm(record);
  });
}

}  // namespace locus::store

#endif  // LOCUS_STORE_BINDING_TABLE_H_
