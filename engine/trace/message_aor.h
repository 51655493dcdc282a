// The address-of-record a SIP message is about: its To URI in canonical form
// (RFC 3261 section 10.3 step 5), for requests and responses alike, so that a
// trace of one AOR shows both. Parses the message (datagram framing) into
// caller-owned scratch; no allocation.
#ifndef LOCUS_ENGINE_TRACE_MESSAGE_AOR_H_
#define LOCUS_ENGINE_TRACE_MESSAGE_AOR_H_

#include <string_view>

#include "parser/aor.h"
#include "parser/message.h"

namespace locus::engine {

// False when the bytes are not a message with a sip/sips To URI.
bool MessageAor(std::string_view bytes, sip::Message* scratch, sip::CanonicalAor* aor);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRACE_MESSAGE_AOR_H_
