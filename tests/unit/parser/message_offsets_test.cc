// A parsed Message written as offsets and read back over a copy of its bytes
// (parser/message_offsets.h): the same message as a fresh parse of the copy,
// and records that do not fit the bytes refused.
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "parser/message.h"
#include "parser/message_offsets.h"

namespace locus::sip {
namespace {

constexpr std::string_view kRegister =
    "\r\nREGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n"
    "Via: SIP/2.0/UDP 192.0.2.8;branch=z9hG4bK2\r\n"
    "From: <sip:a@example.com>;tag=1\r\n"
    "To: <sip:a@example.com>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:a@10.0.0.1>;expires=60, <sip:a@10.0.0.2>\r\n"
    "Contact: <sip:a@10.0.0.3>\r\n"
    "X-Folded: one\r\n two\r\n"
    "Empty:\r\n"
    "Content-Length: 4\r\n\r\nbody";
constexpr std::string_view kResponse =
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\nCall-ID: c1\r\n"
    "Content-Length: 0\r\n\r\n";
constexpr std::string_view kExtension =
    "FROBNICATE sip:x@example.com SIP/2.0\r\nCall-ID: c2\r\n\r\n";

// Every view of `a` and `b` reads the same text.
void ExpectSame(const Message& a, const Message& b) {
  EXPECT_EQ(a.is_request(), b.is_request());
  EXPECT_EQ(a.method(), b.method());
  EXPECT_EQ(a.method_name(), b.method_name());
  EXPECT_EQ(a.request_uri(), b.request_uri());
  EXPECT_EQ(a.status_code(), b.status_code());
  EXPECT_EQ(a.reason(), b.reason());
  EXPECT_EQ(a.body(), b.body());
  EXPECT_EQ(a.consumed(), b.consumed());
  EXPECT_EQ(a.content_length(), b.content_length());
  EXPECT_EQ(a.counts(), b.counts());
  ASSERT_EQ(a.headers().size(), b.headers().size());
  for (size_t i = 0; i < a.headers().size(); ++i) {
    EXPECT_EQ(a.headers()[i].id, b.headers()[i].id);
    EXPECT_EQ(a.headers()[i].name(), b.headers()[i].name());
    EXPECT_EQ(a.headers()[i].value(), b.headers()[i].value());
  }
  for (int id = 0; id < kHeaderIdCount; ++id) {
    const HeaderField* fa = a.Find(static_cast<HeaderId>(id));
    const HeaderField* fb = b.Find(static_cast<HeaderId>(id));
    ASSERT_EQ(fa == nullptr, fb == nullptr);
    if (fa != nullptr) {
      EXPECT_EQ(fa - a.headers().data(), fb - b.headers().data());
    }
  }
}

std::string Record(const Message& message, std::string_view bytes) {
  char out[kMaxMessageOffsetsSize];
  const size_t size = EncodeMessageOffsets(message, bytes, out);
  return std::string(out, size);
}

TEST(MessageOffsets, ReadBackOverACopyIsTheParseOfThatCopy) {
  for (const std::string_view text : {kRegister, kResponse, kExtension}) {
    const std::string original(text);
    Message parsed;
    ASSERT_TRUE(ParseMessage(original, {}, &parsed).ok()) << text;
    const std::string record = Record(parsed, original);
    ASSERT_FALSE(record.empty());
    const std::string copy = original;  // another address
    Message read_back;
    ASSERT_TRUE(DecodeMessageOffsets(record, copy, &read_back));
    Message reparsed;
    ASSERT_TRUE(ParseMessage(copy, {}, &reparsed).ok());
    ExpectSame(read_back, reparsed);
    EXPECT_TRUE(read_back.method_name().empty() ||
                read_back.method_name().data() >= copy.data());  // views into the copy
    EXPECT_EQ(read_back.Find(HeaderId::kCallId)->value_data - copy.data(),
              parsed.Find(HeaderId::kCallId)->value_data - original.data());
  }
}

TEST(MessageOffsets, ARecordThatDoesNotFitItsBytesIsRefused) {
  const std::string text(kRegister);
  Message parsed;
  ASSERT_TRUE(ParseMessage(text, {}, &parsed).ok());
  const std::string record = Record(parsed, text);
  Message out;
  // Cut short, or with a field too many.
  EXPECT_FALSE(DecodeMessageOffsets(record.substr(0, record.size() - 1), text, &out));
  EXPECT_FALSE(DecodeMessageOffsets(record.substr(0, 10), text, &out));
  EXPECT_FALSE(DecodeMessageOffsets(record + std::string(10, '\0'), text, &out));
  // Bytes shorter than the ones it was made from: the body is past the end.
  EXPECT_FALSE(DecodeMessageOffsets(record, std::string_view(text).substr(0, text.size() - 2), &out));
  // Every 16-bit offset or size of the last field made to point past the end.
  for (size_t at = record.size() - 8; at < record.size(); at += 2) {
    std::string bad = record;
    const uint16_t past = static_cast<uint16_t>(text.size() + 1);
    std::memcpy(bad.data() + at, &past, sizeof(past));
    EXPECT_FALSE(DecodeMessageOffsets(bad, text, &out)) << at;
  }
  // An unknown header id.
  std::string bad = record;
  bad[record.size() - 10] = static_cast<char>(0xFF);
  EXPECT_FALSE(DecodeMessageOffsets(bad, text, &out));
  EXPECT_TRUE(DecodeMessageOffsets(record, text, &out));
}

TEST(MessageOffsets, NotWrittenWhenItCannotBe) {
  const std::string text(kRegister);
  Message parsed;
  ASSERT_TRUE(ParseMessage(text, {}, &parsed).ok());
  char small[40];
  EXPECT_EQ(EncodeMessageOffsets(parsed, text, small), 0u);  // no room for the fields
  const std::string other = text;  // views not within these bytes
  char out[kMaxMessageOffsetsSize];
  EXPECT_EQ(EncodeMessageOffsets(parsed, other, out), 0u);
  // Over 65,535 bytes the offsets would not fit.
  std::string big = "OPTIONS sip:x SIP/2.0\r\nCall-ID: c\r\nContent-Length: 70000\r\n\r\n";
  big.append(70000, 'b');
  Message large;
  ParseOptions options;
  options.max_message_size = 100000;
  ASSERT_TRUE(ParseMessage(big, options, &large).ok());
  EXPECT_EQ(EncodeMessageOffsets(large, big, out), 0u);
}

}  // namespace
}  // namespace locus::sip
