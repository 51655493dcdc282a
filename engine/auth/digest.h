// HTTP Digest computations for SIP (RFC 3261 section 22.4, RFC 2617 with
// qop=auth, RFC 7616 / RFC 8760 algorithms MD5, MD5-sess, SHA-256 and
// SHA-256-sess). Hashing is OpenSSL's libcrypto. No state, no allocation: hex
// digests live in small fixed buffers.
#ifndef LOCUS_ENGINE_AUTH_DIGEST_H_
#define LOCUS_ENGINE_AUTH_DIGEST_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "engine/digest_algorithm.h"

namespace locus::engine {

// A lower-case hex digest: 32 characters for MD5, 64 for SHA-256.
class HexDigest {
 public:
  std::string_view view() const { return {data_, size_}; }
  bool operator==(std::string_view other) const;  // case-insensitive hex compare

 private:
  friend HexDigest HashParts(bool sha256, std::initializer_list<std::string_view> parts);
  char data_[64] = {};
  size_t size_ = 0;
};

// H(p1 ":" p2 ":" ...): the parts joined by colons, hashed, hex-encoded.
HexDigest HashParts(bool sha256, std::initializer_list<std::string_view> parts);

// HA1 = H(username:realm:password) of the algorithm's hash (RFC 7616 3.4.2;
// the -sess step is applied later, per nonce).
HexDigest ComputeHa1(DigestAlgorithm algorithm, std::string_view username, std::string_view realm,
                     std::string_view password);

// The request-digest of RFC 2617 3.2.2.1 / RFC 7616 3.4.1 for qop=auth:
//   KD(HA1', nonce:nc:cnonce:qop:H(method:uri)), HA1' = HA1, or for -sess
//   H(HA1:nonce:cnonce). With an empty qop (RFC 2069 clients):
//   KD(HA1', nonce:H(method:uri)).
HexDigest ComputeResponse(DigestAlgorithm algorithm, std::string_view ha1, std::string_view nonce,
                          std::string_view nc, std::string_view cnonce, std::string_view qop,
                          std::string_view method, std::string_view uri);

// HMAC-SHA-256 of `data` under `key` into out[32].
void HmacSha256(std::string_view key, std::string_view data, unsigned char out[32]);

// Fills `out` with cryptographically random bytes; false on failure.
bool RandomBytes(unsigned char* out, size_t size);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_AUTH_DIGEST_H_
