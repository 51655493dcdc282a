// RFC 3261 section 10.3, steps 6 to 8, as one function over one shard's
// BindingTable: wildcard rules, expiry per contact, Call-ID/CSeq ordering,
// and an all-or-nothing commit. The engine does steps 1 to 5 (domain, Require,
// authentication, authorization, AOR canonical form) and fills RegisterRequest
// from the parsed message; time and policy are passed in.
#ifndef LOCUS_STORE_REGISTRAR_H_
#define LOCUS_STORE_REGISTRAR_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "parser/uri.h"
#include "store/aor_record.h"
#include "store/binding.h"
#include "store/binding_changes.h"
#include "store/binding_table.h"

namespace locus::store {

// One Contact of the request (not "*").
struct ContactSpec {
  std::string_view uri_text;  // the Contact URI as received
  sip::Uri uri;               // parsed; compared with section 19.1.4 rules
  bool has_expires = false;   // the contact's own expires parameter
  uint32_t expires = 0;
  bool has_q = false;
  uint16_t q = 1000;          // thousandths
  std::string_view instance;  // +sip.instance (RFC 5626), may be empty
  uint32_t reg_id = 0;        // RFC 5626 reg-id, 0 when absent
};

struct RegisterRequest {
  AorKey aor;  // canonical AOR of the To URI
  std::string_view call_id;
  uint32_t cseq = 0;
  bool has_expires_header = false;
  uint32_t expires_header = 0;
  bool wildcard = false;  // a "Contact: *" element was present
  std::span<const ContactSpec> contacts;
  std::string_view user_agent;
  std::string_view path;  // Path header values joined by ", " (RFC 3327)
  Transport transport = Transport::kUdp;
  SourceAddress source;
};

// What to do when a REGISTER would leave an AOR with more than max_contacts
// bindings.
enum class TooManyContacts : uint8_t {
  kReject,      // 403 "Too Many Contacts"; nothing changes (the default)
  kDropOldest,  // remove the least recently refreshed bindings to make room
};

struct RegistrarPolicy {
  uint32_t min_expires = 60;
  uint32_t default_expires = 3600;
  uint32_t max_expires = 7200;
  uint32_t max_contacts = 16;  // per AOR; 0 = no limit
  TooManyContacts too_many_contacts = TooManyContacts::kReject;
};

// One change of a request, as committed: the journal records these.
// kLapse is a binding past its expiry that the timer wheel has not collected
// yet: it leaves with the request's other changes, and counts as expired.
struct StagedChange {
  enum class Kind : uint8_t { kAdd, kUpdate, kRemove, kLapse };
  Kind kind = Kind::kAdd;
  std::string_view contact;  // the contact URI: as stored (update, remove, lapse) or received (add)
  const ContactSpec* spec = nullptr;  // kAdd and kUpdate: the request's contact
  uint32_t expires_at = 0;            // kAdd and kUpdate: absolute expiry granted
  int binding_index = -1;             // kUpdate, kRemove, kLapse: which existing binding
};

// How many bindings the changes create, refresh, remove and let lapse.
BindingChanges Tally(std::span<const StagedChange> changes);

struct StagedRequest {
  AorKey aor;
  const RegisterRequest* request = nullptr;
  uint32_t now = 0;
  std::span<const StagedChange> changes;
};

// Durably records the changes before they are applied. Returns false when it
// could not (the request then fails with 500 and nothing is applied).
using CommitHook = absl::FunctionRef<bool(const StagedRequest&)>;

// A commit hook for tables that keep nothing durable.
inline bool CommitNothing(const StagedRequest&) { return true; }

struct RegisterOutcome {
  int status = 200;            // 200, 400, 403, 423 or 500
  const char* reason = "OK";   // reason phrase
  uint32_t min_expires = 0;    // with 423: the Min-Expires value to send
  // With 200: the AOR's record after the request, holding every current
  // binding (expires_at - now is the expiry granted); nullptr when the AOR has
  // none. After a request that changed nothing it may also hold lapsed
  // bindings (expires_at <= now) that the timer wheel has not collected yet:
  // skip those. Valid until the table changes.
  const AorRecord* record = nullptr;
};

// Reusable working memory for ApplyRegister, so a request allocates nothing
// once it has warmed up. One per shard.
class RegistrarScratch {
 public:
  std::vector<StagedChange> changes;
  std::vector<int> removals;  // binding indices to remove, while applying
};

// Applies a REGISTER to `table` at time `now` (seconds since the Unix epoch).
// All of its changes are applied, or none: every rule is checked on staged
// changes first, then `commit` is called once, then the table is changed.
RegisterOutcome ApplyRegister(BindingTable& table, const RegisterRequest& request, uint32_t now,
                              const RegistrarPolicy& policy, RegistrarScratch& scratch,
                              CommitHook commit = CommitNothing);

// Bindings of an AOR for proxies and redirect servers (RFC 3261 section
// 16.6 / 8.3): highest q first, then most recently refreshed. Expired
// bindings not yet collected are skipped. With an `instance` ("<urn:...>"),
// only that instance's bindings (RFC 5627: what a GRUU reaches; compared
// without regard to case). Writes at most out.size() pointers and returns
// how many it wrote.
size_t LookupBindings(const BindingTable& table, AorKey aor, uint32_t now,
                      std::span<const Binding*> out, std::string_view instance = {});

}  // namespace locus::store

#endif  // LOCUS_STORE_REGISTRAR_H_
