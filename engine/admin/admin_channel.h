// Messages between the admin thread and the shards (ARCHITECTURE section 3:
// readers on other threads ask the owner through rings; they never touch its
// table). Each shard has one ring from the admin thread and one back; a
// record is an AdminHeader followed by its text payload.
#ifndef LOCUS_ENGINE_ADMIN_ADMIN_CHANNEL_H_
#define LOCUS_ENGINE_ADMIN_ADMIN_CHANNEL_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "engine/spsc_ring.h"

namespace locus::engine {

struct AdminHeader {
  enum Op : uint8_t {
    kLookup,      // payload: canonical AOR. Reply: {"aor":..,"bindings":[..]}
    kRemove,      // payload: canonical AOR, '\n', contact URI or nothing.
                  // Reply: {"removed":N}
    kDump,        // payload: filter (see DumpFilter). Reply: the next chunk of
                  // binding lines (one JSON object per line), `done` on the last
    kDumpCancel,  // the client went away: close the dump's snapshot. No reply.
    kSetUsers,    // payload: a UserDb (PushShared); the shard
                  // takes it over. No reply.
    kSnapshot,    // start a snapshot of the shard's table now. No reply.
    kSetTls,      // payload: a TlsContext (PushShared); the shard
                  // takes it over: new TLS connections use it. No reply.
    kTraceFilters,  // payload: every trace subscriber's filter (SerializeFilters). No reply.
  };
  uint64_t id = 0;  // chosen by the admin thread; replies carry it back
  Op op = kLookup;
  bool done = false;   // replies: the last one for this id
  uint32_t count = 0;  // replies: bindings in this chunk / removed
};

// A dump filter as sent to the shards: "" (everything), "d:DOMAIN" (AORs
// whose host is DOMAIN) or "p:PREFIX" (AORs starting with PREFIX).
inline bool DumpFilterMatches(std::string_view filter, std::string_view aor) {
  if (filter.empty()) return true;
  const std::string_view value = filter.substr(2);
  if (filter.starts_with("p:")) return aor.starts_with(value);
  if (filter.starts_with("d:")) {
    // Canonical AORs are scheme:[user@]host[:port] with the host lower-cased.
    const size_t at = aor.find('@');
    std::string_view host = aor.substr(at == std::string_view::npos ? aor.find(':') + 1 : at + 1);
    host = host.starts_with('[') ? host.substr(0, host.find(']') + 1) : host.substr(0, host.find(':'));
    return host == value;
  }
  return false;
}

inline std::string_view HeaderBytes(const AdminHeader& header) {
  return {reinterpret_cast<const char*>(&header), sizeof(header)};
}

inline AdminHeader ReadAdminHeader(std::string_view record) {
  AdminHeader header;
  std::memcpy(&header, record.data(), sizeof(header));
  return header;
}

// An object shared with a shard (a users file, a TLS context): the record's
// payload is a heap copy of the shared_ptr, which the shard takes over.
// False when the ring is full (nothing was sent).
template <typename T>
bool PushShared(SpscRing& ring, const AdminHeader& header, const std::shared_ptr<const T>& value) {
  auto* handle = new std::shared_ptr<const T>(value);
  if (ring.TryPush(HeaderBytes(header), {reinterpret_cast<const char*>(&handle), sizeof(handle)})) {
    return true;
  }
  delete handle;
  return false;
}

// The shard's side of PushShared: the object, or null for a payload that
// is not one.
template <typename T>
std::shared_ptr<const T> TakeShared(std::string_view payload) {
  std::shared_ptr<const T>* handle = nullptr;
  if (payload.size() != sizeof(handle)) return nullptr;
  std::memcpy(&handle, payload.data(), sizeof(handle));
  std::shared_ptr<const T> value = std::move(*handle);
  delete handle;
  return value;
}

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_ADMIN_CHANNEL_H_
