#include "engine/engine.h"

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <dirent.h>

#include <cstring>
#include <fstream>

#include <random>
#include <latch>

#include "engine/log.h"
#include "engine/text.h"
#include "engine/clock.h"
#include "engine/user_db.h"
#include "store/aor_hash.h"
#include "store/durable_files.h"
#include "store/journal_record.h"
#include "parser/scan.h"

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

Engine::Engine(Config config) : config_(std::move(config)) {}

Engine::~Engine() { Stop(); }

// SO_REUSEPORT would let a second locusd (same user) silently share the
// port with a running one, each seeing part of the traffic. A bind without
// SO_REUSEPORT fails when anyone holds the address, so probe first.
absl::Status CheckAddressFree(const Endpoint& at, int type) {
  const int fd = socket(at.family(), type | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(Cat("socket: ", std::strerror(errno)));
  const int one = 1;
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (at.is_v6()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  const int result = bind(fd, at.addr(), at.len());
  const int error = errno;
  close(fd);
  if (result != 0) {
    return absl::UnavailableError(Cat(type == SOCK_DGRAM ? "udp " : "tcp ", at.ToString(), ": ",
                                      std::strerror(error)));
  }
  return absl::OkStatus();
}

// mkdir -p: every missing directory of `path`, mode 0750.
absl::Status MakeDirectories(const std::string& path) {
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    const std::string prefix = path.substr(0, at);
    if (mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return absl::InternalError(Cat("mkdir ", prefix, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// The nonce secret: configured, or 32 random bytes kept (hex, mode 0600) in
// <data_dir>/auth.secret so that nonces survive a restart.
absl::StatusOr<std::string> LoadOrCreateSecret(const Config& config) {
  std::string hex = config.auth_secret;
  if (hex.empty()) {
    const std::string path = config.data_dir + "/auth.secret";
    if (absl::Status s = MakeDirectories(config.data_dir + "/"); !s.ok()) return s;
    std::ifstream in(path);
    if (in) {
      in >> hex;
      if (hex.size() != 64) return absl::InvalidArgumentError(Cat(path, ": not 64 hex digits"));
    } else {
      unsigned char raw[32];
      if (!RandomBytes(raw, sizeof(raw))) return absl::InternalError("no random bytes for the nonce secret");
      static constexpr char kHex[] = "0123456789abcdef";
      for (unsigned char b : raw) {
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 0xF]);
      }
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return absl::InternalError(Cat("cannot create ", path, ": ", std::strerror(errno)));
      const std::string line = hex + "\n";
      const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      close(fd);
      if (!written) return absl::InternalError(Cat("cannot write ", path));
      Log(LogLevel::kInfo, "made a new nonce secret in %s", path);
    }
  }
  std::string secret;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int high = sip::HexValue(hex[i]);
    const int low = sip::HexValue(hex[i + 1]);
    if (high < 0 || low < 0) return absl::InvalidArgumentError("the nonce secret is not hex");
    secret.push_back(static_cast<char>(high * 16 + low));
  }
  return secret;
}

absl::Status Engine::PrepareDurability() {
  if (config_.durability == DurabilityMode::kOff) {
    Log(LogLevel::kWarning, "durability off: bindings are lost when locusd stops (--durability)");
    return absl::OkStatus();
  }
  const std::string dir = config_.BindingsDir();
  if (absl::Status s = MakeDirectories(dir + "/"); !s.ok()) return s;
  absl::StatusOr<std::optional<store::Generation>> current = store::ReadCurrent(dir);
  if (!current.ok()) return current.status();
  const int n = static_cast<int>(shards_.size());
  uint64_t generation = 1;
  bool load_own_files = true;
  if (!current->has_value()) {
    // A fresh directory: generation 1 for this shard count.
    if (absl::Status s = MakeDirectories(store::GenerationDir(dir, 1) + "/"); !s.ok()) return s;
    if (absl::Status s = store::WriteCurrent(dir, {1, n}); !s.ok()) return s;
  } else if ((*current)->shards == n) {
    generation = (*current)->number;
  } else {
    // The shard count changed: every AOR may belong to another shard now.
    // Load the old generation into the new shards' tables by owner; each
    // shard writes its part as the new generation's first snapshot.
    const uint64_t started_ns = MonotonicNs();
    const uint32_t now = WallSeconds();
    old_generation_ = (*current)->number;
    generation = new_generation_ = old_generation_ + 1;
    const std::string old_dir = store::GenerationDir(dir, old_generation_);
    const std::string new_dir = store::GenerationDir(dir, generation);
    if (absl::Status s = store::RemoveGeneration(new_dir); !s.ok()) return s;  // a crashed attempt
    if (absl::Status s = MakeDirectories(new_dir + "/"); !s.ok()) return s;
    uint64_t records = 0;
    for (int old_shard = 0; old_shard < (*current)->shards; ++old_shard) {
      absl::StatusOr<store::ShardFiles> files = store::ListShardFiles(old_dir, old_shard);
      if (!files.ok()) return files.status();
      absl::StatusOr<store::LoadStats> stats = store::LoadShard(
          old_dir, old_shard, *files, /*repair=*/false,
          [&](std::string_view aor, std::vector<store::Binding>&& bindings) {
            Shard& owner = *shards_[static_cast<size_t>(store::OwnerShardOf(aor, n))];
            store::ApplyAorState(owner.table(), aor, std::move(bindings), now);
          });
      if (!stats.ok()) return stats.status();
      if (stats->damaged) {
        Log(LogLevel::kWarning, "%s is damaged at byte %d: restored the records before it",
            stats->damaged_file, stats->damaged_offset);
      }
      records += stats->records;
    }
    Log(LogLevel::kInfo, "shard count changed from %d to %d: read %d records of generation %d in %d ms",
        (*current)->shards, n, records, old_generation_, (MonotonicNs() - started_ns) / 1000000);
    load_own_files = false;
  }
  // Other generation directories are leftovers of an interrupted change.
  if (DIR* d = opendir(dir.c_str())) {
    std::vector<std::string> stale;
    while (dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name.starts_with("gen-") && name != Cat("gen-", generation) &&
          name != Cat("gen-", old_generation_)) {
        stale.push_back(dir + "/" + name);
      }
    }
    closedir(d);
    for (const std::string& path : stale) {
      if (absl::Status s = store::RemoveGeneration(path); !s.ok()) return s;
    }
  }
  for (auto& shard : shards_) {
    shard->SetDurableStart({store::GenerationDir(dir, generation), load_own_files});
  }
  return absl::OkStatus();
}

absl::Status Engine::CommitGeneration() {
  if (new_generation_ == 0) return absl::OkStatus();
  const std::string dir = config_.BindingsDir();
  if (absl::Status s = store::WriteCurrent(dir, {new_generation_, static_cast<int>(shards_.size())});
      !s.ok()) {
    return s;
  }
  Log(LogLevel::kInfo, "generation %d (%d shards) is current; generation %d deleted", new_generation_,
      shards_.size(), old_generation_);
  return store::RemoveGeneration(store::GenerationDir(dir, old_generation_));
}

absl::Status Engine::Start() {
  for (const Endpoint& at : config_.udp) {
    if (absl::Status s = CheckAddressFree(at, SOCK_DGRAM); !s.ok()) return s;
  }
  for (const Endpoint& at : config_.tcp) {
    if (absl::Status s = CheckAddressFree(at, SOCK_STREAM); !s.ok()) return s;
  }
  // Authentication: the nonce secret and the users, before any shard runs.
  std::shared_ptr<const UserDb> users;
  if (config_.auth) {
    absl::StatusOr<std::string> secret = LoadOrCreateSecret(config_);
    if (!secret.ok()) return secret.status();
    nonces_ = std::make_unique<NonceService>(*secret, config_.nonce_lifetime);
    failures_ = std::make_unique<FailureTable>(config_.auth_failure_window);
    std::vector<std::string> warnings;
    absl::StatusOr<std::shared_ptr<const UserDb>> loaded =
        UserDb::Load(config_.users_file, config_.AuthRealm(), &warnings);
    if (!loaded.ok()) return absl::InvalidArgumentError(std::string(loaded.status().message()));
    for (const std::string& w : warnings) Log(LogLevel::kWarning, "%s", w);
    users = *loaded;
    Log(LogLevel::kInfo, "authentication on: realm \"%s\", %d users, algorithms %s, nonces valid %d s",
        config_.AuthRealm(), users->size(), Join(config_.auth_algorithms, ", "), config_.nonce_lifetime);
  } else {
    Log(LogLevel::kWarning, "authentication off: any client may register any AOR (--auth, --users_file)");
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
  std::vector<Shard*> peers;
  for (auto& s : shards_) peers.push_back(s.get());
  for (int i = 0; i < n; ++i) {
    std::vector<SpscRing*> inboxes(static_cast<size_t>(n)), outboxes(static_cast<size_t>(n));
    for (int j = 0; j < n; ++j) {
      inboxes[static_cast<size_t>(j)] = rings_[static_cast<size_t>(j * n + i)].get();
      outboxes[static_cast<size_t>(j)] = rings_[static_cast<size_t>(i * n + j)].get();
    }
    shards_[static_cast<size_t>(i)]->Connect(peers, inboxes, outboxes);
  }
  if (config_.auth) {
    for (auto& s : shards_) s->EnableAuth(nonces_.get(), failures_.get(), users);
  }
  if (absl::Status s = PrepareDurability(); !s.ok()) return s;
  admin_ = std::make_unique<AdminServer>(config_, peers);
  for (int i = 0; i < n; ++i) {
    shards_[static_cast<size_t>(i)]->ConnectAdmin(admin_->to_shard(static_cast<size_t>(i)),
                                                  admin_->from_shard(static_cast<size_t>(i)),
                                                  admin_->notify_fd());
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
    durable = CommitGeneration();
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
  admin_thread_ = std::thread([this] { admin_->Run(); });
  return absl::OkStatus();
}

void Engine::Stop() {
  if (admin_ != nullptr) admin_->RequestStop();
  if (admin_thread_.joinable()) admin_thread_.join();
  for (auto& s : shards_) s->RequestStop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace locus::engine
