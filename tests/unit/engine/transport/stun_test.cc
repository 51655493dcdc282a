// STUN keep-alives on the SIP port (engine/transport/stun.h): a Binding
// request gets a success response carrying the source address (XOR-MAPPED-
// ADDRESS), with FINGERPRINT when the request had one; anything else gets
// nothing; SIP text never looks like STUN.
#include "engine/transport/stun.h"

#include <arpa/inet.h>
#include <stun/usages/bind.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

// A Binding request as a client's StunAgent builds it.
std::string BindingRequest(bool fingerprint) {
  static const uint16_t known[] = {0};
  StunAgent agent;
  stun_agent_init(&agent, known, STUN_COMPATIBILITY_RFC5389,
                  fingerprint ? STUN_AGENT_USAGE_USE_FINGERPRINT
                              : static_cast<StunAgentUsageFlags>(0));
  StunMessage message;
  uint8_t buffer[256];
  const size_t size = stun_usage_bind_create(&agent, &message, buffer, sizeof(buffer));
  return {reinterpret_cast<const char*>(buffer), size};
}

TEST(Stun, BindingRequestGetsTheMappedAddress) {
  for (bool fingerprint : {false, true}) {
    const std::string request = BindingRequest(fingerprint);
    ASSERT_TRUE(StunResponder::LooksLikeStun(request));
    StunResponder responder;
    Endpoint source;
    ASSERT_TRUE(Endpoint::Parse("203.0.113.7:40123", &source));
    uint8_t answer[StunResponder::kMaxResponse];
    const size_t size = responder.Answer(request, source, answer);
    ASSERT_GT(size, 20u);
    // Read it back as a client would.
    static const uint16_t known[] = {STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, STUN_ATTRIBUTE_FINGERPRINT, 0};
    StunMessage response;
    response.buffer = answer;
    response.buffer_len = size;
    EXPECT_EQ(stun_message_get_class(&response), STUN_RESPONSE);
    EXPECT_EQ(stun_message_get_method(&response), STUN_BINDING);
    EXPECT_EQ(std::memcmp(answer + 8, request.data() + 8, 12), 0);  // transaction id
    sockaddr_storage mapped{};
    socklen_t len = sizeof(mapped);
    ASSERT_EQ(stun_message_find_xor_addr(&response, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, &mapped, &len),
              STUN_MESSAGE_RETURN_SUCCESS);
    const auto* in = reinterpret_cast<const sockaddr_in*>(&mapped);
    EXPECT_EQ(ntohs(in->sin_port), 40123);
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    EXPECT_STREQ(text, "203.0.113.7");
    EXPECT_EQ(stun_message_has_attribute(&response, STUN_ATTRIBUTE_FINGERPRINT), fingerprint);
    (void)known;
  }
}

TEST(Stun, SipIsNotStunAndBrokenStunGetsNothing) {
  EXPECT_FALSE(StunResponder::LooksLikeStun("REGISTER sip:example.com SIP/2.0\r\n\r\n"));
  EXPECT_FALSE(StunResponder::LooksLikeStun(std::string(19, '\0')));
  StunResponder responder;
  Endpoint source;
  ASSERT_TRUE(Endpoint::Parse("[2001:db8::1]:5060", &source));
  uint8_t answer[StunResponder::kMaxResponse];
  std::string request = BindingRequest(false);
  EXPECT_GT(responder.Answer(request, source, answer), 20u);  // IPv6 too
  for (size_t cut = 1; cut < request.size(); ++cut) {
    EXPECT_EQ(responder.Answer(request.substr(0, cut), source, answer), 0u) << cut;
  }
  std::string lying = request;
  lying[3] = 100;  // a length past the datagram
  EXPECT_EQ(responder.Answer(lying, source, answer), 0u);
  std::string response = request;
  response[0] = 0x01;  // a Binding success response, not a request
  response[1] = 0x01;
  EXPECT_EQ(responder.Answer(response, source, answer), 0u);
}

}  // namespace
}  // namespace locus::engine
