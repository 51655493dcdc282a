// The redirect server (RFC 3261 sections 8.3 and 21.3.3): the read side of
// the location service. A request other than REGISTER, ACK, CANCEL and
// OPTIONS whose Request-URI names an AOR of a served domain is answered
//  - 302 Moved Temporarily with every live binding as a Contact (q, then
//    most recently refreshed first; q and the seconds left as parameters; a
//    Path as an escaped Route header, redirect_contacts.h);
//  - 480 Temporarily Unavailable when it has none but the AOR belongs to a
//    known user (authentication on), else 404 Not Found.
// A Request-URI that is a GRUU (RFC 5627, gruu.h) reaches that instance's
// bindings only: a GRUU that is not ours, or a temp-gruu whose registration
// has ended, gets 404; a pub-gruu without live bindings 480 when its AOR is
// known here (it has bindings, or belongs to a user), else 404.
//
// This class decides the target and builds the answer; RequestHandler
// routes the request to the shard that owns the AOR and keeps the
// transactions (the INVITE ones in invite_transactions.h). No I/O.
#ifndef LOCUS_ENGINE_SIP_REDIRECT_SERVER_H_
#define LOCUS_ENGINE_SIP_REDIRECT_SERVER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/auth/authenticator.h"
#include "engine/counters.h"
#include "engine/sip/gruu.h"
#include "engine/sip/response_builder.h"
#include "parser/message.h"
#include "parser/uri.h"
#include "store/binding_table.h"

namespace locus::engine {

// What a Request-URI asks for.
struct LookupTarget {
  enum class Kind : uint8_t { kAor, kGruu, kUnknownGruu };
  Kind kind = Kind::kAor;
  std::string aor;       // canonical AOR (empty for kUnknownGruu)
  std::string instance;  // kGruu: the instance it reaches
  bool temporary = false;  // kGruu: a temp-gruu, valid only since `issued`
  uint32_t issued = 0;
  bool sips = false;  // a sips: Request-URI: only sips: contacts reach it (RFC 5630)
};

class RedirectServer {
 public:
  // Contacts listed in one 302 at most (the best ones).
  static constexpr size_t kMaxContacts = 64;

  RedirectServer(const store::BindingTable& table, ShardCounters& counters)
      : table_(table), counters_(counters) {}

  // Reads GRUUs with `gruu` (null: no GRUU is ours, every "gr" URI is
  // unknown); 480 or 404 by `auth`'s users (null: 404).
  void SetGruuCodec(GruuCodec* gruu) { gruu_ = gruu; }
  void SetAuthenticator(const Authenticator* auth) { auth_ = auth; }

  // The target of a parsed sip/sips Request-URI. False when the URI cannot
  // name an AOR (the caller answers 400 with *problem).
  bool Resolve(const sip::Uri& request_uri, LookupTarget* target, const char** problem);

  // Builds the answer to `request` for `target` on the shard that owns it,
  // into *response; returns its status (302, 480 or 404).
  int Answer(const sip::Message& request, const ReplyTo& reply, const LookupTarget& target,
             uint32_t now, std::string_view server, std::string* response);

 private:
  const store::BindingTable& table_;
  ShardCounters& counters_;
  GruuCodec* gruu_ = nullptr;
  const Authenticator* auth_ = nullptr;
  std::vector<const store::Binding*> found_ = std::vector<const store::Binding*>(kMaxContacts);
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_REDIRECT_SERVER_H_
