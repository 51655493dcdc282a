#include "store/aor_record.h"

#include <cstring>
#include <new>

namespace locus::store {

AorRecord* AorRecord::Create(AorKey key) {
  // One block: the record, then the key bytes.
  void* memory = ::operator new(sizeof(AorRecord) + key.size());
  auto* record = new (memory) AorRecord(static_cast<uint16_t>(key.size()));
  std::memcpy(static_cast<char*>(memory) + sizeof(AorRecord), key.data(), key.size());
  return record;
}

void AorRecord::Destroy(AorRecord* record) {
  record->~AorRecord();
  ::operator delete(static_cast<void*>(record));
}

uint32_t AorRecord::EarliestExpiry() const {
  uint32_t earliest = 0;
  for (const Binding& b : bindings_) {
    if (earliest == 0 || b.expires_at < earliest) earliest = b.expires_at;
  }
  return earliest;
}

}  // namespace locus::store
