// BindingChanges: how many bindings one change (or a group of them) created,
// refreshed, removed and let lapse. Every binding that leaves the table is
// counted exactly once, as removed or as expired, so that
// created - removed - expired always equals the bindings held.
#ifndef LOCUS_STORE_BINDING_CHANGES_H_
#define LOCUS_STORE_BINDING_CHANGES_H_

#include <cstdint>

namespace locus::store {

struct BindingChanges {
  uint64_t created = 0;
  uint64_t refreshed = 0;
  uint64_t removed = 0;
  uint64_t expired = 0;  // past their expiry, dropped before the timer wheel came to them

  BindingChanges& operator+=(const BindingChanges& other) {
    created += other.created;
    refreshed += other.refreshed;
    removed += other.removed;
    expired += other.expired;
    return *this;
  }
};

}  // namespace locus::store

#endif  // LOCUS_STORE_BINDING_CHANGES_H_
