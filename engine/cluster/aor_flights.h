// Cluster mode's view of a shard's cache (docs/cluster.md), without I/O:
// the AORs that have a Redis operation in flight -- a read of their state,
// or the compare-and-set of a decided REGISTER -- with the requests waiting
// for it, and whether a cached AOR is current.
//
// Contract:
//  - At most one operation per AOR is in flight; a request for an AOR that
//    has one waits (FIFO) until it ends.
//  - A cached record is current when its cache epoch is the cache's epoch:
//    an invalidation of one AOR zeroes its record's epoch, an invalidation
//    of everything moves the cache's epoch on (O(1)).
//  - A flight's memory is kept and reused after it ends: once warm, a
//    request's flight allocates nothing.
//  - Bounded by the caller (ClusterRequests counts its waiting requests).
#ifndef LOCUS_ENGINE_CLUSTER_AOR_FLIGHTS_H_
#define LOCUS_ENGINE_CLUSTER_AOR_FLIGHTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/cluster/aor_store.h"
#include "store/aor_record.h"

namespace locus::engine::cluster {

class AorFlights {
 public:
  struct Flight {
    std::string aor;
    bool reading = false;     // an HMGET of its state is in flight
    bool committing = false;  // a decided REGISTER's compare-and-set is in flight, or waits for a turn
    // The version of a state without live bindings that this flight read or
    // adopted: the table keeps no record for it, so the next commit's
    // expected version comes from here.
    uint64_t absent_version = 0;
    // Invalidations of this AOR that arrived while it was committing: our
    // own commit brings one back (docs/cluster.md), more mean another writer.
    uint32_t invalidations = 0;
    // Committing, but refused because another committer holds the AOR's
    // turn: decided again at this time, or at the next invalidation.
    uint64_t turn_due_ms = 0;
    // The requests waiting for this AOR (ids of the caller's), oldest first
    // from `head`.
    std::vector<uint32_t> waiting;
    size_t head = 0;
    ReadCommand read;
    CasCommand cas;

    bool busy() const { return reading || committing; }
    bool has_waiting() const { return head < waiting.size(); }
  };

  AorFlights() = default;
  AorFlights(const AorFlights&) = delete;
  AorFlights& operator=(const AorFlights&) = delete;

  // --- What the request handler asks -----------------------------------------
  // A read or commit of `aor` is in flight: a request for it must wait.
  bool Busy(store::AorKey aor) const;
  // `record` is known current (read, adopted or committed, and not
  // invalidated since).
  bool Current(const store::AorRecord& record) const { return record.cache_epoch() == epoch_; }
  // The version a decision on `aor` was made on: its record's, or, with no
  // record, the version of a bindingless state this node read (0: none).
  uint64_t ExpectedVersion(store::AorKey aor, const store::AorRecord* record) const;

  // --- The cache's side ------------------------------------------------------
  uint32_t epoch() const { return epoch_; }
  // Every cached record becomes stale.
  void InvalidateAll() { epoch_ = epoch_ == UINT32_MAX ? 1 : epoch_ + 1; }

  // The flight of `aor` (its id), made when there is none.
  uint32_t Get(store::AorKey aor);
  // The flight of `aor`, or -1.
  int64_t Find(store::AorKey aor) const;
  Flight& at(uint32_t id) { return *flights_[id]; }
  const Flight& at(uint32_t id) const { return *flights_[id]; }
  // Ends a flight that is neither busy nor has anything waiting.
  void Release(uint32_t id);
  size_t active() const { return index_.size(); }

 private:
  absl::flat_hash_map<std::string_view, uint32_t> index_;  // keys point into Flight::aor
  std::vector<std::unique_ptr<Flight>> flights_;
  std::vector<uint32_t> free_;
  uint32_t epoch_ = 1;  // never 0: a zeroed record epoch is always stale
};

}  // namespace locus::engine::cluster

#endif  // LOCUS_ENGINE_CLUSTER_AOR_FLIGHTS_H_
