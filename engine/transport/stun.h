// STUN Binding requests on a SIP UDP port (RFC 5389; RFC 5626 section 8.4:
// the keep-alive of an outbound flow over UDP is a STUN Binding request to
// the SIP port, answered with the address the server saw). A SIP message
// starts with a letter; a STUN message with two zero bits and carries the
// magic cookie, so the two are told apart by their first bytes.
//
// The STUN codec is libnice's (its StunAgent works on caller buffers and
// allocates nothing). Requests without credentials are answered; a
// FINGERPRINT in the request gets one in the response; an unknown
// comprehension-required attribute gets a 420 error response; anything else
// that is not a valid Binding request is dropped.
#ifndef LOCUS_ENGINE_TRANSPORT_STUN_H_
#define LOCUS_ENGINE_TRANSPORT_STUN_H_

#include <stun/stunagent.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/endpoint.h"

namespace locus::engine {

class StunResponder {
 public:
  // Largest response built (a Binding success with XOR-MAPPED-ADDRESS and
  // FINGERPRINT is 44 bytes; an error lists the unknown attributes).
  static constexpr size_t kMaxResponse = 548;

  StunResponder();
  StunResponder(const StunResponder&) = delete;
  StunResponder& operator=(const StunResponder&) = delete;

  // The datagram is STUN, not SIP: 20 bytes of header at least, the two top
  // bits zero, the RFC 5389 magic cookie.
  static bool LooksLikeStun(std::string_view datagram);

  // Builds the answer to `request` from `source` into out[0, kMaxResponse);
  // returns its size, or 0 when it gets none.
  size_t Answer(std::string_view request, const Endpoint& source, uint8_t* out);

 private:
  StunAgent agent_;              // answers without FINGERPRINT
  StunAgent fingerprint_agent_;  // answers with it
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_STUN_H_
