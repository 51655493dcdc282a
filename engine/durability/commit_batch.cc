#include "engine/durability/commit_batch.h"

#include "store/journal_record.h"

namespace locus::engine {

void CommitBatch::Clear() {
  records.clear();
  undo.clear();
  undo_offsets.clear();
  held.clear();
  arena_.clear();
  changes = {};
}

void CommitBatch::AppendState(store::AorKey aor, const store::AorRecord* record,
                              std::string* out) {
  if (record == nullptr) {
    store::AppendAorState(aor, {}, out);
  } else {
    store::AppendAorState(aor, {record->bindings().data(), record->bindings().size()}, out);
  }
}

void CommitBatch::SaveUndo(const store::BindingTable& table, store::AorKey aor) {
  undo_offsets.push_back(static_cast<uint32_t>(undo.size()));
  AppendState(aor, table.Find(aor), &undo);
}

uint32_t CommitBatch::Put(std::string_view bytes) {
  const uint32_t offset = static_cast<uint32_t>(arena_.size());
  arena_.append(bytes);
  return offset;
}

void CommitBatch::Hold(const ResponseRoute& route, int status, std::string_view key,
                       std::string_view ok, std::string_view fail) {
  HeldResponse h;
  h.route = route;
  h.status = status;
  h.key_offset = Put(key);
  h.key_size = static_cast<uint32_t>(key.size());
  h.ok_offset = Put(ok);
  h.ok_size = static_cast<uint32_t>(ok.size());
  h.fail_offset = Put(fail);
  h.fail_size = static_cast<uint32_t>(fail.size());
  held.push_back(h);
}

size_t CommitBatch::Undo(store::BindingTable& table, uint32_t now) const {
  std::string aor;
  std::vector<store::Binding> bindings;
  size_t restored = 0;
  for (size_t i = undo_offsets.size(); i-- > 0;) {
    store::RecordReader reader(std::string_view(undo).substr(undo_offsets[i]));
    if (!reader.Next(&aor, &bindings)) continue;  // written by us a moment ago: cannot happen
    store::ApplyAorState(table, aor, std::move(bindings), now);
    ++restored;
  }
  return restored;
}

}  // namespace locus::engine
