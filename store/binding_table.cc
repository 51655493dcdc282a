#include "store/binding_table.h"

#include <algorithm>

namespace locus::store {

BindingTable::BindingTable(uint64_t now) : wheel_(now) {}

BindingTable::~BindingTable() {
  for (RecordSet* set : {&records_, &moving_}) {
    for (AorRecord* record : *set) {
      wheel_.Cancel(record);
      AorRecord::Destroy(record);
    }
  }
  for (AorRecord* record : erased_while_snapshot_) AorRecord::Destroy(record);
}

std::vector<const AorRecord*> BindingTable::BeginSnapshot() {
  ++open_snapshots_;
  // One pass over the slots (constructing from the iterator range would
  // count them first: two passes).
  std::vector<const AorRecord*> records;
  records.reserve(aor_count());
  for (const AorRecord* record : records_) records.push_back(record);
  for (const AorRecord* record : moving_) records.push_back(record);
  return records;
}

void BindingTable::EndSnapshot() {
  if (open_snapshots_ == 0 || --open_snapshots_ > 0) return;
  for (AorRecord* record : erased_while_snapshot_) AorRecord::Destroy(record);
  erased_while_snapshot_.clear();
}

void BindingTable::Release(AorRecord* record) {
  binding_count_ -= record->bindings().size();
  if (open_snapshots_ == 0) {
    AorRecord::Destroy(record);
    return;
  }
  record->mutable_bindings().clear();
  record->erased_ = true;
  erased_while_snapshot_.push_back(record);
}

const AorRecord* BindingTable::Find(AorKey key) const {
  auto it = records_.find(key);
  if (it != records_.end()) return *it;
  if (moving_.empty()) return nullptr;
  auto old = moving_.find(key);
  return old == moving_.end() ? nullptr : *old;
}

AorRecord* BindingTable::FindMutable(AorKey key) {
  return const_cast<AorRecord*>(Find(key));  // the table owns its records
}

void BindingTable::Reserve(size_t aors) {
  room_ = std::max(room_, aors);
  records_.reserve(room_);
}

void BindingTable::StartGrowing() {
  moving_ = std::move(records_);
  records_ = RecordSet();
  room_ = std::max(2 * moving_.size(), kMinimumRoom);
  records_.reserve(room_);
  next_ = moving_.begin();
}

void BindingTable::MoveSome() {
  for (int i = 0; i < kMovedPerInsertion && next_ != moving_.end(); ++i) {
    const auto victim = next_++;
    records_.insert(*victim);
    moving_.erase(victim);  // other iterators stay valid, and moving_ never grows
  }
  if (next_ == moving_.end()) moving_ = RecordSet();  // its memory goes back now
}

AorRecord* BindingTable::FindOrCreate(AorKey key) {
  if (!moving_.empty()) {
    auto old = moving_.find(key);
    if (old != moving_.end()) return *old;
    MoveSome();
  } else if (records_.size() >= room_) {
    StartGrowing();
  }
  // One probe: finds the slot, and builds the record only when it is empty.
  return *records_.lazy_emplace(key, [key](const auto& construct) { construct(AorRecord::Create(key)); });
}

void BindingTable::AddBinding(AorRecord* record, Binding&& binding) {
  record->mutable_bindings().push_back(std::move(binding));
  ++binding_count_;
}

void BindingTable::RemoveBinding(AorRecord* record, size_t index) {
  AorRecord::Bindings& bindings = record->mutable_bindings();
  bindings.erase(bindings.begin() + static_cast<std::ptrdiff_t>(index));
  --binding_count_;
}

AorRecord* BindingTable::Rearm(AorRecord* record) {
  // Every change moves the growth on, not only new AORs: a table whose AOR
  // count stops growing must not keep two hash tables for ever.
  if (!moving_.empty()) MoveSome();
  if (record->bindings().empty()) {
    Erase(record);
    return nullptr;
  }
  // A timer armed no later than the earliest expiry stays where it is: when it
  // fires early, Expire() finds nothing lapsed and re-arms it. A refresh, which
  // only moves expiry later, then costs no relinking of the wheel's lists
  // (each relink touches two other records' cache lines).
  const uint32_t earliest = record->EarliestExpiry();
  if (!record->scheduled() || record->expiry > earliest) wheel_.Schedule(record, earliest);
  return record;
}

bool BindingTable::RemoveAor(AorKey key) {
  AorRecord* record = FindMutable(key);
  if (record == nullptr) return false;
  Erase(record);
  return true;
}

void BindingTable::Erase(AorRecord* record) {
  wheel_.Cancel(record);
  Unlink(record);
  Release(record);
}

void BindingTable::Unlink(AorRecord* record) {
  auto it = records_.find(record->key());
  if (it != records_.end()) {
    records_.erase(it);
    return;
  }
  auto old = moving_.find(record->key());
  if (old == moving_.end()) return;
  if (old == next_) ++next_;  // the move goes on from the one after it
  moving_.erase(old);
  if (next_ == moving_.end()) moving_ = RecordSet();
}

}  // namespace locus::store
