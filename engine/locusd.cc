// locusd: the registrar daemon. Reads the configuration (embedded defaults,
// then --config FILE, then flags), starts the shards, and runs until SIGINT or
// SIGTERM. Exit codes: 0 after a clean stop, 1 when start-up failed (e.g. a
// port in use), 2 for an invalid configuration.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/admin/health.h"
#include "engine/admin/service_notify.h"
#include "engine/clock.h"
#include "engine/command_line.h"
#include "engine/text.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "engine/log.h"
#include "engine/transport/tls_context.h"

namespace locus::engine {
namespace {

[[noreturn]] void ConfigError(std::string_view message) {
  std::fprintf(stderr, "locusd: invalid configuration: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(2);
}

Config LoadConfig(const CommandLine& command_line) {
  Config config = Config::Defaults();
  if (!command_line.config_file.empty()) {
    if (absl::Status status = ApplyJsonFile(command_line.config_file, &config); !status.ok()) {
      ConfigError(std::string(status.message()));
    }
  }
  for (const auto& [name, value] : command_line.settings) {
    if (absl::Status status = ApplySetting(name, value, &config); !status.ok()) {
      ConfigError(Cat("--", std::string(status.message())));
    }
  }
  if (absl::Status status = ValidateConfig(config); !status.ok()) {
    ConfigError(std::string(status.message()));
  }
  return config;
}

std::string Listening(const Config& config) {
  std::vector<std::string> parts;
  for (const Endpoint& e : config.udp) parts.push_back(Cat("udp ", e.ToString()));
  for (const Endpoint& e : config.tcp) parts.push_back(Cat("tcp ", e.ToString()));
  for (const Endpoint& e : config.tls) parts.push_back(Cat("tls ", e.ToString()));
  for (const Endpoint& e : config.ws) parts.push_back(Cat("ws ", e.ToString()));
  for (const Endpoint& e : config.wss) parts.push_back(Cat("wss ", e.ToString()));
  return Join(parts, ", ");
}

// Every stream connection holds a descriptor: the soft limit on open files
// is raised to the hard one, and a hard limit below what the configured
// connections need is worth a warning.
void RaiseOpenFileLimit(const Config& config, int shards) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  const uint64_t wanted = static_cast<uint64_t>(config.max_tcp_connections) * shards;
  const bool streams = !config.tcp.empty() || !config.tls.empty() || !config.ws.empty() ||
                       !config.wss.empty();
  if (streams && limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) {
    Log(LogLevel::kWarning,
        "open files limited to %d: fewer than max_tcp_connections (%d) on each of %d shards; "
        "raise the limit (LimitNOFILE=, ulimit -n) or lower max_tcp_connections",
        static_cast<uint64_t>(limit.rlim_max), config.max_tcp_connections, shards);
  }
}

// Waits for SIGINT or SIGTERM and returns it. Meanwhile, when systemd asked
// for a watchdog, tells it WATCHDOG=1 every half period while every shard's
// loop turns (a stalled shard lets the watchdog fire).
int WaitForStop(const Engine& engine, const sigset_t& signals, ServiceNotifier& notifier) {
  const uint64_t period_ms = notifier.watchdog_period_ms();
  if (period_ms == 0) {
    int received = 0;
    sigwait(&signals, &received);
    return received;
  }
  std::vector<const ShardCounters*> shards;
  for (int i = 0; i < engine.shard_count(); ++i) shards.push_back(&engine.shard(i).counters());
  for (;;) {
    if (StalledShards(shards, MonotonicMs()).empty()) notifier.Watchdog();
    const timespec timeout{static_cast<time_t>(period_ms / 1000),
                           static_cast<long>(period_ms % 1000) * 1000000};
    const int received = sigtimedwait(&signals, nullptr, &timeout);
    if (received > 0) return received;
  }
}

int Main(int argc, char** argv) {
  const absl::StatusOr<CommandLine> command_line = ParseCommandLine(argc, argv);
  if (!command_line.ok()) ConfigError(std::string(command_line.status().message()));
  if (command_line->help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  if (command_line->version) {
    std::printf("locusd %s\n", LOCUS_VERSION);
    return 0;
  }
  const Config config = LoadConfig(*command_line);
  SetLogLevel(config.log_level);
  SetLogFormat(config.log_format);

  // Signals are taken by this thread alone (sigwait); the shard threads
  // inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Engine engine(config);
  if (absl::Status status = engine.Start(); !status.ok()) {
    if (absl::IsInvalidArgument(status)) ConfigError(std::string(status.message()));
    Log(LogLevel::kError, "cannot start: %s", std::string(status.message()));
    return 1;
  }
  RaiseOpenFileLimit(config, engine.shard_count());
  const Shard& first = engine.shard(0);
  Log(LogLevel::kInfo, "locusd %s listening on %s; %d shard%s (%s receive, %s hand-offs)",
      config.server, Listening(config), engine.shard_count(), engine.shard_count() == 1 ? "" : "s",
      first.multishot() ? "multishot recvmsg" : "plain recvmsg",
      first.uses_msg_ring() ? "MSG_RING" : "eventfd");
  if (!config.tls.empty() || !config.wss.empty()) {
    Log(LogLevel::kInfo,
        "TLS 1.2-1.3 through OpenSSL memory BIOs over io_uring (kernel TLS %s); client "
        "certificates: %s",
        TlsContext::KernelTlsAvailable() ? "available in this kernel, not used by this data path"
                                         : "not in this kernel",
        config.tls_verify_client);
  }
  if (config.domains.empty()) {
    Log(LogLevel::kWarning, "serving any domain: set --domains to accept only your own");
  }
  Log(LogLevel::kInfo, "memory budget: %u AORs, %u bindings%s", EffectiveMaxAors(config),
      EffectiveMaxBindings(config),
      config.max_bindings == 0 ? " (from the machine's memory; set --max_aors, --max_bindings)" : "");
  Log(LogLevel::kDebug, "configuration: %s", ConfigToJson(config));

  ServiceNotifier notifier;
  notifier.Ready(Cat("listening on ", Listening(config), "; ", engine.shard_count(), " shards"));
  const int received = WaitForStop(engine, signals, notifier);
  notifier.Stopping();
  Log(LogLevel::kInfo, "%s: draining and stopping", received == SIGINT ? "SIGINT" : "SIGTERM");
  engine.Stop();
  for (int i = 0; i < engine.shard_count(); ++i) {
    const ShardCounters& c = engine.shard(i).counters();
    Log(LogLevel::kInfo,
        "shard %d: received=%d handed_off=%d answered=%d retransmissions=%d parse_errors=%d "
        "overflows=%d",
        i, c.requests_received.Get(), c.handed_off.Get(), c.answered.Get(),
        c.retransmissions.Get(), c.parse_errors.Get(), c.overflows.Get());
  }
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace locus::engine

int main(int argc, char** argv) { return locus::engine::Main(argc, argv); }
