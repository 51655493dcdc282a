#include "store/binding_table.h"

namespace locus::store {

BindingTable::BindingTable(uint64_t now) : wheel_(now) {}

BindingTable::~BindingTable() {
  for (AorRecord* record : records_) {
    wheel_.Cancel(record);
    AorRecord::Destroy(record);
  }
  for (AorRecord* record : erased_while_snapshot_) AorRecord::Destroy(record);
}

std::vector<const AorRecord*> BindingTable::BeginSnapshot() {
  ++open_snapshots_;
  // One pass over the slots (constructing from the iterator range would
  // count them first: two passes).
  std::vector<const AorRecord*> records;
  records.reserve(records_.size());
  for (const AorRecord* record : records_) records.push_back(record);
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
  return it == records_.end() ? nullptr : *it;
}

AorRecord* BindingTable::FindMutable(AorKey key) {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : *it;
}

AorRecord* BindingTable::FindOrCreate(AorKey key) {
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
  auto it = records_.find(key);
  if (it == records_.end()) return false;
  AorRecord* record = *it;
  wheel_.Cancel(record);
  records_.erase(it);  // by position: no second probe
  Release(record);
  return true;
}

void BindingTable::Erase(AorRecord* record) {
  wheel_.Cancel(record);
  records_.erase(record->key());
  Release(record);
}

}  // namespace locus::store
