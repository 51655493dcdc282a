// The set of shards of one locusd: creates them and the hand-off rings
// between every pair, prepares their durable state, runs each on its own
// pinned thread, runs the admin thread, and stops them all.
#ifndef LOCUS_ENGINE_ENGINE_H_
#define LOCUS_ENGINE_ENGINE_H_

#include <atomic>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "engine/admin/admin_server.h"
#include "engine/auth/authenticator.h"
#include "engine/durability/generations.h"
#include "engine/config.h"
#include "engine/shard.h"
#include "engine/spsc_ring.h"

namespace locus::engine {

class Engine {
 public:
  explicit Engine(Config config);
  ~Engine();

  // Starts one thread per shard, each pinned to one of the CPUs this process
  // may use, and returns once every shard has opened its ring and sockets
  // (or the first error; then every shard is stopped again).
  absl::Status Start();
  // Errors: InvalidArgument for configuration problems found at start-up
  // (an unreadable users file), others for the system (a port in use).
  // Asks every shard to stop and waits for them.
  void Stop();

  const Config& config() const { return config_; }
  int shard_count() const { return static_cast<int>(shards_.size()); }
  const Shard& shard(int i) const { return *shards_[static_cast<size_t>(i)]; }
  const AdminServer& admin() const { return *admin_; }

 private:
  // Picks the generation of the bindings directory, loads the old one into
  // the shards' tables when the shard count changed, and tells each shard
  // how to start.
  absl::Status PrepareDurability();

  Config config_;
  std::vector<std::unique_ptr<Shard>> shards_;
  GenerationPlan generations_;
  std::vector<std::unique_ptr<SpscRing>> rings_;  // [from * n + to]
  std::vector<std::thread> threads_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<NonceService> nonces_;  // with --auth; shared read-only by the shards
  std::unique_ptr<FailureTable> failures_;  // with --auth; shared by the shards (atomics)
  std::thread admin_thread_;
  // Start-up handshake (shards outlive Start(), so these are members).
  std::unique_ptr<std::latch> opened_;
  std::unique_ptr<std::latch> go_;
  std::atomic<bool> start_failed_{false};
};

// CPUs this process may run on (sched_getaffinity), in order.
std::vector<int> AllowedCpus();

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ENGINE_H_
