#include "engine/sip/request_handler.h"

#include <ctime>

#include <algorithm>
#include <span>

#include "absl/hash/hash.h"
#include "engine/sip/outbound.h"
#include "engine/text.h"
#include "engine/sip/redirect_contacts.h"
#include "parser/scan.h"
#include "parser/aor.h"
#include "parser/element_cursor.h"
#include "parser/name_addr.h"
#include "parser/uri.h"
#include "store/aor_hash.h"

namespace locus::engine {
namespace {

// Seconds in the Retry-After of a 500 for a journal that cannot write.
constexpr uint32_t kJournalRetryAfter = 5;
constexpr uint32_t kCapacityRetryAfter = 300;  // a full registrar does not empty fast

// One shard's share of a node-wide budget (AORs spread evenly over shards).
uint64_t ShareOf(uint64_t node_budget, int shard_count) {
  const uint64_t shards = shard_count > 0 ? static_cast<uint64_t>(shard_count) : 1;
  return (node_budget + shards - 1) / shards;
}

// Contacts of one REGISTER parsed and kept; a request with more is refused.
constexpr size_t kMaxRequestContacts = 256;

// Extensions this registrar implements (section 8.2.2.3 Require check):
// Path (RFC 3327), Outbound (RFC 5626), GRUU (RFC 5627).
constexpr std::string_view kSupportedExtensions[] = {"path", "outbound", "gruu"};
constexpr std::string_view kSupported = "path, outbound, gruu";
// Methods answered (405 lists them): the registrar's, and with the redirect
// server every method a proxy may ask about.
constexpr std::string_view kAllowRegistrar = "REGISTER, OPTIONS";
constexpr std::string_view kAllowRedirect =
    "INVITE, ACK, CANCEL, OPTIONS, REGISTER, BYE, MESSAGE, SUBSCRIBE, NOTIFY, REFER, INFO, "
    "UPDATE, PRACK, PUBLISH";

Disposition Dropped() { return {}; }

Disposition HandedOffTo(int owner) {
  Disposition d;
  d.kind = Disposition::Kind::kHandOff;
  d.owner = owner;
  return d;
}

// ARCHITECTURE section 5: a 400's reason phrase names the header and the
// problem, e.g. "CSeq: sequence number above 2^31-1".
std::string ProblemReason(sip::HeaderId header, std::string_view what) {
  std::string reason(sip::HeaderName(header));
  if (!reason.empty()) reason.append(": ");
  reason.append(what);
  return reason;
}

bool SecureTransport(store::Transport transport) {
  return transport == store::Transport::kTls || transport == store::Transport::kWss;
}

// The Request-URI, the To URI or a Contact is a sips: URI.
bool UsesSips(const sip::Uri& request_uri, const sip::CoreHeaders& core,
              const std::vector<sip::Contact>& contacts) {
  if (request_uri.scheme == sip::UriScheme::kSips || core.to.uri.scheme == sip::UriScheme::kSips) {
    return true;
  }
  const size_t n = std::min(contacts.size(), static_cast<size_t>(core.contact_count));
  for (size_t i = 0; i < n; ++i) {
    if (!contacts[i].star && contacts[i].address.uri.scheme == sip::UriScheme::kSips) return true;
  }
  return false;
}

}  // namespace

int OwnerShard(std::string_view canonical_aor, int shard_count) {
  return store::OwnerShardOf(canonical_aor, shard_count);
}

RequestHandler::RequestHandler(const Config& config, int shard, int shard_count,
                               uint64_t tag_seed, store::BindingTable& table,
                               ShardCounters& counters)
    : config_(config),
      shard_(shard),
      shard_count_(shard_count),
      tag_seed_(tag_seed),
      table_(table),
      counters_(counters),
      transactions_(config.transaction_limit, config.transaction_memory),
      invites_(config.transaction_limit, config.transaction_memory, 0),
      redirect_(table, counters),
      max_aors_(ShareOf(EffectiveMaxAors(config), shard_count)),
      max_bindings_(ShareOf(EffectiveMaxBindings(config), shard_count)),
      contacts_(kMaxRequestContacts) {
  specs_.reserve(kMaxRequestContacts);
  key_.reserve(1024);
  path_.reserve(1024);
  unsupported_.reserve(256);
  for (const std::string& uri : config.service_route) {
    if (!service_route_.empty()) service_route_.append(", ");
    service_route_.append(Cat("<", uri, ">"));
  }
}

void RequestHandler::SetTime(uint32_t now_s, uint64_t now_ms) {
  now_s_ = now_s;
  now_ms_ = now_ms;
  if (now_s != date_second_) UpdateDate();
}

void RequestHandler::SetServerSecret(std::string_view secret) {
  gruu_ = std::make_unique<GruuCodec>(secret);
  redirect_.SetGruuCodec(gruu_.get());
}

void RequestHandler::CountMethod(sip::Method method) {
  switch (method) {
    case sip::Method::kRegister: counters_.method_register.Add(); break;
    case sip::Method::kOptions: counters_.method_options.Add(); break;
    case sip::Method::kCancel: counters_.method_cancel.Add(); break;
    case sip::Method::kAck: counters_.method_ack.Add(); break;
    case sip::Method::kInvite: counters_.method_invite.Add(); break;
    default: counters_.method_other.Add(); break;
  }
}

void RequestHandler::UpdateDate() {
  // Section 20.17: rfc1123-date, always GMT.
  const time_t t = now_s_;
  tm utc;
  gmtime_r(&t, &utc);
  strftime(date_, sizeof(date_), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  date_second_ = now_s_;
}

void RequestHandler::Expire() {
  transactions_.Expire(now_ms_);
  expiry_left_ = !table_.ExpireAtMost(now_s_, kExpiryAorsPerCall,
                                      [this](const store::AorRecord&, const store::Binding&) {
                                        counters_.bindings_expired.Add();
                                      });
}

void RequestHandler::RunInviteTimers(
    absl::FunctionRef<void(const InviteTransactions::Where&, std::string_view)> resend) {
  invites_.Advance(now_ms_, resend);
}

void RequestHandler::FlowClosed(int connection_shard, uint64_t connection_id) {
  const auto it = ws_flows_.find(std::pair{connection_shard, connection_id});
  if (it == ws_flows_.end()) return;
  const WebSocketFlow& flow = it->second;
  for (const std::string& aor : flow.aors) {
    store::AorRecord* record = table_.FindMutable(aor);
    if (record == nullptr) continue;
    if (journal_ != nullptr && !journal_->Accepting()) break;  // they expire instead
    if (journal_ != nullptr) journal_->BeforeChange(aor);
    uint64_t removed = 0;
    const auto& bindings = record->bindings();
    for (size_t i = bindings.size(); i-- > 0;) {
      if (bindings[i].transport == flow.transport && bindings[i].source == flow.source) {
        table_.RemoveBinding(record, i);
        ++removed;
      }
    }
    if (removed > 0) table_.Rearm(record);
    if (journal_ != nullptr) {
      journal_->AfterChange(aor, table_.Find(aor));
      journal_->CountChanges({.removed = removed});
    } else {
      counters_.CountBindings({.removed = removed});
    }
  }
  ws_flows_.erase(it);
}

std::optional<uint64_t> RequestHandler::NextTimerMs() const {
  if (expiry_left_) return now_ms_;
  const std::optional<uint64_t> a = transactions_.NextExpiry();
  const std::optional<uint64_t> b = invites_.NextDue();
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

ReplyTo RequestHandler::ReplyToOf(const Inbound& inbound) const {
  ReplyTo reply;
  reply.source = inbound.source;
  reply.tag_seed = tag_seed_;
  reply.force_rport = config_.force_rport && inbound.transport == store::Transport::kUdp;
  return reply;
}

Disposition RequestHandler::Respond(const Inbound& inbound, const ReplyTo& reply, int status,
                                    bool hold) {
  Disposition d;
  d.kind = Disposition::Kind::kRespond;
  d.status = status;
  d.hold = hold;
  d.destination = inbound.transport == store::Transport::kUdp ? UdpResponseDestination(reply)
                                                              : inbound.source;
  // 0: a cached copy, counted when first sent; held: counted when it leaves.
  if (status != 0 && !hold) counters_.CountStatus(status);
  return d;
}

Disposition RequestHandler::Park(std::string_view aor) {
  decided_aor_.assign(aor);
  Disposition d;
  d.kind = Disposition::Kind::kPark;
  return d;
}

Disposition RequestHandler::MustWait(std::string_view aor, const Inbound& inbound) {
  if (flights_ == nullptr || inbound.redecide) return Dropped();
  // One Redis operation per AOR at a time: wait for the one in flight.
  if (!inbound.state_read && flights_->Busy(aor)) return Park(aor);
  // Decide and answer on a state known current: a stale record (another
  // node changed it) is read first. A record that is absent is read by
  // lookups, while a REGISTER that changes bindings is decided on "none"
  // and its compare-and-set brings the state if that is wrong
  // (docs/cluster.md).
  const store::AorRecord* record = table_.Find(aor);
  if (record != nullptr && !inbound.state_read && !flights_->Current(*record)) return Park(aor);
  return Dropped();
}

Disposition RequestHandler::StoreUnreachable(const sip::Message& message, const Inbound& inbound,
                                             std::string* response) {
  counters_.cluster_unanswerable.Add();
  return Reject(message, inbound, 500, "Server Internal Error (location store unreachable)",
                kJournalRetryAfter, response);
}

Disposition RequestHandler::Reject(const sip::Message& message, const Inbound& inbound,
                                   int status, std::string_view reason, uint32_t retry_after,
                                   std::string* response) {
  ReplyTo reply = ReplyToOf(inbound);
  if (message.is_response() || message.method() == sip::Method::kAck ||
      !FindTopVia(message, &reply)) {
    return Dropped();
  }
  sip::NameAddr to;
  const sip::HeaderField* to_field = message.Find(sip::HeaderId::kTo);
  reply.has_to_tag = to_field == nullptr ||
                     !sip::ParseNameAddr(to_field->value(), sip::HeaderId::kTo, &to).ok() ||
                     !sip::TagOf(to).empty();
  ResponseBuilder builder(response);
  builder.Start(status, reason, message, reply);
  if (retry_after > 0) builder.AddHeaderUint("Retry-After", retry_after);
  builder.Finish(config_.server);
  return Respond(inbound, reply, status);
}

Disposition RequestHandler::HandleMalformed(const sip::Message& salvaged, sip::HeaderId broken,
                                            const sip::ParseError& error, const Inbound& inbound,
                                            std::string* response) {
  ReplyTo reply = ReplyToOf(inbound);
  if (!salvaged.is_request() || salvaged.method() == sip::Method::kAck ||
      !FindTopVia(salvaged, &reply)) {
    return Dropped();
  }
  // What a response copies must be readable, each exactly once.
  sip::NameAddr from, to;
  std::string_view call_id;
  sip::CSeq cseq;
  const sip::HeaderField* f = salvaged.Find(sip::HeaderId::kFrom);
  const sip::HeaderField* t = salvaged.Find(sip::HeaderId::kTo);
  const sip::HeaderField* i = salvaged.Find(sip::HeaderId::kCallId);
  const sip::HeaderField* s = salvaged.Find(sip::HeaderId::kCSeq);
  if (f == nullptr || t == nullptr || i == nullptr || s == nullptr ||
      salvaged.Count(sip::HeaderId::kFrom) != 1 || salvaged.Count(sip::HeaderId::kTo) != 1 ||
      salvaged.Count(sip::HeaderId::kCallId) != 1 || salvaged.Count(sip::HeaderId::kCSeq) != 1 ||
      !sip::ParseNameAddr(f->value(), sip::HeaderId::kFrom, &from).ok() ||
      !sip::ParseNameAddr(t->value(), sip::HeaderId::kTo, &to).ok() ||
      !sip::ParseCallId(i->value(), &call_id).ok() || !sip::ParseCSeq(s->value(), &cseq).ok()) {
    return Dropped();
  }
  reply.has_to_tag = !sip::TagOf(to).empty();
  const sip::HeaderId header = broken != sip::HeaderId::kNone ? broken : error.header;
  ResponseBuilder builder(response);
  builder.Start(400, ProblemReason(header, error.what), salvaged, reply);
  builder.Finish(config_.server);
  return Respond(inbound, reply, 400);
}

Disposition RequestHandler::Handle(const sip::Message& message, const Inbound& inbound,
                                   bool handed_off, std::string* response) {
  if (message.is_response()) {
    counters_.responses_ignored.Add();
    return Dropped();
  }
  if (!handed_off) CountMethod(message.method());
  // ARCHITECTURE section 3: a REGISTER whose AOR another shard owns goes there
  // before it is validated; the owner validates it and answers.
  if (!handed_off && shard_count_ > 1 && message.method() == sip::Method::kRegister) {
    if (const int owner = OwnerOfTo(message); owner >= 0 && owner != shard_) {
      return HandedOffTo(owner);
    }
  }
  ReplyTo reply = ReplyToOf(inbound);
  cached_ = false;
  if (!FindTopVia(message, &reply)) {
    counters_.parse_errors.Add();  // no usable Via: nowhere to answer
    return Dropped();
  }
  if (message.method() == sip::Method::kAck) return HandleAck(message, reply, handed_off);
  if (inbound.too_large) {
    return Reject(message, inbound, 513, "Message Too Large", 0, response);
  }

  const sip::ParseError error = sip::ValidateMessage(message, &core_, contacts_);
  if (!error.ok()) {
    if (error.header == sip::HeaderId::kAuthorization) counters_.auth_malformed.Add();
    return Reject(message, inbound, 400, ProblemReason(error.header, error.what), 0, response);
  }
  reply.has_to_tag = !sip::TagOf(core_.to).empty();

  switch (message.method()) {
    case sip::Method::kOptions: {
      // Section 8.2.2.3 applies to every request but ACK and CANCEL.
      if (FindUnsupported(message)) return RejectUnsupported(message, inbound, reply, response);
      // Section 11.2: what we support; phones use it as a keep-alive.
      ResponseBuilder builder(response);
      builder.Start(200, "OK", message, reply);
      builder.AddHeader("Allow", config_.redirect ? kAllowRedirect : kAllowRegistrar);
      builder.AddHeader("Supported", kSupported);
      builder.AddHeader("Accept", "application/sdp");
      builder.Finish(config_.server);
      return Respond(inbound, reply, 200);
    }
    case sip::Method::kRegister:
      return RouteByTo(message, inbound, reply, handed_off, response);
    case sip::Method::kCancel:
      if (config_.redirect && CancelsLookup(message)) {
        return HandleLookup(message, inbound, reply, handed_off, response);
      }
      return RouteByTo(message, inbound, reply, handed_off, response);
    default:
      break;
  }
  if (!config_.redirect) {
    // Section 8.2.1: a method this registrar does not implement.
    ResponseBuilder builder(response);
    builder.Start(405, "Method Not Allowed", message, reply);
    builder.AddHeader("Allow", kAllowRegistrar);
    builder.Finish(config_.server);
    return Respond(inbound, reply, 405);
  }
  return HandleLookup(message, inbound, reply, handed_off, response);
}

int RequestHandler::OwnerOfTo(const sip::Message& message) const {
  sip::CanonicalAor aor;
  if (!sip::AorOfTo(message, &aor).ok()) return -1;
  return OwnerShard(aor.view(), shard_count_);
}

Disposition RequestHandler::RouteByTo(const sip::Message& message, const Inbound& inbound,
                                      const ReplyTo& reply, bool handed_off,
                                      std::string* response) {
  // Step 5: the AOR, and with it the shard that owns it.
  if (!core_.to.uri.is_sip()) {
    return Reject(message, inbound, 404, "Not Found (address-of-record is not a SIP URI)", 0,
                  response);
  }
  sip::CanonicalAor aor;
  if (const sip::ParseError aor_error = sip::CanonicalizeAor(core_.to.uri, &aor);
      !aor_error.ok()) {
    return Reject(message, inbound, 400, aor_error.what, 0, response);
  }
  const int owner = OwnerShard(aor.view(), shard_count_);
  if (owner != shard_ && !handed_off) return HandedOffTo(owner);
  if (message.method() == sip::Method::kCancel) {
    return HandleCancel(message, inbound, reply, response);
  }

  // Section 17.2.3: a retransmission gets the cached final response.
  const bool cached = inbound.transport == store::Transport::kUdp;
  cached_ = cached;
  if (cached && inbound.redecide) {
    BuildTransactionKey(message, reply, message.method_name());  // held: it is this request's
  } else if (cached) {
    BuildTransactionKey(message, reply, message.method_name());
    if (KeyHeld()) {
      // Its response is held until its journal group is durable, and goes
      // out then.
      counters_.retransmissions.Add();
      return Dropped();
    }
    uint64_t answered_ms = 0;
    if (auto hit = CachedResponse(&answered_ms)) {
      return Retransmitted(*hit, answered_ms, inbound, reply, response);
    }
  }
  if (Disposition wait = MustWait(aor.view(), inbound); wait.kind == Disposition::Kind::kPark) {
    return wait;
  }
  Disposition d = HandleRegister(message, inbound, reply, aor.view(), response);
  if (cached && d.kind == Disposition::Kind::kRespond) {
    if (d.hold) {
      held_transactions_.insert(KeyHash(key_));  // cached once decided
    } else if (inbound.redecide) {
      CacheResponse(key_, *response);  // no longer held
    } else {
      transactions_.Insert(key_, *response, now_ms_ + kTimerJMs);
    }
  }
  return d;
}

bool RequestHandler::CancelsLookup(const sip::Message& message) const {
  // Section 10.2: a REGISTER's Request-URI has no user part.
  sip::Uri uri;
  if (!sip::ParseUri(message.request_uri(), sip::HeaderId::kNone, &uri).ok()) return false;
  std::string_view gr;
  return uri.has_user || sip::FindUriParam(uri.params, "gr", &gr);
}

int RequestHandler::ResolveTarget(const sip::Message& message, int* owner, const char** reason) {
  sip::Uri request_uri;
  if (!sip::ParseUri(message.request_uri(), sip::HeaderId::kNone, &request_uri).ok() ||
      !request_uri.is_sip()) {
    *reason = "Unsupported URI Scheme";
    return 416;
  }
  if (!Serves(request_uri.host)) {
    *reason = "Not Found (domain not served here)";
    return 404;
  }
  if (!redirect_.Resolve(request_uri, &target_, reason)) return 400;
  // An unknown GRUU names no AOR: answered where it arrived.
  *owner = target_.kind == LookupTarget::Kind::kUnknownGruu ? shard_
                                                            : OwnerShard(target_.aor, shard_count_);
  return 0;
}

Disposition RequestHandler::HandleLookup(const sip::Message& message, const Inbound& inbound,
                                         const ReplyTo& reply, bool handed_off,
                                         std::string* response) {
  const bool cancel = message.method() == sip::Method::kCancel;
  if (!cancel) {
    // Section 8.2.2.3, then section 12.2.2: a request inside a dialog
    // (To has a tag) names no dialog of a redirect server.
    if (FindUnsupported(message)) return RejectUnsupported(message, inbound, reply, response);
    if (reply.has_to_tag) {
      return Reject(message, inbound, 481, "Call/Transaction Does Not Exist", 0, response);
    }
  }
  int owner = shard_;
  const char* reason = "";
  if (const int status = ResolveTarget(message, &owner, &reason); status != 0) {
    return Reject(message, inbound, status, reason, 0, response);
  }
  if (owner != shard_ && !handed_off) return HandedOffTo(owner);
  if (cancel) {
    // Section 9.2: a CANCEL matching a completed INVITE transaction gets
    // 200; its final response was sent and stands.
    BuildTransactionKey(message, reply, "INVITE");
    std::string_view ignored;
    return AnswerCancel(invites_.Find(key_, &ignored), message, inbound, reply, response);
  }
  // Section 17.2.1 (INVITE) and 17.2.2 (the rest): a retransmission gets the
  // same final response, byte for byte.
  const bool invite = message.method() == sip::Method::kInvite;
  const bool udp = inbound.transport == store::Transport::kUdp;
  BuildTransactionKey(message, reply, message.method_name());
  if (invite) {
    std::string_view sent;
    if (invites_.Find(key_, &sent)) {
      return Retransmitted(sent, /*answered_ms=*/0, inbound, reply, response);
    }
  } else if (udp) {
    uint64_t answered_ms = 0;
    if (auto hit = CachedResponse(&answered_ms)) {
      return Retransmitted(*hit, answered_ms, inbound, reply, response);
    }
  }
  if (flights_ != nullptr && target_.kind != LookupTarget::Kind::kUnknownGruu) {
    if (Disposition wait = MustWait(target_.aor, inbound); wait.kind == Disposition::Kind::kPark) {
      return wait;
    }
    // Not cached: its state is read before the answer.
    if (table_.Find(target_.aor) == nullptr) {
      if (!inbound.state_read) return Park(target_.aor);
      if (inbound.read_failed) return StoreUnreachable(message, inbound, response);
    }
  }
  const int status = redirect_.Answer(message, reply, target_, now_s_, config_.server, response);
  Disposition d = Respond(inbound, reply, status);
  if (invite) {
    invites_.Insert(key_, *response, !udp, {d.destination, inbound.udp_socket}, now_ms_);
  } else if (udp) {
    transactions_.Insert(key_, *response, now_ms_ + kTimerJMs);
  }
  return d;
}

Disposition RequestHandler::HandleAck(const sip::Message& message, const ReplyTo& reply,
                                      bool handed_off) {
  // Never answered (section 17.2.1): an ACK only ends an INVITE transaction
  // of the redirect server, on the shard that owns its target. With an RFC
  // 3261 branch its key is the branch and sent-by alone (section 17.2.3):
  // nothing else of it needs reading.
  if (!config_.redirect) return Dropped();
  if (!reply.top_via.branch.starts_with("z9hG4bK") &&
      !sip::ValidateMessage(message, &core_, contacts_).ok()) {
    return Dropped();
  }
  if (shard_count_ > 1) {
    int owner = shard_;
    const char* reason = "";
    if (ResolveTarget(message, &owner, &reason) != 0) return Dropped();  // not ours to answer
    if (owner != shard_ && !handed_off) return HandedOffTo(owner);
  }
  BuildTransactionKey(message, reply, "INVITE");
  if (invites_.Acknowledge(key_)) counters_.acks_absorbed.Add();
  return Dropped();
}

Disposition RequestHandler::HandleCancel(const sip::Message& message, const Inbound& inbound,
                                         const ReplyTo& reply, std::string* response) {
  // Section 9.2: a CANCEL matching a REGISTER transaction gets 200 (the
  // REGISTER itself was already answered and is unaffected); otherwise 481.
  BuildTransactionKey(message, reply, "REGISTER");
  const bool matched = inbound.transport == store::Transport::kUdp &&
                       (transactions_.Find(key_, now_ms_).has_value() || KeyHeld());
  return AnswerCancel(matched, message, inbound, reply, response);
}

Disposition RequestHandler::AnswerCancel(bool matched, const sip::Message& message,
                                         const Inbound& inbound, const ReplyTo& reply,
                                         std::string* response) {
  const int status = matched ? 200 : 481;
  ResponseBuilder builder(response);
  builder.Start(status, matched ? "OK" : "Call/Transaction Does Not Exist", message, reply);
  builder.Finish(config_.server);
  return Respond(inbound, reply, status);
}

std::optional<std::string_view> RequestHandler::CachedResponse(uint64_t* answered_ms) const {
  uint64_t expires_ms = 0;
  const std::optional<std::string_view> hit = transactions_.Find(key_, now_ms_, &expires_ms);
  if (hit) *answered_ms = expires_ms - kTimerJMs;  // every response is cached as it is sent
  return hit;
}

Disposition RequestHandler::Retransmitted(std::string_view cached, uint64_t answered_ms,
                                          const Inbound& inbound, const ReplyTo& reply,
                                          std::string* response) {
  counters_.retransmissions.Add();
  // Section 17.2.2 sends the final response again for each retransmission,
  // which says the response was lost. A copy that reached our socket before
  // the response left (it waited in the queue behind its original) says
  // nothing of the kind: the response already sent answers it too. Only
  // the kernel's receive time tells; without one, the response goes again.
  if (inbound.received_ns != 0 && inbound.received_ns / 1000000 < answered_ms) {
    counters_.retransmissions_before_answer.Add();
    return Dropped();
  }
  response->assign(cached);
  return Respond(inbound, reply, 0);
}

void RequestHandler::BuildTransactionKey(const sip::Message& message, const ReplyTo& reply,
                                         std::string_view method) {
  // Section 17.2.3: with an RFC 3261 branch, the branch, sent-by and method;
  // otherwise (RFC 2543 peers) Request-URI, From tag, Call-ID, CSeq and the
  // top Via.
  const sip::Via& via = reply.top_via;
  key_.clear();
  key_.append(method);
  key_.push_back('\n');
  if (via.branch.starts_with("z9hG4bK")) {
    key_.append(via.branch);
    key_.push_back('\n');
    const size_t host_at = key_.size();
    key_.append(via.host);
    for (size_t i = host_at; i < key_.size(); ++i) key_[i] = sip::ToLower(key_[i]);  // hosts: no case
    key_.push_back(':');
    key_.append(std::to_string(via.has_port ? via.port : 0));
  } else {
    key_.append(message.request_uri());
    key_.push_back('\n');
    key_.append(sip::TagOf(core_.from));
    key_.push_back('\n');
    key_.append(core_.call_id);
    key_.push_back('\n');
    key_.append(std::to_string(core_.cseq.number));
    key_.push_back('\n');
    key_.append(reply.top_via_text);
  }
}

bool RequestHandler::Serves(std::string_view host) const {
  if (config_.domains.empty()) return true;
  for (const std::string& domain : config_.domains) {
    if (sip::EqualsIgnoreCase(domain, host)) return true;
  }
  return false;
}

Disposition RequestHandler::RejectUnsupported(const sip::Message& message, const Inbound& inbound,
                                              const ReplyTo& reply, std::string* response) {
  ResponseBuilder builder(response);
  builder.Start(420, "Bad Extension", message, reply);
  builder.AddHeader("Unsupported", unsupported_);
  builder.Finish(config_.server);
  return Respond(inbound, reply, 420);
}

bool RequestHandler::FindUnsupported(const sip::Message& message) {
  unsupported_.clear();
  sip::HeaderElements elements(message, sip::HeaderId::kRequire);
  std::string_view tag;
  while (elements.Next(&tag)) {
    bool known = false;
    for (std::string_view supported : kSupportedExtensions) {
      known = known || sip::EqualsIgnoreCase(tag, supported);
    }
    if (known) continue;
    if (!unsupported_.empty()) unsupported_.append(", ");
    unsupported_.append(tag);
  }
  return !unsupported_.empty();
}

Disposition RequestHandler::HandleRegister(const sip::Message& message, const Inbound& inbound,
                                           const ReplyTo& reply, std::string_view aor,
                                           std::string* response) {
  // Step 1: the Request-URI names a domain this registrar serves.
  sip::Uri request_uri;
  if (!sip::ParseUri(message.request_uri(), sip::HeaderId::kNone, &request_uri).ok() ||
      !request_uri.is_sip()) {
    return Reject(message, inbound, 416, "Unsupported URI Scheme", 0, response);
  }
  if (!Serves(request_uri.host) || !Serves(core_.to.uri.host)) {
    return Reject(message, inbound, 404, "Not Found (domain not served here)", 0, response);
  }
  // Step 2: every extension in Require must be supported (section 8.2.2.3).
  if (FindUnsupported(message)) return RejectUnsupported(message, inbound, reply, response);
  // RFC 5630 section 5: a SIPS AOR, or a SIPS Contact, is registered over a
  // secure transport only.
  if (!SecureTransport(inbound.transport) && UsesSips(request_uri, core_, contacts_)) {
    return Reject(message, inbound, 403, "Forbidden (SIPS only over TLS)", 0, response);
  }
  // Steps 3-4: who is asking (section 22.4), and may they touch this AOR.
  // A client certificate naming the AOR answers both (docs/tls.md).
  if (inbound.redecide) {
    // Authorized when it was first decided; its nonce is spent.
  } else if (auth_ != nullptr && inbound.certified) {
    counters_.auth_certificates.Add();
  } else if (auth_ != nullptr) {
    const AuthDecision decision = auth_->Check(message, aor, inbound.source, now_s_);
    switch (decision.kind) {
      case AuthDecision::Kind::kAllow:
        break;
      case AuthDecision::Kind::kChallenge: {
        ResponseBuilder builder(response);
        builder.Start(401, decision.reason, message, reply);
        auth_->AppendChallenges(decision.stale, now_s_, response);
        builder.Finish(config_.server);
        counters_.auth_challenges.Add();
        return Respond(inbound, reply, 401);
      }
      case AuthDecision::Kind::kForbidden:
        return Reject(message, inbound, 403, decision.reason, 0, response);
      case AuthDecision::Kind::kBadRequest:
        return Reject(message, inbound, 400, decision.reason, 0, response);
      case AuthDecision::Kind::kLockedOut:
        return Reject(message, inbound, 403, decision.reason, decision.retry_after, response);
    }
  }

  if (core_.contact_count > static_cast<int>(kMaxRequestContacts)) {
    return Reject(message, inbound, 403, "Too Many Contacts", 0, response);
  }
  // RFC 5626 section 6: reg-ids keyed only through a first hop that
  // supports outbound.
  const OutboundDecision outbound = DecideOutbound(
      message, std::span(contacts_.data(), static_cast<size_t>(core_.contact_count)));
  if (outbound.reject_439) {
    return Reject(message, inbound, 439, "First Hop Lacks Outbound Support", 0, response);
  }
  specs_.clear();
  bool wildcard = false;
  for (int i = 0; i < core_.contact_count; ++i) {
    const sip::Contact& c = contacts_[static_cast<size_t>(i)];
    if (c.star) {
      wildcard = true;
      continue;
    }
    store::ContactSpec spec;
    spec.uri_text = c.address.uri.text;
    spec.uri = c.address.uri;
    spec.has_expires = c.has_expires;
    spec.expires = c.expires;
    spec.has_q = c.has_q;
    spec.q = c.has_q ? c.q : sip::kQMax;
    spec.instance = c.instance;
    spec.reg_id = outbound.apply && c.has_reg_id ? c.reg_id : 0;
    specs_.push_back(spec);
  }
  path_.clear();
  for (const sip::HeaderField& field : message.headers()) {
    if (field.id != sip::HeaderId::kPath) continue;
    if (!path_.empty()) path_.append(", ");
    path_.append(field.value());
  }
  const sip::HeaderField* user_agent = message.Find(sip::HeaderId::kUserAgent);

  store::RegisterRequest request;
  request.aor = aor;
  request.call_id = core_.call_id;
  request.cseq = core_.cseq.number;
  request.has_expires_header = core_.has_expires;
  request.expires_header = core_.expires;
  request.wildcard = wildcard;
  request.contacts = specs_;
  request.user_agent = user_agent != nullptr ? user_agent->value() : std::string_view();
  request.path = path_;
  request.transport = inbound.transport;
  request.source = inbound.source.ToSource();

  bool changed = false;
  bool over_budget = false;
  const store::RegisterOutcome outcome = store::ApplyRegister(
      table_, request, now_s_, config_.policy, scratch_, [&](const store::StagedRequest& staged) {
        // Every staged change is applied once the commit succeeds.
        const store::BindingChanges tally = store::Tally(staged.changes);
        const uint64_t leaving = tally.removed + tally.expired;
        // The memory budget (ARCHITECTURE section 13): nothing is added past
        // this shard's share; refreshes and removals always pass.
        if (tally.created > leaving &&
            (table_.binding_count() + (tally.created - leaving) > max_bindings_ ||
             (table_.aor_count() >= max_aors_ && table_.Find(staged.aor) == nullptr))) {
          over_budget = true;
          return false;
        }
        if (flights_ != nullptr) {
          // Cluster mode: applied to the cache now, committed to Redis by the
          // caller, counted once Redis took it.
          commit_.expected_version = flights_->ExpectedVersion(aor, table_.Find(aor));
          commit_.changes = tally;
          changed = true;
          return true;
        }
        if (journal_ == nullptr) {
          counters_.CountBindings(tally);
          return true;
        }
        // Refused (500, nothing applied) when the journal cannot take it;
        // otherwise the state before goes to the undo log.
        if (!journal_->Accepting()) return false;
        journal_->BeforeChange(staged.aor);
        journal_->CountChanges(tally);
        changed = true;
        return true;
      });
  if (over_budget) {
    counters_.capacity_refused.Add();
    return Reject(message, inbound, 503, "Service Unavailable (registrar full)", kCapacityRetryAfter,
                  response);
  }
  if (flights_ != nullptr && !changed && outcome.status == 200 && !inbound.redecide &&
      outcome.record == nullptr) {
    // Nothing to commit, and nothing cached to answer with: read it first.
    if (!inbound.state_read) return Park(aor);
    if (inbound.read_failed) return StoreUnreachable(message, inbound, response);
  }
  // The AOR's new state is the journal record.
  if (changed && journal_ != nullptr) journal_->AfterChange(aor, outcome.record);
  if (outcome.status == 200 && inbound.connection_shard >= 0 &&
      (inbound.transport == store::Transport::kWs || inbound.transport == store::Transport::kWss)) {
    WebSocketFlow& flow = ws_flows_[{inbound.connection_shard, inbound.connection_id}];
    flow.source = inbound.source.ToSource();
    flow.transport = inbound.transport;
    if (flow.aors.size() < kMaxAorsPerFlow &&
        std::find(flow.aors.begin(), flow.aors.end(), aor) == flow.aors.end()) {
      flow.aors.emplace_back(aor);
    }
  }
  const bool commit = changed && flights_ != nullptr && outcome.status == 200;
  if (commit) {
    decided_aor_.assign(aor);
    commit_.aor = decided_aor_;
  }
  const bool hold =
      commit || (outcome.status == 200 && journal_ != nullptr && journal_->MustHold());

  ResponseBuilder builder(response);
  builder.Start(outcome.status, outcome.reason, message, reply);
  if (outcome.status == 200) {
    // RFC 5627 section 6: GRUUs for a UA that supports them.
    AppendContacts(outcome.record, aor, gruu_ != nullptr && SupportsOption(message, "gruu"),
                   response);
    // RFC 3327 section 5.3: the Path vector is returned when the UA supports it.
    if (!path_.empty() && SupportsOption(message, "path")) builder.AddHeader("Path", path_);
    if (outbound.require) {
      builder.AddHeader("Require", "outbound");  // RFC 5626 section 6
      if (config_.flow_timer > 0) builder.AddHeaderUint("Flow-Timer", config_.flow_timer);
    }
    // RFC 3608 section 6: the route set of requests from this UA.
    if (!service_route_.empty()) builder.AddHeader("Service-Route", service_route_);
    builder.AddHeader("Date", date_);
  } else if (outcome.status == 423) {
    builder.AddHeaderUint("Min-Expires", outcome.min_expires);  // section 10.3 step 6
  } else if (outcome.status == 500) {
    builder.AddHeaderUint("Retry-After", kJournalRetryAfter);  // the journal could not take it
  }
  builder.Finish(config_.server);
  Disposition d = Respond(inbound, reply, outcome.status, hold);
  d.commit = commit;
  return d;
}

void RequestHandler::FailureFor(std::string_view held_success, std::string* out) {
  RewriteAsFailure(held_success, 500, "Server Internal Error", kJournalRetryAfter, out);
}

void RequestHandler::AppendContacts(const store::AorRecord* record, std::string_view aor,
                                    bool gruu, std::string* response) {
  // Section 10.3 step 8: every current binding, each with its expires.
  if (record == nullptr) return;
  std::string& out = *response;
  for (const store::Binding& b : record->bindings()) {
    if (b.expires_at <= now_s_) continue;  // lapsed, not yet collected
    out.append("Contact: <");
    out.append(b.contact());
    out.append(">;expires=");
    out.append(std::to_string(b.expires_at - now_s_));
    if (b.has_q) {
      out.append(";q=");
      AppendQValue(b.q, &out);
    }
    if (!b.instance().empty()) {
      out.append(";+sip.instance=\"");
      out.append(b.instance());
      out.push_back('"');
    }
    if (b.reg_id != 0) {
      out.append(";reg-id=");
      out.append(std::to_string(b.reg_id));
    }
    if (gruu && !b.instance().empty()) {
      out.append(";pub-gruu=\"");
      GruuCodec::AppendPubGruu(aor, b.instance(), &out);
      out.push_back('"');
      const size_t before = out.size();
      out.append(";temp-gruu=\"");
      if (gruu_->AppendTempGruu(aor, b.instance(), now_s_, &out)) {
        out.push_back('"');
      } else {
        out.resize(before);
      }
    }
    out.append("\r\n");
  }
}

}  // namespace locus::engine
