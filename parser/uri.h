// SIP, SIPS and absolute URIs (RFC 3261 section 19.1 and 25.1, IPv6 references
// per RFC 5954/5118). A parsed Uri is a set of views into the text it was
// parsed from; %-escapes are validated but not decoded (see uri_compare.h and
// aor.h for the operations that decode).
#ifndef LOCUS_PARSER_URI_H_
#define LOCUS_PARSER_URI_H_

#include <cstdint>
#include <string_view>

#include "parser/error.h"

namespace locus::sip {

enum class UriScheme : uint8_t { kSip, kSips, kTel, kOther };
enum class HostType : uint8_t { kNone, kHostname, kIpv4, kIpv6 };

struct Uri {
  std::string_view text;  // the whole URI as written
  UriScheme scheme = UriScheme::kOther;
  std::string_view scheme_name;  // as written, e.g. "SIP"
  // sip: and sips: only. Absent parts are empty views with has_* false.
  bool has_user = false;
  std::string_view user;  // escaped form, as written
  bool has_password = false;
  std::string_view password;
  std::string_view host;  // as written; an IPv6 reference keeps its brackets
  HostType host_type = HostType::kNone;
  bool has_port = false;
  uint16_t port = 0;
  std::string_view params;   // ";name=value;..." as written, leading ';' included, or empty
  std::string_view headers;  // after '?', as written, or empty
  // tel: and other schemes: everything after the first ':'.
  std::string_view opaque;

  bool is_sip() const { return scheme == UriScheme::kSip || scheme == UriScheme::kSips; }
};

// Parses `text` (already isolated: no surrounding <>, no trailing header
// parameters) as a URI. `where` names the header for error reports.
ParseError ParseUri(std::string_view text, HeaderId where, Uri* out);

// Sets *out to `parsed` (a successful ParseUri result) moved onto `text`,
// which must hold the same characters as parsed.text: every view into
// parsed.text points at the same place in `text`. What ParseUri(text) would
// give, without parsing again.
void CopyParsedUri(const Uri& parsed, std::string_view text, Uri* out);

// Validates a host (hostname / IPv4address / IPv6reference, section 25.1) and
// reports which kind it is. Shared by URIs and the Via sent-by.
bool ParseHost(std::string_view host, HostType* type);

// Reads a host from the front of `s` and returns its length, or 0 when the
// front of `s` is not a valid host. Stops at the first character that cannot
// continue the host (':' before a port, ';' before parameters, ...).
size_t ScanHost(std::string_view s, HostType* type);

// Finds a URI parameter by name (case-insensitive) in Uri::params. Returns
// true when present; *value is empty for a parameter without "=value".
bool FindUriParam(std::string_view params, std::string_view name, std::string_view* value);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_URI_H_
