#include "engine/config.h"

#include <unistd.h>

#include <limits>

#include "engine/digest_algorithm.h"
#include "engine/text.h"
#include "parser/uri.h"
#include "simdjson.h"

namespace locus::engine {
namespace {

absl::Status Invalid(std::string_view name, std::string_view value, std::string_view why) {
  return absl::InvalidArgumentError(Cat(name, ": '", value, "' ", why));
}

absl::Status ParseUnsigned(std::string_view name, std::string_view value, uint64_t min,
                           uint64_t max, uint64_t* out) {
  uint64_t n = 0;
  if (!ParseUint(value, &n)) return Invalid(name, value, "is not a whole number");
  if (n < min || n > max) {
    return Invalid(name, value, Cat("is out of range [", min, ", ", max, "]"));
  }
  *out = n;
  return absl::OkStatus();
}

absl::Status ParseEndpoints(std::string_view name, std::string_view value,
                            std::vector<Endpoint>* out) {
  std::vector<Endpoint> endpoints;
  for (std::string_view item : SplitList(value)) {
    Endpoint e;
    if (!Endpoint::Parse(item, &e)) {
      return Invalid(name, item, "is not an address:port (IPv6 as [addr]:port)");
    }
    endpoints.push_back(e);
  }
  *out = std::move(endpoints);
  return absl::OkStatus();
}

// A domain as served: lower-case host name or IP literal, no port.
bool ValidDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 255) return false;
  for (char c : domain) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && c != '-' && c != '.' && c != ':' &&
        c != '[' && c != ']') {
      return false;
    }
  }
  return true;
}

// "address:port" or "hostname:port", port 1-65535.
bool ValidHostPort(std::string_view text) {
  Endpoint endpoint;
  if (Endpoint::Parse(text, &endpoint)) return true;
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  uint64_t port = 0;
  if (!ParseUint(text.substr(colon + 1), &port) || port == 0 || port > 65535) return false;
  const std::string_view host = text.substr(0, colon);
  for (char c : host) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && c != '-' && c != '.') return false;
  }
  return host.size() <= 253;
}

template <typename T>
absl::Status SetUnsigned(std::string_view name, std::string_view value, uint64_t min, uint64_t max,
                         T* field) {
  uint64_t n = 0;
  absl::Status status = ParseUnsigned(name, value, min, max, &n);
  if (status.ok()) *field = static_cast<T>(n);
  return status;
}

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

}  // namespace

Config Config::Defaults() {
  Config config;
  Endpoint local;
  Endpoint::Parse("127.0.0.1:5060", &local);
  config.udp = {local};
  config.tcp = {local};
  return config;
}

namespace {

// The JSON forms of setting values, for the rows below.
std::string Number(uint64_t n) { return std::to_string(n); }
std::string Bool(bool b) { return b ? "true" : "false"; }
std::string Quoted(std::string_view text) { return Cat("\"", JsonEscape(text), "\""); }
std::string QuotedList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& item : items) quoted.push_back(Quoted(item));
  return Cat("[", Join(quoted, ","), "]");
}
std::string EndpointList(const std::vector<Endpoint>& endpoints) {
  std::vector<std::string> items;
  for (const Endpoint& e : endpoints) items.push_back(e.ToString());
  return QuotedList(items);
}

using G = SettingGroup;

}  // namespace

std::string_view SettingGroupTitle(SettingGroup group) {
  switch (group) {
    case G::kListening: return "Listening";
    case G::kTls: return "TLS and WebSocket";
    case G::kRegistrar: return "Registrar";
    case G::kAuthentication: return "Authentication";
    case G::kDurability: return "Durability";
    case G::kObservability: return "Admin and observability";
    case G::kLimits: return "Limits";
  }
  return "Other";
}

const std::vector<SettingInfo>& Settings() {
  // name, topic, placeholder, help (the default is added from
  // Config::Defaults()), value as JSON.
  static const std::vector<SettingInfo> settings = {
      {"udp", G::kListening, "ADDR:PORT,...",
       "UDP listen addresses, comma-separated (JSON: an array); IPv6 as [::1]:5060; empty: no UDP",
       [](const Config& c) { return EndpointList(c.udp); }},
      {"tcp", G::kListening, "ADDR:PORT,...", "TCP listen addresses, as udp",
       [](const Config& c) { return EndpointList(c.tcp); }},
      {"tls", G::kTls, "ADDR:PORT,...",
       "TLS listen addresses, as udp (5061 by convention); needs tls_cert and tls_key",
       [](const Config& c) { return EndpointList(c.tls); }},
      {"ws", G::kTls, "ADDR:PORT,...", "WebSocket listen addresses (RFC 7118), as udp",
       [](const Config& c) { return EndpointList(c.ws); }},
      {"wss", G::kTls, "ADDR:PORT,...",
       "WebSocket-over-TLS listen addresses, as udp; needs tls_cert and tls_key",
       [](const Config& c) { return EndpointList(c.wss); }},
      {"tls_cert", G::kTls, "PATH", "the server certificate and its chain, PEM",
       [](const Config& c) { return Quoted(c.tls_cert); }},
      {"tls_key", G::kTls, "PATH", "the server's private key, PEM",
       [](const Config& c) { return Quoted(c.tls_key); }},
      {"tls_ca", G::kTls, "PATH", "the CAs client certificates must chain to, PEM",
       [](const Config& c) { return Quoted(c.tls_ca); }},
      {"tls_verify_client", G::kTls, "none|optional|required",
       "client certificates: not asked for, verified when given, or required; optional and "
       "required need tls_ca",
       [](const Config& c) { return Quoted(c.tls_verify_client); }},
      {"tls_handshake_timeout", G::kTls, "SECONDS",
       "seconds a TLS handshake may take before the connection is closed",
       [](const Config& c) { return Number(c.tls_handshake_timeout); }},
      {"max_tls_handshakes", G::kTls, "N",
       "TLS handshakes under way at once per shard; further TLS connections are closed at accept",
       [](const Config& c) { return Number(c.max_tls_handshakes); }},
      {"shards", G::kListening, "N",
       "shards (threads); 0: one per CPU the process may run on (taskset is honoured)",
       [](const Config& c) { return Number(static_cast<uint64_t>(c.shards)); }},
      {"domains", G::kRegistrar, "DOMAIN,...",
       "domains served (Request-URI and To host); empty: any, with a warning at start-up",
       [](const Config& c) { return QuotedList(c.domains); }},
      {"mode", G::kRegistrar, "registrar|registrar+redirect",
       "registrar+redirect: other requests for an AOR or GRUU get a 302 with its contacts, or "
       "480/404; registrar: they get 405",
       [](const Config& c) { return Quoted(c.redirect ? "registrar+redirect" : "registrar"); }},
      {"service_route", G::kRegistrar, "URI,...",
       "Service-Route URIs (RFC 3608) returned with every 200 to a REGISTER; empty: none",
       [](const Config& c) { return QuotedList(c.service_route); }},
      {"flow_timer", G::kRegistrar, "SECONDS",
       "seconds in the Flow-Timer header (RFC 5626) of a 200 that requires outbound; 0: not sent",
       [](const Config& c) { return Number(c.flow_timer); }},
      {"min_expires", G::kRegistrar, "SECONDS",
       "shortest registration; a shorter non-zero one gets 423 with Min-Expires",
       [](const Config& c) { return Number(c.policy.min_expires); }},
      {"default_expires", G::kRegistrar, "SECONDS",
       "expiry when neither the Contact nor an Expires header gives one",
       [](const Config& c) { return Number(c.policy.default_expires); }},
      {"max_expires", G::kRegistrar, "SECONDS", "longer registrations are shortened to this",
       [](const Config& c) { return Number(c.policy.max_expires); }},
      {"max_contacts", G::kRegistrar, "N", "bindings per AOR; 0: no limit",
       [](const Config& c) { return Number(c.policy.max_contacts); }},
      {"too_many_contacts", G::kRegistrar, "reject|drop_oldest",
       "beyond max_contacts: reject (403) or drop the least recently refreshed bindings",
       [](const Config& c) {
         return Quoted(c.policy.too_many_contacts == store::TooManyContacts::kReject ? "reject"
                                                                                     : "drop_oldest");
       }},
      {"max_message_size", G::kLimits, "BYTES",
       "largest SIP message (1024-65535); larger: 513 over UDP, connection closed over TCP",
       [](const Config& c) { return Number(c.max_message_size); }},
      {"tcp_idle_timeout", G::kLimits, "SECONDS",
       "seconds without traffic before a TCP connection is closed",
       [](const Config& c) { return Number(c.tcp_idle_timeout); }},
      {"tcp_request_timeout", G::kLimits, "SECONDS",
       "seconds a stream connection may take to send its first message, or to finish one it began",
       [](const Config& c) { return Number(c.tcp_request_timeout); }},
      {"max_tcp_connections", G::kLimits, "N",
       "TCP connections per shard; further ones are accepted and closed at once",
       [](const Config& c) { return Number(c.max_tcp_connections); }},
      {"expected_aors", G::kLimits, "N",
       "AORs the binding tables are sized for at start, all shards together",
       [](const Config& c) { return Number(c.expected_aors); }},
      {"max_aors", G::kLimits, "N",
       "AORs of the node, split evenly among the shards; past it a REGISTER for a new AOR gets "
       "503 (0: as max_bindings)",
       [](const Config& c) { return Number(c.max_aors); }},
      {"max_bindings", G::kLimits, "N",
       "bindings of the node, split evenly among the shards; past it a REGISTER that adds one "
       "gets 503 (0: half the machine's memory at 400 bytes each)",
       [](const Config& c) { return Number(c.max_bindings); }},
      {"transaction_limit", G::kLimits, "N", "cached UDP responses per shard (Timer J)",
       [](const Config& c) { return Number(c.transaction_limit); }},
      {"transaction_memory", G::kLimits, "BYTES", "bytes of cached UDP responses per shard",
       [](const Config& c) { return Number(c.transaction_memory); }},
      {"handoff_ring_size", G::kLimits, "BYTES", "bytes of each shard-to-shard ring; full: 503",
       [](const Config& c) { return Number(c.handoff_ring_size); }},
      {"udp_receive_buffer", G::kLimits, "BYTES",
       "receive buffer of each UDP socket (SO_RCVBUF; the kernel counts twice this); full: the "
       "kernel drops",
       [](const Config& c) { return Number(c.udp_receive_buffer); }},
      {"force_rport", G::kListening, "true|false",
       "answer UDP to the source port even when the Via has no rport (NAT)",
       [](const Config& c) { return Bool(c.force_rport); }},
      {"udp_receive", G::kListening, "multishot|plain",
       "multishot: recvmsg into a provided-buffer ring (plain when the kernel lacks it); "
       "plain: recvmsg",
       [](const Config& c) { return Quoted(c.plain_udp_receive ? "plain" : "multishot"); }},
      {"wakeup", G::kListening, "msg_ring|eventfd",
       "cross-shard wake-up: IORING_OP_MSG_RING (eventfd when the kernel lacks it) or eventfd",
       [](const Config& c) { return Quoted(c.eventfd_wakeup ? "eventfd" : "msg_ring"); }},
      {"log_level", G::kObservability, "LEVEL",
       "debug, info, warning or error; nothing is logged per request at info",
       [](const Config& c) { return Quoted(LogLevelName(c.log_level)); }},
      {"log_format", G::kObservability, "text|json",
       "text: one line per event, timed unless journald times it; json: one JSON object per line",
       [](const Config& c) { return Quoted(LogFormatName(c.log_format)); }},
      {"server", G::kRegistrar, "TEXT", "Server header value",
       [](const Config& c) { return Quoted(c.server); }},
      {"data_dir", G::kDurability, "DIR",
       "data directory: the bindings' journals and snapshots, the admin socket and the nonce "
       "secret by default",
       [](const Config& c) { return Quoted(c.data_dir); }},
      {"admin_socket", G::kObservability, "PATH", "the admin socket (locusctl); default under data_dir",
       [](const Config& c) { return Quoted(c.AdminSocketPath()); }},
      {"http", G::kObservability, "ADDR:PORT",
       "HTTP endpoint: /metrics, /health, /ready, /v1/aors/{aor}; empty: off",
       [](const Config& c) { return Quoted(c.http.valid() ? c.http.ToString() : ""); }},
      {"hep", G::kObservability, "HOST:PORT",
       "send every SIP message received and sent to this HEPv3 capture server (UDP); empty: off",
       [](const Config& c) { return Quoted(c.hep); }},
      {"hep_capture_id", G::kObservability, "N", "capture agent id in the HEP packets",
       [](const Config& c) { return Number(c.hep_capture_id); }},
      {"durability", G::kDurability, "sync|async|off",
       "sync: a 200 leaves once its binding is on disk; async: written every "
       "async_flush_interval ms; off: nothing kept",
       [](const Config& c) { return Quoted(DurabilityName(c.durability)); }},
      {"async_flush_interval", G::kDurability, "MS",
       "ms between journal writes in async mode (1-10000): the most a crash loses",
       [](const Config& c) { return Number(c.async_flush_interval); }},
      {"sync_commit_window", G::kDurability, "US",
       "sync: microseconds a group of fewer than 8 requests waits for more before its durable write "
       "(0-100000; 0: no wait)",
       [](const Config& c) { return Number(c.sync_commit_window); }},
      {"snapshot_journal_size", G::kDurability, "BYTES",
       "a shard's journal bytes that start a snapshot",
       [](const Config& c) { return Number(c.snapshot_journal_size); }},
      {"journal_fault_file", G::kDurability, "PATH",
       "testing: while this file exists, journal and snapshot writes fail as on a full disk",
       [](const Config& c) { return Quoted(c.journal_fault_file); }},
      {"cluster", G::kDurability, "HOST:PORT,...",
       "Redis Cluster seeds (or one stand-alone Redis): every AOR's state kept there, shared "
       "by every node, instead of the journal; empty: off",
       [](const Config& c) { return Quoted(Join(c.cluster, ",")); }},
      {"cluster_ack", G::kDurability, "master|replicas",
       "cluster mode: a 200 leaves once the Redis master took the change, or also a replica (WAIT)",
       [](const Config& c) { return Quoted(c.cluster_ack); }},
      {"auth", G::kAuthentication, "true|false", "Digest authentication of REGISTERs",
       [](const Config& c) { return Bool(c.auth); }},
      {"auth_realm", G::kAuthentication, "REALM",
       "realm of the challenges and default realm of users; empty: the first domain, else locus",
       [](const Config& c) { return Quoted(c.AuthRealm()); }},
      {"users_file", G::kAuthentication, "PATH", "the JSON users file; required with auth",
       [](const Config& c) { return Quoted(c.users_file); }},
      {"auth_algorithms", G::kAuthentication, "ALG,...",
       "algorithms offered, one challenge each, preferred first (MD5, MD5-sess, SHA-256, "
       "SHA-256-sess)",
       [](const Config& c) { return Quoted(Join(c.auth_algorithms, ",")); }},
      {"nonce_lifetime", G::kAuthentication, "SECONDS", "seconds before a nonce is stale",
       [](const Config& c) { return Number(c.nonce_lifetime); }},
      {"auth_secret", G::kAuthentication, "HEX",
       "nonce secret, 64 hex digits; by default made at first start and kept under data_dir",
       [](const Config& c) {
         return Quoted(c.auth_secret.empty() ? "<data_dir>/auth.secret" : "<hidden>");
       }},
      {"auth_max_failures", G::kAuthentication, "N",
       "failed attempts per user and per source address before a lockout; 0: none",
       [](const Config& c) { return Number(c.auth_max_failures); }},
      {"auth_failure_window", G::kAuthentication, "SECONDS", "seconds a lockout lasts",
       [](const Config& c) { return Number(c.auth_failure_window); }},
  };
  return settings;
}

absl::Status ApplySetting(std::string_view name, std::string_view value, Config* config) {
  store::RegistrarPolicy& policy = config->policy;
  if (name == "udp") return ParseEndpoints(name, value, &config->udp);
  if (name == "tcp") return ParseEndpoints(name, value, &config->tcp);
  if (name == "tls") return ParseEndpoints(name, value, &config->tls);
  if (name == "ws") return ParseEndpoints(name, value, &config->ws);
  if (name == "wss") return ParseEndpoints(name, value, &config->wss);
  if (name == "tls_cert") {
    config->tls_cert = std::string(value);
    return absl::OkStatus();
  }
  if (name == "tls_key") {
    config->tls_key = std::string(value);
    return absl::OkStatus();
  }
  if (name == "tls_ca") {
    config->tls_ca = std::string(value);
    return absl::OkStatus();
  }
  if (name == "tls_verify_client") {
    if (value != "none" && value != "optional" && value != "required") {
      return Invalid(name, value, "is not one of none, optional, required");
    }
    config->tls_verify_client = std::string(value);
    return absl::OkStatus();
  }
  if (name == "tls_handshake_timeout") {
    return SetUnsigned(name, value, 1, 600, &config->tls_handshake_timeout);
  }
  if (name == "max_tls_handshakes") {
    return SetUnsigned(name, value, 1, 1000000, &config->max_tls_handshakes);
  }
  if (name == "shards") return SetUnsigned(name, value, 0, 256, &config->shards);
  if (name == "domains") {
    std::vector<std::string> domains;
    for (std::string_view item : SplitList(value)) {
      if (!ValidDomain(item)) return Invalid(name, item, "is not a host name or IP address");
      domains.push_back(ToLowerAscii(item));
    }
    config->domains = std::move(domains);
    return absl::OkStatus();
  }
  if (name == "mode") {
    if (value == "registrar+redirect") {
      config->redirect = true;
    } else if (value == "registrar") {
      config->redirect = false;
    } else {
      return Invalid(name, value, "is neither registrar nor registrar+redirect");
    }
    return absl::OkStatus();
  }
  if (name == "service_route") {
    std::vector<std::string> route;
    for (std::string_view item : SplitList(value)) {
      if (item.starts_with('<') && item.ends_with('>') && item.size() >= 2) {
        item = item.substr(1, item.size() - 2);
      }
      sip::Uri uri;
      if (!sip::ParseUri(item, sip::HeaderId::kNone, &uri).ok() || !uri.is_sip() ||
          !uri.headers.empty()) {
        return Invalid(name, item, "is not a SIP URI without headers");
      }
      route.emplace_back(item);
    }
    config->service_route = std::move(route);
    return absl::OkStatus();
  }
  if (name == "flow_timer") return SetUnsigned(name, value, 0, 86400, &config->flow_timer);
  if (name == "min_expires") return SetUnsigned(name, value, 0, kMaxU32, &policy.min_expires);
  if (name == "default_expires") {
    return SetUnsigned(name, value, 1, kMaxU32, &policy.default_expires);
  }
  if (name == "max_expires") return SetUnsigned(name, value, 1, kMaxU32, &policy.max_expires);
  if (name == "max_contacts") return SetUnsigned(name, value, 0, 1024, &policy.max_contacts);
  if (name == "too_many_contacts") {
    if (value == "reject") {
      policy.too_many_contacts = store::TooManyContacts::kReject;
    } else if (value == "drop_oldest") {
      policy.too_many_contacts = store::TooManyContacts::kDropOldest;
    } else {
      return Invalid(name, value, "is neither reject nor drop_oldest");
    }
    return absl::OkStatus();
  }
  if (name == "max_message_size") {
    return SetUnsigned(name, value, 1024, 65535, &config->max_message_size);
  }
  if (name == "tcp_request_timeout") {
    return SetUnsigned(name, value, 1, 3600, &config->tcp_request_timeout);
  }
  if (name == "tcp_idle_timeout") {
    return SetUnsigned(name, value, 1, 86400, &config->tcp_idle_timeout);
  }
  if (name == "max_tcp_connections") {
    return SetUnsigned(name, value, 1, 1000000, &config->max_tcp_connections);
  }
  if (name == "max_aors") return SetUnsigned(name, value, 0, uint64_t{1} << 40, &config->max_aors);
  if (name == "max_bindings") return SetUnsigned(name, value, 0, uint64_t{1} << 40, &config->max_bindings);
  if (name == "expected_aors") {
    return SetUnsigned(name, value, 0, uint64_t{1} << 32, &config->expected_aors);
  }
  if (name == "transaction_limit") {
    return SetUnsigned(name, value, 16, 16u << 20, &config->transaction_limit);
  }
  if (name == "transaction_memory") {
    return SetUnsigned(name, value, 1u << 20, uint64_t{16} << 30, &config->transaction_memory);
  }
  if (name == "handoff_ring_size") {
    return SetUnsigned(name, value, 1u << 17, 1u << 30, &config->handoff_ring_size);
  }
  if (name == "udp_receive_buffer") {
    return SetUnsigned(name, value, 1u << 16, 1u << 30, &config->udp_receive_buffer);
  }
  if (name == "force_rport") {
    if (value == "true" || value == "1") {
      config->force_rport = true;
    } else if (value == "false" || value == "0") {
      config->force_rport = false;
    } else {
      return Invalid(name, value, "is neither true nor false");
    }
    return absl::OkStatus();
  }
  if (name == "udp_receive") {
    if (value != "multishot" && value != "plain") {
      return Invalid(name, value, "is neither multishot nor plain");
    }
    config->plain_udp_receive = value == "plain";
    return absl::OkStatus();
  }
  if (name == "wakeup") {
    if (value != "msg_ring" && value != "eventfd") {
      return Invalid(name, value, "is neither msg_ring nor eventfd");
    }
    config->eventfd_wakeup = value == "eventfd";
    return absl::OkStatus();
  }
  if (name == "log_level") {
    if (!ParseLogLevel(value, &config->log_level)) {
      return Invalid(name, value, "is not one of debug, info, warning, error");
    }
    return absl::OkStatus();
  }
  if (name == "log_format") {
    if (!ParseLogFormat(value, &config->log_format)) return Invalid(name, value, "is neither text nor json");
    return absl::OkStatus();
  }
  if (name == "http") {
    config->http = Endpoint();
    if (!value.empty() && !Endpoint::Parse(value, &config->http)) {
      return Invalid(name, value, "is not an address:port (IPv6 as [addr]:port)");
    }
    return absl::OkStatus();
  }
  if (name == "hep") {
    if (!value.empty() && !ValidHostPort(value)) {
      return Invalid(name, value, "is not a host:port (IPv6 as [addr]:port)");
    }
    config->hep = std::string(value);
    return absl::OkStatus();
  }
  if (name == "hep_capture_id") return SetUnsigned(name, value, 0, kMaxU32, &config->hep_capture_id);
  if (name == "server") {
    for (char c : value) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return Invalid(name, value, "contains a control character");
      }
    }
    if (value.empty() || value.size() > 128) return Invalid(name, value, "must be 1-128 bytes");
    config->server = std::string(value);
    return absl::OkStatus();
  }
  if (name == "data_dir") {
    if (value.empty()) return Invalid(name, value, "must not be empty");
    config->data_dir = std::string(value);
    return absl::OkStatus();
  }
  if (name == "durability") {
    if (value == "sync") {
      config->durability = DurabilityMode::kSync;
    } else if (value == "async") {
      config->durability = DurabilityMode::kAsync;
    } else if (value == "off") {
      config->durability = DurabilityMode::kOff;
    } else {
      return Invalid(name, value, "is not one of sync, async, off");
    }
    return absl::OkStatus();
  }
  if (name == "cluster") {
    config->cluster.clear();
    for (std::string_view seed : SplitList(value)) {
      if (!ValidHostPort(seed)) return Invalid(name, value, "is not a list of host:port");
      config->cluster.emplace_back(seed);
    }
    return absl::OkStatus();
  }
  if (name == "cluster_ack") {
    if (value != "master" && value != "replicas") {
      return Invalid(name, value, "is not one of master, replicas");
    }
    config->cluster_ack = std::string(value);
    return absl::OkStatus();
  }
  if (name == "async_flush_interval") {
    return SetUnsigned(name, value, 1, 10000, &config->async_flush_interval);
  }
  if (name == "sync_commit_window") {
    return SetUnsigned(name, value, 0, 100000, &config->sync_commit_window);
  }
  if (name == "snapshot_journal_size") {
    return SetUnsigned(name, value, 4096, uint64_t{1} << 40, &config->snapshot_journal_size);
  }
  if (name == "journal_fault_file") {
    config->journal_fault_file = std::string(value);
    return absl::OkStatus();
  }
  if (name == "auth") {
    if (value == "true" || value == "1") {
      config->auth = true;
    } else if (value == "false" || value == "0") {
      config->auth = false;
    } else {
      return Invalid(name, value, "is neither true nor false");
    }
    return absl::OkStatus();
  }
  if (name == "auth_realm") {
    for (char c : value) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
        return Invalid(name, value, "must be printable, without quotes or backslashes");
      }
    }
    config->auth_realm = std::string(value);
    return absl::OkStatus();
  }
  if (name == "users_file") {
    config->users_file = std::string(value);
    return absl::OkStatus();
  }
  if (name == "auth_algorithms") {
    std::vector<std::string> algorithms;
    for (std::string_view item : SplitList(value)) {
      DigestAlgorithm a;
      if (!ParseDigestAlgorithm(item, &a)) {
        return Invalid(name, item, "is not MD5, MD5-sess, SHA-256 or SHA-256-sess");
      }
      algorithms.emplace_back(DigestAlgorithmName(a));
    }
    if (algorithms.empty()) return Invalid(name, value, "names no algorithm");
    config->auth_algorithms = std::move(algorithms);
    return absl::OkStatus();
  }
  if (name == "nonce_lifetime") return SetUnsigned(name, value, 1, 86400, &config->nonce_lifetime);
  if (name == "auth_secret") {
    if (value.size() != 64 || value.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
      return Invalid(name, "(hidden)", "must be 64 hex digits");
    }
    config->auth_secret = std::string(value);
    return absl::OkStatus();
  }
  if (name == "auth_max_failures") return SetUnsigned(name, value, 0, 1000000, &config->auth_max_failures);
  if (name == "auth_failure_window") {
    return SetUnsigned(name, value, 1, 86400, &config->auth_failure_window);
  }
  if (name == "admin_socket") {
    if (value.size() >= 108) return Invalid(name, value, "is longer than a Unix socket path may be");
    config->admin_socket = std::string(value);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(Cat("unknown setting '", name, "'"));
}

absl::Status ApplyJsonFile(const std::string& path, Config* config) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.load(path).get(root)) {
    return absl::InvalidArgumentError(
        Cat(path, ": cannot read JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get(object)) return absl::InvalidArgumentError(Cat(path, ": not a JSON object"));
  for (auto [key, value] : object) {
    if (key.starts_with('_')) continue;  // a comment
    std::string text;
    switch (value.type()) {
      case simdjson::dom::element_type::STRING:
        text = std::string(std::string_view(value));
        break;
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::INT64:
        text = simdjson::to_string(value);
        break;
      case simdjson::dom::element_type::BOOL:
        text = bool(value) ? "true" : "false";
        break;
      case simdjson::dom::element_type::ARRAY: {
        std::vector<std::string> items;
        for (simdjson::dom::element item : value.get_array()) {
          std::string_view s;
          if (item.get(s)) {
            return absl::InvalidArgumentError(
                Cat(path, ": ", key, ": list items must be strings"));
          }
          if (s.find(',') != std::string_view::npos) {
            return absl::InvalidArgumentError(
                Cat(path, ": ", key, ": '", s, "' must not contain a comma"));
          }
          items.emplace_back(s);
        }
        text = Join(items, ",");
        break;
      }
      default:
        return absl::InvalidArgumentError(
            Cat(path, ": ", key, ": unsupported value type"));
    }
    absl::Status status = ApplySetting(key, text, config);
    if (!status.ok()) return absl::InvalidArgumentError(Cat(path, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const Config& config) {
  const store::RegistrarPolicy& p = config.policy;
  if (p.min_expires > p.default_expires || p.default_expires > p.max_expires) {
    return absl::InvalidArgumentError(Cat(
        "expiry bounds must satisfy min_expires <= default_expires <= max_expires (have ",
        p.min_expires, ", ", p.default_expires, ", ", p.max_expires, ")"));
  }
  if (config.auth && config.users_file.empty()) {
    return absl::InvalidArgumentError("auth is on: set users_file");
  }
  if (config.udp.empty() && config.tcp.empty() && config.tls.empty() && config.ws.empty() &&
      config.wss.empty()) {
    return absl::InvalidArgumentError("no listen address: set udp, tcp, tls, ws or wss");
  }
  if ((!config.tls.empty() || !config.wss.empty()) &&
      (config.tls_cert.empty() || config.tls_key.empty())) {
    return absl::InvalidArgumentError("tls and wss listeners need tls_cert and tls_key");
  }
  if (config.tls_verify_client != "none" && config.tls_ca.empty()) {
    return absl::InvalidArgumentError("tls_verify_client needs tls_ca");
  }
  return absl::OkStatus();
}

uint64_t EffectiveMaxBindings(const Config& config) {
  if (config.max_bindings != 0) return config.max_bindings;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return uint64_t{1} << 24;  // unknown: 16M
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / 2 / kBytesPerBinding;
}

uint64_t EffectiveMaxAors(const Config& config) {
  return config.max_aors != 0 ? config.max_aors : EffectiveMaxBindings(config);
}

std::string_view DurabilityName(DurabilityMode mode) {
  switch (mode) {
    case DurabilityMode::kSync: return "sync";
    case DurabilityMode::kAsync: return "async";
    case DurabilityMode::kOff: return "off";
  }
  return "sync";
}

std::string ConfigToJson(const Config& config) {
  std::string out = "{";
  for (const SettingInfo& setting : Settings()) {
    if (out.size() > 1) out.push_back(',');
    out.append(Cat("\"", setting.name, "\":", setting.json_value(config)));
  }
  out.push_back('}');
  return out;
}

}  // namespace locus::engine
