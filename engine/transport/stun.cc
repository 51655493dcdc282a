#include "engine/transport/stun.h"

#include <sys/socket.h>

#include <cstring>

namespace locus::engine {
namespace {

constexpr uint32_t kMagicCookie = 0x2112A442;  // RFC 5389 section 6

// Attributes a Binding request may carry that we understand.
const uint16_t kKnownAttributes[] = {STUN_ATTRIBUTE_SOFTWARE, STUN_ATTRIBUTE_FINGERPRINT, 0};

}  // namespace

StunResponder::StunResponder() {
  stun_agent_init(&agent_, kKnownAttributes, STUN_COMPATIBILITY_RFC5389,
                  static_cast<StunAgentUsageFlags>(0));
  stun_agent_init(&fingerprint_agent_, kKnownAttributes, STUN_COMPATIBILITY_RFC5389,
                  STUN_AGENT_USAGE_USE_FINGERPRINT);
}

bool StunResponder::LooksLikeStun(std::string_view datagram) {
  if (datagram.size() < 20 || (static_cast<uint8_t>(datagram[0]) & 0xC0) != 0) return false;
  uint32_t cookie;
  std::memcpy(&cookie, datagram.data() + 4, sizeof(cookie));
  return __builtin_bswap32(cookie) == kMagicCookie;
}

size_t StunResponder::Answer(std::string_view request, const Endpoint& source, uint8_t* out) {
  if (request.size() > 65535 || !source.valid()) return 0;
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(request.data());
  if (stun_message_validate_buffer_length(bytes, request.size(), true) !=
      static_cast<int>(request.size())) {
    return 0;  // torn, or not STUN after all
  }
  StunMessage message;
  const StunValidationStatus status =
      stun_agent_validate(&agent_, &message, bytes, request.size(), nullptr, nullptr);
  if (status != STUN_VALIDATION_SUCCESS && status != STUN_VALIDATION_UNKNOWN_REQUEST_ATTRIBUTE) {
    return 0;
  }
  if (stun_message_get_class(&message) != STUN_REQUEST ||
      stun_message_get_method(&message) != STUN_BINDING) {
    return 0;  // indications and responses get no answer
  }
  StunAgent* agent = stun_message_has_attribute(&message, STUN_ATTRIBUTE_FINGERPRINT)
                         ? &fingerprint_agent_
                         : &agent_;
  StunMessage response;
  if (status == STUN_VALIDATION_UNKNOWN_REQUEST_ATTRIBUTE) {
    return stun_agent_build_unknown_attributes_error(agent, &response, out, kMaxResponse,
                                                     &message);
  }
  if (!stun_agent_init_response(agent, &response, out, kMaxResponse, &message)) return 0;
  sockaddr_storage address{};
  std::memcpy(&address, source.addr(), source.len());
  if (stun_message_append_xor_addr(&response, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, &address,
                                   source.len()) != STUN_MESSAGE_RETURN_SUCCESS) {
    return 0;
  }
  return stun_agent_finish_message(agent, &response, nullptr, 0);
}

}  // namespace locus::engine
