// A test helper for the binding table's tests: one binding for `aor`,
// expiring at `expires_at`, added and armed as the registrar does.
#ifndef LOCUS_TESTS_UNIT_STORE_BIND_FOR_TEST_H_
#define LOCUS_TESTS_UNIT_STORE_BIND_FOR_TEST_H_

#include <string>
#include <utility>

#include "store/binding_table.h"

namespace locus::store {

inline void Bind(BindingTable& table, const std::string& aor, uint32_t expires_at) {
  AorRecord* record = table.FindOrCreate(aor);
  Binding binding;
  binding.AssignText({"sip:c@10.0.0.1", "call", "", "", ""});
  binding.expires_at = expires_at;
  table.AddBinding(record, std::move(binding));
  table.Rearm(record);
}

}  // namespace locus::store

#endif  // LOCUS_TESTS_UNIT_STORE_BIND_FOR_TEST_H_
