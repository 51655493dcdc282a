// SIP framing on a stream (engine/transport/sip_stream_framer.h): messages
// delimited by Content-Length, CRLF keep-alives, partial input, lost framing.
#include "engine/transport/sip_stream_framer.h"

#include <string>

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

constexpr std::string_view kRegister =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:a@example.com>\r\n"
    "From: <sip:a@example.com>;tag=1\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "body";

TEST(SipStreamFramer, TwoMessagesBackToBackAreFramedOneByOne) {
  const std::string data = std::string(kRegister) + std::string(kRegister);
  sip::Message message;
  StreamFrame first = NextStreamFrame(data, 65535, &message);
  ASSERT_EQ(first.kind, StreamFrame::Kind::kMessage);
  EXPECT_EQ(first.size, kRegister.size());
  EXPECT_EQ(message.body(), "body");
  StreamFrame second = NextStreamFrame(std::string_view(data).substr(first.size), 65535, &message);
  ASSERT_EQ(second.kind, StreamFrame::Kind::kMessage);
  EXPECT_EQ(second.size, kRegister.size());
}

TEST(SipStreamFramer, EveryCutOfAMessageNeedsMore) {
  sip::Message message;
  for (size_t cut = 1; cut < kRegister.size(); ++cut) {
    const StreamFrame frame = NextStreamFrame(kRegister.substr(0, cut), 65535, &message);
    EXPECT_EQ(frame.kind, StreamFrame::Kind::kNeedMore) << "cut at " << cut;
  }
}

TEST(SipStreamFramer, DoubleCrlfIsAPingSingleCrlfIsSkippedLoneCrWaits) {
  sip::Message message;
  StreamFrame ping = NextStreamFrame("\r\n\r\n", 65535, &message);
  EXPECT_EQ(ping.kind, StreamFrame::Kind::kPing);
  EXPECT_EQ(ping.size, 4u);
  StreamFrame blank = NextStreamFrame("\r\n", 65535, &message);
  EXPECT_EQ(blank.kind, StreamFrame::Kind::kBlank);
  EXPECT_EQ(blank.size, 2u);
  EXPECT_EQ(NextStreamFrame("\r", 65535, &message).kind, StreamFrame::Kind::kNeedMore);
  // A CRLF before a message belongs to it (section 7.5: ignored).
  const std::string data = "\r\n" + std::string(kRegister);
  StreamFrame framed = NextStreamFrame(data, 65535, &message);
  EXPECT_EQ(framed.kind, StreamFrame::Kind::kMessage);
  EXPECT_EQ(framed.size, data.size());
}

TEST(SipStreamFramer, GarbageAndOversizedMessagesBreakTheFraming) {
  sip::Message message;
  StreamFrame garbage = NextStreamFrame("HELLO\r\n\r\n", 65535, &message);
  EXPECT_EQ(garbage.kind, StreamFrame::Kind::kBroken);
  EXPECT_FALSE(garbage.error.ok());
  StreamFrame large = NextStreamFrame(kRegister, 100, &message);
  EXPECT_EQ(large.kind, StreamFrame::Kind::kBroken);
}

}  // namespace
}  // namespace locus::engine
