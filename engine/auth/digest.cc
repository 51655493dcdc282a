#include "engine/auth/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "parser/scan.h"

namespace locus::engine {

bool HexDigest::operator==(std::string_view other) const {
  return sip::EqualsIgnoreCase(view(), other);
}

HexDigest HashParts(bool sha256, std::initializer_list<std::string_view> parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, sha256 ? EVP_sha256() : EVP_md5(), nullptr);
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) EVP_DigestUpdate(ctx, ":", 1);
    first = false;
    EVP_DigestUpdate(ctx, part.data(), part.size());
  }
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, raw, &size);
  EVP_MD_CTX_free(ctx);
  static constexpr char kHex[] = "0123456789abcdef";
  HexDigest hex;
  for (unsigned int i = 0; i < size && 2 * i + 1 < sizeof(hex.data_); ++i) {
    hex.data_[2 * i] = kHex[raw[i] >> 4];
    hex.data_[2 * i + 1] = kHex[raw[i] & 0xF];
  }
  hex.size_ = 2 * size;
  return hex;
}

HexDigest ComputeHa1(DigestAlgorithm algorithm, std::string_view username, std::string_view realm,
                     std::string_view password) {
  return HashParts(IsSha256(algorithm), {username, realm, password});
}

HexDigest ComputeResponse(DigestAlgorithm algorithm, std::string_view ha1, std::string_view nonce,
                          std::string_view nc, std::string_view cnonce, std::string_view qop,
                          std::string_view method, std::string_view uri) {
  const bool sha = IsSha256(algorithm);
  HexDigest session;
  if (IsSession(algorithm)) {
    session = HashParts(sha, {ha1, nonce, cnonce});
    ha1 = session.view();
  }
  const HexDigest ha2 = HashParts(sha, {method, uri});
  if (qop.empty()) return HashParts(sha, {ha1, nonce, ha2.view()});
  return HashParts(sha, {ha1, nonce, nc, cnonce, qop, ha2.view()});
}

void HmacSha256(std::string_view key, std::string_view data, unsigned char out[32]) {
  unsigned int size = 32;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
}

bool RandomBytes(unsigned char* out, size_t size) {
  return RAND_bytes(out, static_cast<int>(size)) == 1;
}

}  // namespace locus::engine
