// Whole-message validation (RFC 3261 sections 8.1.1, 8.2.2, 20) and the AOR
// canonical form (section 10.3 step 5).
#include "parser/validate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parser/aor.h"

namespace locus::sip {
namespace {

std::vector<std::string> RegisterLines() {
  return {"REGISTER sip:registrar.biloxi.com SIP/2.0",
          "Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7",
          "Max-Forwards: 70",
          "To: Bob <sip:bob@biloxi.com>",
          "From: Bob <sip:bob@biloxi.com>;tag=456248",
          "Call-ID: 843817637684230@998sdasdh09",
          "CSeq: 1826 REGISTER",
          "Contact: <sip:bob@192.0.2.4>;expires=60, <sip:bob@192.0.2.5>",
          "Expires: 7200",
          "Content-Length: 0"};
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\r\n";
  return out + "\r\n";
}

ParseError Validate(const std::vector<std::string>& lines, CoreHeaders* core) {
  static std::string data;  // the views in *core point into it
  data = Join(lines);
  Message m;
  const ParseError e = ParseMessage(data, ParseOptions{}, &m);
  if (!e.ok()) return e;
  return ValidateMessage(m, core);
}

// Replaces (or with an empty replacement, removes) the line starting with prefix.
std::vector<std::string> With(std::string_view prefix, std::string replacement) {
  std::vector<std::string> lines = RegisterLines();
  for (auto it = lines.begin(); it != lines.end(); ++it) {
    if (it->rfind(prefix, 0) == 0) {
      if (replacement.empty()) {
        lines.erase(it);
      } else {
        *it = std::move(replacement);
      }
      return lines;
    }
  }
  ADD_FAILURE() << "no line " << prefix;
  return lines;
}

TEST(Validate, FillsCoreHeaders) {
  CoreHeaders core;
  ASSERT_TRUE(Validate(RegisterLines(), &core).ok());
  EXPECT_EQ(core.top_via.branch, "z9hG4bKnashds7");
  EXPECT_EQ(core.to.uri.text, "sip:bob@biloxi.com");
  EXPECT_EQ(TagOf(core.from), "456248");
  EXPECT_EQ(core.call_id, "843817637684230@998sdasdh09");
  EXPECT_EQ(core.cseq.number, 1826u);
  EXPECT_EQ(core.cseq.method, Method::kRegister);
  EXPECT_TRUE(core.has_max_forwards);
  EXPECT_EQ(core.max_forwards, 70u);
  EXPECT_TRUE(core.has_expires);
  EXPECT_EQ(core.expires, 7200u);
  EXPECT_EQ(core.contact_count, 2);
  EXPECT_FALSE(core.contact_star);
}

// The second of To and From reuses the first's URI parse when the text is
// the same; its views must still point into its own field.
TEST(Validate, ToAndFromWithTheSameUriPointIntoTheirOwnFields) {
  const auto inside = [](std::string_view view, std::string_view field) {
    return view.data() >= field.data() && view.data() + view.size() <= field.data() + field.size();
  };
  for (bool from_first : {false, true}) {
    std::vector<std::string> lines = RegisterLines();  // To, then From
    if (from_first) std::swap(lines[3], lines[4]);
    const std::string data = Join(lines);
    Message m;
    ASSERT_TRUE(ParseMessage(data, ParseOptions{}, &m).ok());
    CoreHeaders core;
    ASSERT_TRUE(ValidateMessage(m, &core).ok());
    const std::string_view to_value = m.Find(HeaderId::kTo)->value();
    const std::string_view from_value = m.Find(HeaderId::kFrom)->value();
    for (const auto& [uri, value] : {std::pair{&core.to.uri, to_value}, std::pair{&core.from.uri, from_value}}) {
      EXPECT_EQ(uri->text, "sip:bob@biloxi.com");
      EXPECT_TRUE(inside(uri->text, value)) << from_first;
      EXPECT_TRUE(inside(uri->scheme_name, value)) << from_first;
      EXPECT_TRUE(inside(uri->user, value)) << from_first;
      EXPECT_TRUE(inside(uri->host, value)) << from_first;
      EXPECT_EQ(uri->user, "bob");
      EXPECT_EQ(uri->host, "biloxi.com");
      EXPECT_EQ(uri->host_type, HostType::kHostname);
    }
  }
  // Different URIs are each parsed; a bad one is still an error of its own header.
  CoreHeaders core;
  ASSERT_TRUE(Validate(With("From:", "From: <sip:alice@atlanta.com:5070>;tag=1"), &core).ok());
  EXPECT_EQ(core.from.uri.user, "alice");
  EXPECT_EQ(core.from.uri.port, 5070);
  EXPECT_EQ(core.to.uri.user, "bob");
  EXPECT_EQ(Validate(With("From:", "From: <sip:bob@biloxi..com>;tag=1"), &core).header, HeaderId::kFrom);
  EXPECT_EQ(Validate(With("To:", "To: <sip:bob@biloxi..com>"), &core).header, HeaderId::kTo);
}

TEST(Validate, TopViaIsTheFirstElementOfTheFirstField) {
  std::vector<std::string> lines = RegisterLines();
  lines[1] = "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKtop, SIP/2.0/UDP b.com;branch=z9hG4bK2";
  lines.insert(lines.begin() + 2, "Via: SIP/2.0/TCP c.com;branch=z9hG4bK3");
  CoreHeaders core;
  ASSERT_TRUE(Validate(lines, &core).ok());
  EXPECT_EQ(core.top_via.branch, "z9hG4bKtop");
  EXPECT_EQ(core.top_via.host, "proxy.example.com");
}

TEST(Validate, MissingMandatoryHeaders) {  // section 8.1.1
  for (const char* name : {"Via", "To", "From", "Call-ID", "CSeq"}) {
    CoreHeaders core;
    const ParseError e = Validate(With(std::string(name) + ":", ""), &core);
    EXPECT_EQ(e.code, ErrorCode::kMissingHeader) << name;
    EXPECT_EQ(HeaderName(e.header), name);
  }
  CoreHeaders core;
  EXPECT_TRUE(Validate(With("Max-Forwards:", ""), &core).ok());  // tolerated
  EXPECT_FALSE(core.has_max_forwards);
}

TEST(Validate, DuplicatedSingleValuedHeaders) {  // RFC 4475 section 3.3.11
  for (const char* line : {"Call-ID: other@host", "To: <sip:eve@biloxi.com>", "From: <sip:x@y.com>;tag=9",
                           "CSeq: 1 REGISTER", "Max-Forwards: 69", "Expires: 10"}) {
    std::vector<std::string> lines = RegisterLines();
    lines.insert(lines.end() - 1, line);
    CoreHeaders core;
    EXPECT_EQ(Validate(lines, &core).code, ErrorCode::kDuplicateHeader) << line;
  }
}

TEST(Validate, CSeqMethodMustMatchRequestMethod) {  // RFC 4475 section 3.1.2.17
  CoreHeaders core;
  const ParseError e = Validate(With("CSeq:", "CSeq: 1826 INVITE"), &core);
  EXPECT_EQ(e.code, ErrorCode::kMismatch);
  EXPECT_EQ(e.header, HeaderId::kCSeq);
}

TEST(Validate, BadValuesNameTheirHeader) {
  struct Case {
    const char* prefix;
    const char* line;
    HeaderId header;
  };
  const Case cases[] = {
      {"Via:", "Via: SIP/2.0/UDP 192.0.2.15;;,;,,", HeaderId::kVia},
      {"To:", "To: \"Bob <sip:bob@biloxi.com>", HeaderId::kTo},
      {"From:", "From: Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43", HeaderId::kFrom},
      {"Call-ID:", "Call-ID: has space", HeaderId::kCallId},
      {"CSeq:", "CSeq: 36893488147419103232 REGISTER", HeaderId::kCSeq},
      {"Max-Forwards:", "Max-Forwards: 300", HeaderId::kMaxForwards},
      {"Contact:", "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E", HeaderId::kContact},
      {"Contact:", "Contact: <sip:bob@192.0.2.4>;q=2", HeaderId::kContact},
      {"Contact:", "Contact: <sip:bob@192.0.2.4>,", HeaderId::kContact},
      {"Expires:", "Expires: never", HeaderId::kExpires},
  };
  for (const Case& c : cases) {
    CoreHeaders core;
    const ParseError e = Validate(With(c.prefix, c.line), &core);
    EXPECT_EQ(e.code, ErrorCode::kBadHeaderValue) << c.line;
    EXPECT_EQ(e.header, c.header) << c.line << " -> " << Describe(e);
  }
}

TEST(Validate, OtherKnownHeadersAreChecked) {
  const std::pair<const char*, HeaderId> extra[] = {
      {"Route: sip:proxy.example.com", HeaderId::kRoute},
      {"Record-Route: <sip:p1.example.com;lr>,", HeaderId::kRecordRoute},
      {"Path: <sip:edge.example.com", HeaderId::kPath},
      {"Require:", HeaderId::kRequire},
      {"Supported: path, bad tag", HeaderId::kSupported},
      {"Authorization: Digest", HeaderId::kAuthorization},
      {"Date: Fri, 01 Jan 2010 16:00:00 EST", HeaderId::kDate},
      {"Content-Type: sdp", HeaderId::kContentType},
      {"Min-Expires: -1", HeaderId::kMinExpires},
  };
  for (const auto& [line, header] : extra) {
    std::vector<std::string> lines = RegisterLines();
    lines.insert(lines.end() - 1, line);
    CoreHeaders core;
    const ParseError e = Validate(lines, &core);
    EXPECT_EQ(e.code, ErrorCode::kBadHeaderValue) << line;
    EXPECT_EQ(e.header, header) << line;
  }
}

// Option-tag and method lists: "a, b, c" has a short path (IsSimpleTokenList);
// other spacing, and every error, the general one. Both must agree on lists
// of every length, with separators at every offset.
TEST(Validate, TokenListsWithEverySeparatorPosition) {
  const std::string tokens[] = {"INVITE", "ACK", "x", "replaces", "100rel", "a-b.c!%*_+`'~", "OPTIONS"};
  for (size_t count = 1; count <= 7; ++count) {
    for (size_t shift = 0; shift < 17; ++shift) {
      std::string list = std::string(shift, 'k') + tokens[0];
      for (size_t i = 1; i < count; ++i) list += ", " + tokens[i];
      CoreHeaders core;
      EXPECT_TRUE(Validate(With("Expires:", "Allow: " + list), &core).ok()) << list;
      // Other spacing, still valid: the byte-by-byte path.
      std::string spaced = list;
      for (size_t at = spaced.find(", "); at != std::string::npos; at = spaced.find(", ", at + 4)) {
        spaced.replace(at, 2, " ,\t");
      }
      EXPECT_TRUE(Validate(With("Expires:", "Supported: " + spaced), &core).ok()) << spaced;
      if (count == 1) continue;
      // Broken at each separator in turn: always an error of that header.
      for (size_t at = list.find(", "); at != std::string::npos; at = list.find(", ", at + 2)) {
        for (const std::string bad : {",,", ", ,", "  ", " ,,", ",;"}) {
          std::string broken = list;
          broken.replace(at, 2, bad);
          EXPECT_EQ(Validate(With("Expires:", "Supported: " + broken), &core).header, HeaderId::kSupported)
              << broken;
        }
      }
      EXPECT_EQ(Validate(With("Expires:", "Require: " + list + ", "), &core).header, HeaderId::kRequire) << list;
      EXPECT_EQ(Validate(With("Expires:", "Require: , " + list), &core).header, HeaderId::kRequire) << list;
    }
  }
}

TEST(Validate, StarContactIsSyntaxOnly) {  // the registrar applies 10.3 step 6
  CoreHeaders core;
  ASSERT_TRUE(Validate(With("Contact:", "Contact: *"), &core).ok());
  EXPECT_TRUE(core.contact_star);
  EXPECT_EQ(core.contact_count, 1);
}

TEST(Validate, DescribeNamesHeaderAndProblem) {
  CoreHeaders core;
  const ParseError e = Validate(With("CSeq:", "CSeq: 2147483648 REGISTER"), &core);
  EXPECT_EQ(Describe(e), "CSeq: sequence number above 2^31-1");
  EXPECT_STREQ(ErrorCodeName(e.code), "bad_header_value");
}

std::string Aor(std::string_view uri_text) {
  Uri uri;
  EXPECT_TRUE(ParseUri(uri_text, HeaderId::kTo, &uri).ok()) << uri_text;
  CanonicalAor aor;
  const ParseError e = CanonicalizeAor(uri, &aor);
  return e.ok() ? std::string(aor.view()) : "error: " + Describe(e);
}

TEST(CanonicalAor, Rfc3261Section10_3Step5) {
  EXPECT_EQ(Aor("sip:%61lice@AtLanTa.CoM;transport=TCP"), "sip:alice@atlanta.com");
  EXPECT_EQ(Aor("SIP:Bob@Biloxi.COM"), "sip:Bob@biloxi.com");  // user stays case-sensitive
  EXPECT_EQ(Aor("sip:bob:secret@biloxi.com:05070;user=phone?subject=x"), "sip:bob@biloxi.com:5070");
  EXPECT_EQ(Aor("sips:carol@chicago.com"), "sips:carol@chicago.com");
  EXPECT_EQ(Aor("sip:biloxi.com"), "sip:biloxi.com");
  EXPECT_EQ(Aor("sip:+1%2D212@[2001:DB8::1]"), "sip:+1-212@[2001:db8::1]");
  EXPECT_EQ(Aor("tel:+1-201-555-0123"), "error: To: address-of-record is not a sip or sips URI");
  EXPECT_EQ(Aor("sip:" + std::string(600, 'a') + "@example.com"), "error: To: address-of-record is too long");
}

}  // namespace
}  // namespace locus::sip
