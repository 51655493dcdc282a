#include "engine/admin/admin_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "engine/admin/admin_channel.h"
#include "engine/admin/binding_json.h"
#include "engine/clock.h"
#include "engine/counters.h"
#include "engine/log.h"
#include "engine/text.h"
#include "engine/transport/tls_context.h"
#include "engine/auth/user_db.h"
#include "parser/aor.h"
#include "parser/uri.h"
#include "store/aor_hash.h"
#include "simdjson.h"

namespace locus::engine {
namespace {

constexpr size_t kAdminRingBytes = 4 << 20;  // answers are chunked below 2 MiB
constexpr std::string_view kVersion = "0.1.0";

// Counters (monotonic totals) and gauges (current values) of a shard, by name.
using Values = std::vector<std::pair<std::string_view, uint64_t>>;

Values CounterValues(const ShardCounters& c) {
  Values v = {
      {"requests_received", c.requests_received.Get()},
      {"handed_off", c.handed_off.Get()},
      {"handoffs_received", c.handoffs_received.Get()},
      {"responses_sent", c.answered.Get()},
      {"parse_errors", c.parse_errors.Get()},
      {"responses_ignored", c.responses_ignored.Get()},
      {"retransmissions_absorbed", c.retransmissions.Get()},
      {"queue_overflows", c.overflows.Get()},
      {"send_errors", c.send_errors.Get()},
      {"udp_packets_in", c.udp_packets_in.Get()},
      {"udp_bytes_in", c.udp_bytes_in.Get()},
      {"udp_packets_out", c.udp_packets_out.Get()},
      {"udp_bytes_out", c.udp_bytes_out.Get()},
      {"tcp_bytes_in", c.tcp_bytes_in.Get()},
      {"tcp_bytes_out", c.tcp_bytes_out.Get()},
      {"tcp_accepted", c.tcp_accepted.Get()},
      {"tcp_closed", c.tcp_closed.Get()},
      {"tcp_refused", c.tcp_refused.Get()},
      {"tls_handshakes", c.tls_handshakes.Get()},
      {"tls_handshake_failures", c.tls_handshake_failures.Get()},
      {"tls_handshake_timeouts", c.tls_handshake_timeouts.Get()},
      {"tls_refused", c.tls_refused.Get()},
      {"ws_upgrades", c.ws_upgrades.Get()},
      {"ws_upgrade_failures", c.ws_upgrade_failures.Get()},
      {"requests_register", c.method_register.Get()},
      {"requests_options", c.method_options.Get()},
      {"requests_cancel", c.method_cancel.Get()},
      {"requests_ack", c.method_ack.Get()},
      {"requests_invite", c.method_invite.Get()},
      {"requests_other", c.method_other.Get()},
      {"lookups", c.lookups.Get()},
      {"invite_retransmissions", c.invite_retransmissions.Get()},
      {"acks_absorbed", c.acks_absorbed.Get()},
      {"stun_requests", c.stun_requests.Get()},
      {"stun_invalid", c.stun_invalid.Get()},
      {"bindings_created", c.bindings_created.Get()},
      {"bindings_refreshed", c.bindings_refreshed.Get()},
      {"bindings_removed", c.bindings_removed.Get()},
      {"bindings_expired", c.bindings_expired.Get()},
      {"auth_challenges", c.auth_challenges.Get()},
      {"auth_successes", c.auth_successes.Get()},
      {"auth_failures", c.auth_failures.Get()},
      {"auth_stale", c.auth_stale.Get()},
      {"auth_replays", c.auth_replays.Get()},
      {"auth_forbidden", c.auth_forbidden.Get()},
      {"auth_malformed", c.auth_malformed.Get()},
      {"auth_locked_out", c.auth_locked_out.Get()},
      {"auth_certificates", c.auth_certificates.Get()},
      {"journal_commits", c.journal_commits.Get()},
      {"journal_bytes", c.journal_bytes.Get()},
      {"journal_failures", c.journal_failures.Get()},
      {"journal_undone", c.journal_undone.Get()},
      {"snapshots", c.snapshots.Get()},
      {"snapshot_failures", c.snapshot_failures.Get()},
  };
  static const std::array<std::string, kCountedStatusCount> kStatusNames = [] {
    std::array<std::string, kCountedStatusCount> names;
    for (int i = 0; i < kCountedStatusCount; ++i) names[i] = Cat("responses_", kCountedStatuses[i]);
    return names;
  }();
  for (int i = 0; i < kCountedStatusCount; ++i) v.emplace_back(kStatusNames[i], c.status[i].Get());
  v.emplace_back("responses_other", c.status_other.Get());
  return v;
}

Values GaugeValues(const ShardCounters& c) {
  return {{"aors", c.aors.Get()},
          {"bindings", c.bindings.Get()},
          {"tcp_connections", c.tcp_open.Get()},
          {"tls_connections", c.tls_open.Get()},
          {"ws_connections", c.ws_open.Get()},
          {"wss_connections", c.wss_open.Get()}};
}

void AppendObject(const Values& values, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : values) {
    if (!first) out->push_back(',');
    first = false;
    out->append(Cat("\"", name, "\":", value));
  }
  out->push_back('}');
}

void AddInto(Values& total, const Values& v) {
  if (total.empty()) {
    total = v;
    return;
  }
  for (size_t i = 0; i < v.size(); ++i) total[i].second += v[i].second;
}

void AppendLatency(const std::array<uint64_t, LatencyHistogram::kBuckets>& counts, uint64_t sum_ns,
                   std::string* out) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  auto us = [&](double q) {
    const uint64_t ns = LatencyHistogram::Quantile(counts, q);
    return Cat(ns / 1000, ".", static_cast<char>('0' + ns / 100 % 10));
  };
  out->append(Cat("{\"count\":", total, ",\"sum_us\":", sum_ns / 1000, ",\"p50_us\":", us(0.5), ",\"p90_us\":", us(0.9),
                  ",\"p99_us\":", us(0.99), ",\"p999_us\":", us(0.999), "}"));
}

}  // namespace

struct AdminServer::Client {
  int fd = -1;
  std::string in;
  std::string out;
  uint64_t waiting_id = 0;  // a shard request in flight; 0 when none
  uint64_t waiting_since_ms = 0;
  size_t waiting_shard = 0;
  AdminHeader::Op waiting_op = AdminHeader::kLookup;
  bool dumping = false;  // a dump in progress: shard by shard
  size_t dump_shard = 0;
  uint64_t dump_id = 0;  // the request id naming the snapshot open on dump_shard; 0: none yet
  std::string dump_filter;
  uint64_t dump_count = 0;
  bool closed = false;

  bool busy() const { return waiting_id != 0 || dumping; }
};

AdminServer::AdminServer(const Config& config, std::vector<ShardView> shards)
    : config_(config), shards_(std::move(shards)) {
  for (size_t i = 0; i < shards_.size(); ++i) {
    to_shards_.push_back(std::make_unique<SpscRing>(kAdminRingBytes));
    from_shards_.push_back(std::make_unique<SpscRing>(kAdminRingBytes));
    wake_fds_.push_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  }
  notify_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  started_ms_ = MonotonicMs();
}

AdminServer::~AdminServer() {
  for (auto& c : clients_) {
    if (c->fd >= 0) close(c->fd);
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(path_.c_str());
  }
  if (notify_fd_ >= 0) close(notify_fd_);
  for (int fd : wake_fds_) {
    if (fd >= 0) close(fd);
  }
}

absl::Status AdminServer::Open(const std::string& path) {
  if (notify_fd_ < 0) return absl::InternalError(Cat("eventfd: ", std::strerror(errno)));
  for (int fd : wake_fds_) {
    if (fd < 0) return absl::InternalError("eventfd: cannot make the shards' wake-ups");
  }
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(Cat("admin socket path too long: ", path));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return absl::InternalError(Cat("socket: ", std::strerror(errno)));
  // A socket file left by a daemon that died is replaced; one a live daemon
  // answers on is not.
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    const bool live = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(probe);
    if (live) return absl::UnavailableError(Cat(path, ": another locusd answers there"));
  }
  unlink(path.c_str());
  const mode_t old_mask = umask(0117);  // the socket is created 0660
  const int bound = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old_mask);
  if (bound != 0) return absl::InternalError(Cat("bind ", path, ": ", std::strerror(errno)));
  chmod(path.c_str(), 0660);
  if (listen(listen_fd_, 64) != 0) return absl::InternalError(Cat("listen: ", std::strerror(errno)));
  path_ = path;
  return absl::OkStatus();
}

void AdminServer::RequestStop() {
  stop_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(notify_fd_, &one, sizeof(one));
}

void AdminServer::Run() {
  std::vector<pollfd> fds;
  while (!stop_.load(std::memory_order_acquire)) {
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    fds.push_back({notify_fd_, POLLIN, 0});
    for (auto& c : clients_) {
      short events = POLLIN;
      if (!c->out.empty()) events |= POLLOUT;
      fds.push_back({c->fd, events, 0});
    }
    poll(fds.data(), fds.size(), 100);
    if (fds[1].revents & POLLIN) {
      uint64_t value;
      [[maybe_unused]] ssize_t n = read(notify_fd_, &value, sizeof(value));
    }
    DrainShards();
    // Clients by their poll slot (clients_ only grows during this pass).
    const size_t polled = fds.size() - 2;
    for (size_t i = 0; i < polled && i < clients_.size(); ++i) {
      Client* c = clients_[i].get();
      const short revents = fds[i + 2].revents;
      if (!c->closed && (revents & (POLLIN | POLLHUP | POLLERR))) ReadFrom(c);
      if (!c->closed && (revents & POLLOUT)) WriteTo(c);
    }
    if (fds[0].revents & POLLIN) Accept();
    ContinueDumps();
    CheckTimeouts();
    for (size_t i = 0; i < clients_.size();) {
      if (clients_[i]->closed) {
        clients_[i] = std::move(clients_.back());
        clients_.pop_back();
      } else {
        ++i;
      }
    }
  }
}

void AdminServer::Accept() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (clients_.size() >= kMaxClients) {
      static constexpr std::string_view kBusy = "{\"ok\":false,\"error\":\"too many admin clients\"}\n";
      [[maybe_unused]] ssize_t n = send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      continue;
    }
    auto c = std::make_unique<Client>();
    c->fd = fd;
    clients_.push_back(std::move(c));
  }
}

void AdminServer::ReadFrom(Client* c) {
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      Close(c);  // vanished
      return;
    }
    if (n < 0) break;
    c->in.append(buf, static_cast<size_t>(n));
    if (c->in.size() > kMaxRequestBytes + 1 && c->in.find('\n') == std::string::npos) {
      ++malformed_requests_;
      ReplyError(c, Cat("request longer than ", kMaxRequestBytes, " bytes"));
      WriteTo(c);
      Close(c);
      return;
    }
  }
  // One request at a time: the next line waits until this one is answered.
  while (!c->closed && !c->busy()) {
    const size_t newline = c->in.find('\n');
    if (newline == std::string::npos) break;
    if (newline > kMaxRequestBytes) {
      ++malformed_requests_;
      ReplyError(c, Cat("request longer than ", kMaxRequestBytes, " bytes"));
      WriteTo(c);
      Close(c);
      return;
    }
    std::string line = c->in.substr(0, newline);
    c->in.erase(0, newline + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    HandleLine(c, line);
  }
  if (!c->closed) WriteTo(c);
}

void AdminServer::WriteTo(Client* c) {
  while (!c->out.empty()) {
    const ssize_t n = send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) Close(c);
      return;
    }
    c->out.erase(0, static_cast<size_t>(n));
  }
}

void AdminServer::Reply(Client* c, std::string_view json) {
  if (c->out.size() + json.size() > kMaxPendingOutput) {
    Log(LogLevel::kWarning, "admin client does not read its answers: dropped");
    Close(c);
    return;
  }
  c->out.append(json);
  c->out.push_back('\n');
}

void AdminServer::ReplyError(Client* c, std::string_view message) {
  std::string json = "{\"ok\":false,\"error\":";
  AppendJsonString(message, &json);
  json.push_back('}');
  Reply(c, json);
}

void AdminServer::Close(Client* c) {
  if (c->closed) return;
  if (c->dumping && c->dump_id != 0) {
    // Frees the snapshot the shard holds for this dump.
    AdminHeader cancel{c->dump_id, AdminHeader::kDumpCancel, false, 0};
    to_shards_[c->dump_shard]->TryPush(HeaderBytes(cancel), {});
    WakeShard(c->dump_shard);
  }
  if (c->waiting_id != 0) pending_.erase(c->waiting_id);
  close(c->fd);
  c->fd = -1;
  c->closed = true;
}

void AdminServer::AskShard(Client* c, size_t shard, AdminHeader::Op op, std::string_view payload) {
  AdminHeader header{next_id_++, op, false, 0};
  if (!to_shards_[shard]->TryPush(HeaderBytes(header), payload)) {
    ReplyError(c, "shard queue full, try again");
    c->dumping = false;
    return;
  }
  c->waiting_id = header.id;
  c->waiting_since_ms = MonotonicMs();
  c->waiting_shard = shard;
  c->waiting_op = op;
  pending_[header.id] = c;
  WakeShard(shard);
}

void AdminServer::DrainShards() {
  for (auto& ring : from_shards_) {
    std::string_view record;
    while (ring->Peek(&record)) {
      OnShardReply(ReadAdminHeader(record), record.substr(sizeof(AdminHeader)));
      ring->Pop();
    }
  }
}

void AdminServer::OnShardReply(const AdminHeader& header, std::string_view payload) {
  auto it = pending_.find(header.id);
  if (it == pending_.end()) return;  // its client is gone, or it timed out
  Client* c = it->second;
  pending_.erase(it);
  c->waiting_id = 0;
  switch (header.op) {
    case AdminHeader::kLookup:
      Reply(c, Cat("{\"ok\":true,", payload.substr(1)));
      break;
    case AdminHeader::kRemove:
      // The shard refuses with {"error":..} when its journal cannot take it.
      Reply(c, Cat(payload.starts_with("{\"error\"") ? "{\"ok\":false," : "{\"ok\":true,",
                   payload.substr(1)));
      break;
    case AdminHeader::kDump:
      // The shard's lines as they are; the next chunk is asked for in
      // ContinueDumps, once the client has read enough of these.
      if (c->out.size() + payload.size() > kMaxPendingOutput) {
        Close(c);
        return;
      }
      c->out.append(payload);
      c->dump_count += header.count;
      if (header.done) {
        ++c->dump_shard;
        c->dump_id = 0;
      }
      if (c->dump_shard >= shards_.size()) {
        c->dumping = false;
        Reply(c, Cat("{\"ok\":true,\"done\":true,\"count\":", c->dump_count, "}"));
      }
      break;
    case AdminHeader::kDumpCancel:
    case AdminHeader::kSetUsers:
    case AdminHeader::kSetTls:
    case AdminHeader::kSnapshot:
      break;  // never answered
  }
  if (!c->closed) WriteTo(c);
  // A finished request frees the client for its next line.
  if (!c->closed && !c->busy() && c->in.find('\n') != std::string::npos) ReadFrom(c);
}

void AdminServer::ContinueDumps() {
  for (auto& owned : clients_) {
    Client* c = owned.get();
    if (c->closed || !c->dumping || c->waiting_id != 0 || c->out.size() > kDumpPauseOutput) continue;
    // Each shard's dump is one snapshot, named by the id of the request that
    // opened it; every chunk of it is asked for with that id.
    if (c->dump_id == 0) c->dump_id = next_id_++;
    const AdminHeader header{c->dump_id, AdminHeader::kDump, false, 0};
    if (!to_shards_[c->dump_shard]->TryPush(HeaderBytes(header), c->dump_filter)) continue;
    c->waiting_id = header.id;
    c->waiting_since_ms = MonotonicMs();
    c->waiting_shard = c->dump_shard;
    c->waiting_op = AdminHeader::kDump;
    pending_[header.id] = c;
    WakeShard(c->dump_shard);
  }
}

void AdminServer::CheckTimeouts() {
  const uint64_t now = MonotonicMs();
  for (auto& owned : clients_) {
    Client* c = owned.get();
    if (c->closed || c->waiting_id == 0 || now - c->waiting_since_ms < kShardTimeoutMs) continue;
    ReplyError(c, Cat("shard ", c->waiting_shard, " did not answer within ", kShardTimeoutMs, " ms"));
    WriteTo(c);
    Close(c);
  }
}

void AdminServer::HandleLine(Client* c, std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (line.size() > kMaxRequestBytes || parser.parse(line.data(), line.size()).get(root)) {
    ++malformed_requests_;
    ReplyError(c, "malformed JSON request");
    return;
  }
  std::string_view cmd;
  if (!root.is_object() || root["cmd"].get(cmd)) {
    ++malformed_requests_;
    ReplyError(c, "a request is a JSON object with a \"cmd\" string");
    return;
  }
  auto string_field = [&](const char* name, std::string_view* out) {
    return !root[name].get(*out);
  };
  if (cmd == "version") {
    Reply(c, Cat("{\"ok\":true,\"version\":\"", kVersion, "\",\"server\":\"", JsonEscape(config_.server), "\"}"));
  } else if (cmd == "health") {
    bool healthy = false;
    Reply(c, HealthJson(&healthy));
  } else if (cmd == "config") {
    Reply(c, Cat("{\"ok\":true,\"config\":", ConfigToJson(config_), "}"));
  } else if (cmd == "stats") {
    Reply(c, StatsJson());
  } else if (cmd == "shards") {
    Reply(c, ShardsJson());
  } else if (cmd == "lookup" || cmd == "remove") {
    std::string_view aor_text;
    if (!string_field("aor", &aor_text)) {
      ReplyError(c, Cat(cmd, ": needs \"aor\""));
      return;
    }
    sip::Uri uri;
    sip::CanonicalAor aor;
    if (!sip::ParseUri(aor_text, sip::HeaderId::kTo, &uri).ok() ||
        !sip::CanonicalizeAor(uri, &aor).ok()) {
      ReplyError(c, Cat("aor: not a sip or sips URI: ", aor_text));
      return;
    }
    const size_t owner = static_cast<size_t>(store::OwnerShardOf(aor.view(), static_cast<int>(shards_.size())));
    if (cmd == "lookup") {
      AskShard(c, owner, AdminHeader::kLookup, aor.view());
    } else {
      std::string_view contact;
      string_field("contact", &contact);
      AskShard(c, owner, AdminHeader::kRemove, Cat(aor.view(), "\n", contact));
    }
  } else if (cmd == "reload_users") {
    ReloadUsers(c);
  } else if (cmd == "reload_tls") {
    ReloadTls(c);
  } else if (cmd == "snapshot") {
    StartSnapshots(c);
  } else if (cmd == "dump") {
    std::string_view value;
    c->dump_filter.clear();
    if (string_field("domain", &value)) {
      c->dump_filter = Cat("d:", ToLowerAscii(value));
    } else if (string_field("prefix", &value)) {
      c->dump_filter = Cat("p:", value);
    }
    c->dumping = true;
    c->dump_shard = 0;
    c->dump_count = 0;
    c->dump_id = 0;
    ContinueDumps();
  } else {
    ++malformed_requests_;
    ReplyError(c, Cat("unknown command '", cmd,
                      "' (version, health, config, stats, shards, lookup, remove, dump, reload_users, reload_tls, "
                      "snapshot)"));
  }
}

void AdminServer::StartSnapshots(Client* c) {
  // Each shard starts its snapshot between two batches of traffic; the
  // `snapshots` counter says when it is written.
  if (config_.durability == DurabilityMode::kOff) {
    ReplyError(c, "durability is off (--durability)");
    return;
  }
  for (size_t i = 0; i < shards_.size(); ++i) {
    const AdminHeader header{next_id_++, AdminHeader::kSnapshot, false, 0};
    if (!to_shards_[i]->TryPush(HeaderBytes(header), {})) {
      ReplyError(c, Cat("shard ", i, " queue full: try again"));
      return;
    }
    WakeShard(i);
  }
  Reply(c, Cat("{\"ok\":true,\"shards\":", shards_.size(), "}"));
}

void AdminServer::ReloadUsers(Client* c) {
  // Loaded and checked whole here, off the shards; each shard then swaps its
  // pointer between two batches of traffic. A bad file changes nothing.
  if (!config_.auth) {
    ReplyError(c, "authentication is off (--auth)");
    return;
  }
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const UserDb>> users =
      UserDb::Load(config_.users_file, config_.AuthRealm(), &warnings);
  if (!users.ok()) {
    Log(LogLevel::kWarning, "users file refused, the previous one stays: %s",
        std::string(users.status().message()));
    ReplyError(c, Cat("users file refused, the previous one stays: ", std::string(users.status().message())));
    return;
  }
  for (size_t i = 0; i < shards_.size(); ++i) {
    // The record carries a heap copy of the shared pointer; the shard takes it.
    auto* handle = new std::shared_ptr<const UserDb>(*users);
    const AdminHeader header{next_id_++, AdminHeader::kSetUsers, false, 0};
    if (!to_shards_[i]->TryPush(HeaderBytes(header),
                                {reinterpret_cast<const char*>(&handle), sizeof(handle)})) {
      delete handle;
      ReplyError(c, Cat("shard ", i, " queue full: users not reloaded there; try again"));
      return;
    }
    WakeShard(i);
  }
  for (const std::string& w : warnings) Log(LogLevel::kWarning, "%s", w);
  std::string json = Cat("{\"ok\":true,\"users\":", (*users)->size(), ",\"warnings\":[");
  for (size_t i = 0; i < warnings.size(); ++i) {
    if (i > 0) json.push_back(',');
    AppendJsonString(warnings[i], &json);
  }
  json.append("]}");
  Log(LogLevel::kInfo, "users file reloaded: %d users", (*users)->size());
  Reply(c, json);
}

void AdminServer::ReloadTls(Client* c) {
  // Certificates renewed on disk take effect without a restart: loaded and
  // checked here; each shard's new connections use the new context, open
  // ones keep theirs. A bad file changes nothing.
  if (config_.tls.empty() && config_.wss.empty()) {
    ReplyError(c, "no TLS listener (--tls, --wss)");
    return;
  }
  absl::StatusOr<std::shared_ptr<const TlsContext>> tls = TlsContext::Load(TlsSettingsOf(config_));
  if (!tls.ok()) {
    Log(LogLevel::kWarning, "TLS files refused, the previous ones stay: %s",
        std::string(tls.status().message()));
    ReplyError(c, Cat("TLS files refused, the previous ones stay: ", std::string(tls.status().message())));
    return;
  }
  for (size_t i = 0; i < shards_.size(); ++i) {
    auto* handle = new std::shared_ptr<const TlsContext>(*tls);
    const AdminHeader header{next_id_++, AdminHeader::kSetTls, false, 0};
    if (!to_shards_[i]->TryPush(HeaderBytes(header),
                                {reinterpret_cast<const char*>(&handle), sizeof(handle)})) {
      delete handle;
      ReplyError(c, Cat("shard ", i, " queue full: TLS not reloaded there; try again"));
      return;
    }
    WakeShard(i);
  }
  Log(LogLevel::kInfo, "TLS certificate reloaded: %s", (*tls)->subject());
  std::string json = "{\"ok\":true,\"subject\":";
  AppendJsonString((*tls)->subject(), &json);
  json.push_back('}');
  Reply(c, json);
}

void AdminServer::WakeShard(size_t shard) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fds_[shard], &one, sizeof(one));
}

size_t AdminServer::HandOffBacklog(size_t shard) const {
  size_t bytes = 0;
  for (const SpscRing* ring : shards_[shard].inboxes) bytes += ring->used_bytes();
  return bytes;
}

std::string AdminServer::StatsJson() const {
  std::string out = Cat("{\"ok\":true,\"uptime_s\":", (MonotonicMs() - started_ms_) / 1000,
                        ",\"shard_count\":", shards_.size(),
                        ",\"admin_malformed_requests\":", malformed_requests_);
  Values total_counters, total_gauges;
  std::array<uint64_t, LatencyHistogram::kBuckets> all{};
  uint64_t all_sum_ns = 0;
  std::string per_shard = "[";
  for (size_t i = 0; i < shards_.size(); ++i) {
    const ShardCounters& c = *shards_[i].counters;
    const Values counters = CounterValues(c);
    const Values gauges = GaugeValues(c);
    AddInto(total_counters, counters);
    AddInto(total_gauges, gauges);
    std::array<uint64_t, LatencyHistogram::kBuckets> mine{};
    c.latency.AddTo(mine);
    c.latency.AddTo(all);
    if (i > 0) per_shard.push_back(',');
    per_shard.append(Cat("{\"shard\":", i, ",\"counters\":"));
    AppendObject(counters, &per_shard);
    per_shard.append(",\"gauges\":");
    AppendObject(gauges, &per_shard);
    per_shard.append(",\"latency\":");
    AppendLatency(mine, c.latency.sum_ns(), &per_shard);
    all_sum_ns += c.latency.sum_ns();
    per_shard.push_back('}');
  }
  per_shard.push_back(']');
  out.append(",\"totals\":{\"counters\":");
  AppendObject(total_counters, &out);
  out.append(",\"gauges\":");
  AppendObject(total_gauges, &out);
  out.append(",\"latency\":");
  AppendLatency(all, all_sum_ns, &out);
  out.append("},\"shards\":");
  out.append(per_shard);
  out.push_back('}');
  return out;
}

std::string AdminServer::ShardsJson() const {
  const uint64_t now = MonotonicMs();
  std::string out = "{\"ok\":true,\"shards\":[";
  for (size_t i = 0; i < shards_.size(); ++i) {
    const ShardCounters& c = *shards_[i].counters;
    if (i > 0) out.push_back(',');
    const uint64_t cpu_ms = c.cpu.Get() / 1000000;
    out.append(Cat("{\"shard\":", i, ",\"cpu_seconds\":", cpu_ms / 1000, ".",
                   static_cast<char>('0' + cpu_ms / 100 % 10), static_cast<char>('0' + cpu_ms / 10 % 10),
                   static_cast<char>('0' + cpu_ms % 10),
                   ",\"requests_received\":", c.requests_received.Get(),
                   ",\"handed_off\":", c.handed_off.Get(), ",\"aors\":", c.aors.Get(),
                   ",\"bindings\":", c.bindings.Get(), ",\"tcp_connections\":", c.tcp_open.Get(),
                   ",\"heartbeat_age_ms\":", now > c.heartbeat_ms.Get() ? now - c.heartbeat_ms.Get() : 0,
                   ",\"handoff_queue_bytes\":", HandOffBacklog(i),
                   ",\"admin_queue_bytes\":", to_shards_[i]->used_bytes(), "}"));
  }
  out.append("]}");
  return out;
}

std::string AdminServer::HealthJson(bool* healthy) const {
  // A shard whose loop has not turned for 2 s is stuck (it turns at least
  // every 100 ms when idle).
  const uint64_t now = MonotonicMs();
  std::vector<size_t> stalled;
  for (size_t i = 0; i < shards_.size(); ++i) {
    const uint64_t beat = shards_[i].counters->heartbeat_ms.Get();
    if (beat == 0 || now > beat + 2000) stalled.push_back(i);
  }
  *healthy = stalled.empty();
  if (*healthy) return Cat("{\"ok\":true,\"status\":\"ok\",\"shards\":", shards_.size(), "}");
  std::vector<std::string> names;
  for (size_t i : stalled) names.push_back(std::to_string(i));
  return Cat("{\"ok\":false,\"status\":\"stalled\",\"error\":\"shards not turning: ", Join(names, ", "),
             "\",\"stalled\":[", Join(names, ","), "]}");
}

}  // namespace locus::engine
