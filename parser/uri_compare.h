// URI equality exactly per RFC 3261 section 19.1.4 (with RFC 5954 section 4
// for IPv6 hosts). Used to match a Contact against the bindings it refreshes.
#ifndef LOCUS_PARSER_URI_COMPARE_H_
#define LOCUS_PARSER_URI_COMPARE_H_

#include "parser/uri.h"

namespace locus::sip {

// For sip: and sips: URIs, section 19.1.4: schemes must match; user and
// password compare case-sensitively, everything else case-insensitively; an
// escaped character equals its literal form unless it is reserved; user,
// password, host and port must all match (an absent port never equals an
// explicit one); the user, ttl, method, maddr and transport parameters must
// match where either URI has them; other parameters must match only where
// both have them; header components must be present in both and match.
// Other schemes compare by scheme (case-insensitive) and the rest (escape-
// normalized, case-sensitive).
bool UriEquals(const Uri& a, const Uri& b);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_URI_COMPARE_H_
