// The address-of-record key (RFC 3261 section 10.3 step 5): the To URI with
// all URI parameters and headers removed and %-escapes decoded. locus also
// drops the password, and lower-cases the scheme and host (both compare
// case-insensitively under section 19.1.4), so that URIs that are equal as
// AORs give byte-equal keys. The user part stays case-sensitive. The port is
// kept when written. Example: <sip:%61lice@AtLanTa.CoM;transport=TCP> gives
// "sip:alice@atlanta.com".
#ifndef LOCUS_PARSER_AOR_H_
#define LOCUS_PARSER_AOR_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parser/error.h"
#include "parser/message.h"
#include "parser/uri.h"

namespace locus::sip {

// A canonical AOR in a fixed buffer: building one never allocates.
class CanonicalAor {
 public:
  static constexpr size_t kCapacity = 512;

  std::string_view view() const { return {data_, size_}; }

 private:
  friend ParseError CanonicalizeAor(const Uri& uri, CanonicalAor* out);
  char data_[kCapacity];
  size_t size_ = 0;
};

// Fails for URIs that are not sip: or sips: and for keys over kCapacity bytes.
ParseError CanonicalizeAor(const Uri& uri, CanonicalAor* out);

// The canonical AOR of the message's (first) To, reading no other header and
// not the To's parameters: to find the shard that owns a request before it is
// validated, or the AOR a traced message is about. Fails as CanonicalizeAor
// does, and when there is no To or its value is not a name-addr/addr-spec.
ParseError AorOfTo(const Message& message, CanonicalAor* out);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_AOR_H_
