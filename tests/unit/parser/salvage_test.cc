// The lenient second reading of a refused datagram (parser/message.h,
// SalvageRequest): clean lines kept, broken ones left out and named, the
// start line required.
#include <string>

#include "gtest/gtest.h"
#include "parser/message.h"

namespace locus::sip {
namespace {

constexpr std::string_view kStart = "REGISTER sip:example.com SIP/2.0\r\n";
constexpr std::string_view kCore =
    "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n"
    "From: <sip:a@example.com>;tag=1\r\n"
    "To: <sip:a@example.com>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 REGISTER\r\n";

TEST(Salvage, ABareLfLineIsLeftOutAndNamed) {
  const std::string text = std::string(kStart) + std::string(kCore) +
                           "Contact: <sip:a@10.0.0.1>;+sip.instance=\"<urn:uuid:1\n>\"\r\n"
                           "Expires: 60\r\n\r\n";
  Message message;
  ASSERT_FALSE(ParseMessage(text, {}, &message).ok());
  HeaderId broken = HeaderId::kNone;
  ASSERT_TRUE(SalvageRequest(text, &message, &broken).ok());
  EXPECT_EQ(broken, HeaderId::kContact);
  EXPECT_EQ(message.method(), Method::kRegister);
  EXPECT_EQ(message.Count(HeaderId::kContact), 0);
  ASSERT_NE(message.Find(HeaderId::kCSeq), nullptr);
  EXPECT_EQ(message.Find(HeaderId::kCSeq)->value(), "1 REGISTER");
  ASSERT_NE(message.Find(HeaderId::kExpires), nullptr);
  EXPECT_EQ(message.Find(HeaderId::kExpires)->value(), "60");
}

TEST(Salvage, FoldingIsReadAndLfOnlyMessagesAreNot) {
  std::string text = std::string(kStart) + std::string(kCore) + "Subject: one\r\n two\r\n\r\n";
  Message message;
  HeaderId broken = HeaderId::kNone;
  ASSERT_TRUE(SalvageRequest(text, &message, &broken).ok());
  EXPECT_EQ(broken, HeaderId::kNone);
  ASSERT_NE(message.Find(HeaderId::kSubject), nullptr);
  EXPECT_EQ(message.Find(HeaderId::kSubject)->value(), "one\r\n two");
  // Lines ended by LF alone are each broken, the start line too: nothing to
  // answer with.
  std::string lf = text;
  for (size_t at = 0; (at = lf.find("\r\n", at)) != std::string::npos;) lf.erase(at, 1);
  EXPECT_FALSE(SalvageRequest(lf, &message, &broken).ok());
}

TEST(Salvage, NeedsARequestLine) {
  Message message;
  HeaderId broken;
  EXPECT_FALSE(SalvageRequest("SIP/2.0 200 OK\r\n\r\n", &message, &broken).ok());
  EXPECT_FALSE(SalvageRequest("REGISTER\r\n\r\n", &message, &broken).ok());
  EXPECT_FALSE(SalvageRequest("", &message, &broken).ok());
  EXPECT_FALSE(SalvageRequest("REGISTER sip:a SIP/2.0\x01\r\n\r\n", &message, &broken).ok());
  // Past the index's capacity, the rest is left out, never overrun.
  std::string many = std::string(kStart);
  for (int i = 0; i < 200; ++i) many += "X-H: v\r\n";
  ASSERT_TRUE(SalvageRequest(many, &message, &broken).ok());
  EXPECT_EQ(message.headers().size(), Message::kMaxHeaders);
}

}  // namespace
}  // namespace locus::sip
