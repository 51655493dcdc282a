// locusd: the registrar daemon. Reads the configuration (embedded defaults,
// then --config FILE, then flags), starts the shards, and runs until SIGINT or
// SIGTERM. Exit codes: 0 after a clean stop, 1 when start-up failed (e.g. a
// port in use), 2 for an invalid configuration.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "engine/text.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "engine/log.h"
#include "engine/transport/tls_context.h"

using std::optional;
using std::string;

ABSL_FLAG(optional<string>, config, std::nullopt, "JSON configuration file (flags override it)");
ABSL_FLAG(optional<string>, udp, std::nullopt,
          "UDP listen addresses, comma-separated, e.g. 127.0.0.1:5060,[::1]:5060; empty: none "
          "(default 127.0.0.1:5060)");
ABSL_FLAG(optional<string>, tcp, std::nullopt,
          "TCP listen addresses, as --udp (default 127.0.0.1:5060)");
ABSL_FLAG(optional<string>, tls, std::nullopt,
          "TLS listen addresses, as --udp, e.g. 127.0.0.1:5061 (default none; needs --tls_cert, "
          "--tls_key)");
ABSL_FLAG(optional<string>, ws, std::nullopt, "WebSocket listen addresses, as --udp (default none)");
ABSL_FLAG(optional<string>, wss, std::nullopt,
          "WebSocket-over-TLS listen addresses, as --udp (default none; needs --tls_cert, --tls_key)");
ABSL_FLAG(optional<string>, tls_cert, std::nullopt, "server certificate chain, PEM (default none)");
ABSL_FLAG(optional<string>, tls_key, std::nullopt, "server private key, PEM (default none)");
ABSL_FLAG(optional<string>, tls_ca, std::nullopt,
          "CA certificates client certificates must chain to, PEM (default none)");
ABSL_FLAG(optional<string>, tls_verify_client, std::nullopt,
          "client certificates: none, optional or required (default none)");
ABSL_FLAG(optional<string>, tls_handshake_timeout, std::nullopt,
          "seconds a TLS handshake may take (default 10)");
ABSL_FLAG(optional<string>, max_tls_handshakes, std::nullopt,
          "TLS handshakes under way at once, per shard (default 256)");
ABSL_FLAG(optional<string>, shards, std::nullopt, "number of shards; 0: one per CPU (default 0)");
ABSL_FLAG(optional<string>, domains, std::nullopt,
          "domains served, comma-separated; empty: any (default empty)");
ABSL_FLAG(optional<string>, mode, std::nullopt,
          "registrar, or registrar+redirect: other requests for an AOR answered 302 with its "
          "contacts (default registrar+redirect)");
ABSL_FLAG(optional<string>, service_route, std::nullopt,
          "Service-Route URIs returned with every 200 to a REGISTER, comma-separated "
          "(default none)");
ABSL_FLAG(optional<string>, flow_timer, std::nullopt,
          "Flow-Timer seconds sent when a 200 requires outbound; 0: not sent (default 0)");
ABSL_FLAG(optional<string>, min_expires, std::nullopt, "shortest registration, s (default 60)");
ABSL_FLAG(optional<string>, default_expires, std::nullopt,
          "registration without an expiry, s (default 3600)");
ABSL_FLAG(optional<string>, max_expires, std::nullopt,
          "longest registration; longer ones are shortened, s (default 7200)");
ABSL_FLAG(optional<string>, max_contacts, std::nullopt,
          "bindings per AOR; 0: no limit (default 16)");
ABSL_FLAG(optional<string>, too_many_contacts, std::nullopt,
          "beyond max_contacts: reject (403) or drop_oldest (default reject)");
ABSL_FLAG(optional<string>, max_message_size, std::nullopt,
          "largest SIP message accepted, bytes (default 65535)");
ABSL_FLAG(optional<string>, tcp_idle_timeout, std::nullopt,
          "seconds before an idle TCP connection is closed (default 900)");
ABSL_FLAG(optional<string>, max_tcp_connections, std::nullopt,
          "TCP connections per shard (default 10000)");
ABSL_FLAG(optional<string>, expected_aors, std::nullopt,
          "AORs the tables are sized for at start, all shards (default 1000000)");
ABSL_FLAG(optional<string>, transaction_limit, std::nullopt,
          "cached UDP responses per shard (default 65536)");
ABSL_FLAG(optional<string>, transaction_memory, std::nullopt,
          "bytes of cached UDP responses per shard (default 33554432)");
ABSL_FLAG(optional<string>, handoff_ring_size, std::nullopt,
          "bytes per shard-to-shard ring (default 4194304)");
ABSL_FLAG(optional<string>, force_rport, std::nullopt,
          "answer UDP to the source port even without rport (default false)");
ABSL_FLAG(optional<string>, udp_receive, std::nullopt,
          "multishot (recvmsg into a provided-buffer ring) or plain recvmsg (default multishot; "
          "plain when the kernel lacks buffer rings)");
ABSL_FLAG(optional<string>, wakeup, std::nullopt,
          "cross-shard wake-up: msg_ring or eventfd (default msg_ring when the kernel has it)");
ABSL_FLAG(optional<string>, log_level, std::nullopt,
          "debug, info, warning or error (default info)");
ABSL_FLAG(optional<string>, server, std::nullopt, "Server header value (default locus/0.1.0)");
ABSL_FLAG(optional<string>, data_dir, std::nullopt, "data directory (default var/locus)");
ABSL_FLAG(optional<string>, admin_socket, std::nullopt,
          "admin Unix socket (default <data_dir>/admin.sock)");
ABSL_FLAG(optional<string>, durability, std::nullopt,
          "sync: a 200 leaves once its binding is on disk; async: written every "
          "async_flush_interval ms; off: nothing kept (default sync)");
ABSL_FLAG(optional<string>, async_flush_interval, std::nullopt,
          "ms between journal writes in async mode (default 100)");
ABSL_FLAG(optional<string>, snapshot_journal_size, std::nullopt,
          "journal bytes (per shard) that start a snapshot (default 67108864)");
ABSL_FLAG(optional<string>, journal_fault_file, std::nullopt,
          "testing: journal and snapshot writes fail with ENOSPC while this file exists");
ABSL_FLAG(optional<string>, auth, std::nullopt, "Digest authentication of REGISTERs (default false)");
ABSL_FLAG(optional<string>, auth_realm, std::nullopt,
          "realm of the challenges (default: the first domain, else locus)");
ABSL_FLAG(optional<string>, users_file, std::nullopt, "JSON users file (required with --auth)");
ABSL_FLAG(optional<string>, auth_algorithms, std::nullopt,
          "algorithms offered, preferred first (default MD5)");
ABSL_FLAG(optional<string>, nonce_lifetime, std::nullopt, "seconds before a nonce is stale (default 300)");
ABSL_FLAG(optional<string>, auth_secret, std::nullopt,
          "nonce secret, 64 hex digits (default: <data_dir>/auth.secret, made at first start)");
ABSL_FLAG(optional<string>, auth_max_failures, std::nullopt,
          "failed attempts per user and per source before a lockout; 0: none (default 10)");
ABSL_FLAG(optional<string>, auth_failure_window, std::nullopt,
          "seconds a lockout lasts (default 300)");

namespace locus::engine {
namespace {

const absl::Flag<optional<string>>* FlagFor(std::string_view name) {
  static const std::vector<std::pair<std::string_view, const absl::Flag<optional<string>>*>> flags =
      {{"udp", &FLAGS_udp},
       {"tcp", &FLAGS_tcp},
       {"tls", &FLAGS_tls},
       {"ws", &FLAGS_ws},
       {"wss", &FLAGS_wss},
       {"tls_cert", &FLAGS_tls_cert},
       {"tls_key", &FLAGS_tls_key},
       {"tls_ca", &FLAGS_tls_ca},
       {"tls_verify_client", &FLAGS_tls_verify_client},
       {"tls_handshake_timeout", &FLAGS_tls_handshake_timeout},
       {"max_tls_handshakes", &FLAGS_max_tls_handshakes},
       {"shards", &FLAGS_shards},
       {"domains", &FLAGS_domains},
       {"mode", &FLAGS_mode},
       {"service_route", &FLAGS_service_route},
       {"flow_timer", &FLAGS_flow_timer},
       {"min_expires", &FLAGS_min_expires},
       {"default_expires", &FLAGS_default_expires},
       {"max_expires", &FLAGS_max_expires},
       {"max_contacts", &FLAGS_max_contacts},
       {"too_many_contacts", &FLAGS_too_many_contacts},
       {"max_message_size", &FLAGS_max_message_size},
       {"tcp_idle_timeout", &FLAGS_tcp_idle_timeout},
       {"max_tcp_connections", &FLAGS_max_tcp_connections},
       {"expected_aors", &FLAGS_expected_aors},
       {"transaction_limit", &FLAGS_transaction_limit},
       {"transaction_memory", &FLAGS_transaction_memory},
       {"handoff_ring_size", &FLAGS_handoff_ring_size},
       {"force_rport", &FLAGS_force_rport},
       {"udp_receive", &FLAGS_udp_receive},
       {"wakeup", &FLAGS_wakeup},
       {"log_level", &FLAGS_log_level},
       {"server", &FLAGS_server},
       {"data_dir", &FLAGS_data_dir},
       {"admin_socket", &FLAGS_admin_socket},
       {"durability", &FLAGS_durability},
       {"async_flush_interval", &FLAGS_async_flush_interval},
       {"snapshot_journal_size", &FLAGS_snapshot_journal_size},
       {"journal_fault_file", &FLAGS_journal_fault_file},
       {"auth", &FLAGS_auth},
       {"auth_realm", &FLAGS_auth_realm},
       {"users_file", &FLAGS_users_file},
       {"auth_algorithms", &FLAGS_auth_algorithms},
       {"nonce_lifetime", &FLAGS_nonce_lifetime},
       {"auth_secret", &FLAGS_auth_secret},
       {"auth_max_failures", &FLAGS_auth_max_failures},
       {"auth_failure_window", &FLAGS_auth_failure_window}};
  for (const auto& [n, flag] : flags) {
    if (n == name) return flag;
  }
  return nullptr;
}

[[noreturn]] void ConfigError(std::string_view message) {
  std::fprintf(stderr, "locusd: invalid configuration: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(2);
}

// abseil exits with 1 on an unknown flag; a configuration error is exit 2.
void CheckFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') {
      ConfigError(Cat("unexpected argument '", arg, "'"));
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string_view name = arg.substr(0, arg.find('='));
    if (name == "config" || name.starts_with("help") || name == "version" ||
        name == "flagfile" || FlagFor(name) != nullptr) {
      continue;
    }
    ConfigError(Cat("unknown flag --", name, " (see --help)"));
  }
}

// abseil reads "--name=" as "no value" for optional flags; for locusd it is
// an explicit empty value (e.g. --tcp= turns TCP off). As for any flag, the
// last occurrence counts: "--tcp= --tcp=addr" listens on addr.
std::vector<std::string_view> EmptyFlags(int argc, char** argv) {
  std::vector<std::string_view> names;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 3 || arg[0] != '-') continue;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const size_t equals = arg.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = arg.substr(0, equals);
    if (FlagFor(name) == nullptr) continue;
    std::erase(names, name);
    if (equals + 1 == arg.size()) names.push_back(name);
  }
  return names;
}

Config LoadConfig(const std::vector<std::string_view>& empty_flags) {
  Config config = Config::Defaults();
  if (const optional<string> file = absl::GetFlag(FLAGS_config)) {
    if (absl::Status status = ApplyJsonFile(*file, &config); !status.ok()) {
      ConfigError(std::string(status.message()));
    }
  }
  for (std::string_view name : SettingNames()) {
    const absl::Flag<optional<string>>* flag = FlagFor(name);
    if (flag == nullptr) continue;
    if (const optional<string> value = absl::GetFlag(*flag)) {
      if (absl::Status status = ApplySetting(name, *value, &config); !status.ok()) {
        ConfigError(Cat("--", std::string(status.message())));
      }
    }
  }
  for (std::string_view name : empty_flags) {
    if (absl::Status status = ApplySetting(name, "", &config); !status.ok()) {
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

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "locusd: SIP registrar. Flags override the JSON file given with --config.");
  CheckFlagNames(argc, argv);
  const std::vector<std::string_view> empty_flags = EmptyFlags(argc, argv);
  absl::ParseCommandLine(argc, argv);
  const Config config = LoadConfig(empty_flags);
  SetLogLevel(config.log_level);

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
  Log(LogLevel::kDebug, "configuration: %s", ConfigToJson(config));

  int received = 0;
  sigwait(&signals, &received);
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
