#include "engine/trace/hep.h"

#include <string>

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

Endpoint At(const char* text) {
  Endpoint e;
  EXPECT_TRUE(Endpoint::Parse(text, &e)) << text;
  return e;
}

uint16_t U16(const std::string& s, size_t at) {
  return static_cast<uint16_t>((static_cast<unsigned char>(s[at]) << 8) | static_cast<unsigned char>(s[at + 1]));
}

// The packet byte for byte, as a capture server reads it.
TEST(Hep, Ipv4UdpPacketChunkByChunk) {
  HepMessage m;
  m.source = At("192.0.2.7:5062");
  m.destination = At("198.51.100.1:5060");
  m.time_us = 1795849847123456;
  m.capture_id = 2001;
  m.payload = "REGISTER sip:example.com SIP/2.0\r\n\r\n";
  std::string out = "x";  // appends
  ASSERT_TRUE(AppendHep3(m, &out));
  const std::string p = out.substr(1);
  // 135 bytes: the 6-byte header, 67 of fixed chunks, two 10-byte
  // addresses, 6 + 36 of payload.
  const std::string want = std::string("HEP3") + std::string("\x00\x87", 2) +
                           std::string("\x00\x00\x00\x01\x00\x07\x02", 7) +            // family AF_INET
                           std::string("\x00\x00\x00\x02\x00\x07\x11", 7) +            // protocol UDP
                           std::string("\x00\x00\x00\x03\x00\x0a\xc0\x00\x02\x07", 10) +  // source
                           std::string("\x00\x00\x00\x04\x00\x0a\xc6\x33\x64\x01", 10) +  // destination
                           std::string("\x00\x00\x00\x07\x00\x08\x13\xc6", 8) +        // 5062
                           std::string("\x00\x00\x00\x08\x00\x08\x13\xc4", 8) +        // 5060
                           std::string("\x00\x00\x00\x09\x00\x0a\x6b\x0a\x7e\x77", 10) +  // 1795849847 s
                           std::string("\x00\x00\x00\x0a\x00\x0a\x00\x01\xe2\x40", 10) +  // 123456 us
                           std::string("\x00\x00\x00\x0b\x00\x07\x01", 7) +            // SIP
                           std::string("\x00\x00\x00\x0c\x00\x0a\x00\x00\x07\xd1", 10) +  // capture id 2001
                           std::string("\x00\x00\x00\x0f\x00\x2a", 6) + std::string(m.payload);
  EXPECT_EQ(p, want);
  EXPECT_EQ(U16(p, 4), p.size());
}

TEST(Hep, Ipv6TcpAddressesAndLength) {
  HepMessage m;
  m.source = At("[::1]:5060");
  m.destination = At("[2001:db8::5]:40000");
  m.transport = store::Transport::kTcp;
  m.payload = "SIP/2.0 200 OK\r\n\r\n";
  std::string p;
  ASSERT_TRUE(AppendHep3(m, &p));
  EXPECT_EQ(U16(p, 4), p.size());
  EXPECT_EQ(p.substr(6, 7), std::string("\x00\x00\x00\x01\x00\x07\x0a", 7));  // AF_INET6
  EXPECT_EQ(p.substr(13, 7), std::string("\x00\x00\x00\x02\x00\x07\x06", 7));  // TCP
  EXPECT_EQ(p.substr(20, 6), std::string("\x00\x00\x00\x05\x00\x16", 6));      // IPv6 source, 16 bytes
  EXPECT_EQ(p.substr(26, 16), std::string(15, '\0') + "\x01");
  EXPECT_EQ(p.substr(42, 6), std::string("\x00\x00\x00\x06\x00\x16", 6));
  EXPECT_TRUE(p.ends_with(m.payload));
}

TEST(Hep, RefusesWhatDoesNotFit) {
  HepMessage m;
  m.source = At("127.0.0.1:1");
  m.destination = At("[::1]:2");  // families differ
  std::string p = "keep";
  EXPECT_FALSE(AppendHep3(m, &p));
  m.destination = Endpoint();
  EXPECT_FALSE(AppendHep3(m, &p));
  m.destination = At("127.0.0.1:2");
  const std::string big(kHepMaxPacket, 'x');
  m.payload = big;
  EXPECT_FALSE(AppendHep3(m, &p));
  EXPECT_EQ(p, "keep");
  m.payload = std::string_view(big).substr(0, kHepMaxPacket - 6 - 67 - 20 - 6);  // exactly fits
  EXPECT_TRUE(AppendHep3(m, &p));
  EXPECT_EQ(p.size(), 4 + kHepMaxPacket);
}

}  // namespace
}  // namespace locus::engine
