#include "parser/header_id.h"

#include <array>

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

// Buckets of kNames by lower-cased first letter, so a lookup compares against
// at most a handful of names of the right length.
struct Index {
  std::array<std::array<uint8_t, 8>, 26> bucket{};
  std::array<uint8_t, 26> size{};
};

constexpr Index MakeIndex() {
  Index index;
  for (size_t i = 0; i < std::size(kNames); ++i) {
    const int letter = ToLower(kNames[i].name[0]) - 'a';
    index.bucket[letter][index.size[letter]++] = static_cast<uint8_t>(i);
  }
  return index;
}

constexpr Index kIndex = MakeIndex();

}  // namespace

HeaderId LookupHeaderId(std::string_view name) {
  if (name.empty()) return HeaderId::kOther;
  if (name.size() == 1) return CompactForm(name[0]);
  const int letter = ToLower(name[0]) - 'a';
  if (letter < 0 || letter >= 26) return HeaderId::kOther;
  for (uint8_t k = 0; k < kIndex.size[letter]; ++k) {
    const NameEntry& entry = kNames[kIndex.bucket[letter][k]];
    if (EqualsIgnoreCase(entry.name, name)) return entry.id;
  }
  return HeaderId::kOther;
}

std::string_view HeaderName(HeaderId id) {
  for (const NameEntry& entry : kNames) {
    if (entry.id == id) return entry.name;
  }
  return {};
}

}  // namespace locus::sip
