#include "engine/cluster/cluster_client.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>

#include "engine/text.h"
#include "engine/cluster/aor_store.h"
#include "engine/cluster/hash_slot.h"

namespace locus::engine::cluster {
namespace {

const std::string_view kClusterSlots[] = {"CLUSTER", "SLOTS"};
// Invalidated keys held until taken; past it, "all" instead.
constexpr size_t kMaxInvalidatedBytes = 4 * 1024 * 1024;
const std::string_view kAsking[] = {"ASKING"};

std::span<const std::string_view> FunctionLoad() {
  static const std::string_view args[] = {"FUNCTION", "LOAD", "REPLACE", FunctionLibrary()};
  return args;
}

std::string_view ErrorText(const redisReply& reply) {
  return reply.type == REDIS_REPLY_ERROR ? std::string_view(reply.str, reply.len) : std::string_view();
}

}  // namespace

ClusterClient::ClusterClient(Options options) : options_(std::move(options)) {
  for (const NodeAddress& seed : options_.seeds) ConnectionFor(seed);
}

ClusterClient::~ClusterClient() = default;

int ClusterClient::DataConnectionOf(const NodeAddress& node) const {
  for (size_t i = 0; i < connections_.size(); ++i) {
    if (connections_[i]->role == Role::kData && connections_[i]->address == node) return static_cast<int>(i);
  }
  return -1;
}

int ClusterClient::ConnectionFor(const NodeAddress& node) {
  if (const int existing = DataConnectionOf(node); existing >= 0) return existing;
  const int data = NewConnection(node, Role::kData);
  if (data < 0) return -1;
  if (!options_.tracking_prefix.empty()) {
    const int invalidations = NewConnection(node, Role::kInvalidations);
    if (invalidations >= 0) {
      connections_[static_cast<size_t>(data)]->peer = invalidations;
      connections_[static_cast<size_t>(invalidations)]->peer = data;
      connections_[static_cast<size_t>(invalidations)]->pipeline.AcceptPushes();
      StartLife(invalidations, 0);
    }
  }
  StartLife(data, 0);
  return data;
}

int ClusterClient::NewConnection(const NodeAddress& node, Role role) {
  // At most a data and an invalidation connection per slot's master.
  if (connections_.size() >= 2 * size_t{kHashSlots}) return -1;
  connections_.push_back(
      std::make_unique<Connection>(node, options_.max_output_bytes, options_.max_in_flight));
  connections_.back()->role = role;
  connections_.back()->wait_replicas = std::to_string(options_.replica_acks);
  connections_.back()->wait_timeout = std::to_string(options_.replica_wait_ms);
  return static_cast<int>(connections_.size() - 1);
}

void ClusterClient::StartLife(int conn, uint64_t now_ms) {
  Connection& c = *connections_[static_cast<size_t>(conn)];
  if (c.role == Role::kInvalidations) {
    static const std::string_view client_id[] = {"CLIENT", "ID"};
    static const std::string_view subscribe[] = {"SUBSCRIBE", "__redis__:invalidate"};
    Queue(conn, NewOp(OpKind::kClientId, 0, client_id, now_ms));
    Queue(conn, NewOp(OpKind::kSubscribe, 0, subscribe, now_ms));
    return;
  }
  Queue(conn, NewOp(OpKind::kFunctionLoad, 0, FunctionLoad(), now_ms));
  if (!c.redirect_id.empty()) QueueTracking(conn, now_ms);
}

void ClusterClient::QueueTracking(int data_conn, uint64_t now_ms) {
  Connection& c = *connections_[static_cast<size_t>(data_conn)];
  // Without NOLOOP: our own changes come back too, always, so that a
  // caller can tell them from another client's (docs/cluster.md).
  c.tracking_args = {"CLIENT", "TRACKING", "on",  "REDIRECT", c.redirect_id,
                     "BCAST",  "PREFIX",   options_.tracking_prefix};
  Queue(data_conn, NewOp(OpKind::kTracking, 0, c.tracking_args, now_ms));
}

int ClusterClient::MasterConnection(uint16_t slot) {
  const int node = map_.MasterOf(slot);
  if (node == SlotMap::kNoNode) return -1;
  return ConnectionFor(map_.nodes()[static_cast<size_t>(node)]);
}

uint32_t ClusterClient::NewOp(OpKind kind, uint64_t tag, std::span<const std::string_view> args,
                              uint64_t now_ms) {
  uint32_t index;
  if (free_op_ != 0) {
    index = free_op_ - 1;
    free_op_ = ops_[index].next_free;
  } else {
    index = static_cast<uint32_t>(ops_.size());
    ops_.emplace_back();
  }
  Op& op = ops_[index];
  op.kind = kind;
  op.redirections = 0;
  op.tag = tag;
  op.submitted_ms = now_ms;
  op.args = args;
  op.next_free = 0;
  return index;
}

void ClusterClient::FreeOp(uint32_t op) {
  ops_[op].args = {};
  ops_[op].next_free = free_op_;
  free_op_ = op + 1;
}

bool ClusterClient::Queue(int conn, uint32_t op) {
  Connection& c = *connections_[static_cast<size_t>(conn)];
  if (!c.pipeline.Append(ops_[op].args, op)) {
    FreeOp(op);
    return false;
  }
  if (ops_[op].kind == OpKind::kWrite) c.wait_wanted = true;
  return true;
}

void ClusterClient::QueueWaits(uint64_t now_ms) {
  if (options_.replica_acks <= 0) return;
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection& c = *connections_[i];
    if (!c.wait_wanted || c.state == ConnectionState::kBackoff) continue;
    c.wait_args = {"WAIT", c.wait_replicas, c.wait_timeout};
    if (Queue(static_cast<int>(i), NewOp(OpKind::kWait, 0, c.wait_args, now_ms))) c.wait_wanted = false;
  }
}

void ClusterClient::EndUnreplicated(Connection& c, bool replicated, std::string_view why, Done done) {
  // Moved out first: `done` may submit more commands.
  std::vector<std::pair<uint64_t, Reply>> ended;
  ended.swap(c.unreplicated);
  for (auto& [tag, reply] : ended) {
    if (replicated) {
      done(tag, reply.get(), {});
    } else {
      done(tag, nullptr, why);
    }
  }
  ended.clear();
  if (c.unreplicated.empty()) c.unreplicated.swap(ended);  // keeps the capacity
}

bool ClusterClient::Submit(std::string_view key, std::span<const std::string_view> args, uint64_t tag,
                           uint64_t now_ms, bool write) {
  if (!have_map_) return false;
  const int conn = MasterConnection(HashSlot(key));
  if (conn < 0 || connections_[static_cast<size_t>(conn)]->state == ConnectionState::kBackoff) return false;
  const OpKind kind = write && options_.replica_acks > 0 ? OpKind::kWrite : OpKind::kCommand;
  return Queue(conn, NewOp(kind, tag, args, now_ms));
}

bool ClusterClient::ready() const {
  if (!have_map_ || map_.covered() != kHashSlots) return false;
  for (const NodeAddress& node : map_.nodes()) {
    const int conn = DataConnectionOf(node);
    if (conn < 0 || state(conn) != ConnectionState::kReady) return false;
  }
  return true;
}

size_t ClusterClient::ReachableSlots() const {
  if (!have_map_) return 0;
  std::vector<bool> up(map_.nodes().size());
  for (size_t n = 0; n < up.size(); ++n) {
    const int conn = DataConnectionOf(map_.nodes()[n]);
    up[n] = conn >= 0 && state(conn) == ConnectionState::kReady;
  }
  size_t reachable = 0;
  for (uint32_t slot = 0; slot < kHashSlots; ++slot) {
    const int node = map_.MasterOf(static_cast<uint16_t>(slot));
    reachable += node != SlotMap::kNoNode && up[static_cast<size_t>(node)];
  }
  return reachable;
}

bool ClusterClient::tracking() const {
  if (!ready()) return false;
  for (const NodeAddress& node : map_.nodes()) {
    if (!connections_[static_cast<size_t>(DataConnectionOf(node))]->tracking) return false;
  }
  return true;  // (ready(): every master has a data connection)
}

void ClusterClient::TakeInvalidations(absl::FunctionRef<void(std::string_view key)> invalidated, bool* all) {
  *all = invalidate_all_;
  if (!invalidate_all_) {
    size_t at = 0;
    while (at + sizeof(uint32_t) <= invalidated_.size()) {
      uint32_t size;
      std::memcpy(&size, invalidated_.data() + at, sizeof size);
      at += sizeof size;
      invalidated(std::string_view(invalidated_).substr(at, size));
      at += size;
    }
  }
  invalidate_all_ = false;
  invalidated_.clear();
}

void ClusterClient::InvalidateAll() {
  if (options_.tracking_prefix.empty()) return;
  invalidate_all_ = true;
  invalidated_.clear();
}

void ClusterClient::OnPush(const redisReply& reply) {
  // ["message", "__redis__:invalidate", [key, ...] or nil (a flush)]
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3) return;
  const redisReply& keys = *reply.element[2];
  if (keys.type == REDIS_REPLY_NIL) {
    InvalidateAll();
    return;
  }
  if (keys.type != REDIS_REPLY_ARRAY || invalidate_all_) return;
  for (size_t i = 0; i < keys.elements; ++i) {
    const redisReply& key = *keys.element[i];
    if (key.type != REDIS_REPLY_STRING) continue;
    ++invalidations_;
    if (invalidated_.size() + key.len > kMaxInvalidatedBytes) {
      InvalidateAll();  // not taken for too long: the caller starts afresh
      return;
    }
    const uint32_t size = static_cast<uint32_t>(key.len);
    invalidated_.append(reinterpret_cast<const char*>(&size), sizeof size);
    invalidated_.append(key.str, key.len);
  }
}

void ClusterClient::TakeConnects(uint64_t now_ms,
                                 absl::FunctionRef<void(int conn, const NodeAddress&)> connect) {
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection& c = *connections_[i];
    const bool due = c.state == ConnectionState::kIdle ||
                     (c.state == ConnectionState::kBackoff && now_ms >= c.retry_at_ms);
    if (!due) continue;
    c.state = ConnectionState::kConnecting;
    c.connect_started_ms = now_ms;
    connect(static_cast<int>(i), c.address);
  }
  MaybeReadSlotMap(now_ms);
}

void ClusterClient::Connected(int conn, uint64_t now_ms) {
  Connection& c = *connections_[static_cast<size_t>(conn)];
  c.state = ConnectionState::kReady;
  c.backoff_ms = 0;
  MaybeReadSlotMap(now_ms);
}

std::string_view ClusterClient::Unsent(int conn) const {
  const Connection& c = *connections_[static_cast<size_t>(conn)];
  return c.state == ConnectionState::kReady ? c.pipeline.unsent() : std::string_view();
}

void ClusterClient::Sent(int conn, size_t bytes) { connections_[static_cast<size_t>(conn)]->pipeline.Sent(bytes); }

bool ClusterClient::Received(int conn, std::string_view bytes, uint64_t now_ms, Done done) {
  RespPipeline& pipeline = connections_[static_cast<size_t>(conn)]->pipeline;
  if (!pipeline.Feed(bytes).ok()) return false;
  uint64_t op = 0;
  Reply reply;
  while (pipeline.NextReply(&op, &reply)) {
    if (op == RespPipeline::kPush) {
      OnPush(*reply);
    } else {
      OnReply(conn, static_cast<uint32_t>(op), reply, now_ms, done);
    }
  }
  if (pipeline.broken()) {
    last_error_ = Cat("Redis ", address(conn).ToString(), ": not a RESP stream");
    return false;
  }
  MaybeReadSlotMap(now_ms);
  return true;
}

void ClusterClient::OnReply(int conn, uint32_t op, Reply& owned, uint64_t now_ms, Done done) {
  const redisReply& reply = *owned;
  Op& o = ops_[op];  // valid until the first NewOp below
  switch (o.kind) {
    case OpKind::kFunctionLoad:
      // A replica refuses writes; a master must take the library.
      if (reply.type == REDIS_REPLY_ERROR && !ErrorText(reply).starts_with("READONLY")) {
        last_error_ = Cat("Redis ", address(conn).ToString(), ": FUNCTION LOAD: ", ErrorText(reply));
      }
      FreeOp(op);
      return;
    case OpKind::kClusterSlots:
      map_read_in_flight_ = false;
      OnClusterSlots(conn, reply);
      FreeOp(op);
      return;
    case OpKind::kAsking:
    case OpKind::kSubscribe:
    case OpKind::kPing:
      FreeOp(op);
      return;
    case OpKind::kWait: {
      Connection& c = *connections_[static_cast<size_t>(conn)];
      const bool replicated = reply.type == REDIS_REPLY_INTEGER && reply.integer >= options_.replica_acks;
      FreeOp(op);
      EndUnreplicated(c, replicated, Cat("not replicated: WAIT answered ",
                                         reply.type == REDIS_REPLY_INTEGER ? reply.integer : -1,
                                         " of ", options_.replica_acks, " replicas"),
                      done);
      return;
    }
    case OpKind::kClientId: {
      Connection& c = *connections_[static_cast<size_t>(conn)];
      if (reply.type == REDIS_REPLY_INTEGER && c.peer >= 0) {
        connections_[static_cast<size_t>(c.peer)]->redirect_id = std::to_string(reply.integer);
        QueueTracking(c.peer, now_ms);
      }
      FreeOp(op);
      return;
    }
    case OpKind::kTracking:
      if (reply.type == REDIS_REPLY_STATUS) {
        connections_[static_cast<size_t>(conn)]->tracking = true;
        InvalidateAll();  // whatever was read before tracking began may be stale
      } else {
        last_error_ = Cat("Redis ", address(conn).ToString(), ": CLIENT TRACKING: ", ErrorText(reply));
      }
      FreeOp(op);
      return;
    case OpKind::kCommand:
    case OpKind::kWrite:
      break;
  }
  const std::optional<Redirection> redirection = ParseRedirection(ErrorText(reply));
  if (!redirection) {
    if (o.kind == OpKind::kWrite && reply.type != REDIS_REPLY_ERROR) {
      // Ends once the WAIT behind it saw the replicas take it.
      connections_[static_cast<size_t>(conn)]->unreplicated.emplace_back(o.tag, std::move(owned));
      FreeOp(op);
      return;
    }
    done(o.tag, &reply, {});
    FreeOp(op);
    return;
  }
  ++redirections_;
  if (o.redirections >= options_.max_redirections) {
    Fail(op, "too many redirections", done);
    return;
  }
  ++o.redirections;
  if (redirection->kind == Redirection::Kind::kMoved) {
    map_.Assign(redirection->slot, redirection->node);
    have_map_ = true;
    map_wanted_ = true;  // more slots have probably moved with this one
  }
  const int target = ConnectionFor(redirection->node);
  if (target < 0 || connections_[static_cast<size_t>(target)]->state == ConnectionState::kBackoff) {
    Fail(op, "redirected to a node that is down", done);
    return;
  }
  if (redirection->kind == Redirection::Kind::kAsk &&
      !Queue(target, NewOp(OpKind::kAsking, 0, kAsking, now_ms))) {
    Fail(op, "redirection: queue full", done);
    return;
  }
  // NewOp may have moved ops_: no reference into it from here on.
  ops_[op].submitted_ms = now_ms;
  Connection& to = *connections_[static_cast<size_t>(target)];
  if (!to.pipeline.Append(ops_[op].args, op)) {
    Fail(op, "redirection: queue full", done);
    return;
  }
  if (ops_[op].kind == OpKind::kWrite) to.wait_wanted = true;
}

void ClusterClient::OnClusterSlots(int conn, const redisReply& reply) {
  const NodeAddress asked = address(conn);
  if (ErrorText(reply).find("cluster support disabled") != std::string_view::npos) {
    map_ = SlotMap::Single(asked);
    have_map_ = true;
    return;
  }
  absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(reply, asked);
  if (!map.ok()) {
    last_error_ = Cat("Redis ", asked.ToString(), ": ", std::string(map.status().message()));
    map_wanted_ = true;
    return;
  }
  map_ = std::move(*map);
  have_map_ = true;
  for (const NodeAddress& node : map_.nodes()) ConnectionFor(node);
}

void ClusterClient::Fail(uint32_t op, std::string_view why, Done done) {
  const OpKind kind = ops_[op].kind;
  if (kind == OpKind::kCommand || kind == OpKind::kWrite) done(ops_[op].tag, nullptr, why);
  if (kind == OpKind::kClusterSlots) {
    map_read_in_flight_ = false;
    map_wanted_ = true;
  }
  FreeOp(op);
}

void ClusterClient::Closed(int conn, uint64_t now_ms, Done done) {
  Connection& c = *connections_[static_cast<size_t>(conn)];
  ++connection_failures_;
  last_error_ = Cat("Redis ", c.address.ToString(), ": connection lost");
  std::vector<uint32_t> lost;
  c.pipeline.Reset([&](uint64_t op) { lost.push_back(static_cast<uint32_t>(op)); });
  c.state = ConnectionState::kBackoff;
  c.backoff_ms = std::clamp(c.backoff_ms * 2, options_.reconnect_min_ms, options_.reconnect_max_ms);
  c.retry_at_ms = now_ms + c.backoff_ms;
  c.tracking = false;
  c.must_close = false;
  if (c.role == Role::kInvalidations && c.peer >= 0) {
    // Tracking redirected to this connection is over: the data connection
    // starts again once this one has a new id.
    Connection& data = *connections_[static_cast<size_t>(c.peer)];
    data.redirect_id.clear();
    data.tracking = false;
    data.must_close = true;
  }
  InvalidateAll();
  StartLife(conn, now_ms);
  map_wanted_ = true;  // a failover, perhaps
  c.wait_wanted = false;
  EndUnreplicated(c, false, "connection to Redis lost before a replica had it", done);
  for (uint32_t op : lost) Fail(op, "connection to Redis lost", done);
  MaybeReadSlotMap(now_ms);
}

bool ClusterClient::MasterDown() const {
  for (const NodeAddress& node : map_.nodes()) {
    const int conn = DataConnectionOf(node);
    if (conn >= 0 && state(conn) == ConnectionState::kBackoff) return true;
  }
  return false;
}

void ClusterClient::Tick(uint64_t now_ms, absl::FunctionRef<void(int conn)> close) {
  if (have_map_ && now_ms >= next_degraded_read_ms_ && MasterDown()) {
    next_degraded_read_ms_ = now_ms + options_.degraded_map_read_ms;
    map_wanted_ = true;
    MaybeReadSlotMap(now_ms);
  }
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection& c = *connections_[i];
    if (c.must_close) {
      c.must_close = false;
      if (c.state == ConnectionState::kReady || c.state == ConnectionState::kConnecting) {
        close(static_cast<int>(i));
        continue;
      }
    }
    if (c.role == Role::kInvalidations && c.state == ConnectionState::kReady && c.pipeline.in_flight() == 0 &&
        now_ms >= std::max(c.last_ping_ms, c.connect_started_ms) + options_.keepalive_ms) {
      static const std::string_view ping[] = {"PING"};
      c.last_ping_ms = now_ms;
      Queue(static_cast<int>(i), NewOp(OpKind::kPing, 0, ping, now_ms));
    }
    uint64_t waiting_since;
    if (c.state == ConnectionState::kConnecting) {
      waiting_since = c.connect_started_ms;
    } else if (c.state == ConnectionState::kReady && c.pipeline.in_flight() > 0) {
      waiting_since = std::max(ops_[c.pipeline.oldest_tag()].submitted_ms, c.connect_started_ms);
    } else {
      continue;
    }
    if (now_ms > waiting_since + options_.reply_timeout_ms) {
      ++timeouts_;
      close(static_cast<int>(i));
    }
  }
}

void ClusterClient::MaybeReadSlotMap(uint64_t now_ms) {
  if (!map_wanted_ || map_read_in_flight_) return;
  for (size_t i = 0; i < connections_.size(); ++i) {
    if (connections_[i]->role != Role::kData || connections_[i]->state != ConnectionState::kReady) continue;
    if (Queue(static_cast<int>(i), NewOp(OpKind::kClusterSlots, 0, kClusterSlots, now_ms))) {
      map_wanted_ = false;
      map_read_in_flight_ = true;
      ++slot_map_reads_;
    }
    return;
  }
}

}  // namespace locus::engine::cluster
