// Framing, start line and header index (RFC 3261 sections 7, 18.3).
#include "parser/message.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "parser/element_cursor.h"

namespace locus::sip {
namespace {

// Builds a message from lines joined by CRLF, with the empty line and body.
std::string Msg(std::initializer_list<std::string_view> lines, std::string_view body = "") {
  std::string out;
  for (std::string_view line : lines) {
    out.append(line);
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(body);
  return out;
}

const std::initializer_list<std::string_view> kRegisterLines = {
    "REGISTER sip:registrar.biloxi.com SIP/2.0",
    "Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@biloxi.com>",
    "From: Bob <sip:bob@biloxi.com>;tag=456248",
    "Call-ID: 843817637684230@998sdasdh09",
    "CSeq: 1826 REGISTER",
    "Contact: <sip:bob@192.0.2.4>",
    "Expires: 7200",
    "Content-Length: 0",
};

ParseError Parse(std::string_view data, Message* m, bool stream = false, size_t max = 65535) {
  ParseOptions options;
  options.stream = stream;
  options.max_message_size = max;
  return ParseMessage(data, options, m);
}

TEST(Framing, ParsesRequestLineAndHeaders) {
  const std::string data = Msg(kRegisterLines);
  Message m;
  ASSERT_TRUE(Parse(data, &m).ok());
  EXPECT_TRUE(m.is_request());
  EXPECT_EQ(m.method(), Method::kRegister);
  EXPECT_EQ(m.method_name(), "REGISTER");
  EXPECT_EQ(m.request_uri(), "sip:registrar.biloxi.com");
  EXPECT_EQ(m.headers().size(), 9u);
  ASSERT_NE(m.Find(HeaderId::kCallId), nullptr);
  EXPECT_EQ(m.Find(HeaderId::kCallId)->value(), "843817637684230@998sdasdh09");
  EXPECT_EQ(m.Count(HeaderId::kVia), 1);
  EXPECT_EQ(m.content_length(), 0);
  EXPECT_EQ(m.consumed(), data.size());
  EXPECT_TRUE(m.body().empty());
}

TEST(Framing, StatusLine) {
  Message m;
  const std::string data = Msg({"SIP/2.0 200 OK", "Via: SIP/2.0/UDP a.com;branch=z9hG4bK1"});
  ASSERT_TRUE(Parse(data, &m).ok());
  EXPECT_TRUE(m.is_response());
  EXPECT_EQ(m.status_code(), 200);
  EXPECT_EQ(m.reason(), "OK");
  const std::string ringing = Msg({"SIP/2.0 180 "});  // empty reason phrase
  ASSERT_TRUE(Parse(ringing, &m).ok());
  EXPECT_EQ(m.reason(), "");
  ASSERT_TRUE(Parse(Msg({"SIP/2.0 404 Nicht gefunden \xc3\xa4 und so"}), &m).ok());
}

TEST(Framing, StartLineErrors) {
  Message m;
  EXPECT_EQ(Parse(Msg({"REGISTER  sip:a.com SIP/2.0"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com SIP/2.0 "}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"REGISTER <sip:a.com> SIP/2.0"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com?Route=x SIP/2.0"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com SIP/7.0"}), &m).code, ErrorCode::kBadVersion);
  EXPECT_EQ(Parse(Msg({"REG@STER sip:a.com SIP/2.0"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"SIP/2.0 4294967301 Big"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"SIP/2.0 099 Low"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"SIP/2.0 700 High"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"SIP/2.0 20 OK"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_EQ(Parse(Msg({"SIP/2.0"}), &m).code, ErrorCode::kBadStartLine);
  EXPECT_TRUE(Parse(Msg({"sip/2.0 200 OK"}), &m).ok());  // version is case-insensitive
}

TEST(Framing, LeadingCrlfKeepAlivesAreSkipped) {
  Message m;
  const std::string data = "\r\n\r\n" + Msg(kRegisterLines);
  ASSERT_TRUE(Parse(data, &m).ok());
  EXPECT_EQ(m.consumed(), data.size());
  EXPECT_EQ(Parse("\r\n\r\n", &m).code, ErrorCode::kEmpty);
  EXPECT_EQ(m.consumed(), 4u);
}

TEST(Framing, CompactFormsAndCaseInsensitiveNames) {
  Message m;
  const std::string data = Msg({"REGISTER sip:a.com SIP/2.0", "v: SIP/2.0/UDP h.com", "t: <sip:a@a.com>",
                                "F: <sip:a@a.com>;tag=1", "i: x", "cSEQ: 1 REGISTER", "M: *", "L: 0",
                                "k: path", "c: text/plain", "e: gzip", "s: hi", "o: reg"});
  ASSERT_TRUE(Parse(data, &m).ok());
  for (HeaderId id : {HeaderId::kVia, HeaderId::kTo, HeaderId::kFrom, HeaderId::kCallId, HeaderId::kCSeq,
                      HeaderId::kContact, HeaderId::kContentLength, HeaderId::kSupported,
                      HeaderId::kContentType, HeaderId::kContentEncoding, HeaderId::kSubject,
                      HeaderId::kEvent}) {
    EXPECT_EQ(m.Count(id), 1) << HeaderName(id);
  }
}

TEST(Framing, LineFoldingJoinsContinuationLines) {
  Message m;
  const std::string data = Msg({"REGISTER sip:a.com SIP/2.0", "Subject: first", "   second",
                                "\tthird", "X-Empty:", " folded-in"});
  ASSERT_TRUE(Parse(data, &m).ok());
  EXPECT_EQ(m.Find(HeaderId::kSubject)->value(), "first\r\n   second\r\n\tthird");
  EXPECT_EQ(m.FindByName("x-empty")->value(), "folded-in");
  EXPECT_EQ(m.headers().size(), 2u);
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com SIP/2.0", " leading"}), &m).code, ErrorCode::kBadHeaderLine);
}

TEST(Framing, UnknownHeadersArePreserved) {
  Message m;
  const std::string data = Msg({"REGISTER sip:a.com SIP/2.0", "X-Custom-Header : some value ",
                                "P-Asserted-Identity: <sip:a@b.com>"});
  ASSERT_TRUE(Parse(data, &m).ok());
  ASSERT_EQ(m.headers().size(), 2u);
  EXPECT_EQ(m.headers()[0].id, HeaderId::kOther);
  EXPECT_EQ(m.headers()[0].name(), "X-Custom-Header");
  EXPECT_EQ(m.headers()[0].value(), "some value");
  EXPECT_EQ(m.FindByName("p-asserted-identity")->value(), "<sip:a@b.com>");
}

TEST(Framing, HeaderLineErrors) {
  Message m;
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com SIP/2.0", "NoColonHere"}), &m).code, ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com SIP/2.0", ": value"}), &m).code, ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com SIP/2.0", "Bad Name: value"}), &m).code, ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse(Msg({"REGISTER sip:a.com SIP/2.0", std::string_view("X: a\0b", 6)}), &m).code,
            ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse("REGISTER sip:a.com SIP/2.0\r\nX: a\nY: b\r\n\r\n", &m).code, ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse("REGISTER sip:a.com SIP/2.0\r\nX: a\rY: b\r\n\r\n", &m).code, ErrorCode::kBadHeaderLine);
  // No empty line ends the header section.
  EXPECT_EQ(Parse("REGISTER sip:a.com SIP/2.0\r\nX: a\r\n", &m).code, ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse("REGISTER sip:a.com SIP/2.0", &m).code, ErrorCode::kBadStartLine);
}

TEST(Framing, QuotedPairsMayHoldControlCharacters) {  // RFC 4475 section 3.1.1.2
  Message m;
  const std::string quoted = Msg({"OPTIONS sip:a.com SIP/2.0",
                                  std::string("To: \"BEL:\\\x07 NUL:\\") + '\0' + " DEL:\\\x7F\" <sip:a@a.com>"});
  ASSERT_TRUE(Parse(quoted, &m).ok()) << Describe(Parse(quoted, &m));
  EXPECT_EQ(m.Find(HeaderId::kTo)->value().size(), 36u);
  // Unescaped, the same bytes are not allowed; nor CR or LF after a backslash.
  EXPECT_EQ(Parse(Msg({"OPTIONS sip:a.com SIP/2.0", "To: \"BEL:\x07\" <sip:a@a.com>"}), &m).code,
            ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse("OPTIONS sip:a.com SIP/2.0\r\nX: a\\\rb\r\n\r\n", &m).code, ErrorCode::kBadHeaderLine);
  EXPECT_EQ(Parse(Msg({"SIP/2.0 200 O\\\x07K"}), &m).code, ErrorCode::kBadStartLine);
}

// Every byte value at every position of the first blocks of a header line,
// with its colon in the first block or the second: framing scans 16 bytes
// at a time and treats bytes from 0x80 (UTF-8) like control bytes until it
// looks at them one by one.
TEST(Framing, EveryByteAtEveryPositionOfALine) {
  Message m;
  for (std::string_view name : {"X", "X-A-Rather-Long-Name"}) {
    for (size_t at = 0; at < 40; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        const char c = static_cast<char>(byte);
        std::string value(40, 'v');
        value[at] = c;
        const std::string data = "OPTIONS sip:a.com SIP/2.0\r\n" + std::string(name) + ": " + value + "\r\n\r\n";
        const ParseError e = Parse(data, &m);
        const bool allowed = byte == '\t' || (byte >= 0x20 && byte != 0x7F);
        if (!allowed) {
          EXPECT_EQ(e.code, ErrorCode::kBadHeaderLine) << name << " byte " << byte << " at " << at;
          continue;
        }
        ASSERT_TRUE(e.ok()) << name << " byte " << byte << " at " << at;
        ASSERT_EQ(m.headers().size(), 1u);
        // Leading and trailing SP and HTAB are trimmed from the value.
        std::string_view expected = value;
        if (c == ' ' || c == '\t') {
          if (at == 0) expected.remove_prefix(1);
          if (at == 39) expected.remove_suffix(1);
        }
        EXPECT_EQ(m.headers()[0].value(), expected) << byte << " at " << at;
      }
    }
  }
}

TEST(Framing, LongUnknownHeaderNamesAreKept) {  // RFC 4475 section 3.1.1.7
  Message m;
  const std::string name = "UnknownLo" + std::string(400, 'o') + "ngHeader";
  const std::string data = Msg({"OPTIONS sip:a.com SIP/2.0", name + ": value"});
  ASSERT_TRUE(Parse(data, &m).ok());
  EXPECT_EQ(m.headers()[0].name(), name);
  EXPECT_EQ(m.headers()[0].value(), "value");
}

TEST(Framing, TooManyHeadersIsAnErrorNotAReallocation) {
  std::string data = "OPTIONS sip:a.com SIP/2.0\r\n";
  for (size_t i = 0; i < Message::kMaxHeaders; ++i) data += "X-H: " + std::to_string(i) + "\r\n";
  Message m;
  ASSERT_TRUE(Parse(data + "\r\n", &m).ok());
  EXPECT_EQ(m.headers().size(), Message::kMaxHeaders);
  EXPECT_EQ(Parse(data + "X-H: one-more\r\n\r\n", &m).code, ErrorCode::kTooManyHeaders);
}

TEST(Framing, DatagramContentLength) {  // section 18.3
  Message m;
  // The message views its buffer: each buffer lives as long as the checks on it.
  std::initializer_list<std::string_view> head = {"MESSAGE sip:a.com SIP/2.0", "Content-Length: 5"};
  const std::string exact = Msg(head, "hello");
  ASSERT_TRUE(Parse(exact, &m).ok());
  EXPECT_EQ(m.body(), "hello");
  const std::string longer = Msg(head, "hello world");
  ASSERT_TRUE(Parse(longer, &m).ok());  // extra bytes discarded
  EXPECT_EQ(m.body(), "hello");
  EXPECT_EQ(Parse(Msg(head, "hey"), &m).code, ErrorCode::kBadContentLength);
  const std::string no_length = Msg({"MESSAGE sip:a.com SIP/2.0"}, "to the end");
  ASSERT_TRUE(Parse(no_length, &m).ok());  // no Content-Length: to the end
  EXPECT_EQ(m.body(), "to the end");
  EXPECT_EQ(m.content_length(), -1);
  EXPECT_EQ(Parse(Msg({"MESSAGE sip:a.com SIP/2.0", "Content-Length: -1"}), &m).code,
            ErrorCode::kBadContentLength);
  EXPECT_EQ(Parse(Msg({"MESSAGE sip:a.com SIP/2.0", "Content-Length: 1 2"}), &m).code,
            ErrorCode::kBadContentLength);
  EXPECT_EQ(Parse(Msg({"MESSAGE sip:a.com SIP/2.0", "Content-Length: 99999999999999999999"}), &m).code,
            ErrorCode::kBadContentLength);
  const ParseError dup = Parse(Msg({"MESSAGE sip:a.com SIP/2.0", "l: 0", "Content-Length: 0"}), &m);
  EXPECT_EQ(dup.code, ErrorCode::kDuplicateHeader);
  EXPECT_EQ(dup.header, HeaderId::kContentLength);
}

TEST(Framing, StreamNeedsMoreBytesUntilComplete) {
  const std::string one = Msg({"MESSAGE sip:a.com SIP/2.0", "Content-Length: 5"}, "hello");
  const std::string two = one + one;
  Message m;
  for (size_t n = 0; n < one.size(); ++n) {
    const ParseError e = Parse(std::string_view(two).substr(0, n), &m, /*stream=*/true);
    EXPECT_TRUE(e.code == ErrorCode::kNeedMore || (n == 0 && e.code == ErrorCode::kEmpty)) << n;
  }
  ASSERT_TRUE(Parse(two, &m, true).ok());
  EXPECT_EQ(m.consumed(), one.size());
  EXPECT_EQ(m.body(), "hello");
  ASSERT_TRUE(Parse(std::string_view(two).substr(m.consumed()), &m, true).ok());
}

TEST(Framing, StreamRequiresContentLength) {
  Message m;
  const ParseError e = Parse(Msg({"MESSAGE sip:a.com SIP/2.0"}), &m, true);
  EXPECT_EQ(e.code, ErrorCode::kBadContentLength);
}

TEST(Framing, SizeLimit) {
  Message m;
  const std::string data = Msg(kRegisterLines);
  EXPECT_EQ(Parse(data, &m, false, 100).code, ErrorCode::kTooLarge);
  EXPECT_EQ(Parse(data, &m, true, 100).code, ErrorCode::kTooLarge);
  const std::string big_body = Msg({"MESSAGE sip:a.com SIP/2.0", "Content-Length: 1000"});
  EXPECT_EQ(Parse(big_body, &m, true, 200).code, ErrorCode::kTooLarge);
  EXPECT_TRUE(Parse(data, &m, false, data.size()).ok());
}

// Long header sections: every line in order, folding anywhere, the first
// error in message order, and stream cuts anywhere.
std::string ManyHeaders(int count, std::string_view body = "") {
  std::string text = "OPTIONS sip:a.example.com SIP/2.0\r\n";
  for (int i = 0; i < count; ++i) text += "X-H" + std::to_string(i) + ": v" + std::to_string(i) + "\r\n";
  return text + "\r\n" + std::string(body);
}

// `prefix` then `i` in decimal. Appended, not written "X-H" + std::to_string(i):
// GCC 12 at -O3 warns (-Wrestrict, wrongly) about the insert operator+ makes.
std::string Numbered(std::string_view prefix, int i) {
  std::string text(prefix);
  text += std::to_string(i);
  return text;
}

TEST(Framing, EveryLineOfALongHeaderSectionInOrder) {
  for (int count : {1, 2, 3, 10, 31, 40, 64, 79}) {
    const std::string text = ManyHeaders(count, "body\r\nwith\r\nlines\x01");
    Message m;
    ASSERT_TRUE(Parse(text, &m).ok()) << count;
    ASSERT_EQ(m.headers().size(), static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      EXPECT_EQ(m.headers()[static_cast<size_t>(i)].name(), Numbered("X-H", i));
      EXPECT_EQ(m.headers()[static_cast<size_t>(i)].value(), Numbered("v", i));
    }
    EXPECT_EQ(m.body(), "body\r\nwith\r\nlines\x01");
  }
}

TEST(Framing, LateFoldingAndErrorsInMessageOrder) {
  // Folding onto a header far down the section.
  std::string text = ManyHeaders(20);
  const size_t at = text.find("X-H12:");
  text.insert(at, " folded\r\n");
  Message m;
  ASSERT_TRUE(Parse(text, &m).ok());
  EXPECT_EQ(m.headers()[11].value(), "v11\r\n folded");
  // The first error in message order wins.
  std::string both = ManyHeaders(30);
  both.insert(both.find("X-H25:"), "X-Bad\x01: x\r\n");
  both.insert(both.find("X-H2:"), "no colon here\r\n");
  ParseError e = Parse(both, &m);
  EXPECT_EQ(e.code, ErrorCode::kBadHeaderLine);
  EXPECT_STREQ(e.what, "header line has no colon");
  std::string late = ManyHeaders(30);
  late.insert(late.find("X-H25:"), "X-Bad\x01: x\r\n");
  e = Parse(late, &m);
  EXPECT_EQ(e.code, ErrorCode::kBadHeaderLine);
  EXPECT_STREQ(e.what, "control character or bare CR/LF in a header line");
  std::string bare_lf = ManyHeaders(30);
  bare_lf.insert(bare_lf.find("X-H20:"), "X-A: b\n");
  EXPECT_EQ(Parse(bare_lf, &m).code, ErrorCode::kBadHeaderLine);
  // A stream message cut anywhere in its second half needs more bytes.
  std::string with_length = ManyHeaders(30);
  with_length.insert(with_length.find("X-H0:"), "Content-Length: 0\r\n");
  for (size_t n = with_length.size() / 2; n < with_length.size(); ++n) {
    EXPECT_EQ(Parse(std::string_view(with_length).substr(0, n), &m, /*stream=*/true).code, ErrorCode::kNeedMore) << n;
  }
  ASSERT_TRUE(Parse(with_length, &m, true).ok());
  EXPECT_EQ(m.headers().size(), 31u);
}

TEST(ElementCursor, SplitsOnCommasOutsideQuotesAndAngles) {
  ElementCursor cursor(R"("Bell, Alexander" <sip:a@b.com;x=1,2>, <sip:c@d.com> ,sip:e@f.com)");
  std::string_view e;
  ASSERT_TRUE(cursor.Next(&e));
  EXPECT_EQ(e, R"("Bell, Alexander" <sip:a@b.com;x=1,2>)");
  ASSERT_TRUE(cursor.Next(&e));
  EXPECT_EQ(e, "<sip:c@d.com>");
  ASSERT_TRUE(cursor.Next(&e));
  EXPECT_EQ(e, "sip:e@f.com");
  EXPECT_FALSE(cursor.Next(&e));
  EXPECT_FALSE(cursor.error());
}

TEST(ElementCursor, EmptyElementsAndUnterminatedAreErrors) {
  for (std::string_view bad : {"a,,b", "a,", ",a", "\"unterminated, x", "<sip:a@b.com, c"}) {
    ElementCursor cursor(bad);
    std::string_view e;
    while (cursor.Next(&e)) {
    }
    EXPECT_TRUE(cursor.error()) << bad;
  }
  ElementCursor empty("");
  std::string_view e;
  EXPECT_FALSE(empty.Next(&e));
  EXPECT_FALSE(empty.error());
}

TEST(HeaderElements, SpansRepeatedHeaderLines) {
  const std::string data = Msg({"REGISTER sip:a.com SIP/2.0", "Contact: <sip:a@a.com>, <sip:b@a.com>",
                                "Via: SIP/2.0/UDP x.com", "m: <sip:c@a.com>"});
  Message m;
  ASSERT_TRUE(Parse(data, &m).ok());
  HeaderElements elements(m, HeaderId::kContact);
  std::string_view e;
  std::vector<std::string_view> all;
  while (elements.Next(&e)) all.push_back(e);
  EXPECT_FALSE(elements.error());
  EXPECT_EQ(all, (std::vector<std::string_view>{"<sip:a@a.com>", "<sip:b@a.com>", "<sip:c@a.com>"}));
}

TEST(HeaderId, EveryKnownNameInAnyCaseAndNoNearMiss) {
  for (int i = static_cast<int>(HeaderId::kOther) + 1; i < kHeaderIdCount; ++i) {
    const HeaderId id = static_cast<HeaderId>(i);
    std::string name(HeaderName(id));
    ASSERT_FALSE(name.empty());
    EXPECT_EQ(LookupHeaderId(name), id) << name;
    std::string upper = name;
    std::string lower = name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(LookupHeaderId(upper), id) << upper;
    EXPECT_EQ(LookupHeaderId(lower), id) << lower;
    for (size_t k = 0; k < name.size(); ++k) {  // one character changed: never the same header
      std::string near = name;
      near[k] = near[k] == 'x' ? 'y' : 'x';
      EXPECT_NE(LookupHeaderId(near), id) << near;
    }
    EXPECT_EQ(LookupHeaderId(name + "x"), HeaderId::kOther) << name;
  }
}

// The framer's lookup reads two words from the name; with fewer than 16
// readable bytes, and for names over 16 bytes, it falls back to LookupHeaderId.
TEST(HeaderId, PaddedLookupAgreesWithLookup) {
  std::vector<std::string> names;
  for (int i = static_cast<int>(HeaderId::kOther) + 1; i < kHeaderIdCount; ++i) {
    const std::string name(HeaderName(static_cast<HeaderId>(i)));
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    names.push_back(name);
    names.push_back(lower);
    names.push_back(name + "x");
    names.push_back(name.substr(0, name.size() - 1));
    for (size_t k = 0; k < name.size(); ++k) {
      std::string near = name;
      near[k] = near[k] == 'x' ? 'y' : 'x';
      names.push_back(near);
    }
  }
  for (const char* other : {"i", "m", "X-Custom-Header", "Allow-Events", "To-", "-To", "T o"}) names.push_back(other);
  for (const std::string& name : names) {
    const std::string line = name + ": value of the header\r\n";  // the name, then 16+ readable bytes
    const std::string_view view(line.data(), name.size());
    EXPECT_EQ(LookupHeaderIdPadded(view, line.size()), LookupHeaderId(view)) << name;
    EXPECT_EQ(LookupHeaderIdPadded(view, name.size()), LookupHeaderId(view)) << name;
  }
}

TEST(HeaderId, LookupFullAndCompactNames) {
  EXPECT_EQ(LookupHeaderId("call-id"), HeaderId::kCallId);
  EXPECT_EQ(LookupHeaderId("CALL-ID"), HeaderId::kCallId);
  EXPECT_EQ(LookupHeaderId("i"), HeaderId::kCallId);
  EXPECT_EQ(LookupHeaderId("WWW-Authenticate"), HeaderId::kWwwAuthenticate);
  EXPECT_EQ(LookupHeaderId("X-Call-ID"), HeaderId::kOther);
  EXPECT_EQ(LookupHeaderId("Call-IDs"), HeaderId::kOther);
  EXPECT_EQ(LookupHeaderId("q"), HeaderId::kOther);
  EXPECT_EQ(LookupHeaderId("1"), HeaderId::kOther);
  EXPECT_EQ(HeaderName(HeaderId::kCSeq), "CSeq");
}

}  // namespace
}  // namespace locus::sip
