// The durable form of an AOR (ARCHITECTURE section 6): one record
// holds an AOR and every one of its bindings -- all fields, absolute expiry --
// as they stand after a change. Replaying records in order restores a table;
// replay is idempotent, and only the order of one AOR's records matters. The
// same records make up snapshots (every AOR once) and journals (every change).
//
// Layout, little-endian: u32 payload size, u32 CRC-32C of the payload, then
// the payload: u16 AOR size, AOR, u16 binding count, and per binding the five
// strings (u16 size each, then the bytes: contact, Call-ID, User-Agent,
// +sip.instance, Path), u32 cseq, expires_at, registered_at, refreshed_at,
// reg_id, u16 q, u8 has_q, u8 transport, u8 address family, u16 port, 16 bytes
// of address. A record with no bindings says the AOR has none.
#ifndef LOCUS_STORE_JOURNAL_RECORD_H_
#define LOCUS_STORE_JOURNAL_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/aor_record.h"
#include "store/binding.h"
#include "store/binding_table.h"

namespace locus::store {

// CRC-32C (Castagnoli), as iSCSI and ext4 use it.
uint32_t Crc32c(std::string_view data);

// Appends the record of `aor` with `bindings` to `out`.
void AppendAorState(AorKey aor, std::span<const Binding> bindings, std::string* out);

// Reads records one by one from a buffer (a whole journal or snapshot file).
class RecordReader {
 public:
  explicit RecordReader(std::string_view data) : data_(data) {}

  // The next record: its AOR and bindings (replacing `bindings`' contents).
  // False at the end of the data, or at the first torn or corrupt record
  // (then corrupt() is true and valid_bytes() is where the damage starts).
  // Zeros from a record boundary to the end are the end of the data (a
  // journal file is extended with zeros ahead of its records), not damage.
  bool Next(std::string* aor, std::vector<Binding>* bindings);

  bool corrupt() const { return corrupt_; }
  // Bytes of whole, intact records read so far.
  size_t valid_bytes() const { return offset_; }

 private:
  std::string_view data_;
  size_t offset_ = 0;
  bool corrupt_ = false;
};

// Sets the AOR's bindings in `table` to `bindings`, dropping those expired at
// `now` (the AOR is removed when none is left). Returns the bindings kept.
size_t ApplyAorState(BindingTable& table, AorKey aor, std::vector<Binding>&& bindings, uint32_t now);

}  // namespace locus::store

#endif  // LOCUS_STORE_JOURNAL_RECORD_H_
