// GRUU encoding (engine/sip/gruu.h): temp-gruus round-trip through the
// codec that issued them, hide the AOR, and are refused once altered or when
// read with another secret; pub-gruus escape the instance.
#include "engine/sip/gruu.h"

#include <string>

#include "gtest/gtest.h"
#include "parser/uri.h"

namespace locus::engine {
namespace {

constexpr std::string_view kInstance = "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";

GruuTarget ResolveText(GruuCodec& codec, const std::string& text) {
  sip::Uri uri;
  EXPECT_TRUE(sip::ParseUri(text, sip::HeaderId::kNone, &uri).ok()) << text;
  return codec.Resolve(uri);
}

TEST(Gruu, TempGruuRoundTripsAndHidesTheAor) {
  GruuCodec codec(std::string(32, 'a'));
  std::string temp;
  ASSERT_TRUE(codec.AppendTempGruu("sips:alice@example.com:5061", kInstance, 1800000123, &temp));
  EXPECT_TRUE(temp.starts_with("sips:tgruu.")) << temp;
  EXPECT_TRUE(temp.ends_with("@example.com:5061;gr")) << temp;
  EXPECT_EQ(temp.find("alice"), std::string::npos);
  const GruuTarget target = ResolveText(codec, temp);
  EXPECT_EQ(target.kind, GruuTarget::Kind::kTemporary);
  EXPECT_EQ(target.aor, "sips:alice@example.com:5061");
  EXPECT_EQ(target.instance, kInstance);
  EXPECT_EQ(target.issued, 1800000123u);
  // Two issued at once differ (each has its own nonce).
  std::string again;
  ASSERT_TRUE(codec.AppendTempGruu("sips:alice@example.com:5061", kInstance, 1800000123, &again));
  EXPECT_NE(temp, again);
}

TEST(Gruu, AlteredOrForeignTempGruusAreUnknown) {
  GruuCodec codec(std::string(32, 'a'));
  GruuCodec other(std::string(32, 'b'));
  std::string temp;
  ASSERT_TRUE(codec.AppendTempGruu("sip:alice@example.com", kInstance, 1800000000, &temp));
  EXPECT_EQ(ResolveText(other, temp).kind, GruuTarget::Kind::kInvalid);
  const size_t start = temp.find("tgruu.") + 6;
  const size_t end = temp.find('@');
  for (size_t i = start; i < end; ++i) {
    std::string altered = temp;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(ResolveText(codec, altered).kind, GruuTarget::Kind::kInvalid) << altered;
  }
  EXPECT_EQ(ResolveText(codec, "sip:tgruu.@example.com;gr").kind, GruuTarget::Kind::kInvalid);
  EXPECT_EQ(ResolveText(codec, "sip:tgruu.!!!!@example.com;gr").kind,
            GruuTarget::Kind::kInvalid);
  EXPECT_EQ(ResolveText(codec, "sip:someone@example.com;gr").kind, GruuTarget::Kind::kInvalid);
  EXPECT_EQ(ResolveText(codec, "sip:someone@example.com").kind, GruuTarget::Kind::kNone);
}

TEST(Gruu, EveryOneCharacterChangeOfManyTempGruusIsUnknown) {
  // Each token has a fresh nonce, so its last character varies: a change in
  // the bits beyond the data must not decode to the same token.
  GruuCodec codec(std::string(32, 'a'));
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int n = 0; n < 50; ++n) {
    std::string temp;
    ASSERT_TRUE(codec.AppendTempGruu("sip:alice@example.com", kInstance, 1800000000, &temp));
    const size_t end = temp.find('@');
    std::string altered = temp;
    for (char c : alphabet) {
      if (c == temp[end - 1]) continue;
      altered[end - 1] = c;
      EXPECT_EQ(ResolveText(codec, altered).kind, GruuTarget::Kind::kInvalid) << altered;
    }
  }
}

TEST(Gruu, PubGruuEscapesTheInstanceAndResolvesBack) {
  std::string pub;
  GruuCodec::AppendPubGruu("sip:alice@example.com", "<urn:x:a b;c>", &pub);
  EXPECT_EQ(pub, "sip:alice@example.com;gr=urn:x:a%20b%3Bc");
  GruuCodec codec(std::string(32, 'a'));
  const GruuTarget target = ResolveText(codec, pub);
  EXPECT_EQ(target.kind, GruuTarget::Kind::kPublic);
  EXPECT_EQ(target.instance, "<urn:x:a b;c>");
}

}  // namespace
}  // namespace locus::engine
