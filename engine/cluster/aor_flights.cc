#include "engine/cluster/aor_flights.h"

namespace locus::engine::cluster {

bool AorFlights::Busy(store::AorKey aor) const {
  if (index_.empty()) return false;
  const auto it = index_.find(aor);
  return it != index_.end() && flights_[it->second]->busy();
}

uint64_t AorFlights::ExpectedVersion(store::AorKey aor, const store::AorRecord* record) const {
  if (record != nullptr) return record->version();
  const int64_t id = Find(aor);
  return id < 0 ? 0 : flights_[static_cast<size_t>(id)]->absent_version;
}

uint32_t AorFlights::Get(store::AorKey aor) {
  if (const int64_t id = Find(aor); id >= 0) return static_cast<uint32_t>(id);
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<uint32_t>(flights_.size());
    flights_.push_back(std::make_unique<Flight>());
  }
  Flight& f = *flights_[id];
  f.aor.assign(aor);
  f.reading = false;
  f.committing = false;
  f.absent_version = 0;
  f.invalidations = 0;
  f.waiting.clear();
  f.head = 0;
  index_.emplace(std::string_view(f.aor), id);
  return id;
}

int64_t AorFlights::Find(store::AorKey aor) const {
  if (index_.empty()) return -1;
  const auto it = index_.find(aor);
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

void AorFlights::Release(uint32_t id) {
  Flight& f = *flights_[id];
  index_.erase(std::string_view(f.aor));
  free_.push_back(id);
}

}  // namespace locus::engine::cluster
