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

// The perfect hash of header_id.h: one case-insensitive comparison per lookup.
constexpr size_t kSlots = kHeaderSlots;

constexpr size_t Slot(std::string_view name) { return HeaderSlot(name.data(), name.size()); }

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

// Each slot's name as two folded words with the masks that keep its bytes, so
// that a name with 16 readable bytes is matched by two loads and compares.
constexpr std::array<PackedName, kSlots> MakePackedIndex() {
  std::array<PackedName, kSlots> packed{};
  for (size_t slot = 0; slot < kSlots; ++slot) {
    if (kIndex[slot] == 0) continue;
    const NameEntry& entry = kNames[kIndex[slot] - 1];
    PackedName& p = packed[slot];
    const size_t n = entry.name.size();
    if (n > 16) continue;  // size 0: matches nothing, LookupHeaderId decides
    for (size_t i = 0; i < n; ++i) {
      const uint64_t byte = static_cast<unsigned char>(entry.name[i] | 0x20);
      if (i < 8) {
        p.head |= byte << (8 * i);
        p.head_mask |= uint64_t{0xFF} << (8 * i);
      } else {
        p.tail |= byte << (8 * (i - 8));
        p.tail_mask |= uint64_t{0xFF} << (8 * (i - 8));
      }
    }
    p.size = static_cast<uint8_t>(n);
    p.id = entry.id;
  }
  return packed;
}

}  // namespace

constinit const std::array<PackedName, kHeaderSlots> kPackedHeaderNames = MakePackedIndex();

namespace {

// Case-insensitive equality of a token against a known header name with a few
// overlapping word loads: OR-ing 0x20 lower-cases letters and leaves '-' and
// digits alone. A token byte that differs from the name's but matches after
// OR-ing would have to be a control character, which tokens exclude.
template <typename Word>
Word LoadFolded(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof(w));
  return w | static_cast<Word>(0x2020202020202020ull);
}

template <typename Word>
bool WordsEqual(const char* a, const char* b, size_t n) {
  // Two loads cover n in [sizeof(Word), 2 * sizeof(Word)]: the head and the tail.
  return ((LoadFolded<Word>(a) ^ LoadFolded<Word>(b)) |
          (LoadFolded<Word>(a + n - sizeof(Word)) ^ LoadFolded<Word>(b + n - sizeof(Word)))) == 0;
}

bool EqualsKnownName(std::string_view known, std::string_view name) {
  const size_t n = name.size();
  if (known.size() != n) return false;
  const char* a = known.data();
  const char* b = name.data();
  if (n >= 8) {
    if (n > 16 && !WordsEqual<uint64_t>(a + 8, b + 8, n - 8)) return false;
    return WordsEqual<uint64_t>(a, b, n > 16 ? 16 : n);
  }
  if (n >= 4) return WordsEqual<uint32_t>(a, b, n);
  if (n >= 2) return WordsEqual<uint16_t>(a, b, n);
  return (a[0] | 0x20) == (b[0] | 0x20);
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
