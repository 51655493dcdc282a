// Authorization / Proxy-Authorization credentials and WWW-Authenticate /
// Proxy-Authenticate challenges (RFC 3261 section 20.7, 22.4, 25.1; RFC 2617,
// RFC 7616). Quoted values are returned without their quotes (escapes kept).
#ifndef LOCUS_PARSER_DIGEST_H_
#define LOCUS_PARSER_DIGEST_H_

#include <string_view>

#include "parser/error.h"

namespace locus::sip {

struct DigestParams {
  std::string_view scheme;  // "Digest" (or another auth-scheme, kept as is)
  std::string_view username;
  std::string_view realm;
  std::string_view nonce;
  std::string_view uri;
  std::string_view response;
  std::string_view algorithm;
  std::string_view cnonce;
  std::string_view opaque;
  std::string_view qop;
  std::string_view nc;
  std::string_view stale;
  std::string_view params;  // everything after the scheme, as written
};

// Parses "scheme LWS auth-param *(COMMA auth-param)"; auth-param =
// token EQUAL ( token / quoted-string ). Commas separate parameters here, so
// these headers are never split as lists.
ParseError ParseDigest(std::string_view value, HeaderId where, DigestParams* out);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_DIGEST_H_
