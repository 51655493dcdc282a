// Digest nonces without state: the issue time and a salt, MACed with
// HMAC-SHA-256 under the server secret (48 hex characters), so any shard
// verifies any nonce, and nonces survive a restart when the secret does.
// The secret is configured, or made once and kept in the data directory.
#ifndef LOCUS_ENGINE_AUTH_NONCE_SERVICE_H_
#define LOCUS_ENGINE_AUTH_NONCE_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/config.h"

namespace locus::engine {

class NonceService {
 public:
  static constexpr size_t kNonceSize = 48;  // 8 hex time, 8 hex salt, 32 hex MAC

  NonceService(std::string secret, uint32_t lifetime_s) : secret_(std::move(secret)), lifetime_(lifetime_s) {}

  // A nonce issued at `now`; `salt` makes nonces of one second differ.
  std::string_view Make(uint32_t now, uint32_t salt, char (&out)[kNonceSize]) const;

  enum class Verdict { kValid, kStale, kInvalid };
  // kInvalid when not ours (bad MAC or shape); kStale when older than the
  // lifetime (or from the future). `issued` receives the issue time.
  Verdict Check(std::string_view nonce, uint32_t now, uint32_t* issued) const;

  uint32_t lifetime() const { return lifetime_; }

 private:
  std::string secret_;
  uint32_t lifetime_;
};

// The server secret (raw bytes), which MACs the nonces and keys the
// temp-gruus (sip/gruu.h): `auth_secret` when configured, else the 32 random
// bytes kept as hex (mode 0600) in <data_dir>/auth.secret, made at the first
// start, so that nonces and temp-gruus survive a restart.
absl::StatusOr<std::string> LoadOrCreateServerSecret(const Config& config);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_AUTH_NONCE_SERVICE_H_
