// The request pipeline of one shard, without any I/O: takes a parsed message
// and either answers it (the response bytes), hands it to the shard that owns
// its AOR, or drops it. RFC 3261 section 10.3 in order:
//   validation (section 8.2, ARCHITECTURE section 5) -> method dispatch ->
//   AOR canonical form and owner shard (step 5) -> transaction match
//   (section 17.2.3) -> Request-URI scheme and domain (step 1) -> Require
//   (step 2) -> authentication and authorization (steps 3-4, auth/) ->
//   steps 6-8 through store::ApplyRegister, recorded in the journal's group
//   commit -> 200 with every binding.
#ifndef LOCUS_ENGINE_SIP_REQUEST_HANDLER_H_
#define LOCUS_ENGINE_SIP_REQUEST_HANDLER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "engine/auth/authenticator.h"
#include "engine/config.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "engine/durability/group_commit.h"
#include "engine/sip/response_builder.h"
#include "engine/sip/transaction_table.h"
#include "parser/contact.h"
#include "parser/message.h"
#include "parser/validate.h"
#include "store/binding_table.h"
#include "store/registrar.h"

namespace locus::engine {

// A request as it arrived.
struct Inbound {
  Endpoint source;
  store::Transport transport = store::Transport::kUdp;
  bool too_large = false;  // parsed with the fallback limit: answer 513
  uint64_t received_ns = 0;  // monotonic receive time, for the latency histogram
};

struct Disposition {
  enum class Kind : uint8_t { kDrop, kRespond, kHandOff };
  Kind kind = Kind::kDrop;
  int owner = -1;        // kHandOff: the shard that owns the AOR
  int status = 0;        // kRespond: the status code sent
  Endpoint destination;  // kRespond over UDP: where the response goes
  // kRespond: the response shows bindings not yet durable (sync mode); it
  // must be held by the journal (FailureFor() makes its alternative), and is
  // counted when it leaves.
  bool hold = false;
};

// The shard that owns a canonical AOR (ARCHITECTURE section 3).
int OwnerShard(std::string_view canonical_aor, int shard_count);

class RequestHandler {
 public:
  RequestHandler(const Config& config, int shard, int shard_count, uint64_t tag_seed,
                 store::BindingTable& table, ShardCounters& counters);

  // Handles one message. `handed_off`: it was received by another shard,
  // which found that this one owns the AOR. With kRespond, *response holds the
  // bytes to send back on the transport the request came in by.
  Disposition Handle(const sip::Message& message, const Inbound& inbound, bool handed_off,
                     std::string* response);

  // Answers a request with a bare status (e.g. 503 when a hand-off ring is
  // full), adding Retry-After when retry_after > 0. kDrop when it cannot be
  // answered.
  Disposition Reject(const sip::Message& message, const Inbound& inbound, int status,
                     std::string_view reason, uint32_t retry_after, std::string* response);

  // Moves the clocks: seconds since the Unix epoch (bindings, Date) and a
  // monotonic millisecond clock (transactions). Call before Handle().
  void SetTime(uint32_t now_s, uint64_t now_ms);

  // Drops cached transactions whose Timer J fired, and expired bindings.
  void Expire();

  const TransactionTable& transactions() const { return transactions_; }

  // Caches the final response of a held request once it is decided
  // (section 17.2.2); until then its retransmissions are absorbed.
  void CacheResponse(std::string_view key, std::string_view response) {
    held_transactions_.erase(KeyHash(key));
    transactions_.Insert(key, response, now_ms_ + kTimerJMs);
  }
  // Of the last Handle(): the transaction key (empty when not cached: TCP).
  std::string_view transaction_key() const { return cached_ ? std::string_view(key_) : std::string_view(); }
  // The answer to a held request whose journal group failed: its 200 turned
  // into 500 with Retry-After (nothing of it was applied).
  static void FailureFor(std::string_view held_success, std::string* out);

  // Records every binding change in this shard's journal (its group commit,
  // durability/group_commit.h); null: durability off.
  void SetJournal(GroupCommit* journal) { journal_ = journal; }

  // Turns on steps 3-4 (Digest authentication and authorization); the
  // authenticator belongs to the same shard.
  void SetAuthenticator(Authenticator* auth) { auth_ = auth; }

 private:
  Disposition Respond(const Inbound& inbound, const ReplyTo& reply, int status, bool hold = false);
  void StartResponse(int status, std::string_view reason, const sip::Message& message,
                     const ReplyTo& reply, std::string* response);
  Disposition HandleRegister(const sip::Message& message, const Inbound& inbound,
                             const ReplyTo& reply, std::string_view aor, std::string* response);
  Disposition HandleCancel(const sip::Message& message, const Inbound& inbound,
                           const ReplyTo& reply, std::string* response);
  void BuildTransactionKey(const sip::Message& message, const ReplyTo& reply,
                           std::string_view method);
  bool Serves(std::string_view host) const;
  // Unsupported option tags of Require, comma-separated, into unsupported_.
  bool FindUnsupported(const sip::Message& message);
  // 420 Bad Extension listing unsupported_.
  Disposition RejectUnsupported(const sip::Message& message, const Inbound& inbound,
                                const ReplyTo& reply, std::string* response);
  void AppendContacts(const store::AorRecord* record);
  void UpdateDate();
  void CountMethod(sip::Method method);

  const Config& config_;
  const int shard_;
  const int shard_count_;
  const uint64_t tag_seed_;
  store::BindingTable& table_;
  ShardCounters& counters_;
  TransactionTable transactions_;
  store::RegistrarScratch scratch_;
  uint32_t now_s_ = 0;
  uint64_t now_ms_ = 0;
  char date_[40] = {};  // "Sat, 28 Nov 2026 07:10:47 GMT"
  uint32_t date_second_ = 0;

  // Working memory reused by every request.
  sip::CoreHeaders core_;
  std::vector<sip::Contact> contacts_;
  std::vector<store::ContactSpec> specs_;
  std::string key_;
  std::string path_;
  std::string unsupported_;
  std::string* out_ = nullptr;
  Authenticator* auth_ = nullptr;
  GroupCommit* journal_ = nullptr;
  // Transactions whose response is held by the journal (hashes of their
  // keys): a retransmission is absorbed until the response is cached.
  absl::flat_hash_set<uint64_t> held_transactions_;
  static uint64_t KeyHash(std::string_view key) { return absl::Hash<std::string_view>{}(key); }
  // The last request's key is held (no hashing while nothing is held).
  bool KeyHeld() const { return !held_transactions_.empty() && held_transactions_.contains(KeyHash(key_)); }
  bool cached_ = false;  // the last request's response goes to the transaction cache
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_REQUEST_HANDLER_H_
