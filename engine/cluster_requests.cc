#include "engine/cluster_requests.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <random>
#include <utility>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/text.h"

namespace locus::engine {
namespace {

// Tags of the client's commands: the flight's id.
constexpr uint32_t kNoWaiting = UINT32_MAX;

cluster::ClusterClient::Options ClientOptions(ClusterRequests::Options options) {
  cluster::ClusterClient::Options o;
  o.seeds = std::move(options.seeds);
  o.tracking_prefix = std::string(cluster::kAorKeyPrefix);
  o.replica_acks = options.replica_acks;
  return o;
}

// 64 random bits in hex: one shard's commits, told apart from every other
// shard's on every node.
std::string NewCommitterId() {
  std::random_device random;
  const uint64_t bits = (static_cast<uint64_t>(random()) << 32) ^ random();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (size_t i = 0; i < id.size(); ++i) id[i] = kHex[(bits >> (60 - 4 * i)) & 0xf];
  return id;
}

}  // namespace

ClusterRequests::ClusterRequests(Options options, store::BindingTable& table,
                                 RequestHandler& handler, ShardAdmin& admin, ShardCounters& counters)
    : table_(table),
      handler_(handler),
      admin_(admin),
      counters_(counters),
      replica_acks_(options.replica_acks),
      committer_id_(NewCommitterId()),
      client_(ClientOptions(std::move(options))) {}

void ClusterRequests::Open(io_uring* ring) { links_ = std::make_unique<RedisLinks>(ring, client_); }


uint32_t ClusterRequests::NewWaiting(std::string_view bytes, const Inbound& inbound,
                                     const MessageOrigin& origin) {
  uint32_t id;
  if (!free_waiting_.empty()) {
    id = free_waiting_.back();
    free_waiting_.pop_back();
  } else {
    id = static_cast<uint32_t>(waiting_.size());
    waiting_.push_back(std::make_unique<Waiting>());
  }
  Waiting& w = *waiting_[id];
  w.bytes.assign(bytes);
  w.inbound = inbound;
  w.origin = origin;
  w.decisions = 0;
  w.admin = false;
  ++waiting_count_;
  waiting_bytes_ += bytes.size();
  return id;
}

void ClusterRequests::FreeWaiting(uint32_t id) {
  Waiting& w = *waiting_[id];
  --waiting_count_;
  waiting_bytes_ -= w.bytes.size();
  free_waiting_.push_back(id);
}

bool ClusterRequests::Park(std::string_view bytes, const Inbound& inbound,
                           const MessageOrigin& origin, std::string_view aor, uint64_t now_ms) {
  if (waiting_count_ >= kMaxWaiting || waiting_bytes_ + bytes.size() > kMaxWaitingBytes) {
    counters_.cluster_waiting_refused.Add();
    return false;
  }
  const uint32_t flight = flights_.Get(aor);
  flights_.at(flight).waiting.push_back(NewWaiting(bytes, inbound, origin));
  // It waits for the operation in flight, or else for a read of its AOR.
  if (!flights_.at(flight).busy()) SendRead(flight, now_ms);
  return true;
}

void ClusterRequests::SendRead(uint32_t flight, uint64_t now_ms) {
  cluster::AorFlights::Flight& f = flights_.at(flight);
  f.reading = true;
  f.invalidations = 0;
  f.read.Assign(f.aor);
  counters_.cluster_reads.Add();
  if (results_.size() <= flight) results_.resize(flight + 1);
  if (!client_.Submit(f.read.key(), f.read.args(), flight, now_ms)) {
    results_[flight].outcome = Outcome::kReadFailed;
    ready_.push_back(flight);
  }
}

void ClusterRequests::Commit(std::string_view bytes, const Inbound& inbound,
                             const MessageOrigin& origin, const ResponseRoute& route, int status,
                             std::string_view key, std::string_view ok, const ClusterCommit& commit,
                             uint64_t now_ms) {
  const uint32_t flight = flights_.Get(commit.aor);
  const uint32_t id = NewWaiting(bytes, inbound, origin);
  Waiting& w = *waiting_[id];
  w.route = route;
  w.status = status;
  w.key.assign(key);
  w.ok.assign(ok);
  w.counts = commit;
  w.counts.aor = {};
  w.decisions = inbound.redecide ? decisions_of_rerun_ + 1 : 1;
  SendCas(flight, id, commit.expected_version, now_ms);
}

void ClusterRequests::SendCas(uint32_t flight, uint32_t waiting, uint64_t expected_version,
                              uint64_t now_ms) {
  cluster::AorFlights::Flight& f = flights_.at(flight);
  if (committers_.size() <= flight) committers_.resize(flight + 1, kNoWaiting);
  if (results_.size() <= flight) results_.resize(flight + 1);
  committers_[flight] = waiting;
  f.committing = true;
  f.invalidations = 0;
  ++committing_;
  const int decisions = waiting_[waiting]->decisions;
  const uint32_t turn_ms =
      decisions >= kFirstDecisionAskingTurn && decisions < kMaxDecisions ? kTurnMs : 0;
  const store::AorRecord* record = table_.Find(f.aor);
  std::span<const store::Binding> bindings;
  if (record != nullptr) bindings = std::span(record->bindings().data(), record->bindings().size());
  f.cas.Assign(f.aor, expected_version, bindings, committer_id_, turn_ms);
  if (!client_.Submit(f.cas.key(), f.cas.args(), flight, now_ms, /*write=*/true)) {
    results_[flight].outcome = Outcome::kFailed;
    results_[flight].failure = client_.last_error().empty() ? "Redis not reachable" : client_.last_error();
    ready_.push_back(flight);
  }
}

void ClusterRequests::AdminRequest(const AdminHeader& header, std::string_view payload,
                                   uint64_t now_ms) {
  now_ms_ = now_ms;
  now_s_ = static_cast<uint32_t>(table_.now());
  const std::string_view aor =
      header.op == AdminHeader::kRemove ? ShardAdmin::RemoveAorOf(payload) : payload;
  const store::AorRecord* record = table_.Find(aor);
  const bool busy = flights_.Busy(aor);
  if (!busy && record != nullptr && flights_.Current(*record)) {
    RunAdmin(header, payload, 1, now_ms);
    return;
  }
  // Read first (or wait for the operation in flight).
  if (waiting_count_ >= kMaxWaiting) {
    counters_.cluster_waiting_refused.Add();
    if (header.op == AdminHeader::kRemove) {
      admin_.ReplyRemove(header.id, false, 0, {}, "{\"error\":\"too many requests waiting for Redis; try again\"}");
    } else {
      admin_.AnswerLookup(header, aor, now_s_);
    }
    return;
  }
  const uint32_t flight = flights_.Get(aor);
  const uint32_t id = NewWaiting(payload, Inbound(), MessageOrigin());
  waiting_[id]->admin = true;
  waiting_[id]->header = header;
  flights_.at(flight).waiting.push_back(id);
  if (!busy) SendRead(flight, now_ms);
}

void ClusterRequests::RunAdmin(const AdminHeader& header, std::string_view payload, int decisions,
                               uint64_t now_ms) {
  if (header.op != AdminHeader::kRemove) {
    admin_.AnswerLookup(header, payload, now_s_);
    return;
  }
  const std::string_view aor = ShardAdmin::RemoveAorOf(payload);
  const uint64_t expected = flights_.ExpectedVersion(aor, table_.Find(aor));
  const uint32_t count = admin_.RemoveBindings(aor, ShardAdmin::RemoveContactOf(payload));
  if (count == 0) {
    admin_.ReplyRemove(header.id, true, 0, "{\"removed\":0}", {});
    return;
  }
  // Committed like a REGISTER; answered once Redis took it.
  const uint32_t flight = flights_.Get(aor);
  const uint32_t id = NewWaiting(payload, Inbound(), MessageOrigin());
  Waiting& w = *waiting_[id];
  w.admin = true;
  w.header = header;
  w.route = ResponseRoute();
  w.route.admin = true;
  w.route.admin_id = header.id;
  w.route.admin_count = count;
  w.status = 200;
  w.key.clear();
  w.ok = Cat("{\"removed\":", count, "}");
  w.counts = ClusterCommit();
  w.counts.changes.removed = count;
  w.decisions = decisions;
  SendCas(flight, id, expected, now_ms);
}

void ClusterRequests::OnResult(uint64_t tag, const redisReply* reply, std::string_view failure) {
  const uint32_t flight = static_cast<uint32_t>(tag);
  cluster::AorFlights::Flight& f = flights_.at(flight);
  FlightResult& r = results_[flight];
  r.failure.clear();
  if (f.committing) {
    if (reply == nullptr) {
      r.outcome = Outcome::kFailed;
      r.failure.assign(failure);
    } else {
      absl::StatusOr<cluster::CasOutcome> cas = cluster::DecodeCas(*reply, f.aor, &r.stored, &r.turn_left_ms);
      if (!cas.ok()) {
        r.outcome = Outcome::kFailed;
        r.failure = std::string(cas.status().message());
      } else if (*cas == cluster::CasOutcome::kCommitted) {
        r.outcome = Outcome::kCommitted;
        r.version = r.stored.version;
      } else {
        r.outcome = *cas == cluster::CasOutcome::kConflict ? Outcome::kConflict : Outcome::kTurnHeld;
      }
    }
  } else {
    if (reply == nullptr) {
      r.outcome = Outcome::kReadFailed;
      r.failure.assign(failure);
    } else if (absl::Status s = cluster::DecodeRead(*reply, f.aor, &r.stored); !s.ok()) {
      r.outcome = Outcome::kReadFailed;
      r.failure = std::string(s.message());
    } else {
      r.outcome = Outcome::kRead;
    }
  }
  ready_.push_back(flight);
}

void ClusterRequests::Adopt(uint32_t flight, cluster::StoredAor& stored, bool current) {
  cluster::AorFlights::Flight& f = flights_.at(flight);
  table_.RemoveAor(f.aor);
  f.absent_version = stored.version;
  store::AorRecord* record = nullptr;
  for (store::Binding& b : stored.bindings) {
    if (b.expires_at <= now_s_) continue;  // lapsed since it was written
    if (record == nullptr) record = table_.FindOrCreate(f.aor);
    table_.AddBinding(record, std::move(b));
  }
  stored.bindings.clear();
  if (record == nullptr) return;
  record = table_.Rearm(record);
  if (record == nullptr) return;
  record->set_version(stored.version);
  record->set_cache_epoch(current ? flights_.epoch() : 0);
}

void ClusterRequests::Turn(uint64_t now_ms, Deliver deliver, Rerun rerun) {
  if (links_ == nullptr) return;
  TakeInvalidations();
  // Before the links' sends: the decisions taken here go out this turn.
  EndTurnWaits(now_ms, rerun);
  links_->Turn(now_ms, on_end_);
  ProcessReady(now_ms, deliver, rerun);
}

void ClusterRequests::OnCompletion(IoOp op, size_t slot, uint32_t generation, int res,
                                   uint64_t now_ms) {
  switch (op) {
    case IoOp::kRedisConnect:
      links_->OnConnect(slot, generation, res, now_ms, on_end_);
      break;
    case IoOp::kRedisReceive:
      links_->OnReceive(slot, generation, res, now_ms, on_end_);
      break;
    case IoOp::kRedisSend:
      links_->OnSent(slot, generation, res, now_ms, on_end_);
      break;
    default:
      break;
  }
}

void ClusterRequests::TakeInvalidations() {
  bool all = false;
  client_.TakeInvalidations(
      [this](std::string_view key) {
        counters_.cluster_invalidations.Add();
        if (!key.starts_with(cluster::kAorKeyPrefix)) return;
        const std::string_view aor = key.substr(cluster::kAorKeyPrefix.size());
        if (store::AorRecord* record = table_.FindMutable(aor)) record->set_cache_epoch(0);
        if (const int64_t flight = flights_.Find(aor); flight >= 0) {
          ++flights_.at(static_cast<uint32_t>(flight)).invalidations;
        }
      },
      &all);
  if (all) {
    counters_.cluster_invalidations.Add();
    flights_.InvalidateAll();
  }
}

void ClusterRequests::ProcessReady(uint64_t now_ms, Deliver deliver, Rerun rerun) {
  now_ms_ = now_ms;
  now_s_ = static_cast<uint32_t>(table_.now());
  // Invalidations that arrived with these outcomes count for them.
  if (!ready_.empty()) TakeInvalidations();
  // Acting on one may add more (a commit refused at once): by index.
  for (size_t i = 0; i < ready_.size(); ++i) {
    const uint32_t flight = ready_[i];
    FlightResult& r = results_[flight];
    cluster::AorFlights::Flight& f = flights_.at(flight);
    switch (r.outcome) {
      case Outcome::kRead:
        // Current unless another change was announced while it was read.
        f.reading = false;
        Adopt(flight, r.stored, f.invalidations == 0);
        break;
      case Outcome::kReadFailed:
        f.reading = false;
        counters_.cluster_failures.Add();
        Log(LogLevel::kDebug, "cluster: reading %s failed: %s", f.aor.c_str(), r.failure.c_str());
        break;  // the waiting requests answer from the cache as it is
      case Outcome::kCommitted:
      case Outcome::kConflict:
      case Outcome::kTurnHeld:
      case Outcome::kFailed:
        EndCommit(flight, deliver, rerun);
        break;
      case Outcome::kNone:
        break;
    }
    const bool read_failed = results_[flight].outcome == Outcome::kReadFailed;
    results_[flight].outcome = Outcome::kNone;
    Release(flight, read_failed, rerun);
  }
  ready_.clear();
}

void ClusterRequests::EndCommit(uint32_t flight, Deliver deliver, Rerun rerun) {
  cluster::AorFlights::Flight& f = flights_.at(flight);
  FlightResult& r = results_[flight];
  const uint32_t id = committers_[flight];
  if (r.outcome == Outcome::kTurnHeld && waiting_[id]->decisions < kMaxDecisions) {
    // Still committing: waits for the holder's commit to be announced, or
    // for the turn's end (never longer than a turn lasts).
    counters_.cluster_turn_waits.Add();
    Adopt(flight, r.stored, true);
    f.invalidations = 0;
    f.turn_due_ms = now_ms_ + std::clamp<uint32_t>(r.turn_left_ms, 1, kTurnMs);
    turn_waits_.push_back(flight);
    return;
  }
  EndCommitting(flight);
  Waiting& w = *waiting_[id];
  switch (r.outcome) {
    case Outcome::kCommitted: {
      counters_.cluster_commits.Add();
      counters_.CountBindings(w.counts.changes);
      // Our own change comes back as one invalidation; more mean another
      // writer too, and the next lookup reads the AOR again.
      if (store::AorRecord* record = table_.FindMutable(f.aor)) {
        record->set_version(r.version);
        record->set_cache_epoch(f.invalidations <= 1 ? flights_.epoch() : 0);
      }
      f.absent_version = r.version;  // 0 when the key was deleted
      if (w.admin) {
        admin_.ReplyRemove(w.header.id, true, w.route.admin_count, w.ok, {});
      } else {
        deliver(w.route, w.status, w.key, w.ok);
      }
      break;
    }
    case Outcome::kConflict:
    case Outcome::kTurnHeld: {
      counters_.cluster_conflicts.Add();
      Adopt(flight, r.stored, true);
      if (w.decisions < kMaxDecisions) {
        DecideAgain(w, rerun);  // on the state Redis holds
        break;
      }
      if (w.admin) {
        admin_.ReplyRemove(w.header.id, false, 0, {}, "{\"error\":\"the AOR kept changing on other nodes; try again\"}");
        break;
      }
      RequestHandler::FailureFor(w.ok, &failure_);
      deliver(w.route, 500, w.key, failure_);
      break;
    }
    case Outcome::kFailed: {
      counters_.cluster_failures.Add();
      if (now_s_ != warned_s_) {
        warned_s_ = now_s_;
        Log(LogLevel::kWarning, "cluster: committing %s failed: %s", f.aor.c_str(), r.failure.c_str());
      }
      // Nothing of it is known to be in Redis: read again next time.
      table_.RemoveAor(f.aor);
      f.absent_version = 0;
      if (w.admin) {
        admin_.ReplyRemove(w.header.id, false, 0, {},
                           Cat("{\"error\":\"Redis did not take it: ", JsonEscape(r.failure), "; try again\"}"));
        break;
      }
      RequestHandler::FailureFor(w.ok, &failure_);
      deliver(w.route, 500, w.key, failure_);
      break;
    }
    default:
      break;
  }
  FreeWaiting(id);
}

uint32_t ClusterRequests::EndCommitting(uint32_t flight) {
  const uint32_t id = committers_[flight];
  committers_[flight] = kNoWaiting;
  flights_.at(flight).committing = false;
  --committing_;
  return id;
}

void ClusterRequests::DecideAgain(Waiting& w, Rerun rerun) {
  // A REGISTER: steps 6-8 again, on the AOR's cached state.
  Inbound inbound = w.inbound;
  inbound.redecide = true;
  inbound.state_read = true;
  RunAgain(w, inbound, w.decisions, rerun);
}

void ClusterRequests::EndTurnWaits(uint64_t now_ms, Rerun rerun) {
  now_ms_ = now_ms;
  now_s_ = static_cast<uint32_t>(table_.now());
  for (size_t i = 0; i < turn_waits_.size();) {
    const uint32_t flight = turn_waits_[i];
    cluster::AorFlights::Flight& f = flights_.at(flight);
    if (f.invalidations == 0 && now_ms < f.turn_due_ms) {
      ++i;
      continue;
    }
    turn_waits_[i] = turn_waits_.back();
    turn_waits_.pop_back();
    f.turn_due_ms = 0;
    const uint32_t id = EndCommitting(flight);
    DecideAgain(*waiting_[id], rerun);
    FreeWaiting(id);
    Release(flight, /*read_failed=*/false, rerun);
  }
}

std::optional<uint64_t> ClusterRequests::NextDueMs() const {
  std::optional<uint64_t> due;
  for (const uint32_t flight : turn_waits_) {
    const uint64_t at = flights_.at(flight).turn_due_ms;
    if (!due || at < *due) due = at;
  }
  return due;
}

void ClusterRequests::Release(uint32_t flight, bool read_failed, Rerun rerun) {
  for (;;) {
    cluster::AorFlights::Flight& f = flights_.at(flight);
    if (f.busy()) return;
    if (!f.has_waiting()) {
      f.waiting.clear();
      f.head = 0;
      flights_.Release(flight);
      return;
    }
    const uint32_t id = f.waiting[f.head++];
    if (f.head >= 64 && 2 * f.head >= f.waiting.size()) {
      // An AOR that is never idle: drop the handled part of its queue.
      f.waiting.erase(f.waiting.begin(), f.waiting.begin() + static_cast<std::ptrdiff_t>(f.head));
      f.head = 0;
    }
    Waiting& w = *waiting_[id];
    Inbound inbound = w.inbound;
    inbound.state_read = true;
    inbound.read_failed = read_failed;
    RunAgain(w, inbound, 0, rerun);
    FreeWaiting(id);
  }
}

void ClusterRequests::RunAgain(Waiting& w, const Inbound& inbound, int decisions, Rerun rerun) {
  if (w.admin) {
    const std::string_view aor =
        w.header.op == AdminHeader::kRemove ? ShardAdmin::RemoveAorOf(w.bytes) : std::string_view(w.bytes);
    if (inbound.read_failed && table_.Find(aor) == nullptr) {
      admin_.ReplyError(w.header, "Redis not reachable: the AOR's state is unknown; try again");
      return;
    }
    RunAdmin(w.header, w.bytes, decisions + 1, now_ms_);
    return;
  }
  decisions_of_rerun_ = decisions;
  rerun(w.bytes, inbound, w.origin);
  decisions_of_rerun_ = 0;
}

void ClusterRequests::PublishGauges() {
  counters_.cluster_state.Set(client_.tracking() ? ShardCounters::kClusterUp : ShardCounters::kClusterDown);
  counters_.cluster_masters.Set(client_.slot_map().nodes().size());
  counters_.cluster_slots_reachable.Set(client_.ReachableSlots());
  counters_.cluster_waiting.Set(waiting_count_ - committing_);
  counters_.cluster_commits_in_flight.Set(committing_);
}

void ClusterRequests::CloseAll(uint64_t now_ms) {
  if (links_ != nullptr) links_->CloseAll(now_ms, on_end_);
}

}  // namespace locus::engine
