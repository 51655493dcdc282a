// URI grammar (RFC 3261 section 19.1, 25.1; RFC 5118/5954 for IPv6) and URI
// equality (section 19.1.4).
#include "parser/uri.h"

#include <gtest/gtest.h>

#include "parser/uri_compare.h"

namespace locus::sip {
namespace {

Uri MustParse(std::string_view text) {
  Uri uri;
  const ParseError e = ParseUri(text, HeaderId::kNone, &uri);
  EXPECT_TRUE(e.ok()) << text << ": " << Describe(e);
  return uri;
}

bool Parses(std::string_view text) {
  Uri uri;
  return ParseUri(text, HeaderId::kNone, &uri).ok();
}

TEST(UriParse, AllComponents) {
  const Uri uri = MustParse("sips:alice:secretword@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent");
  EXPECT_EQ(uri.scheme, UriScheme::kSips);
  EXPECT_EQ(uri.user, "alice");
  EXPECT_TRUE(uri.has_password);
  EXPECT_EQ(uri.password, "secretword");
  EXPECT_EQ(uri.host, "atlanta.com");
  EXPECT_EQ(uri.host_type, HostType::kHostname);
  EXPECT_TRUE(uri.has_port);
  EXPECT_EQ(uri.port, 5061);
  EXPECT_EQ(uri.params, ";transport=tcp;lr");
  EXPECT_EQ(uri.headers, "subject=project%20x&priority=urgent");
  std::string_view value;
  EXPECT_TRUE(FindUriParam(uri.params, "TRANSPORT", &value));
  EXPECT_EQ(value, "tcp");
  EXPECT_TRUE(FindUriParam(uri.params, "lr", &value));
  EXPECT_EQ(value, "");
  EXPECT_FALSE(FindUriParam(uri.params, "maddr", &value));
}

TEST(UriParse, HostOnlyAndIpv4) {
  const Uri uri = MustParse("sip:192.0.2.4");
  EXPECT_FALSE(uri.has_user);
  EXPECT_EQ(uri.host_type, HostType::kIpv4);
  EXPECT_FALSE(uri.has_port);
}

// An IPv4 address followed by at least 16 bytes is read without bound
// checks: the same hosts must come out as when the text ends right after.
TEST(UriParse, Ipv4HostsReadTheSameWithAndWithoutTextAfterThem) {
  for (std::string_view host : {"192.0.2.4", "0.0.0.0", "255.255.255.255", "1.22.133.4", "256.1.1.1",
                                "1.2.3", "1.2.3.", "1.2.3.4.5", "1.2.3.4a", "1..2.3", "001.002.003.004",
                                "1234.1.1.1", "9.9.9.9-x", "1.2.3.4.example.com", "12.34.56.78.", "1"}) {
    HostType short_type = HostType::kNone;
    HostType long_type = HostType::kNone;
    const std::string alone = std::string(host) + ";";
    const std::string padded = std::string(host) + ";transport=tcp;lr;maddr=x";
    const size_t short_size = ScanHost(alone, &short_type);
    EXPECT_EQ(ScanHost(padded, &long_type), short_size) << host;
    if (short_size != 0) {
      EXPECT_EQ(long_type, short_type) << host;
    }
  }
  HostType type = HostType::kNone;
  EXPECT_EQ(ScanHost("192.0.2.10:5060;branch=z9hG4bK", &type), 10u);
  EXPECT_EQ(type, HostType::kIpv4);
}

// CopyParsedUri gives what parsing the same text again gives: every view at
// the same offset in the new text.
TEST(UriParse, CopyParsedUriMovesEveryView) {
  for (std::string_view text : {"sips:alice:secret@host.example.com:5061;transport=tls;lr?subject=hi&x=y",
                                "sip:[2001:db8::1]:5060", "sip:example.com", "tel:+1-212-555-1212",
                                "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "SIP:Bob@Biloxi.COM;lr"}) {
    const std::string first(text);
    const std::string second(text);  // the same characters, elsewhere
    Uri parsed;
    Uri again;
    Uri copied;
    ASSERT_TRUE(ParseUri(first, HeaderId::kTo, &parsed).ok()) << text;
    ASSERT_TRUE(ParseUri(second, HeaderId::kTo, &again).ok()) << text;
    CopyParsedUri(parsed, second, &copied);
    const auto same_view = [&](std::string_view a, std::string_view b) {
      return a.size() == b.size() && (a.data() == nullptr) == (b.data() == nullptr) &&
             (a.data() == nullptr || a.data() == b.data());
    };
    EXPECT_TRUE(same_view(copied.text, again.text)) << text;
    EXPECT_TRUE(same_view(copied.scheme_name, again.scheme_name)) << text;
    EXPECT_TRUE(same_view(copied.user, again.user)) << text;
    EXPECT_TRUE(same_view(copied.password, again.password)) << text;
    EXPECT_TRUE(same_view(copied.host, again.host)) << text;
    EXPECT_TRUE(same_view(copied.params, again.params)) << text;
    EXPECT_TRUE(same_view(copied.headers, again.headers)) << text;
    EXPECT_TRUE(same_view(copied.opaque, again.opaque)) << text;
    EXPECT_EQ(copied.scheme, again.scheme);
    EXPECT_EQ(copied.has_user, again.has_user);
    EXPECT_EQ(copied.has_password, again.has_password);
    EXPECT_EQ(copied.host_type, again.host_type);
    EXPECT_EQ(copied.has_port, again.has_port);
    EXPECT_EQ(copied.port, again.port);
  }
}

TEST(UriParse, TelephoneSubscriberUser) {
  const Uri uri = MustParse("sip:+1-212-555-1212:1234@gateway.com;user=phone");
  EXPECT_EQ(uri.user, "+1-212-555-1212");
  EXPECT_EQ(uri.password, "1234");
}

TEST(UriParse, UserWithUserUnreservedCharacters) {
  const Uri uri = MustParse("sip:user;par=u%40example.net@example.com");
  EXPECT_EQ(uri.user, "user;par=u%40example.net");
  EXPECT_EQ(uri.host, "example.com");
  EXPECT_EQ(uri.params, "");
}

TEST(UriParse, Ipv6References) {  // RFC 5118 section 4
  EXPECT_EQ(MustParse("sip:[2001:db8::10]").host_type, HostType::kIpv6);
  const Uri port = MustParse("sip:[2001:db8::10]:5070");
  EXPECT_EQ(port.host, "[2001:db8::10]");
  EXPECT_EQ(port.port, 5070);
  EXPECT_TRUE(Parses("sip:user@[2001:db8::192.0.2.1]"));   // 4.7, two colons
  EXPECT_FALSE(Parses("sip:user@[2001:db8:::192.0.2.1]"));  // 4.7, three colons
  EXPECT_FALSE(Parses("sip:2001:db8::10"));                 // no brackets
  EXPECT_FALSE(Parses("sip:[2001:db8::10"));                // unterminated
  EXPECT_FALSE(Parses("sip:[::ffff:zz]"));
}

TEST(UriParse, OtherSchemesAreAbsoluteUris) {
  EXPECT_EQ(MustParse("tel:+1-201-555-0123;phone-context=example.com").scheme, UriScheme::kTel);
  EXPECT_EQ(MustParse("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6").scheme, UriScheme::kOther);
  EXPECT_EQ(MustParse("mailto:bob@example.org").opaque, "bob@example.org");
  EXPECT_FALSE(Parses("tel:"));
  EXPECT_FALSE(Parses("foo:bar baz"));
  EXPECT_FALSE(Parses("1sip:x@y"));
}

TEST(UriParse, RejectsMalformed) {
  EXPECT_FALSE(Parses("sip:"));
  EXPECT_FALSE(Parses("sip:@example.com"));           // empty user
  EXPECT_FALSE(Parses("sip:a@b@example.com"));        // two '@'
  EXPECT_FALSE(Parses("sip:user@example.com:70000"));  // port out of range
  EXPECT_FALSE(Parses("sip:user@example.com:"));      // empty port
  EXPECT_FALSE(Parses("sip:user@exa mple.com"));
  EXPECT_FALSE(Parses("sip:user@-example.com"));
  EXPECT_FALSE(Parses("sip:user@example.123"));        // toplabel starts with a digit
  EXPECT_FALSE(Parses("sip:user@192.0.2.256"));
  EXPECT_FALSE(Parses("sip:us%4ger@example.com"));      // bad escape
  EXPECT_FALSE(Parses("sip:user@example.com%"));
  EXPECT_FALSE(Parses("sip:user@example.com;;lr"));    // empty parameter
  EXPECT_FALSE(Parses("sip:user@example.com;ttl=256"));
  EXPECT_FALSE(Parses("sip:user@example.com;maddr=bad_host"));
  EXPECT_FALSE(Parses("sip:user@example.com?noequals"));
  EXPECT_FALSE(Parses("sip:user@example.com;a=<b>"));
  EXPECT_FALSE(Parses("<sip:user@example.com>"));
}

TEST(UriParse, TrailingDotHostAndEscapes) {
  EXPECT_TRUE(Parses("sip:user@example.com."));
  EXPECT_TRUE(Parses("sip:%61lice@atlanta.com"));
  EXPECT_TRUE(Parses("sip:null-%00-null@example.com"));
}

// Section 19.1.4: every pair the section lists.
bool Equal(std::string_view a, std::string_view b) {
  const Uri x = MustParse(a);
  const Uri y = MustParse(b);
  const bool forward = UriEquals(x, y);
  EXPECT_EQ(forward, UriEquals(y, x)) << "equality must be symmetric: " << a << " vs " << b;
  return forward;
}

TEST(UriEquality, Rfc3261Section19_1_4_EquivalentPairs) {
  EXPECT_TRUE(Equal("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
  EXPECT_TRUE(Equal("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
  EXPECT_TRUE(Equal("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
  EXPECT_TRUE(Equal("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));
  EXPECT_TRUE(Equal("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                    "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
  EXPECT_TRUE(Equal("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                    "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
}

TEST(UriEquality, Rfc3261Section19_1_4_NonEquivalentPairs) {
  EXPECT_FALSE(Equal("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
  EXPECT_FALSE(Equal("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
  EXPECT_FALSE(Equal("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
  EXPECT_FALSE(Equal("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
  EXPECT_FALSE(Equal("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
  EXPECT_FALSE(Equal("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
  // Equality is not transitive: both equal sip:carol@chicago.com, not each other.
  EXPECT_FALSE(Equal("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
}

TEST(UriEquality, SchemeUserPasswordHostPort) {
  EXPECT_FALSE(Equal("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
  EXPECT_FALSE(Equal("sip:alice@atlanta.com", "sip:atlanta.com"));
  EXPECT_FALSE(Equal("sip:alice:pw@atlanta.com", "sip:alice@atlanta.com"));
  EXPECT_FALSE(Equal("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com"));
  EXPECT_TRUE(Equal("SIP:alice@atlanta.com:5060", "sip:alice@ATLANTA.com:05060"));
}

TEST(UriEquality, EscapedReservedCharacterDiffersFromLiteral) {
  EXPECT_FALSE(Equal("sip:a;b@example.com", "sip:a%3Bb@example.com"));
  EXPECT_TRUE(Equal("sip:a%3bb@example.com", "sip:a%3Bb@example.com"));
  EXPECT_TRUE(Equal("sip:%41lice@example.com", "sip:Alice@example.com"));
  EXPECT_FALSE(Equal("sip:%41lice@example.com", "sip:alice@example.com"));
}

TEST(UriEquality, MatchRequiredParameters) {
  for (const char* p : {"user=phone", "ttl=5", "method=INVITE", "maddr=239.255.255.1", "transport=tcp"}) {
    const std::string with = std::string("sip:bob@biloxi.com;") + p;
    EXPECT_FALSE(Equal("sip:bob@biloxi.com", with)) << p;
    EXPECT_TRUE(Equal(with, with)) << p;
  }
  EXPECT_FALSE(Equal("sip:bob@biloxi.com;user=phone", "sip:bob@biloxi.com;user=ip"));
  EXPECT_TRUE(Equal("sip:bob@biloxi.com;lr", "sip:bob@biloxi.com"));
}

TEST(UriEquality, HeadersMustMatchBothWays) {
  EXPECT_FALSE(Equal("sip:a@b.com?x=1", "sip:a@b.com?x=1&y=2"));
  EXPECT_TRUE(Equal("sip:a@b.com?X=1", "sip:a@b.com?x=1"));
  EXPECT_FALSE(Equal("sip:a@b.com?x=a", "sip:a@b.com?x=A"));
}

TEST(UriEquality, Ipv6ComparedByAddress) {  // RFC 5954 section 4
  EXPECT_TRUE(Equal("sip:bob@[2001:db8::9:1]", "sip:bob@[2001:DB8:0:0:0:0:9:1]"));
  EXPECT_FALSE(Equal("sip:bob@[2001:db8::9:1]", "sip:bob@[2001:db8::9:2]"));
  EXPECT_FALSE(Equal("sip:bob@[::ffff:192.0.2.1]", "sip:bob@192.0.2.1"));
}

TEST(UriEquality, OtherSchemes) {
  EXPECT_TRUE(Equal("TEL:+1-201-555-0123", "tel:+1-201-555-0123"));
  EXPECT_FALSE(Equal("tel:+1-201-555-0123", "tel:+1-201-555-0124"));
  EXPECT_FALSE(Equal("tel:+1", "sip:+1@example.com"));
}

}  // namespace
}  // namespace locus::sip
