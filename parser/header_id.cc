#include "parser/header_id.h"

#include <array>
#include <cstring>

#include "parser/scan.h"

namespace locus::sip {
namespace {

struct NameEntry {
  std::string_view name;
  HeaderId id;
};

// Full names, then compact forms (RFC 3261 section 7.3.3; RFC 3265 for "o").
constexpr NameEntry kNames[] = {
    {"Accept", HeaderId::kAccept},
    {"Allow", HeaderId::kAllow},
    {"Authorization", HeaderId::kAuthorization},
    {"Call-ID", HeaderId::kCallId},
    {"Contact", HeaderId::kContact},
    {"Content-Encoding", HeaderId::kContentEncoding},
    {"Content-Length", HeaderId::kContentLength},
    {"Content-Type", HeaderId::kContentType},
    {"CSeq", HeaderId::kCSeq},
    {"Date", HeaderId::kDate},
    {"Event", HeaderId::kEvent},
    {"Expires", HeaderId::kExpires},
    {"From", HeaderId::kFrom},
    {"Max-Forwards", HeaderId::kMaxForwards},
    {"Min-Expires", HeaderId::kMinExpires},
    {"Path", HeaderId::kPath},
    {"Proxy-Authenticate", HeaderId::kProxyAuthenticate},
    {"Proxy-Authorization", HeaderId::kProxyAuthorization},
    {"Proxy-Require", HeaderId::kProxyRequire},
    {"Record-Route", HeaderId::kRecordRoute},
    {"Require", HeaderId::kRequire},
    {"Retry-After", HeaderId::kRetryAfter},
    {"Route", HeaderId::kRoute},
    {"Server", HeaderId::kServer},
    {"Subject", HeaderId::kSubject},
    {"Supported", HeaderId::kSupported},
    {"To", HeaderId::kTo},
    {"Unsupported", HeaderId::kUnsupported},
    {"User-Agent", HeaderId::kUserAgent},
    {"Via", HeaderId::kVia},
    {"Warning", HeaderId::kWarning},
    {"WWW-Authenticate", HeaderId::kWwwAuthenticate},
};

constexpr HeaderId CompactForm(char c) {
  switch (ToLower(c)) {
    case 'c': return HeaderId::kContentType;
    case 'e': return HeaderId::kContentEncoding;
    case 'f': return HeaderId::kFrom;
    case 'i': return HeaderId::kCallId;
    case 'k': return HeaderId::kSupported;
    case 'l': return HeaderId::kContentLength;
    case 'm': return HeaderId::kContact;
    case 'o': return HeaderId::kEvent;
    case 's': return HeaderId::kSubject;
    case 't': return HeaderId::kTo;
    case 'v': return HeaderId::kVia;
    default: return HeaderId::kOther;
  }
}

// A perfect hash of (length, first letter, last letter) into 128 slots: one
// case-insensitive comparison per lookup. The multipliers were searched for,
// and MakeIndex() fails to compile if a name is added that collides.
constexpr size_t kSlots = 128;

constexpr size_t Slot(std::string_view name) {
  return (name.size() + static_cast<size_t>(ToLower(name.front())) * 7 +
          static_cast<size_t>(ToLower(name.back())) * 21) &
         (kSlots - 1);
}

constexpr std::array<uint8_t, kSlots> MakeIndex() {
  std::array<uint8_t, kSlots> index{};  // entry + 1; 0 = empty
  for (size_t i = 0; i < std::size(kNames); ++i) {
    const size_t slot = Slot(kNames[i].name);
    if (index[slot] != 0) throw "header name hash collision: change the multipliers";
    index[slot] = static_cast<uint8_t>(i + 1);
  }
  return index;
}

constexpr std::array<uint8_t, kSlots> kIndex = MakeIndex();

// Case-insensitive equality of a token against a known header name, eight
// bytes at a time: OR-ing 0x20 lower-cases letters and leaves '-' and digits
// alone. A token byte that differs from the name's but matches after OR-ing
// would have to be a control character, which tokens exclude.
bool EqualsKnownName(std::string_view known, std::string_view name) {
  if (known.size() != name.size()) return false;
  size_t i = 0;
  uint64_t diff = 0;
  for (; i + 8 <= name.size(); i += 8) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, known.data() + i, 8);
    std::memcpy(&b, name.data() + i, 8);
    diff |= (a | 0x2020202020202020ull) ^ (b | 0x2020202020202020ull);
  }
  for (; i < name.size(); ++i) diff |= static_cast<uint64_t>((known[i] | 0x20) ^ (name[i] | 0x20));
  return diff == 0;
}

}  // namespace

HeaderId LookupHeaderId(std::string_view name) {
  if (name.empty()) return HeaderId::kOther;
  if (name.size() == 1) return CompactForm(name[0]);
  const uint8_t entry = kIndex[Slot(name)];
  if (entry == 0) return HeaderId::kOther;
  const NameEntry& candidate = kNames[entry - 1];
  return EqualsKnownName(candidate.name, name) ? candidate.id : HeaderId::kOther;
}

std::string_view HeaderName(HeaderId id) {
  for (const NameEntry& entry : kNames) {
    if (entry.id == id) return entry.name;
  }
  return {};
}

}  // namespace locus::sip
