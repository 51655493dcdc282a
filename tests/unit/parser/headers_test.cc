// Typed header views (RFC 3261 section 20 and 25.1; RFC 3581; RFC 5626).
#include <gtest/gtest.h>

#include "parser/contact.h"
#include "parser/digest.h"
#include "parser/name_addr.h"
#include "parser/params.h"
#include "parser/scalar_headers.h"
#include "parser/scan.h"
#include "parser/via.h"

namespace locus::sip {
namespace {

TEST(Via, AllFields) {
  Via via;
  ASSERT_TRUE(ParseVia("SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK77;received=198.51.100.7;rport=5070;"
                       "maddr=239.1.1.1;ttl=16;x-custom",
                       &via).ok());
  EXPECT_EQ(via.protocol_name, "SIP");
  EXPECT_EQ(via.protocol_version, "2.0");
  EXPECT_EQ(via.transport, "UDP");
  EXPECT_EQ(via.host, "192.0.2.1");
  EXPECT_EQ(via.host_type, HostType::kIpv4);
  EXPECT_EQ(via.port, 5062);
  EXPECT_EQ(via.branch, "z9hG4bK77");
  EXPECT_EQ(via.received, "198.51.100.7");
  EXPECT_TRUE(via.has_rport);
  EXPECT_EQ(via.rport, 5070);
  EXPECT_EQ(via.maddr, "239.1.1.1");
  EXPECT_EQ(via.ttl, 16);
}

TEST(Via, EmptyRportAndIpv6) {  // RFC 3581 section 4; RFC 5118 section 4.5
  Via via;
  ASSERT_TRUE(ParseVia("SIP/2.0/TCP [2001:db8::9:1]:5060;rport;branch=z9hG4bKas3-111;received=2001:db8::9:255",
                       &via).ok());
  EXPECT_EQ(via.host, "[2001:db8::9:1]");
  EXPECT_EQ(via.host_type, HostType::kIpv6);
  EXPECT_TRUE(via.has_rport);
  EXPECT_EQ(via.rport, 0);
  EXPECT_EQ(via.received, "2001:db8::9:255");
}

TEST(Via, WhitespaceAroundSeparators) {  // RFC 4475 section 3.1.1.1
  Via via;
  ASSERT_TRUE(ParseVia("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2 : 5060 ;  branch = z9hG4bKkdjuw", &via).ok());
  EXPECT_EQ(via.transport, "UDP");
  EXPECT_EQ(via.host, "192.0.2.2");
  EXPECT_EQ(via.port, 5060);
  EXPECT_EQ(via.branch, "z9hG4bKkdjuw");
}

TEST(Via, SentProtocolFastAndGeneralPathsAgree) {
  Via fast;
  Via general;
  ASSERT_TRUE(ParseVia("sip/2.0/tcp h.example.com;branch=z9hG4bK1", &fast).ok());
  ASSERT_TRUE(ParseVia("sip / 2.0 / tcp h.example.com;branch=z9hG4bK1", &general).ok());
  EXPECT_EQ(fast.protocol_name, "sip");
  EXPECT_EQ(fast.protocol_version, "2.0");
  EXPECT_EQ(fast.transport, "tcp");
  EXPECT_EQ(general.transport, "tcp");
  EXPECT_EQ(fast.host, general.host);
  ASSERT_TRUE(ParseVia("SIP/2.0/ UDP 192.0.2.1", &fast).ok());  // SWS after the last slash
  EXPECT_EQ(fast.transport, "UDP");
  EXPECT_FALSE(ParseVia("SIP/2.0/", &fast).ok());
  EXPECT_FALSE(ParseVia("SIP/2.0/ 192.0.2.1", &fast).ok());
}

// ";branch=" first has a fast path (one folded compare, the value 16 bytes at
// a time); it must read exactly what the general parameter loop reads.
TEST(Via, BranchFirstAndElsewhereAgree) {
  Via first;
  Via later;
  const std::string branch = "z9hG4bK-524287-1---7f3a9c1e2b4d6a8f.x!%*_+`'~";  // every gen-value mark
  const std::string first_text = "SIP/2.0/UDP 192.0.2.1;BRANCH=" + branch + ";rport";  // views point into these
  const std::string later_text = "SIP/2.0/UDP 192.0.2.1;rport;Branch=" + branch;
  ASSERT_TRUE(ParseVia(first_text, &first).ok());
  ASSERT_TRUE(ParseVia(later_text, &later).ok());
  EXPECT_EQ(first.branch, branch);
  EXPECT_EQ(later.branch, branch);
  EXPECT_TRUE(first.has_rport);
  EXPECT_EQ(first.params, ";BRANCH=" + branch + ";rport");
  // The last branch wins, as in the loop.
  ASSERT_TRUE(ParseVia("SIP/2.0/UDP h.example.com;branch=z9hG4bKa;branch=z9hG4bKb", &first).ok());
  EXPECT_EQ(first.branch, "z9hG4bKb");
  // The fast path reads a token; one that stops at ':', '[' or ']' is an
  // error there, as in the loop.
  for (std::string_view bad : {"SIP/2.0/UDP h;branch=z9hG4bK:1", "SIP/2.0/UDP h;branch=z9hG4bK[1]",
                               "SIP/2.0/UDP h;branch=z9hG4bK]", "SIP/2.0/UDP h;branch=:z9hG4bK"}) {
    EXPECT_EQ(std::string_view(ParseVia(bad, &first).what), "branch is not a token") << bad;
  }
  for (std::string_view bad : {"SIP/2.0/UDP h;branch=a:b", "SIP/2.0/UDP h;branch=[a]", "SIP/2.0/UDP h;branch=\"a\"",
                               "SIP/2.0/UDP h;branch=z9hG4bK1 x", "SIP/2.0/UDP h;branch=z9hG4bK1;"}) {
    EXPECT_FALSE(ParseVia(bad, &first).ok()) << bad;
  }
  for (std::string_view lws : {"SIP/2.0/UDP h;branch = z9hG4bK1", "SIP/2.0/UDP h;branch= z9hG4bK1"}) {
    ASSERT_TRUE(ParseVia(lws, &first).ok()) << lws;  // EQUAL = SWS "=" SWS: the general path
    EXPECT_EQ(first.branch, "z9hG4bK1");
  }
}

TEST(Via, Malformed) {
  Via via;
  for (std::string_view bad : {"SIP/2.0/UDP", "SIP/2.0 192.0.2.1", "SIP/2.0/UDP 192.0.2.1;;branch=x",
                               "SIP/2.0/UDP 192.0.2.1:70000", "SIP/2.0/UDP 192.0.2.1;branch=",
                               "SIP/2.0/UDP 192.0.2.1;received=example.com", "SIP/2.0/UDP bad_host",
                               "SIP/2.0/UDP 192.0.2.1;ttl=300", "SIP/2.0/UDP 192.0.2.1 junk",
                               "SIP/2.0/UDP 192.0.2.1;rport=x"}) {
    EXPECT_FALSE(ParseVia(bad, &via).ok()) << bad;
  }
}

TEST(NameAddr, DisplayNameForms) {
  NameAddr v;
  ASSERT_TRUE(ParseNameAddr(R"("Bob \"the\" Builder" <sip:bob@biloxi.com>;tag=a48s)", HeaderId::kFrom, &v).ok());
  EXPECT_EQ(v.display_name, R"("Bob \"the\" Builder")");
  EXPECT_EQ(v.uri.text, "sip:bob@biloxi.com");
  EXPECT_TRUE(v.angle_brackets);
  EXPECT_EQ(TagOf(v), "a48s");
  ASSERT_TRUE(ParseNameAddr("Bob Smith <sip:bob@biloxi.com>", HeaderId::kTo, &v).ok());
  EXPECT_EQ(v.display_name, "Bob Smith");
  ASSERT_TRUE(ParseNameAddr("<sip:bob@biloxi.com;transport=tcp>;tag=1", HeaderId::kTo, &v).ok());
  EXPECT_EQ(v.uri.params, ";transport=tcp");
  EXPECT_EQ(v.params, ";tag=1");
}

TEST(NameAddr, AddrSpecParametersBelongToTheHeader) {  // section 20
  NameAddr v;
  ASSERT_TRUE(ParseNameAddr("sip:bob@biloxi.com;tag=xyz", HeaderId::kFrom, &v).ok());
  EXPECT_FALSE(v.angle_brackets);
  EXPECT_EQ(v.uri.text, "sip:bob@biloxi.com");
  EXPECT_EQ(v.uri.params, "");
  EXPECT_EQ(TagOf(v), "xyz");
}

TEST(NameAddr, Malformed) {
  NameAddr v;
  for (std::string_view bad : {"", "\"Unbalanced <sip:a@b.com>", "Bell, Alexander <sip:a@b.com>",
                               "<sip:a@b.com", "sip:a@b.com?Route=x", "sip:a@ b.com", "\"A\" sip:a@b.com",
                               "<sip:a@b.com>;;tag=1", "<sip:a@b.com> junk", "<>", "<sip:a@b.com>;tag="}) {
    EXPECT_FALSE(ParseNameAddr(bad, HeaderId::kTo, &v).ok()) << bad;
  }
}

TEST(Contact, StarAndParameters) {
  Contact c;
  ASSERT_TRUE(ParseContact("*", &c).ok());
  EXPECT_TRUE(c.star);
  ASSERT_TRUE(ParseContact(R"(<sip:alice@192.0.2.1:5060;transport=tcp;ob>;expires=600;q=0.25;)"
                           R"(+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1)",
                           &c).ok());
  EXPECT_FALSE(c.star);
  EXPECT_EQ(c.address.uri.text, "sip:alice@192.0.2.1:5060;transport=tcp;ob");
  EXPECT_TRUE(c.has_expires);
  EXPECT_EQ(c.expires, 600u);
  EXPECT_TRUE(c.has_q);
  EXPECT_EQ(c.q, 250);
  EXPECT_EQ(c.instance, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
  EXPECT_TRUE(c.has_reg_id);
  EXPECT_EQ(c.reg_id, 1u);
}

TEST(Contact, HugeExpiresIsClamped) {  // RFC 4475 section 3.1.2.4
  Contact c;
  ASSERT_TRUE(ParseContact("<sip:a@b.com>;expires=280297596632815", &c).ok());
  EXPECT_EQ(c.expires, 4294967295u);
  ASSERT_TRUE(ParseContact("<sip:a@b.com>;expires=4294967295", &c).ok());
  EXPECT_EQ(c.expires, 4294967295u);
}

TEST(Contact, QValueGrammar) {
  uint16_t q = 0;
  EXPECT_TRUE(ParseQValue("0", &q) && q == 0);
  EXPECT_TRUE(ParseQValue("1", &q) && q == 1000);
  EXPECT_TRUE(ParseQValue("1.000", &q) && q == 1000);
  EXPECT_TRUE(ParseQValue("0.5", &q) && q == 500);
  EXPECT_TRUE(ParseQValue("0.123", &q) && q == 123);
  EXPECT_TRUE(ParseQValue("0.", &q) && q == 0);
  for (std::string_view bad : {"1.5", "1.001", "0.1234", "2", "-0.5", ".5", "", "0,5", "0.a"}) {
    EXPECT_FALSE(ParseQValue(bad, &q)) << bad;
  }
}

TEST(Contact, BadParameters) {
  Contact c;
  for (std::string_view bad : {"<sip:a@b.com>;expires=soon", "<sip:a@b.com>;q=1.5", "<sip:a@b.com>;reg-id=0",
                               "<sip:a@b.com>;+sip.instance=<urn:x>", "<sip:a@b.com>;expires"}) {
    EXPECT_FALSE(ParseContact(bad, &c).ok()) << bad;
  }
}

TEST(CSeq, NumberAndMethod) {
  CSeq cseq;
  ASSERT_TRUE(ParseCSeq("  4711   REGISTER ", &cseq).ok());
  EXPECT_EQ(cseq.number, 4711u);
  EXPECT_EQ(cseq.method, Method::kRegister);
  ASSERT_TRUE(ParseCSeq("2147483647 NEWMETHOD", &cseq).ok());
  EXPECT_EQ(cseq.method, Method::kOther);
  EXPECT_EQ(cseq.method_name, "NEWMETHOD");
  // " REGISTER" has a one-compare fast path; near misses take the general one.
  ASSERT_TRUE(ParseCSeq("1 REGISTER", &cseq).ok());
  EXPECT_EQ(cseq.method, Method::kRegister);
  EXPECT_EQ(cseq.method_name, "REGISTER");
  ASSERT_TRUE(ParseCSeq("1\tREGISTER", &cseq).ok());
  EXPECT_EQ(cseq.method, Method::kRegister);
  ASSERT_TRUE(ParseCSeq("1 register", &cseq).ok());  // methods are case-sensitive
  EXPECT_EQ(cseq.method, Method::kOther);
  ASSERT_TRUE(ParseCSeq("1 REGISTERS", &cseq).ok());
  EXPECT_EQ(cseq.method, Method::kOther);
  EXPECT_EQ(cseq.method_name, "REGISTERS");
  // Up to 19 digits are read in one pass; longer runs (leading zeros) again,
  // with the limit tested per digit.
  ASSERT_TRUE(ParseCSeq("0000000000000000000000000000002147483647 REGISTER", &cseq).ok());
  EXPECT_EQ(cseq.number, 2147483647u);
  ASSERT_TRUE(ParseCSeq("0000000000000000042 REGISTER", &cseq).ok());  // 19 digits
  EXPECT_EQ(cseq.number, 42u);
  for (std::string_view bad : {"00000000000000000002147483648 REGISTER", "9999999999999999999 REGISTER",
                               "99999999999999999999999999 REGISTER"}) {
    EXPECT_FALSE(ParseCSeq(bad, &cseq).ok()) << bad;
  }
  // Every length of number, and the bytes that may end it.
  for (const std::string number : {"7", "42", "314", "4711", "31415", "314159", "3141592", "31415926", "314159265"}) {
    for (const std::string end : {" REGISTER", "\tREGISTER", "\xFF", "/", ":", "\x7F", "a"}) {
      const std::string text = number + end + "        ";
      const ParseError e = ParseCSeq(text, &cseq);
      EXPECT_EQ(e.code == ErrorCode::kOk, end.size() > 1) << text;
      if (e.ok()) {
        EXPECT_EQ(cseq.number, std::stoul(number)) << text;
      }
    }
  }
  for (std::string_view bad : {"2147483648 REGISTER", "36893488147419103232 INVITE", "REGISTER", "1",
                               "1REGISTER", "-1 REGISTER", "1 REG ISTER", "1 REGISTER@"}) {
    EXPECT_FALSE(ParseCSeq(bad, &cseq).ok()) << bad;
  }
}

TEST(CallId, WordAtWord) {
  std::string_view id;
  EXPECT_TRUE(ParseCallId("843817637684230@998sdasdh09", &id).ok());
  EXPECT_TRUE(ParseCallId("a84b4c76e66710", &id).ok());
  EXPECT_TRUE(ParseCallId("<weird>()@{chars}[]?/", &id).ok());
  for (std::string_view bad : {"", "a@", "@b", "a@b@c", "has space", "a,b"}) {
    EXPECT_FALSE(ParseCallId(bad, &id).ok()) << bad;
  }
}

TEST(ScalarHeaders, DeltaSecondsAndMaxForwards) {
  uint32_t v = 0;
  EXPECT_TRUE(ParseDeltaSeconds("3600", HeaderId::kExpires, &v).ok() && v == 3600);
  EXPECT_TRUE(ParseDeltaSeconds("10000000000000000000", HeaderId::kExpires, &v).ok() && v == 4294967295u);
  EXPECT_FALSE(ParseDeltaSeconds("1 hour", HeaderId::kExpires, &v).ok());
  EXPECT_FALSE(ParseDeltaSeconds("", HeaderId::kExpires, &v).ok());
  // 19 digits and fewer in one pass, longer ones digit by digit: the same
  // clamping either way.
  EXPECT_TRUE(ParseDeltaSeconds("4294967295", HeaderId::kExpires, &v).ok() && v == 4294967295u);
  EXPECT_TRUE(ParseDeltaSeconds("4294967296", HeaderId::kExpires, &v).ok() && v == 4294967295u);
  EXPECT_TRUE(ParseDeltaSeconds("9999999999999999999", HeaderId::kExpires, &v).ok() && v == 4294967295u);
  EXPECT_TRUE(ParseDeltaSeconds("00000000000000000000000007", HeaderId::kExpires, &v).ok() && v == 7);
  EXPECT_TRUE(ParseDeltaSeconds("184467440737095516160", HeaderId::kExpires, &v).ok() && v == 4294967295u);
  EXPECT_FALSE(ParseDeltaSeconds("0000000000000000000000000x", HeaderId::kExpires, &v).ok());
  EXPECT_FALSE(ParseDeltaSeconds("123456789012345678x", HeaderId::kExpires, &v).ok());
  EXPECT_TRUE(ParseMaxForwards("255", &v).ok() && v == 255);
  EXPECT_TRUE(ParseMaxForwards("0000000000000000000000070", &v).ok() && v == 70);
  EXPECT_FALSE(ParseMaxForwards("0000000000000000000000256", &v).ok());
  EXPECT_TRUE(ParseMaxForwards("0", &v).ok() && v == 0);
  EXPECT_FALSE(ParseMaxForwards("256", &v).ok());
  EXPECT_FALSE(ParseMaxForwards("300", &v).ok());
}

TEST(ScalarHeaders, RetryAfter) {
  uint32_t v = 0;
  EXPECT_TRUE(ParseRetryAfter("120 (I'm in a meeting);duration=3600", &v).ok() && v == 120);
  EXPECT_TRUE(ParseRetryAfter("5", &v).ok() && v == 5);
  EXPECT_FALSE(ParseRetryAfter("949302838503028349304023988", &v).ok());  // RFC 4475 3.1.2.5
  EXPECT_FALSE(ParseRetryAfter("5 (unclosed", &v).ok());
}

TEST(ScalarHeaders, DateAndWarning) {
  EXPECT_TRUE(ValidateDate("Sat, 13 Nov 2010 23:29:00 GMT").ok());
  EXPECT_FALSE(ValidateDate("Fri, 01 Jan 2010 16:00:00 EST").ok());  // RFC 4475 3.1.2.12
  EXPECT_FALSE(ValidateDate("Sat, 32 Nov 2010 23:29:00 GMT").ok());
  EXPECT_FALSE(ValidateDate("13 Nov 2010").ok());
  EXPECT_TRUE(ValidateWarning(R"(370 devnull "Choose a bigger pipe")").ok());
  EXPECT_FALSE(ValidateWarning(R"(1812 overture "In Progress")").ok());  // RFC 4475 3.1.2.5
  EXPECT_FALSE(ValidateWarning("399 host unquoted").ok());
}

TEST(ScalarHeaders, ContentTypeAndOptionTags) {
  EXPECT_TRUE(ValidateContentType("application/sdp").ok());
  EXPECT_TRUE(ValidateContentType("multipart/mixed;boundary=unique-boundary-1").ok());
  EXPECT_FALSE(ValidateContentType("application").ok());
  EXPECT_FALSE(ValidateContentType("/sdp").ok());
  EXPECT_TRUE(ValidateOptionTag("path", HeaderId::kSupported).ok());
  EXPECT_FALSE(ValidateOptionTag("no way", HeaderId::kRequire).ok());
}

TEST(Digest, Credentials) {  // sections 22.4 and 25.1; RFC 7616
  DigestParams d;
  ASSERT_TRUE(ParseDigest(R"(Digest username="bob", realm="biloxi.com",)"
                          "\r\n "
                          R"(nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:biloxi.com",)"
                          R"(qop=auth,nc=00000001,cnonce="0a4f113b",response="6629fae49393a05397450978507c4ef1",)"
                          R"(algorithm=SHA-256,opaque="5ccc069c403ebaf9f0171e9517f40e41")",
                          HeaderId::kAuthorization, &d).ok());
  EXPECT_EQ(d.scheme, "Digest");
  EXPECT_EQ(d.username, "bob");
  EXPECT_EQ(d.realm, "biloxi.com");
  EXPECT_EQ(d.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  EXPECT_EQ(d.uri, "sip:biloxi.com");
  EXPECT_EQ(d.qop, "auth");
  EXPECT_EQ(d.nc, "00000001");
  EXPECT_EQ(d.cnonce, "0a4f113b");
  EXPECT_EQ(d.response, "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(d.algorithm, "SHA-256");
  EXPECT_EQ(d.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
}

TEST(Digest, Malformed) {
  DigestParams d;
  for (std::string_view bad : {"Digest", "Digest username", R"(Digest username="bob)",
                               R"(Digest username="bob" realm="x")", R"(Digest username="a", username="b")",
                               R"(Digest username="a",)", "=x"}) {
    EXPECT_FALSE(ParseDigest(bad, HeaderId::kAuthorization, &d).ok()) << bad;
  }
}

TEST(Params, HeaderParameterGrammar) {
  EXPECT_TRUE(ValidateParams(" ; tag = abc ; lr ; quoted=\"a;b,c\" ; ip=[2001:db8::1]"));
  EXPECT_FALSE(ValidateParams(";"));
  EXPECT_FALSE(ValidateParams(";a=b;;c"));
  EXPECT_FALSE(ValidateParams("tag=1"));
  EXPECT_FALSE(ValidateParams(";a=\"unterminated"));
  Param p;
  ASSERT_TRUE(FindParam(";Expires=60;q=1", "expires", &p));
  EXPECT_EQ(p.value, "60");
  EXPECT_EQ(Unquote("\"x y\""), "x y");
}

// EqualBytes (From and To URIs) against operator==: every length up to 40,
// equal, one byte different at every position, and different lengths.
TEST(Scan, EqualBytesIsEquality) {
  for (size_t n = 0; n <= 40; ++n) {
    std::string a;
    for (size_t i = 0; i < n; ++i) a += static_cast<char>('a' + i % 26);
    const std::string b = a;
    EXPECT_TRUE(EqualBytes(a, b)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ 0x20);
      EXPECT_FALSE(EqualBytes(a, c)) << n << " at " << i;
    }
    EXPECT_FALSE(EqualBytes(a, a + "x")) << n;
    if (n > 0) {
      EXPECT_FALSE(EqualBytes(std::string_view(a).substr(1), a)) << n;
    }
  }
}

}  // namespace
}  // namespace locus::sip
