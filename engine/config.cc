#include "engine/config.h"

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

const std::vector<std::string_view>& SettingNames() {
  static const std::vector<std::string_view> names = {
      "udp", "tcp", "tls", "ws", "wss", "shards", "domains", "mode", "service_route", "flow_timer", "min_expires", "default_expires", "max_expires",
      "max_contacts", "too_many_contacts", "max_message_size", "tcp_idle_timeout",
      "max_tcp_connections", "expected_aors", "transaction_limit", "transaction_memory", "handoff_ring_size",
      "force_rport", "udp_receive", "wakeup", "log_level", "server", "data_dir", "admin_socket",
      "durability", "async_flush_interval", "snapshot_journal_size", "journal_fault_file",
      "tls_cert", "tls_key", "tls_ca", "tls_verify_client", "tls_handshake_timeout",
      "max_tls_handshakes", "auth", "auth_realm", "users_file",
      "auth_algorithms", "nonce_lifetime", "auth_secret", "auth_max_failures", "auth_failure_window"};
  return names;
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
  if (name == "tcp_idle_timeout") {
    return SetUnsigned(name, value, 1, 86400, &config->tcp_idle_timeout);
  }
  if (name == "max_tcp_connections") {
    return SetUnsigned(name, value, 1, 1000000, &config->max_tcp_connections);
  }
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
  if (name == "async_flush_interval") {
    return SetUnsigned(name, value, 1, 10000, &config->async_flush_interval);
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

std::string_view DurabilityName(DurabilityMode mode) {
  switch (mode) {
    case DurabilityMode::kSync: return "sync";
    case DurabilityMode::kAsync: return "async";
    case DurabilityMode::kOff: return "off";
  }
  return "sync";
}

std::string ConfigToJson(const Config& config) {
  auto endpoints = [](const std::vector<Endpoint>& list) {
    std::vector<std::string> items;
    for (const Endpoint& e : list) items.push_back(Cat("\"", e.ToString(), "\""));
    return Cat("[", Join(items, ","), "]");
  };
  std::vector<std::string> domains;
  for (const std::string& d : config.domains) domains.push_back(Cat("\"", d, "\""));
  std::vector<std::string> service_route;
  for (const std::string& uri : config.service_route) {
    service_route.push_back(Cat("\"", JsonEscape(uri), "\""));
  }
  const store::RegistrarPolicy& p = config.policy;
  return Cat(
      "{\"udp\":", endpoints(config.udp), ",\"tcp\":", endpoints(config.tcp),
      ",\"tls\":", endpoints(config.tls), ",\"ws\":", endpoints(config.ws),
      ",\"wss\":", endpoints(config.wss),
      ",\"shards\":", config.shards, ",\"domains\":[", Join(domains, ","), "]",
      ",\"mode\":\"", config.redirect ? "registrar+redirect" : "registrar", "\"",
      ",\"service_route\":[", Join(service_route, ","), "]",
      ",\"flow_timer\":", config.flow_timer,
      ",\"min_expires\":", p.min_expires, ",\"default_expires\":", p.default_expires,
      ",\"max_expires\":", p.max_expires, ",\"max_contacts\":", p.max_contacts,
      ",\"too_many_contacts\":\"",
      p.too_many_contacts == store::TooManyContacts::kReject ? "reject" : "drop_oldest", "\"",
      ",\"max_message_size\":", config.max_message_size,
      ",\"tcp_idle_timeout\":", config.tcp_idle_timeout,
      ",\"max_tcp_connections\":", config.max_tcp_connections,
      ",\"expected_aors\":", config.expected_aors,
      ",\"transaction_limit\":", config.transaction_limit,
      ",\"transaction_memory\":", config.transaction_memory,
      ",\"handoff_ring_size\":", config.handoff_ring_size,
      ",\"force_rport\":", config.force_rport ? "true" : "false",
      ",\"udp_receive\":\"", config.plain_udp_receive ? "plain" : "multishot",
      "\",\"wakeup\":\"", config.eventfd_wakeup ? "eventfd" : "msg_ring", "\",\"log_level\":\"",
      LogLevelName(config.log_level), "\",\"server\":\"", JsonEscape(config.server), "\",\"data_dir\":\"",
      JsonEscape(config.data_dir), "\",\"admin_socket\":\"", JsonEscape(config.AdminSocketPath()),
      "\",\"durability\":\"", DurabilityName(config.durability),
      "\",\"async_flush_interval\":", config.async_flush_interval,
      ",\"snapshot_journal_size\":", config.snapshot_journal_size,
      ",\"journal_fault_file\":\"", JsonEscape(config.journal_fault_file),
      "\",\"tls_cert\":\"", JsonEscape(config.tls_cert), "\",\"tls_key\":\"", JsonEscape(config.tls_key),
      "\",\"tls_ca\":\"", JsonEscape(config.tls_ca), "\",\"tls_verify_client\":\"",
      config.tls_verify_client, "\",\"tls_handshake_timeout\":", config.tls_handshake_timeout,
      ",\"max_tls_handshakes\":", config.max_tls_handshakes,
      ",\"auth\":", config.auth ? "true" : "false", ",\"auth_realm\":\"", JsonEscape(config.AuthRealm()),
      "\",\"users_file\":\"", JsonEscape(config.users_file), "\",\"auth_algorithms\":\"",
      Join(config.auth_algorithms, ","), "\",\"nonce_lifetime\":", config.nonce_lifetime,
      ",\"auth_secret\":\"", config.auth_secret.empty() ? "<data_dir>/auth.secret" : "<hidden>", "\"",
      ",\"auth_max_failures\":", config.auth_max_failures,
      ",\"auth_failure_window\":", config.auth_failure_window, "}");
}

}  // namespace locus::engine
