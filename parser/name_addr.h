// name-addr / addr-spec values with header parameters (RFC 3261 section 20.10
// and 25.1): From, To, Contact, Route, Record-Route, Path.
#ifndef LOCUS_PARSER_NAME_ADDR_H_
#define LOCUS_PARSER_NAME_ADDR_H_

#include <string_view>

#include "parser/error.h"
#include "parser/uri.h"

namespace locus::sip {

struct NameAddr {
  std::string_view display_name;  // as written, quotes included; empty if none
  Uri uri;
  bool angle_brackets = false;    // the URI was written inside <...>
  std::string_view params;        // header parameters (";tag=..."), as written
};

// Parses one list element. When the URI is not inside <...>, its first ';'
// starts the header parameters (section 20) and it may not contain '?'.
// On failure *out is unspecified (partly filled), as for every parser here.
// `same_uri`, when given, is a URI parsed before with success (From's, for
// To): if this element's URI has the same text, that result is copied
// rather than parsed again (CopyParsedUri); the result is the same.
ParseError ParseNameAddr(std::string_view element, HeaderId where, NameAddr* out,
                         const Uri* same_uri = nullptr);

// As ParseNameAddr, but out->params is not checked: for callers that walk the
// parameters with a ParamCursor anyway and check its error().
ParseError ParseNameAddrUncheckedParams(std::string_view element, HeaderId where, NameAddr* out,
                                        const Uri* same_uri = nullptr);

// The tag parameter of From/To, or empty.
std::string_view TagOf(const NameAddr& value);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_NAME_ADDR_H_
