// The Digest algorithms locus offers and accepts (RFC 7616, RFC 8760): a
// configuration value (auth_algorithms) as much as an authentication one,
// so it lives beside the configuration; the hashing is in auth/digest.h.
#ifndef LOCUS_ENGINE_DIGEST_ALGORITHM_H_
#define LOCUS_ENGINE_DIGEST_ALGORITHM_H_

#include <cstdint>
#include <string_view>

namespace locus::engine {

enum class DigestAlgorithm : uint8_t { kMd5, kMd5Sess, kSha256, kSha256Sess };

// "MD5", "MD5-sess", "SHA-256", "SHA-256-sess", any case (RFC 7616 section
// 3.4.1: an absent algorithm means MD5, the caller's choice to make).
bool ParseDigestAlgorithm(std::string_view name, DigestAlgorithm* out);
std::string_view DigestAlgorithmName(DigestAlgorithm algorithm);
bool IsSha256(DigestAlgorithm algorithm);
bool IsSession(DigestAlgorithm algorithm);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DIGEST_ALGORITHM_H_
