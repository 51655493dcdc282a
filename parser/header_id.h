// Known SIP header fields, looked up case-insensitively by full or compact name
// (RFC 3261 section 7.3.3 and the compact forms registered since).
#ifndef LOCUS_PARSER_HEADER_ID_H_
#define LOCUS_PARSER_HEADER_ID_H_

#include <cstdint>
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

// The canonical full name, e.g. "Call-ID"; "" for kNone and kOther.
std::string_view HeaderName(HeaderId id);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_HEADER_ID_H_
