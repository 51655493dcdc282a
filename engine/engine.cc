#include "engine/engine.h"

#include <pthread.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <latch>
#include <optional>
#include <random>

#include "engine/auth/nonce_service.h"
#include "engine/auth/user_db.h"
#include "engine/file_util.h"
#include "engine/log.h"
#include "engine/text.h"
#include "engine/transport/listen_socket.h"
#include "engine/transport/tls_context.h"

namespace locus::engine {

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

namespace {

// A seed as an IP literal: a shard never waits on DNS, so names are
// resolved here, once, at start.
absl::StatusOr<cluster::NodeAddress> ResolveSeed(std::string_view seed) {
  std::optional<cluster::NodeAddress> node = cluster::ParseNodeAddress(seed);
  if (!node) return absl::InvalidArgumentError(Cat("cluster: \"", seed, "\" is not host:port"));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int r = getaddrinfo(node->host.c_str(), nullptr, &hints, &found); r != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        Cat("cluster: cannot resolve \"", node->host, "\": ", gai_strerror(r)));
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (found->ai_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr, text, sizeof text);
  }
  freeaddrinfo(found);
  node->host = text;
  return *node;
}

}  // namespace

Engine::Engine(Config config) : config_(std::move(config)) {}

Engine::~Engine() { Stop(); }

absl::Status Engine::PrepareDurability() {
  if (!config_.cluster.empty()) {
    // Cluster mode (docs/cluster.md): Redis keeps the state, no journal.
    ClusterRequests::Options options;
    for (const std::string& seed : config_.cluster) {
      absl::StatusOr<cluster::NodeAddress> resolved = ResolveSeed(seed);
      if (!resolved.ok()) return resolved.status();
      options.seeds.push_back(*resolved);
    }
    options.replica_acks = config_.cluster_ack == "replicas" ? 1 : 0;
    Log(LogLevel::kInfo, "cluster mode: AOR states in Redis at %s, a 200 once %s took the change",
        Join(config_.cluster, ","), options.replica_acks > 0 ? "a replica" : "the master");
    for (auto& shard : shards_) shard->SetCluster(options);
    return absl::OkStatus();
  }
  if (config_.durability == DurabilityMode::kOff) {
    Log(LogLevel::kWarning, "durability off: bindings are lost when locusd stops (--durability)");
    return absl::OkStatus();
  }
  if (absl::Status s = generations_.Prepare(config_, static_cast<int>(shards_.size()),
                                            [this](int shard) -> store::BindingTable& {
                                              return shards_[static_cast<size_t>(shard)]->table();
                                            });
      !s.ok()) {
    return s;
  }
  for (auto& shard : shards_) shard->SetDurableStart(generations_.start());
  return absl::OkStatus();
}

absl::Status Engine::Start() {
  for (const Endpoint& at : config_.udp) {
    if (absl::Status s = CheckAddressFree(at, SOCK_DGRAM); !s.ok()) return s;
  }
  for (const std::vector<Endpoint>* addresses : {&config_.tcp, &config_.tls, &config_.ws, &config_.wss}) {
    for (const Endpoint& at : *addresses) {
      if (absl::Status s = CheckAddressFree(at, SOCK_STREAM); !s.ok()) return s;
    }
  }
  // TLS: the certificate and key must load before anything listens.
  std::shared_ptr<const TlsContext> tls;
  if (!config_.tls.empty() || !config_.wss.empty()) {
    absl::StatusOr<std::shared_ptr<const TlsContext>> loaded =
        TlsContext::Load(TlsSettingsOf(config_));
    if (!loaded.ok()) return absl::InvalidArgumentError(std::string(loaded.status().message()));
    tls = *loaded;
    Log(LogLevel::kInfo, "TLS certificate %s", tls->subject());
  }
  const std::vector<int> cpus = AllowedCpus();
  const int n = config_.shards > 0 ? config_.shards : static_cast<int>(cpus.size());
  std::random_device random;
  const uint64_t tag_seed = (static_cast<uint64_t>(random()) << 32) ^ random();
  for (int i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>(i, n, config_, tag_seed));
  }
  rings_.resize(static_cast<size_t>(n * n));
  for (int from = 0; from < n; ++from) {
    for (int to = 0; to < n; ++to) {
      if (from != to) {
        rings_[static_cast<size_t>(from * n + to)] =
            std::make_unique<SpscRing>(config_.handoff_ring_size);
      }
    }
  }
  std::vector<HandOff*> peers;
  for (auto& s : shards_) peers.push_back(&s->handoff());
  std::vector<AdminServer::ShardView> views(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::vector<SpscRing*> inboxes(static_cast<size_t>(n)), outboxes(static_cast<size_t>(n));
    for (int j = 0; j < n; ++j) {
      inboxes[static_cast<size_t>(j)] = rings_[static_cast<size_t>(j * n + i)].get();
      outboxes[static_cast<size_t>(j)] = rings_[static_cast<size_t>(i * n + j)].get();
      if (j != i) views[static_cast<size_t>(i)].inboxes.push_back(inboxes[static_cast<size_t>(j)]);
    }
    shards_[static_cast<size_t>(i)]->handoff().Connect(peers, inboxes, outboxes);
    views[static_cast<size_t>(i)].counters = &shards_[static_cast<size_t>(i)]->counters();
  }
  admin_ = std::make_unique<AdminServer>(config_, std::move(views));
  for (size_t i = 0; i < shards_.size(); ++i) {
    shards_[i]->admin().Connect(admin_->to_shard(i), admin_->from_shard(i), admin_->notify_fd(),
                                admin_->wake_fd(i));
  }
  // Message copies: HEP export (fixed now) and trace subscribers (later).
  admin_->trace_switch().SetHep(!config_.hep.empty());
  for (size_t i = 0; i < shards_.size(); ++i) {
    MessageTap& tap = shards_[i]->tap();
    tap.Connect(&admin_->trace_switch(), admin_->trace_ring(i), admin_->notify_fd());
    if (absl::Status s = tap.Open(); !s.ok()) return s;
    shards_[i]->admin().SetTap(&tap);
  }
  // The admin thread runs from here on, so that the HTTP endpoint answers
  // /ready (503) while the bindings are restored; the admin socket opens
  // once the shards run.
  if (config_.http.valid()) {
    if (absl::Status s = admin_->OpenHttp(config_.http); !s.ok()) return s;
  }
  admin_thread_ = std::thread([this] { admin_->Run(); });

  // The server secret (nonces, temp-gruus), the TLS context and the users,
  // before any shard runs.
  absl::StatusOr<std::string> secret = LoadOrCreateServerSecret(config_);
  if (!secret.ok()) {
    Stop();
    return secret.status();
  }
  for (auto& s : shards_) {
    s->SetServerSecret(*secret);
    if (tls != nullptr) s->SetTlsContext(tls);
  }
  std::shared_ptr<const UserDb> users;
  if (config_.auth) {
    nonces_ = std::make_unique<NonceService>(*secret, config_.nonce_lifetime);
    failures_ = std::make_unique<FailureTable>(config_.auth_failure_window);
    std::vector<std::string> warnings;
    absl::StatusOr<std::shared_ptr<const UserDb>> loaded =
        UserDb::Load(config_.users_file, config_.AuthRealm(), &warnings);
    if (!loaded.ok()) {
      Stop();
      return absl::InvalidArgumentError(std::string(loaded.status().message()));
    }
    for (const std::string& w : warnings) Log(LogLevel::kWarning, "%s", w);
    users = *loaded;
    Log(LogLevel::kInfo, "authentication on: realm \"%s\", %d users, algorithms %s, nonces valid %d s",
        config_.AuthRealm(), users->size(), Join(config_.auth_algorithms, ", "), config_.nonce_lifetime);
  } else {
    Log(LogLevel::kWarning, "authentication off: any client may register any AOR (--auth, --users_file)");
  }
  if (config_.auth) {
    for (auto& s : shards_) s->EnableAuth(nonces_.get(), failures_.get(), users);
  }
  if (absl::Status s = PrepareDurability(); !s.ok()) {
    Stop();
    return s;
  }

  // Each shard opens its ring on its own thread (SINGLE_ISSUER), then waits
  // until all have opened, so that no shard hands off to a ring not yet made.
  opened_ = std::make_unique<std::latch>(n);
  go_ = std::make_unique<std::latch>(1);
  std::vector<absl::Status> statuses(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([&statuses, &cpus, i, this] {
      Shard& shard = *shards_[static_cast<size_t>(i)];
      const int cpu = cpus[static_cast<size_t>(i) % cpus.size()];
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      const absl::Status status = shard.Open();
      if (!status.ok()) start_failed_.store(true);
      statuses[static_cast<size_t>(i)] = status;  // read by Start() after opened_
      opened_->count_down();
      go_->wait();
      if (!start_failed_.load()) shard.Run();
    });
  }
  opened_->wait();
  // With a new generation written by every shard, switch to it before any
  // request is processed (ARCHITECTURE section 6: sockets open after the
  // state is restored; requests wait in them until the shards run).
  absl::Status durable = absl::OkStatus();
  if (!start_failed_.load()) {
    durable = generations_.Commit();
    if (!durable.ok()) start_failed_.store(true);
  }
  go_->count_down();
  for (const absl::Status& status : statuses) {
    if (!status.ok()) {
      Stop();
      return status;
    }
  }
  if (!durable.ok()) {
    Stop();
    return durable;
  }
  // The admin socket, under the data directory unless configured elsewhere.
  const std::string socket_path = config_.AdminSocketPath();
  if (absl::Status s = MakeDirectories(socket_path.substr(0, socket_path.rfind('/') + 1)); !s.ok()) {
    Stop();
    return s;
  }
  if (absl::Status s = admin_->Open(socket_path); !s.ok()) {
    Stop();
    return s;
  }
  admin_->SetReady();
  return absl::OkStatus();
}

void Engine::Stop() {
  // Draining shows on /ready while the shards finish; the admin thread
  // stops after them.
  if (admin_ != nullptr) admin_->SetStopping();
  for (auto& s : shards_) s->RequestStop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  if (admin_ != nullptr) admin_->RequestStop();
  if (admin_thread_.joinable()) admin_thread_.join();
}

}  // namespace locus::engine
