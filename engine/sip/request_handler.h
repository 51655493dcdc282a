// The request pipeline of one shard, without any I/O: takes a parsed message
// and either answers it (the response bytes), hands it to the shard that owns
// its AOR, or drops it.
//  - REGISTER, RFC 3261 section 10.3 in order: validation (section 8.2,
//    ARCHITECTURE section 5) -> AOR canonical form and owner shard (step 5)
//    -> transaction match (section 17.2.3) -> Request-URI scheme and domain
//    (step 1) -> Require (step 2) -> authentication and authorization (steps
//    3-4, auth/) -> Outbound (RFC 5626, outbound.h) -> steps 6-8 through
//    store::ApplyRegister, recorded in the journal's group commit -> 200
//    with every binding (GRUUs, RFC 5627; Path, RFC 3327; Service-Route,
//    RFC 3608).
//  - Other requests to an AOR or GRUU (the redirect server, section 8.3,
//    redirect_server.h): owner shard of the Request-URI's AOR -> transaction
//    match (INVITE: invite_transactions.h) -> 302 / 480 / 404.
//  - OPTIONS: 200 with what is supported (section 11.2). ACK: never
//    answered; ends an INVITE transaction. CANCEL: 200 when it matches a
//    transaction, else 481 (section 9.2).
#ifndef LOCUS_ENGINE_SIP_REQUEST_HANDLER_H_
#define LOCUS_ENGINE_SIP_REQUEST_HANDLER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "engine/auth/authenticator.h"
#include "engine/cluster/aor_flights.h"
#include "engine/config.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "engine/durability/group_commit.h"
#include "engine/sip/gruu.h"
#include "engine/sip/invite_transactions.h"
#include "engine/sip/redirect_server.h"
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
  uint16_t udp_socket = 0;   // UDP: the socket it came in by (Timer G resends by it)
  // Streams: the connection it came on (the shard holding it, its id).
  int connection_shard = -1;
  uint64_t connection_id = 0;
  // TLS: a REGISTER whose AOR the client's verified certificate names
  // (client_certificate.h): authorized without a Digest challenge.
  bool certified = false;
  // Cluster mode (docs/cluster.md), a request handled again:
  //  - state_read: it waited for its AOR's read or commit; decide on the
  //    cached state as it is now (current, or known to have no bindings);
  //  - redecide: its REGISTER was decided on a state another node had
  //    changed; the current one is adopted and steps 6-8 run again (steps
  //    3-4 passed already, its transaction is still held).
  //  - read_failed: the read it waited for failed: an AOR not cached is
  //    unknown, not "without bindings" (500 with Retry-After).
  bool state_read = false;
  bool redecide = false;
  bool read_failed = false;
};

struct Disposition {
  // kPark (cluster mode): the request waits for its AOR's Redis operation --
  // the one in flight, or else a read -- and is handled again once it ends
  // (RequestHandler::parked_aor()).
  enum class Kind : uint8_t { kDrop, kRespond, kHandOff, kPark };
  Kind kind = Kind::kDrop;
  int owner = -1;        // kHandOff: the shard that owns the AOR
  int status = 0;        // kRespond: the status code sent
  Endpoint destination;  // kRespond over UDP: where the response goes
  // kRespond: the response shows bindings not yet durable (sync mode); it
  // must be held by the journal (FailureFor() makes its alternative), and is
  // counted when it leaves.
  bool hold = false;
  // kRespond with hold, in cluster mode: the REGISTER changed its AOR's
  // bindings; the response leaves once Redis took the new state
  // (RequestHandler::cluster_commit()).
  bool commit = false;
};

// Cluster mode: a decided REGISTER's commit, for the compare-and-set.
struct ClusterCommit {
  std::string_view aor;           // valid until the next Handle()
  uint64_t expected_version = 0;  // the version its decision was made on
  store::BindingChanges changes;  // counted once committed
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

  // A datagram that ParseMessage refused, read again leniently
  // (sip::SalvageRequest; `broken`: the header of its first broken line):
  // 400 naming `error` when its Via, From, To, Call-ID and CSeq are readable
  // (ARCHITECTURE section 5), kDrop otherwise.
  Disposition HandleMalformed(const sip::Message& salvaged, sip::HeaderId broken,
                              const sip::ParseError& error, const Inbound& inbound,
                              std::string* response);

  // Answers a request with a bare status (e.g. 503 when a hand-off ring is
  // full), adding Retry-After when retry_after > 0. kDrop when it cannot be
  // answered.
  Disposition Reject(const sip::Message& message, const Inbound& inbound, int status,
                     std::string_view reason, uint32_t retry_after, std::string* response);

  // Moves the clocks: seconds since the Unix epoch (bindings, Date) and a
  // monotonic millisecond clock (transactions). Call before Handle().
  void SetTime(uint32_t now_s, uint64_t now_ms);

  // Drops cached transactions whose Timer J fired, and expired bindings: at
  // most kExpiryAorsPerCall AORs' worth, so that a mass expiry (a million
  // phones registered in the same minute) is spread over loop turns instead
  // of pausing the shard; NextTimerMs() is then due at once.
  void Expire();
  static constexpr size_t kExpiryAorsPerCall = 4096;  // about 1 ms of work
  // Fires the INVITE transactions' timers: resend(where, response) for each
  // Timer G (UDP).
  void RunInviteTimers(
      absl::FunctionRef<void(const InviteTransactions::Where&, std::string_view)> resend);
  // A WebSocket connection closed. Over WebSocket the connection is the flow
  // (RFC 7118 section 5, RFC 5626): the phone cannot be reached but through
  // it, so the bindings registered over it are removed, and no 302 offers
  // them any more.
  void FlowClosed(int connection_shard, uint64_t connection_id);
  // When Expire or RunInviteTimers next has work (monotonic ms), if ever.
  std::optional<uint64_t> NextTimerMs() const;

  const TransactionTable& transactions() const { return transactions_; }
  const InviteTransactions& invite_transactions() const { return invites_; }

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

  // Cluster mode (docs/cluster.md): Redis is the store of record, the table
  // its cache. A request whose AOR has a Redis operation in flight, or whose
  // cached state is not known current, is parked; a REGISTER that changes
  // bindings is held (Disposition::commit) until its compare-and-set.
  void SetCluster(const cluster::AorFlights* flights) { flights_ = flights; }
  // Of the last Handle(): the AOR of a kPark, and the commit of a
  // Disposition::commit.
  std::string_view parked_aor() const { return decided_aor_; }
  const ClusterCommit& cluster_commit() const { return commit_; }

  // Turns on steps 3-4 (Digest authentication and authorization); the
  // authenticator belongs to the same shard.
  void SetAuthenticator(Authenticator* auth) {
    auth_ = auth;
    redirect_.SetAuthenticator(auth);
  }

  // The server secret (raw bytes), from which temp-gruus are keyed. Without
  // one no GRUU is issued or recognised.
  void SetServerSecret(std::string_view secret);

 private:
  // Where and how a response to a request from `inbound` goes.
  ReplyTo ReplyToOf(const Inbound& inbound) const;
  Disposition Respond(const Inbound& inbound, const ReplyTo& reply, int status, bool hold = false);
  // Cluster mode: the request waits for `aor`.
  Disposition Park(std::string_view aor);
  // Cluster mode: a request for `aor` must wait, or its state be read
  // first (kPark); otherwise kDrop.
  Disposition MustWait(std::string_view aor, const Inbound& inbound);
  // Cluster mode: 500 with Retry-After for a request about an AOR whose
  // state could not be read.
  Disposition StoreUnreachable(const sip::Message& message, const Inbound& inbound,
                               std::string* response);
  // A retransmitted request: the final response it had, again.
  // The cached response for key_, and when it was sent.
  std::optional<std::string_view> CachedResponse(uint64_t* answered_ms) const;
  // A retransmission of an answered request: the cached response again,
  // unless the copy arrived before that response left at `answered_ms`
  // (0: unknown, always sent again).
  Disposition Retransmitted(std::string_view cached, uint64_t answered_ms, const Inbound& inbound,
                            const ReplyTo& reply, std::string* response);
  // Section 9.2: 200 for a CANCEL that matched a transaction, else 481.
  Disposition AnswerCancel(bool matched, const sip::Message& message, const Inbound& inbound,
                           const ReplyTo& reply, std::string* response);
  // The shard that owns the AOR of To, read before anything else is; -1 when
  // To gives none (the request is then validated, and answered, here).
  int OwnerOfTo(const sip::Message& message) const;
  // REGISTER (and a CANCEL of one): the AOR of To, its owner, the
  // transaction, then HandleRegister (or HandleCancel).
  Disposition RouteByTo(const sip::Message& message, const Inbound& inbound, const ReplyTo& reply,
                        bool handed_off, std::string* response);
  Disposition HandleRegister(const sip::Message& message, const Inbound& inbound,
                             const ReplyTo& reply, std::string_view aor, std::string* response);
  Disposition HandleCancel(const sip::Message& message, const Inbound& inbound,
                           const ReplyTo& reply, std::string* response);
  // A request for the redirect server (or a CANCEL or ACK of one): target_
  // from the Request-URI, its owner, the transaction, the answer.
  Disposition HandleLookup(const sip::Message& message, const Inbound& inbound,
                           const ReplyTo& reply, bool handed_off, std::string* response);
  Disposition HandleAck(const sip::Message& message, const ReplyTo& reply, bool handed_off);
  // target_ from the Request-URI, and the shard that owns it. Returns 0, or
  // the status (and reason) of the error answer: 416 for a scheme not sip or
  // sips, 404 for a domain not served, 400 for a URI that names no AOR.
  int ResolveTarget(const sip::Message& message, int* owner, const char** reason);
  // A CANCEL is routed like what it cancels: a Request-URI with a user part
  // or a GRUU is an INVITE's (or other lookup's), else a REGISTER's.
  bool CancelsLookup(const sip::Message& message) const;
  void BuildTransactionKey(const sip::Message& message, const ReplyTo& reply,
                           std::string_view method);
  bool Serves(std::string_view host) const;
  // Unsupported option tags of Require, comma-separated, into unsupported_.
  bool FindUnsupported(const sip::Message& message);
  // 420 Bad Extension listing unsupported_.
  Disposition RejectUnsupported(const sip::Message& message, const Inbound& inbound,
                                const ReplyTo& reply, std::string* response);
  // The 200's Contacts: every current binding, with its GRUUs when `gruu`.
  void AppendContacts(const store::AorRecord* record, std::string_view aor, bool gruu,
                      std::string* response);
  void UpdateDate();
  void CountMethod(sip::Method method);

  const Config& config_;
  const int shard_;
  const int shard_count_;
  const uint64_t tag_seed_;
  store::BindingTable& table_;
  ShardCounters& counters_;
  TransactionTable transactions_;
  InviteTransactions invites_;
  std::unique_ptr<GruuCodec> gruu_;  // null: no server secret given
  RedirectServer redirect_;
  LookupTarget target_;  // of the last lookup
  // This shard's share of the node's memory budget (max_aors, max_bindings).
  const uint64_t max_aors_;
  const uint64_t max_bindings_;
  // The AORs registered over each open WebSocket connection (by the shard
  // holding it and its id), with the connection's source and transport.
  struct WebSocketFlow {
    store::SourceAddress source;
    store::Transport transport = store::Transport::kWs;
    std::vector<std::string> aors;  // at most kMaxAorsPerFlow
  };
  static constexpr size_t kMaxAorsPerFlow = 64;
  absl::flat_hash_map<std::pair<int, uint64_t>, WebSocketFlow> ws_flows_;
  store::RegistrarScratch scratch_;
  uint32_t now_s_ = 0;
  uint64_t now_ms_ = 0;
  bool expiry_left_ = false;  // AORs due by now_s_ that Expire() has not reached
  char date_[40] = {};  // "Sat, 28 Nov 2026 07:10:47 GMT"
  uint32_t date_second_ = 0;

  // Working memory reused by every request.
  sip::CoreHeaders core_;
  std::vector<sip::Contact> contacts_;
  std::vector<store::ContactSpec> specs_;
  std::string key_;
  std::string path_;
  std::string unsupported_;
  std::string service_route_;  // the Service-Route value, "<uri>, <uri>" (RFC 3608)
  Authenticator* auth_ = nullptr;
  GroupCommit* journal_ = nullptr;
  const cluster::AorFlights* flights_ = nullptr;  // cluster mode
  std::string decided_aor_;
  ClusterCommit commit_;
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
