#include "engine/digest_algorithm.h"

#include "parser/scan.h"

namespace locus::engine {

bool ParseDigestAlgorithm(std::string_view name, DigestAlgorithm* out) {
  for (DigestAlgorithm a : {DigestAlgorithm::kMd5, DigestAlgorithm::kMd5Sess,
                            DigestAlgorithm::kSha256, DigestAlgorithm::kSha256Sess}) {
    if (sip::EqualsIgnoreCase(name, DigestAlgorithmName(a))) {
      *out = a;
      return true;
    }
  }
  return false;
}

std::string_view DigestAlgorithmName(DigestAlgorithm algorithm) {
  switch (algorithm) {
    case DigestAlgorithm::kMd5: return "MD5";
    case DigestAlgorithm::kMd5Sess: return "MD5-sess";
    case DigestAlgorithm::kSha256: return "SHA-256";
    case DigestAlgorithm::kSha256Sess: return "SHA-256-sess";
  }
  return "MD5";
}

bool IsSha256(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha256 || a == DigestAlgorithm::kSha256Sess;
}

bool IsSession(DigestAlgorithm a) {
  return a == DigestAlgorithm::kMd5Sess || a == DigestAlgorithm::kSha256Sess;
}

}  // namespace locus::engine
