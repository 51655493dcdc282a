// RFC 3261 section 10.3 steps 3-4 for one shard: Digest authentication
// (section 22.4; RFC 2617 qop=auth; RFC 7616/8760 MD5 and SHA-256 and their
// -sess forms) and authorization of the AOR.
//
// Nonces are stateless (nonce_service.h), so any shard verifies any nonce.
// What needs state stays in the shard that owns the AOR: the highest nonce-count
// seen per nonce (replays are refused), bounded, forgotten as nonces age out.
// The failure counts that lock out a user or a source address after too many
// wrong answers are shared by every shard (FailureTable: atomic slots, no
// locks), so the limit holds whichever shards the attempts land on.
#ifndef LOCUS_ENGINE_AUTH_AUTHENTICATOR_H_
#define LOCUS_ENGINE_AUTH_AUTHENTICATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/counters.h"
#include "engine/auth/digest.h"
#include "engine/endpoint.h"
#include "engine/auth/failure_table.h"
#include "engine/auth/nonce_service.h"
#include "engine/auth/user_db.h"
#include "parser/message.h"

namespace locus::engine {

struct AuthPolicy {
  std::string realm;
  std::vector<DigestAlgorithm> algorithms;  // offered, in order of preference
  uint32_t max_failures = 10;               // per user and per source address
  uint32_t failure_window = 300;            // seconds a lockout lasts
};

struct AuthDecision {
  enum class Kind : uint8_t { kAllow, kChallenge, kForbidden, kBadRequest, kLockedOut };
  Kind kind = Kind::kChallenge;
  bool stale = false;           // kChallenge: the nonce aged out, the digest was right
  const char* reason = "";      // for the status line
  uint32_t retry_after = 0;     // kLockedOut
};

class Authenticator {
 public:
  static constexpr size_t kMaxTrackedNonces = 1 << 20;

  Authenticator(AuthPolicy policy, const NonceService* nonces, FailureTable* failures,
                ShardCounters& counters, int shard);

  void SetUsers(std::shared_ptr<const UserDb> users) { users_ = std::move(users); }
  const UserDb* users() const { return users_.get(); }

  // Checks the request's Authorization for our realm against the AOR.
  AuthDecision Check(const sip::Message& request, std::string_view canonical_aor,
                     const Endpoint& source, uint32_t now);

  // One "WWW-Authenticate: Digest ..." line per offered algorithm.
  void AppendChallenges(bool stale, uint32_t now, std::string* out);

  // Forgets the nonce-counts of aged nonces.
  void Sweep(uint32_t now);

 private:
  bool LockedOut(const std::string& key, uint32_t now, uint32_t* retry_after) const;
  void CountFailure(const std::string& key, uint32_t now);
  AuthDecision Fail(const std::string& user_key, const std::string& source_key, uint32_t now);

  AuthPolicy policy_;
  const NonceService* nonces_;
  FailureTable* failures_;
  ShardCounters& counters_;
  uint32_t salt_;
  std::shared_ptr<const UserDb> users_;
  struct NonceState {
    uint32_t issued = 0;
    uint32_t max_nc = 0;
  };
  absl::flat_hash_map<std::string, NonceState> nonce_counts_;
  uint32_t last_sweep_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_AUTH_AUTHENTICATOR_H_
