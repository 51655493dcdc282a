// Globally Routable User Agent URIs (RFC 5627): the URIs that reach one
// instance of a user's phones (its +sip.instance) rather than every contact
// of the AOR.
//
//  - pub-gruu: the AOR with a "gr" parameter holding the instance ID
//    (section 3.1): "sip:alice@example.com;gr=urn:uuid:f81d4fae-...".
//    Stable; anyone who knows the AOR and the instance could write it.
//  - temp-gruu: "sip:tgruu.<token>@example.com;gr" (section 3.2), where the
//    token is the AOR, the instance and the time it was issued, encrypted and
//    authenticated with AES-128-GCM under a key derived from the server
//    secret. It reveals nothing of the AOR, decodes without any table, and
//    survives restarts with the secret. A new one is issued with every 200;
//    each stays valid while the instance's registration lasts (section
//    4.1): the redirect server honours it only while the AOR has a binding of
//    that instance registered no later than the token was issued, so a
//    registration that ended and began again invalidates the older ones.
//
// One GruuCodec per shard (its cipher context is not shared).
#ifndef LOCUS_ENGINE_SIP_GRUU_H_
#define LOCUS_ENGINE_SIP_GRUU_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "parser/uri.h"

namespace locus::engine {

// What a Request-URI names, GRUU-wise.
struct GruuTarget {
  enum class Kind : uint8_t {
    kNone,       // no "gr" parameter: an AOR
    kPublic,     // a pub-gruu: aor and instance set
    kTemporary,  // a temp-gruu that decoded: aor, instance and issued set
    kInvalid,    // a "gr" URI that is no GRUU of ours (unknown temp-gruu)
  };
  Kind kind = Kind::kNone;
  std::string aor;       // canonical AOR (kTemporary); kPublic: the caller canonicalizes
  std::string instance;  // "<urn:...>", as +sip.instance holds it (without quotes)
  uint32_t issued = 0;   // kTemporary: seconds since the Unix epoch
};

class GruuCodec {
 public:
  // `secret`: the server secret (raw bytes); the key is derived from it, so
  // a GRUU never shares a key with the nonces.
  explicit GruuCodec(std::string_view secret);
  ~GruuCodec();
  GruuCodec(const GruuCodec&) = delete;
  GruuCodec& operator=(const GruuCodec&) = delete;

  // Appends the temp-gruu for `instance` ("<urn:...>") of `canonical_aor`
  // (sip: or sips:, as the AOR is), issued at `now`. False when the AOR is
  // not a sip/sips URI with a host, or the inputs are too long (over 512
  // bytes together).
  bool AppendTempGruu(std::string_view canonical_aor, std::string_view instance, uint32_t now,
                      std::string* out);

  // Appends the pub-gruu: `canonical_aor` with ";gr=" and the instance ID,
  // escaped as a URI parameter value.
  static void AppendPubGruu(std::string_view canonical_aor, std::string_view instance,
                            std::string* out);

  // What `uri` (a parsed Request-URI) names. For kPublic, `aor` is left for
  // the caller to canonicalize from the URI itself (its "gr" parameter is
  // dropped with the others).
  GruuTarget Resolve(const sip::Uri& uri);

 private:
  bool Decode(std::string_view token, GruuTarget* out);

  unsigned char key_[16] = {};
  void* context_ = nullptr;  // EVP_CIPHER_CTX
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_GRUU_H_
