// Digest computations against the worked examples of the RFCs, and the
// stateless nonces.
#include "engine/auth/digest.h"

#include <string>

#include "engine/auth/authenticator.h"
#include "gtest/gtest.h"

namespace locus::engine {
namespace {

TEST(Digest, Rfc2617Section3_5Example) {
  // RFC 2617 section 3.5 (MD5, qop=auth, method GET).
  const HexDigest ha1 = ComputeHa1(DigestAlgorithm::kMd5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  const HexDigest response =
      ComputeResponse(DigestAlgorithm::kMd5, ha1.view(), "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                      "00000001", "0a4f113b", "auth", "GET", "/dir/index.html");
  EXPECT_EQ(response.view(), "6629fae49393a05397450978507c4ef1");
}

TEST(Digest, Rfc7616Section3_9_1ExamplesSha256AndMd5) {
  // RFC 7616 section 3.9.1: the same request answered with SHA-256 and MD5.
  const char* nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
  const char* cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  const HexDigest sha_ha1 =
      ComputeHa1(DigestAlgorithm::kSha256, "Mufasa", "http-auth@example.org", "Circle of Life");
  EXPECT_EQ(ComputeResponse(DigestAlgorithm::kSha256, sha_ha1.view(), nonce, "00000001", cnonce,
                            "auth", "GET", "/dir/index.html")
                .view(),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  const HexDigest md5_ha1 =
      ComputeHa1(DigestAlgorithm::kMd5, "Mufasa", "http-auth@example.org", "Circle of Life");
  EXPECT_EQ(ComputeResponse(DigestAlgorithm::kMd5, md5_ha1.view(), nonce, "00000001", cnonce,
                            "auth", "GET", "/dir/index.html")
                .view(),
            "8ca523f5e9506fed4657c9700eebdbec");
}

TEST(Digest, SessionVariantHashesHa1WithNonceAndCnonce) {
  // MD5-sess (RFC 2617 3.2.2.2): HA1' = MD5(HA1:nonce:cnonce).
  const HexDigest ha1 = ComputeHa1(DigestAlgorithm::kMd5Sess, "u", "r", "p");
  const HexDigest session = HashParts(false, {ha1.view(), "n", "c"});
  const HexDigest ha2 = HashParts(false, {"REGISTER", "sip:r"});
  const HexDigest expected = HashParts(false, {session.view(), "n", "00000001", "c", "auth", ha2.view()});
  EXPECT_EQ(ComputeResponse(DigestAlgorithm::kMd5Sess, ha1.view(), "n", "00000001", "c", "auth",
                            "REGISTER", "sip:r")
                .view(),
            expected.view());
}

TEST(Digest, AlgorithmNames) {
  DigestAlgorithm a;
  ASSERT_TRUE(ParseDigestAlgorithm("sha-256", &a));
  EXPECT_EQ(a, DigestAlgorithm::kSha256);
  ASSERT_TRUE(ParseDigestAlgorithm("MD5-SESS", &a));
  EXPECT_EQ(a, DigestAlgorithm::kMd5Sess);
  EXPECT_FALSE(ParseDigestAlgorithm("SHA-512-256", &a));
}

TEST(Nonce, VerifiesItsOwnAgesOutAndRejectsForgeries) {
  NonceService nonces(std::string(32, 'k'), 300);
  char buf[NonceService::kNonceSize];
  const std::string nonce(nonces.Make(1000, 7, buf));
  uint32_t issued = 0;
  EXPECT_EQ(nonces.Check(nonce, 1000, &issued), NonceService::Verdict::kValid);
  EXPECT_EQ(issued, 1000u);
  EXPECT_EQ(nonces.Check(nonce, 1300, &issued), NonceService::Verdict::kValid);
  EXPECT_EQ(nonces.Check(nonce, 1301, &issued), NonceService::Verdict::kStale);
  std::string forged = nonce;
  forged[3] = forged[3] == '0' ? '1' : '0';  // a later issue time, same MAC
  EXPECT_EQ(nonces.Check(forged, 1000, &issued), NonceService::Verdict::kInvalid);
  EXPECT_EQ(nonces.Check(nonce.substr(1), 1000, &issued), NonceService::Verdict::kInvalid);
  NonceService other(std::string(32, 'j'), 300);  // another secret
  EXPECT_EQ(other.Check(nonce, 1000, &issued), NonceService::Verdict::kInvalid);
}

}  // namespace
}  // namespace locus::engine
