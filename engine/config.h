// locusd's configuration: defaults embedded here, then an optional JSON file,
// then command-line flags (a flag given on the command line wins over the
// file). Every setting has one name, used by both the file and the flag, and
// one parser (ApplySetting), so the two can never disagree.
#ifndef LOCUS_ENGINE_CONFIG_H_
#define LOCUS_ENGINE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/endpoint.h"
#include "engine/durability_mode.h"
#include "engine/log.h"
#include "store/registrar.h"

namespace locus::engine {

struct Config {
  std::vector<Endpoint> udp;         // UDP listen addresses
  std::vector<Endpoint> tcp;         // TCP listen addresses
  std::vector<Endpoint> tls;         // TLS listen addresses (5061 by convention)
  std::vector<Endpoint> ws;          // WebSocket listen addresses (RFC 7118)
  std::vector<Endpoint> wss;         // WebSocket over TLS listen addresses
  int shards = 0;                    // 0: one per CPU the process may run on
  std::vector<std::string> domains;  // served domains, lower case; empty: any
  // Roles: the registrar always; the redirect server (RFC 3261 section 8.3:
  // other requests for an AOR answered 302 with its contacts) unless off.
  bool redirect = true;
  // RFC 3608: the route set returned in a Service-Route header with every
  // 200 to a REGISTER, each URI as configured (without angle brackets).
  std::vector<std::string> service_route;
  // RFC 5626 section 4.4.1: the Flow-Timer (seconds) sent with a 200 that
  // requires outbound; 0: not sent (phones then use their own defaults).
  uint32_t flow_timer = 0;
  store::RegistrarPolicy policy;     // expiry bounds, contacts per AOR
  size_t max_message_size = 65535;   // bytes, start line to end of body
  uint32_t tcp_idle_timeout = 900;   // seconds without a byte before a close
  // Seconds a stream connection may take to send its first message (from
  // its accept or TLS handshake), or to finish a message it began.
  uint32_t tcp_request_timeout = 32;
  uint32_t max_tcp_connections = 10000;      // per shard; further accepts are closed
  // AORs the binding tables are sized for at start (all shards together);
  // past it a table grows incrementally, its records moving to one twice the
  // size a few per new AOR (memory for both tables meanwhile).
  uint64_t expected_aors = 1000000;
  // The node's memory budget (ARCHITECTURE section 13): AORs and bindings of
  // all shards together, split evenly among them; past it, a REGISTER that
  // would add one is answered 503. 0: from the machine's memory
  // (EffectiveMaxBindings).
  uint64_t max_aors = 0;
  uint64_t max_bindings = 0;
  size_t transaction_limit = 65536;          // cached UDP responses per shard
  size_t transaction_memory = 32u << 20;     // bytes of cached responses per shard
  size_t handoff_ring_size = 4u << 20;       // bytes per shard pair and direction
  // SO_RCVBUF of each UDP socket (the kernel accounts twice this): a burst of
  // REGISTERs waits here instead of being dropped and retransmitted.
  size_t udp_receive_buffer = 8u << 20;
  bool force_rport = false;  // answer UDP to the source port even without rport
  // io_uring paths, normally chosen by what the kernel supports; forcing the
  // fallbacks keeps them tested.
  bool plain_udp_receive = false;  // plain recvmsg instead of multishot + buffer ring
  bool eventfd_wakeup = false;     // eventfd instead of IORING_OP_MSG_RING
  LogLevel log_level = LogLevel::kInfo;
  std::string server = "locus/" LOCUS_VERSION;  // Server header value
  std::string data_dir = "var/locus";
  std::string admin_socket;  // empty: <data_dir>/admin.sock

  // Observability (docs/operations.md).
  Endpoint http;                // the HTTP endpoint (metrics, health, lookups); not valid(): off
  std::string hep;              // HEPv3 capture server, host:port; empty: off
  uint32_t hep_capture_id = 1;  // the capture agent id of every HEP packet
  LogFormat log_format = LogFormat::kText;

  // Durability (docs/durability.md): journal and snapshots under
  // <data_dir>/bindings.
  DurabilityMode durability = DurabilityMode::kSync;
  uint32_t async_flush_interval = 100;         // ms between group writes in async mode
  uint32_t sync_commit_window = 500;   // µs a sync group of few requests waits for more
  uint64_t snapshot_journal_size = 64ull << 20;  // journal bytes that start a snapshot
  std::string journal_fault_file;  // testing: journal writes fail while this file exists

  // Cluster mode (docs/cluster.md): the seeds (host:port) of a Redis
  // Cluster, or one stand-alone Redis, that holds every AOR's state in
  // place of the journal; empty: off. With cluster_ack "replicas" a 200
  // leaves only once a replica has the change (WAIT).
  std::vector<std::string> cluster;
  std::string cluster_ack = "master";

  // TLS (docs/tls.md): the server's certificate chain and key (PEM), the
  // CAs client certificates must chain to, and whether clients must present
  // one ("none", "optional", "required"). Needed with tls or wss listeners.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string tls_verify_client = "none";
  uint32_t tls_handshake_timeout = 10;  // seconds a TLS handshake may take
  uint32_t max_tls_handshakes = 256;    // per shard, under way at once

  // Digest authentication (docs/authentication.md); off by default.
  bool auth = false;
  std::string auth_realm;  // empty: the first served domain, else "locus"
  std::string users_file;  // required when auth is on
  // Offered in 401s, preferred first. MD5 alone by default: phones that
  // lack SHA-256 refuse a 401 that offers it at all (docs/authentication.md).
  std::vector<std::string> auth_algorithms = {"MD5"};
  uint32_t nonce_lifetime = 300;     // seconds before a nonce is stale
  std::string auth_secret;           // 64 hex digits; empty: <data_dir>/auth.secret
  uint32_t auth_max_failures = 10;   // per user and per source address; 0: no limit
  uint32_t auth_failure_window = 300;  // seconds a lockout lasts

  std::string AuthRealm() const {
    if (!auth_realm.empty()) return auth_realm;
    return domains.empty() ? "locus" : domains.front();
  }

  // The admin socket's path: admin_socket, or its default under data_dir.
  std::string AdminSocketPath() const {
    return admin_socket.empty() ? data_dir + "/admin.sock" : admin_socket;
  }

  std::string BindingsDir() const { return data_dir + "/bindings"; }

  // The embedded defaults: UDP and TCP on 127.0.0.1:5060.
  static Config Defaults();
};

// The topics `locusd --help` lists the settings under, in its order.
enum class SettingGroup : uint8_t {
  kListening,
  kTls,
  kRegistrar,
  kAuthentication,
  kDurability,
  kObservability,
  kLimits,
};
std::string_view SettingGroupTitle(SettingGroup group);  // "Listening", ...

// A setting as operators see it: its name (the flag and the JSON key), the
// topic it is listed under, a placeholder for its value and one line of help
// for `locusd --help`, and its value in a configuration as JSON (`config`,
// ConfigToJson, and the default --help shows, read from Config::Defaults()).
// A setting is a Config field, one row in Settings() and one parser in
// ApplySetting; the unit tests check that the three agree.
struct SettingInfo {
  std::string_view name;
  SettingGroup group;
  std::string_view placeholder;  // e.g. "SECONDS", "ADDR:PORT,..."
  std::string_view help;
  std::string (*json_value)(const Config& config);
};

// Every setting, in the order `config` and docs/configuration.md list them.
const std::vector<SettingInfo>& Settings();

// Sets one setting from its text form: numbers in decimal, booleans as
// true/false, lists comma-separated. Errors name the setting and the problem.
absl::Status ApplySetting(std::string_view name, std::string_view value, Config* config);

// Applies a JSON object of settings (keys as in Settings(); lists may be
// JSON arrays of strings). Unknown keys are errors; keys that start with '_'
// are comments and are skipped (e.g. "_comment": "...").
absl::Status ApplyJsonFile(const std::string& path, Config* config);

// Cross-setting checks: min <= default <= max expires, at least one listen
// address, shard count within the CPUs.
absl::Status ValidateConfig(const Config& config);

// What a binding costs in memory, with the table's and its AOR's share:
// measured about 320 bytes (1,000,000 one-binding AORs in 302 MiB of PSS),
// rounded up.
inline constexpr uint64_t kBytesPerBinding = 400;
// max_bindings, or when 0, as many bindings as half the machine's memory
// holds at kBytesPerBinding each.
uint64_t EffectiveMaxBindings(const Config& config);
// max_aors, or when 0, EffectiveMaxBindings (every AOR has a binding).
uint64_t EffectiveMaxAors(const Config& config);

std::string_view DurabilityName(DurabilityMode mode);  // "sync", "async", "off"

// The effective configuration as one JSON object, keys in Settings() order
// (for logs and `config`).
std::string ConfigToJson(const Config& config);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_CONFIG_H_
