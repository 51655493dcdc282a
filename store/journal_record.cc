#include "store/journal_record.h"

#include <array>
#include <cstring>

namespace locus::store {
namespace {

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

void PutU16(uint16_t v, std::string* out) {
  const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  out->append(b, 2);
}
void PutU32(uint32_t v, std::string* out) {
  const char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 24)};
  out->append(b, 4);
}
void PutText(std::string_view s, std::string* out) {
  PutU16(static_cast<uint16_t>(s.size()), out);  // fields are at most 64 KiB - 1 (Binding)
  out->append(s);
}

// Reads from a payload, never past its end.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool done() const { return at_ == data_.size(); }
  uint8_t U8() { return static_cast<uint8_t>(Take(1)[0]); }
  uint16_t U16() {
    const std::string_view b = Take(2);
    return static_cast<uint16_t>(static_cast<uint8_t>(b[0]) | static_cast<uint8_t>(b[1]) << 8);
  }
  uint32_t U32() {
    const std::string_view b = Take(4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
    return v;
  }
  std::string_view Text() { return Take(U16()); }
  std::string_view Take(size_t n) {
    static constexpr char kZeros[16] = {};
    if (!ok_ || n > data_.size() - at_) {
      ok_ = false;
      return {kZeros, n <= sizeof(kZeros) ? n : 0};
    }
    const std::string_view v = data_.substr(at_, n);
    at_ += n;
    return v;
  }

 private:
  std::string_view data_;
  size_t at_ = 0;
  bool ok_ = true;
};

uint32_t Crc32cPortable(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : data) crc = kCrcTable[(crc ^ static_cast<uint8_t>(c)) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)
// SSE4.2 has a CRC-32C instruction: 8 bytes per step instead of 1 (start-up
// reads every durable byte through here).
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(std::string_view data) {
  uint64_t crc = 0xFFFFFFFFu;
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, data.data() + i, 8);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  for (; i < data.size(); ++i) crc32 = __builtin_ia32_crc32qi(crc32, static_cast<uint8_t>(data[i]));
  return crc32 ^ 0xFFFFFFFFu;
}
#endif

}  // namespace

uint32_t Crc32c(std::string_view data) {
#if defined(__x86_64__)
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  if (hardware) return Crc32cSse42(data);
#endif
  return Crc32cPortable(data);
}

void AppendAorState(AorKey aor, std::span<const Binding> bindings, std::string* out) {
  const size_t header = out->size();
  out->append(8, '\0');  // size and CRC, filled in below
  PutText(aor, out);
  PutU16(static_cast<uint16_t>(bindings.size()), out);
  for (const Binding& b : bindings) {
    PutText(b.contact(), out);
    PutText(b.call_id(), out);
    PutText(b.user_agent(), out);
    PutText(b.instance(), out);
    PutText(b.path(), out);
    PutU32(b.cseq, out);
    PutU32(b.expires_at, out);
    PutU32(b.registered_at, out);
    PutU32(b.refreshed_at, out);
    PutU32(b.reg_id, out);
    PutU16(b.q, out);
    out->push_back(b.has_q ? 1 : 0);
    out->push_back(static_cast<char>(b.transport));
    out->push_back(static_cast<char>(b.source.family));
    PutU16(b.source.port, out);
    out->append(reinterpret_cast<const char*>(b.source.ip.data()), b.source.ip.size());
  }
  const std::string_view payload(out->data() + header + 8, out->size() - header - 8);
  std::string fixed;
  PutU32(static_cast<uint32_t>(payload.size()), &fixed);
  PutU32(Crc32c(payload), &fixed);
  std::memcpy(out->data() + header, fixed.data(), 8);
}

bool RecordReader::Next(std::string* aor, std::vector<Binding>* bindings) {
  if (corrupt_ || offset_ >= data_.size()) return false;
  const std::string_view rest = data_.substr(offset_);
  if (rest.find_first_not_of('\0') == std::string_view::npos) return false;  // the zeroed tail
  Cursor frame(rest);
  const uint32_t size = frame.U32();
  const uint32_t crc = frame.U32();
  const std::string_view payload = frame.Take(size);
  if (!frame.ok() || Crc32c(payload) != crc) {
    corrupt_ = true;  // torn tail or damage: nothing after it can be trusted
    return false;
  }
  Cursor c(payload);
  aor->assign(c.Text());
  const uint16_t count = c.U16();
  bindings->clear();
  for (uint16_t i = 0; i < count && c.ok(); ++i) {
    BindingText text;
    text.contact = c.Text();
    text.call_id = c.Text();
    text.user_agent = c.Text();
    text.instance = c.Text();
    text.path = c.Text();
    Binding b;
    if (!c.ok()) break;
    b.AssignText(text);
    b.cseq = c.U32();
    b.expires_at = c.U32();
    b.registered_at = c.U32();
    b.refreshed_at = c.U32();
    b.reg_id = c.U32();
    b.q = c.U16();
    b.has_q = c.U8() != 0;
    const uint8_t transport = c.U8();
    b.transport = transport <= static_cast<uint8_t>(Transport::kWss) ? static_cast<Transport>(transport)
                                                                     : Transport::kUdp;
    b.source.family = c.U8();
    b.source.port = c.U16();
    const std::string_view ip = c.Take(16);
    if (c.ok()) std::memcpy(b.source.ip.data(), ip.data(), 16);
    bindings->push_back(std::move(b));
  }
  if (!c.ok() || !c.done() || aor->empty()) {
    corrupt_ = true;  // a CRC-valid record that does not parse: written by someone else
    return false;
  }
  offset_ += 8 + size;
  return true;
}

size_t ApplyAorState(BindingTable& table, AorKey aor, std::vector<Binding>&& bindings, uint32_t now) {
  table.RemoveAor(aor);
  size_t kept = 0;
  AorRecord* record = nullptr;
  for (Binding& b : bindings) {
    if (b.expires_at <= now) continue;  // lapsed while the daemon was down
    if (record == nullptr) record = table.FindOrCreate(aor);
    table.AddBinding(record, std::move(b));
    ++kept;
  }
  if (record != nullptr) table.Rearm(record);
  return kept;
}

}  // namespace locus::store
