// Who may register what: the users file (JSON, read with simdjson), loaded
// whole and immutable. A reload builds a new UserDb; a file with any error is
// refused as a whole and the one in force stays.
//
//   {"users": [
//     {"username": "alice", "realm": "example.com", "ha1_md5": "<32 hex>",
//      "ha1_sha256": "<64 hex>", "aors": ["sip:alice@example.com"]},
//     {"username": "bob", "password": "plain text (accepted, warned about)"}
//   ]}
//
// realm defaults to the configured authentication realm; aors (the AORs the
// user may register, third-party registration included) default to
// sip:username@realm. See docs/authentication.md.
#ifndef LOCUS_ENGINE_AUTH_USER_DB_H_
#define LOCUS_ENGINE_AUTH_USER_DB_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/auth/digest.h"

namespace locus::engine {

struct UserEntry {
  std::string username;
  std::string realm;
  std::string ha1_md5;     // lower-case hex, empty when not given
  std::string ha1_sha256;  // lower-case hex, empty when not given
  std::vector<std::string> aors;  // canonical AORs this user may register

  // HA1 for the algorithm's hash; empty when the file has none for it.
  std::string_view Ha1(DigestAlgorithm algorithm) const {
    return IsSha256(algorithm) ? ha1_sha256 : ha1_md5;
  }
  bool MayRegister(std::string_view canonical_aor) const;
};

class UserDb {
 public:
  // Loads `path`. `default_realm` fills users without a realm. `warnings`
  // receives one line per plaintext password.
  static absl::StatusOr<std::shared_ptr<const UserDb>> Load(const std::string& path,
                                                            const std::string& default_realm,
                                                            std::vector<std::string>* warnings);

  const UserEntry* Find(std::string_view username, std::string_view realm) const;
  size_t size() const { return users_.size(); }
  // Some user may register this canonical AOR (a redirect to it without
  // bindings is 480, not 404).
  bool KnowsAor(std::string_view canonical_aor) const {
    return aors_.contains(absl::string_view(canonical_aor.data(), canonical_aor.size()));
  }

 private:
  absl::flat_hash_map<std::string, UserEntry> users_;  // key: username '\n' realm
  absl::flat_hash_set<std::string> aors_;              // every user's AORs
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_AUTH_USER_DB_H_
