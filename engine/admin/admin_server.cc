#include "engine/admin/admin_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "engine/admin/admin_channel.h"
#include "engine/admin/binding_json.h"
#include "engine/admin/health.h"
#include "engine/admin/metrics.h"
#include "engine/trace/message_tap.h"
#include "engine/trace/trace_record.h"
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
constexpr size_t kTraceRingBytes = 1 << 20;  // a shard's trace copies (rate-bounded)
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
  bool tracing = false;  // a trace subscriber: gets trace lines until it goes
  TraceFilter trace_filter;
  uint64_t trace_skipped = 0;  // lines not sent (it read too slowly), not yet announced
  bool closed = false;

  bool busy() const { return waiting_id != 0 || dumping || tracing; }
};

AdminServer::AdminServer(const Config& config, std::vector<ShardView> shards)
    : config_(config), shards_(std::move(shards)) {
  for (size_t i = 0; i < shards_.size(); ++i) {
    to_shards_.push_back(std::make_unique<SpscRing>(kAdminRingBytes));
    from_shards_.push_back(std::make_unique<SpscRing>(kAdminRingBytes));
    wake_fds_.push_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    trace_rings_.push_back(std::make_unique<SpscRing>(kTraceRingBytes));
  }
  filters_pending_.assign(shards_.size(), false);
  notify_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  started_ms_ = MonotonicMs();
}

AdminServer::~AdminServer() {
  http_.reset();
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
  // The admin thread may be running already (serving HTTP): it takes the
  // socket once it sees listening_.
  listening_.store(true, std::memory_order_release);
  WakeSelf();
  return absl::OkStatus();
}

absl::Status AdminServer::OpenHttp(const Endpoint& at) {
  http_ = std::make_unique<HttpEndpoint>(static_cast<HttpEndpoint::Backend&>(*this));
  return http_->Open(at);
}

void AdminServer::SetReady() {
  phase_.store(kReady, std::memory_order_release);
}

void AdminServer::SetStopping() { phase_.store(kStopping, std::memory_order_release); }

void AdminServer::WakeSelf() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(notify_fd_, &one, sizeof(one));
}

void AdminServer::RequestStop() {
  stop_.store(true, std::memory_order_release);
  WakeSelf();
}

void AdminServer::Run() {
  // Slots 0-2: the admin socket (-1, ignored by poll, until it is open),
  // the wake-up eventfd, the HTTP endpoint (-1 without one); then clients.
  constexpr size_t kFixed = 3;
  std::vector<pollfd> fds;
  while (!stop_.load(std::memory_order_acquire)) {
    fds.clear();
    fds.push_back({listening_.load(std::memory_order_acquire) ? listen_fd_ : -1, POLLIN, 0});
    fds.push_back({notify_fd_, POLLIN, 0});
    fds.push_back({http_ != nullptr ? http_->poll_fd() : -1, POLLIN, 0});
    for (auto& c : clients_) {
      short events = POLLIN;
      if (!c->out.empty()) events |= POLLOUT;
      fds.push_back({c->fd, events, 0});
    }
    poll(fds.data(), fds.size(), http_ != nullptr ? http_->PollTimeoutMs(100) : 100);
    if (fds[1].revents & POLLIN) {
      uint64_t value;
      [[maybe_unused]] ssize_t n = read(notify_fd_, &value, sizeof(value));
    }
    DrainShards();
    DrainTraces();
    PushTraceFilters();
    // Clients by their poll slot (clients_ only grows during this pass).
    const size_t polled = fds.size() - kFixed;
    for (size_t i = 0; i < polled && i < clients_.size(); ++i) {
      Client* c = clients_[i].get();
      const short revents = fds[i + kFixed].revents;
      if (!c->closed && (revents & (POLLIN | POLLHUP | POLLERR))) ReadFrom(c);
      if (!c->closed && (revents & POLLOUT)) WriteTo(c);
    }
    if (fds[0].revents & POLLIN) Accept();
    if (http_ != nullptr) http_->Run();
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
  if (http_ != nullptr) http_->Close();
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
    if (c->tracing) continue;  // a trace subscriber only listens
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
  if (c->tracing) {
    c->tracing = false;
    trace_switch_.RemoveTracer();
    filters_pending_.assign(shards_.size(), true);
  }
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
  pending_[header.id] = {c, 0, c->waiting_since_ms, shard};
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
  const Waiting waiting = it->second;
  pending_.erase(it);
  if (waiting.http_token != 0) {
    if (http_ != nullptr) {
      http_->Finish(waiting.http_token,
                    {200, "application/json", Cat("{\"ok\":true,", payload.substr(1), "\n")});
    }
    return;
  }
  Client* c = waiting.client;
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
    case AdminHeader::kTraceFilters:
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
    pending_[header.id] = {c, 0, c->waiting_since_ms, c->dump_shard};
    WakeShard(c->dump_shard);
  }
}

void AdminServer::CheckTimeouts() {
  const uint64_t now = MonotonicMs();
  for (auto it = pending_.begin(); it != pending_.end();) {
    const Waiting& w = it->second;
    if (w.http_token == 0 || now - w.since_ms < kShardTimeoutMs) {
      ++it;
      continue;
    }
    if (http_ != nullptr) {
      http_->Finish(w.http_token, {504, "application/json",
                                   Cat("{\"ok\":false,\"error\":\"shard ", w.shard, " did not answer within ",
                                       kShardTimeoutMs, " ms\"}\n")});
    }
    pending_.erase(it++);
  }
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
    Reply(c, Cat("{\"ok\":true,\"version\":\"", LOCUS_VERSION, "\",\"server\":\"", JsonEscape(config_.server), "\"}"));
  } else if (cmd == "health") {
    bool healthy = false;
    Reply(c, HealthJson(&healthy));
  } else if (cmd == "config") {
    Reply(c, Cat("{\"ok\":true,\"config\":", ConfigToJson(config_), "}"));
  } else if (cmd == "stats") {
    Reply(c, StatsJson());
  } else if (cmd == "metrics") {
    std::string json = "{\"ok\":true,\"text\":";
    AppendJsonString(PrometheusText(Counters(), UptimeSeconds()), &json);
    json.push_back('}');
    Reply(c, json);
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
  } else if (cmd == "trace") {
    std::string_view aor, source;
    string_field("aor", &aor);
    string_field("source", &source);
    StartTrace(c, aor, source);
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
                      "' (version, health, config, stats, metrics, shards, lookup, remove, dump, "
                      "trace, reload_users, reload_tls, snapshot)"));
  }
}

void AdminServer::StartTrace(Client* c, std::string_view aor, std::string_view source) {
  // The shards match any tracer's filter; each line is matched again here
  // for its tracer.
  absl::StatusOr<TraceFilter> filter = TraceFilter::Make(aor, source);
  if (!filter.ok()) {
    ReplyError(c, std::string(filter.status().message()));
    return;
  }
  if (Tracers() < kMaxTracers) {
    c->tracing = true;
    c->trace_filter = std::move(*filter);
    trace_switch_.AddTracer();
    filters_pending_.assign(shards_.size(), true);
    PushTraceFilters();
    Reply(c, Cat("{\"ok\":true,\"tracing\":true,\"rate_per_shard\":", MessageTap::kTraceRatePerSecond, "}"));
    return;
  }
  ReplyError(c, Cat("too many traces at once (", kMaxTracers, ")"));
}

size_t AdminServer::Tracers() const {
  size_t n = 0;
  for (const auto& c : clients_) n += c->tracing && !c->closed ? 1 : 0;
  return n;
}

void AdminServer::PushTraceFilters() {
  std::string text;
  bool built = false;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (!filters_pending_[i]) continue;
    if (!built) {
      std::vector<TraceFilter> filters;
      for (const auto& c : clients_) {
        if (c->tracing && !c->closed) filters.push_back(c->trace_filter);
      }
      text = SerializeFilters(filters);
      built = true;
    }
    const AdminHeader header{next_id_++, AdminHeader::kTraceFilters, false, 0};
    if (to_shards_[i]->TryPush(HeaderBytes(header), text)) {  // else: again next turn
      filters_pending_[i] = false;
      WakeShard(i);
    }
  }
}

void AdminServer::DrainTraces() {
  for (auto& ring : trace_rings_) {
    std::string_view bytes;
    while (ring->Peek(&bytes)) {
      TraceRecord record;
      if (DecodeTraceRecord(bytes, &record)) SendTrace(record);
      ring->Pop();
    }
  }
}

void AdminServer::SendTrace(const TraceRecord& record) {
  Endpoint peer;
  char ip_buf[64];
  const std::string_view ip = Endpoint::Parse(record.peer, &peer) ? peer.IpText(ip_buf) : std::string_view();
  std::string line;
  for (auto& owned : clients_) {
    Client* c = owned.get();
    if (!c->tracing || c->closed) continue;
    c->trace_skipped += record.dropped_before;
    if (!c->trace_filter.Matches(record.aor, ip)) continue;
    // A slow reader misses lines (counted, then announced) rather than
    // growing its buffer or being cut off.
    if (c->out.size() > kTracePauseOutput) {
      ++c->trace_skipped;
      continue;
    }
    if (c->trace_skipped > 0) {
      c->out.append(Cat("{\"dropped\":", c->trace_skipped, "}\n"));
      c->trace_skipped = 0;
    }
    if (line.empty()) line = TraceRecordJson(record);
    c->out.append(line);
    c->out.push_back('\n');
    WriteTo(c);
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
    const AdminHeader header{next_id_++, AdminHeader::kSetUsers, false, 0};
    if (!PushShared(*to_shards_[i], header, *users)) {
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
    const AdminHeader header{next_id_++, AdminHeader::kSetTls, false, 0};
    if (!PushShared(*to_shards_[i], header, *tls)) {
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

std::vector<const ShardCounters*> AdminServer::Counters() const {
  std::vector<const ShardCounters*> counters;
  for (const ShardView& view : shards_) counters.push_back(view.counters);
  return counters;
}

uint64_t AdminServer::UptimeSeconds() const { return (MonotonicMs() - started_ms_) / 1000; }

std::string AdminServer::StatsJson() const {
  return engine::StatsJson(Counters(), UptimeSeconds(), malformed_requests_);
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
                   ",\"admin_queue_bytes\":", to_shards_[i]->used_bytes(), ClusterStatsJson(c), "}"));
  }
  out.append("]}");
  return out;
}

std::string AdminServer::ClusterStatsJson(const ShardCounters& c) const {
  if (config_.cluster.empty()) return {};
  const uint64_t state = c.cluster_state.Get();
  return Cat(",\"cluster\":{\"state\":\"", state == ShardCounters::kClusterUp ? "up" : "down",
             "\",\"masters\":", c.cluster_masters.Get(), ",\"slots_reachable\":", c.cluster_slots_reachable.Get(),
             ",\"waiting\":", c.cluster_waiting.Get(), ",\"commits_in_flight\":", c.cluster_commits_in_flight.Get(),
             ",\"commits\":", c.cluster_commits.Get(), ",\"conflicts\":", c.cluster_conflicts.Get(),
             ",\"turn_waits\":", c.cluster_turn_waits.Get(),
             ",\"failures\":", c.cluster_failures.Get(), ",\"reads\":", c.cluster_reads.Get(),
             ",\"invalidations\":", c.cluster_invalidations.Get(), "}");
}

std::string AdminServer::HealthJson(bool* healthy) const {
  const std::vector<size_t> stalled = StalledShards(Counters(), MonotonicMs());
  *healthy = stalled.empty();
  if (*healthy && !config_.cluster.empty()) {
    // Cluster mode: Redis unreachable from a shard means its REGISTERs are
    // answered 500 and its lookups come from the cache.
    std::vector<std::string> down;
    uint64_t reachable = UINT64_MAX;
    for (size_t i = 0; i < shards_.size(); ++i) {
      const ShardCounters& c = *shards_[i].counters;
      if (c.cluster_state.Get() != ShardCounters::kClusterUp) down.push_back(std::to_string(i));
      reachable = std::min<uint64_t>(reachable, c.cluster_slots_reachable.Get());
    }
    if (!down.empty()) {
      *healthy = false;
      return Cat("{\"ok\":false,\"status\":\"degraded\",\"error\":\"Redis not reachable from shards ",
                 Join(down, ", "), ": REGISTERs answered 500, lookups from the cache\",\"cluster\":{\"down\":[",
                 Join(down, ","), "],\"slots_reachable\":", reachable, "}}");
    }
    return Cat("{\"ok\":true,\"status\":\"ok\",\"shards\":", shards_.size(),
               ",\"cluster\":{\"slots_reachable\":", reachable, "}}");
  }
  if (*healthy) return Cat("{\"ok\":true,\"status\":\"ok\",\"shards\":", shards_.size(), "}");
  std::vector<std::string> names;
  for (size_t i : stalled) names.push_back(std::to_string(i));
  return Cat("{\"ok\":false,\"status\":\"stalled\",\"error\":\"shards not turning: ", Join(names, ", "),
             "\",\"stalled\":[", Join(names, ","), "]}");
}

HttpEndpoint::Reply AdminServer::Metrics() {
  return {200, std::string(kPrometheusContentType), PrometheusText(Counters(), UptimeSeconds())};
}

HttpEndpoint::Reply AdminServer::Health() {
  // As the admin `health`; before the shards run, and while they drain, the
  // reason is that instead.
  const int phase = phase_.load(std::memory_order_acquire);
  if (phase != kReady) {
    return {503, "application/json",
            Cat("{\"ok\":false,\"status\":\"", phase == kStarting ? "starting" : "stopping",
                "\",\"error\":\"", phase == kStarting ? "restoring bindings, not listening yet" : "draining",
                "\"}\n")};
  }
  bool healthy = false;
  std::string json = HealthJson(&healthy);
  json.push_back('\n');
  return {healthy ? 200 : 503, "application/json", std::move(json)};
}

HttpEndpoint::Reply AdminServer::Ready() {
  switch (phase_.load(std::memory_order_acquire)) {
    case kReady:
      if (!config_.cluster.empty()) {
        // Cluster mode: a node that cannot reach Redis answers REGISTERs 500.
        for (const ShardView& shard : shards_) {
          if (shard.counters->cluster_state.Get() != ShardCounters::kClusterUp) {
            return {503, "application/json",
                    "{\"ready\":false,\"reason\":\"Redis not reachable from every shard\"}\n"};
          }
        }
      }
      return {200, "application/json", "{\"ready\":true}\n"};
    case kStarting:
      return {503, "application/json",
              "{\"ready\":false,\"reason\":\"restoring bindings, not listening yet\"}\n"};
    default:
      return {503, "application/json", "{\"ready\":false,\"reason\":\"draining\"}\n"};
  }
}

std::optional<HttpEndpoint::Reply> AdminServer::StartLookup(std::string_view aor_text, uint64_t token) {
  auto error = [](int status, std::string_view message) {
    std::string json = "{\"ok\":false,\"error\":";
    AppendJsonString(message, &json);
    json.append("}\n");
    return HttpEndpoint::Reply{status, "application/json", std::move(json)};
  };
  if (phase_.load(std::memory_order_acquire) != kReady) return error(503, "not ready");
  // sip: may be left out of the path (user@host: no scheme before the @).
  std::string text(aor_text);
  if (text.substr(0, text.find('@')).find(':') == std::string::npos) text.insert(0, "sip:");
  sip::Uri uri;
  sip::CanonicalAor aor;
  if (!sip::ParseUri(text, sip::HeaderId::kTo, &uri).ok() || !sip::CanonicalizeAor(uri, &aor).ok()) {
    return error(400, Cat("not a sip or sips URI: ", aor_text));
  }
  const size_t owner =
      static_cast<size_t>(store::OwnerShardOf(aor.view(), static_cast<int>(shards_.size())));
  const AdminHeader header{next_id_++, AdminHeader::kLookup, false, 0};
  if (!to_shards_[owner]->TryPush(HeaderBytes(header), aor.view())) {
    return error(503, "shard queue full, try again");
  }
  pending_[header.id] = {nullptr, token, MonotonicMs(), owner};
  WakeShard(owner);
  return std::nullopt;
}

}  // namespace locus::engine
