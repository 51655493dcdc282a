// Known SIP header fields, looked up case-insensitively by full or compact name
// (RFC 3261 section 7.3.3 and the compact forms registered since).
#ifndef LOCUS_PARSER_HEADER_ID_H_
#define LOCUS_PARSER_HEADER_ID_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace locus::sip {

enum class HeaderId : uint8_t {
  kNone = 0,  // not a header (used in errors about the start line or framing)
  kOther,     // a header locus does not interpret; preserved as is
  kAccept,
  kAllow,
  kAuthorization,
  kCallId,
  kContact,
  kContentEncoding,
  kContentLength,
  kContentType,
  kCSeq,
  kDate,
  kEvent,
  kExpires,
  kFrom,
  kMaxForwards,
  kMinExpires,
  kPath,
  kProxyAuthenticate,
  kProxyAuthorization,
  kProxyRequire,
  kRecordRoute,
  kRequire,
  kRetryAfter,
  kRoute,
  kServer,
  kSubject,
  kSupported,
  kTo,
  kUnsupported,
  kUserAgent,
  kVia,
  kWarning,
  kWwwAuthenticate,
  kCount,  // number of ids; keep last
};

inline constexpr int kHeaderIdCount = static_cast<int>(HeaderId::kCount);

// Maps a header name (full or compact form, any case) to its id; kOther when
// locus does not know it. Never allocates.
HeaderId LookupHeaderId(std::string_view name);

// Header-name lookup table, for LookupHeaderIdPadded below.
inline constexpr size_t kHeaderSlots = 128;
// A perfect hash of (length, first letter, last letter) into 128 slots. Every
// known name starts and ends with a letter, which OR-ing 0x20 lower-cases;
// other bytes land in some slot and fail the comparison. The multipliers were
// searched for: header_id.cc fails to compile if a name is added that collides.
constexpr size_t HeaderSlot(const char* name, size_t n) {
  return (n + static_cast<size_t>(static_cast<unsigned char>(name[0] | 0x20)) * 7 +
          static_cast<size_t>(static_cast<unsigned char>(name[n - 1] | 0x20)) * 21) &
         (kHeaderSlots - 1);
}
struct PackedName {
  uint64_t head = 0;  // name bytes 0-7, OR 0x20, little-endian; 0 past the name
  uint64_t tail = 0;  // bytes 8-15
  uint64_t head_mask = 0;
  uint64_t tail_mask = 0;
  uint8_t size = 0;  // 0: no name of 2 to 16 bytes in this slot
  HeaderId id = HeaderId::kOther;
};
extern const std::array<PackedName, kHeaderSlots> kPackedHeaderNames;

// LookupHeaderId for a name followed in memory by the rest of its line:
// `readable` bytes from name.data() may be read. With 16 of them, a name is
// matched with two word loads, inline (the framer's lookup, once per line).
inline HeaderId LookupHeaderIdPadded(std::string_view name, size_t readable) {
  const size_t n = name.size();
  if (n < 2 || n > 16 || readable < 16) return LookupHeaderId(name);
  const PackedName& entry = kPackedHeaderNames[HeaderSlot(name.data(), n)];
  uint64_t head;
  uint64_t tail;
  std::memcpy(&head, name.data(), 8);
  std::memcpy(&tail, name.data() + 8, 8);
  // OR 0x20 lower-cases letters and keeps '-'; no token byte that differs
  // from a name's byte matches it after OR-ing (header_id.cc).
  head = (head | 0x2020202020202020ull) & entry.head_mask;
  tail = (tail | 0x2020202020202020ull) & entry.tail_mask;
  return entry.size == n && head == entry.head && tail == entry.tail ? entry.id : HeaderId::kOther;
}

// The canonical full name, e.g. "Call-ID"; "" for kNone and kOther.
std::string_view HeaderName(HeaderId id);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_HEADER_ID_H_
