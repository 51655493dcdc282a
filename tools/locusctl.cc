// locusctl: the operator's client of locusd's admin socket (docs/admin.md).
// Its usage (kUsage below, also its --help and man page) lists every command
// and option.
//
// Exit codes: 0 success, 1 the daemon answered with an error (or is
// unhealthy), 2 usage error or no daemon at the socket.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "simdjson.h"

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

[[noreturn]] void Fail(int code, const std::string& message) {
  std::fprintf(stderr, "locusctl: %s\n", message.c_str());
  std::exit(code);
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out.append(buf);
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

// One connection to the admin socket: request lines out, answer lines in.
class AdminConnection {
 public:
  explicit AdminConnection(const std::string& path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path)) Fail(2, "socket path too long: " + path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      Fail(2, "cannot connect to " + path + ": " + std::strerror(errno) +
                  " (is locusd running? its socket is <data_dir>/admin.sock; see --socket)");
    }
  }
  ~AdminConnection() { close(fd_); }

  void Send(const std::string& request) {
    const std::string line = request + "\n";
    size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) Fail(2, std::string("admin socket: ") + std::strerror(errno));
      sent += static_cast<size_t>(n);
    }
  }

  // The next answer line; exits when the daemon hangs up.
  std::string ReadLine() {
    for (;;) {
      const size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) Fail(2, "locusd closed the admin connection");
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

constexpr char kUsage[] =
    "Usage: locusctl [--socket PATH] [--json] COMMAND [ARGS]\n"
    "Asks a running locusd through its admin socket and prints the answer: human\n"
    "tables by default, the daemon's JSON lines with --json.\n"
    "\n"
    "An option's value follows '=' or comes as the next argument.\n"
    "\n"
    "Options:\n"
    "  --socket=PATH      the admin socket (default: var/locus/admin.sock under the\n"
    "                     current directory when it exists, else /run/locus/admin.sock,\n"
    "                     where the packaged service keeps it)\n"
    "  --json             print the daemon's JSON answers as they come\n"
    "  --help             print this help and exit\n"
    "  --version          print locusctl's version and exit\n"
    "\n"
    "Commands:\n"
    "  stats              counters, gauges and latency, totals of every shard\n"
    "  stats --watch [--interval S] [--count N]\n"
    "                     one line of rates per interval (default 1 s), N lines\n"
    "  lookup AOR         the bindings of one address-of-record\n"
    "  dump [--domain D | --prefix P]\n"
    "                     every binding (of one domain, or of AORs starting with P)\n"
    "  remove AOR [CONTACT]\n"
    "                     remove an AOR's bindings, or one contact of it\n"
    "  shards             per-shard CPU, load, bindings, queues, heartbeat, cluster state\n"
    "  metrics            Prometheus text exposition, names locus_* (as HTTP /metrics)\n"
    "  health             exit 0 when every shard's loop turns, 1 when not\n"
    "  trace [--aor AOR] [--source IP]\n"
    "                     stream the SIP requests locusd receives and its answers,\n"
    "                     of one AOR and/or one source address, until Ctrl-C\n"
    "  reload-users       re-read the users file (authentication on)\n"
    "  reload-tls         re-read the TLS certificate, key and CA files\n"
    "  snapshot           every shard writes a snapshot of its bindings now\n"
    "  config             the effective configuration, as JSON\n"
    "  version            locusd's version\n"
    "\n"
    "Exit status: 0 success, 1 locusd answered an error (or is unhealthy), 2 usage\n"
    "error or no locusd at the socket.\n"
    "\n"
    "See also locusd(8) and docs/admin.md.\n";

// The admin socket when --socket is not given: the one under the current
// directory (tools/run starts locusd from the repository root), else the
// packaged service's.
std::string DefaultSocket() {
  constexpr const char* kLocal = "var/locus/admin.sock";
  constexpr const char* kService = "/run/locus/admin.sock";
  if (access(kLocal, F_OK) != 0 && access(kService, F_OK) == 0) return kService;
  return kLocal;
}

struct Options {
  std::string socket;  // empty: DefaultSocket()
  bool json = false;
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> flags;  // --name=value after the command
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--")) {
      const size_t eq = a.find('=');
      const std::string name(a.substr(2, eq == std::string_view::npos ? std::string_view::npos : eq - 2));
      std::string value(eq == std::string_view::npos ? "" : a.substr(eq + 1));
      // Options with a value take it after '=' or as the next argument.
      static const std::vector<std::string> kValued = {"socket", "interval", "count", "domain",
                                                       "prefix", "aor", "source"};
      if (eq == std::string_view::npos && std::find(kValued.begin(), kValued.end(), name) != kValued.end()) {
        if (i + 1 >= argc) Fail(2, "--" + name + " needs a value (see --help)");
        value = argv[++i];
      }
      if (name == "socket") {
        if (value.empty()) Fail(2, "--socket=PATH");
        o.socket = value;
      } else if (name == "json") {
        o.json = true;
      } else if (name == "help") {
        std::fputs(kUsage, stdout);
        std::exit(0);
      } else if (name == "version" && o.command.empty()) {
        std::printf("locusctl %s\n", LOCUS_VERSION);
        std::exit(0);
      } else {
        o.flags[name] = value;
      }
    } else if (o.command.empty()) {
      o.command = std::string(a);
    } else {
      o.args.emplace_back(a);
    }
  }
  if (o.command.empty()) Fail(2, "no command (see --help)");
  // The options each command takes after it.
  const std::map<std::string, std::vector<std::string>> kCommandOptions = {
      {"stats", {"watch", "interval", "count"}},
      {"dump", {"domain", "prefix"}},
      {"trace", {"aor", "source"}}};
  for (const auto& [name, value] : o.flags) {
    const auto it = kCommandOptions.find(o.command);
    if (it == kCommandOptions.end() ||
        std::find(it->second.begin(), it->second.end(), name) == it->second.end()) {
      Fail(2, "unknown option --" + name + " for " + o.command + " (see --help)");
    }
  }
  if (o.socket.empty()) o.socket = DefaultSocket();
  return o;
}

// Parses an answer; exits 1 with its error when ok is false.
element Parse(simdjson::dom::parser& parser, const std::string& line, bool exit_on_error = true) {
  element root;
  if (parser.parse(line).get(root)) Fail(2, "unreadable answer from locusd: " + line);
  bool ok = false;
  if (exit_on_error && (root["ok"].get(ok) || !ok)) {
    std::string_view error = "unknown error";
    if (root["error"].get(error)) {}  // absent: keeps the default
    Fail(1, std::string(error));
  }
  return root;
}

uint64_t U(element e, const char* key) {
  uint64_t v = 0;
  if (e[key].get(v)) {}  // absent: keeps the default
  return v;
}

double D(element e, const char* key) {
  double v = 0;
  if (e[key].get(v)) v = static_cast<double>(U(e, key));
  return v;
}

std::string S(element e, const char* key) {
  std::string_view v;
  if (e[key].get(v)) return "";
  return std::string(v);
}

void PrintBindingHeader() {
  std::printf("%-32s %-40s %7s %5s %-24s %8s %-22s %-4s %s\n", "AOR", "CONTACT", "EXPIRES", "Q",
              "CALL-ID", "CSEQ", "SOURCE", "TP", "USER-AGENT");
}

void PrintBinding(element b) {
  char q[16] = "-";
  double qv;
  if (!b["q"].get(qv)) std::snprintf(q, sizeof(q), "%.3g", qv);
  std::printf("%-32s %-40s %7llu %5s %-24s %8llu %-22s %-4s %s\n", S(b, "aor").c_str(),
              S(b, "contact").c_str(), static_cast<unsigned long long>(U(b, "expires")), q,
              S(b, "call_id").c_str(), static_cast<unsigned long long>(U(b, "cseq")),
              S(b, "source").c_str(), S(b, "transport").c_str(), S(b, "user_agent").c_str());
}

int Stats(AdminConnection& admin, const Options& o) {
  simdjson::dom::parser parser;
  if (!o.flags.contains("watch")) {
    admin.Send(R"({"cmd":"stats"})");
    const std::string line = admin.ReadLine();
    if (o.json) {
      std::printf("%s\n", line.c_str());
      return 0;
    }
    element root = Parse(parser, line);
    element totals = root["totals"];
    std::printf("uptime %llus, %llu shard(s)\n", static_cast<unsigned long long>(U(root, "uptime_s")),
                static_cast<unsigned long long>(U(root, "shard_count")));
    std::printf("%-28s %14s\n", "counter", "total");
    for (auto [key, value] : object(totals["counters"])) {
      uint64_t v = 0;
      if (value.get(v)) {}  // absent: keeps the default
      std::printf("%-28.*s %14llu\n", static_cast<int>(key.size()), key.data(),
                  static_cast<unsigned long long>(v));
    }
    for (auto [key, value] : object(totals["gauges"])) {
      uint64_t v = 0;
      if (value.get(v)) {}  // absent: keeps the default
      std::printf("%-28.*s %14llu\n", static_cast<int>(key.size()), key.data(),
                  static_cast<unsigned long long>(v));
    }
    element lat = totals["latency"];
    std::printf("latency (receive to send): p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us over %llu\n",
                D(lat, "p50_us"), D(lat, "p90_us"), D(lat, "p99_us"), D(lat, "p999_us"),
                static_cast<unsigned long long>(U(lat, "count")));
    return 0;
  }
  // --watch: one line per interval with rates per second.
  const int interval = o.flags.contains("interval") ? std::atoi(o.flags.at("interval").c_str()) : 1;
  const long count = o.flags.contains("count") ? std::atol(o.flags.at("count").c_str()) : -1;
  if (interval <= 0) Fail(2, "--interval must be a positive number of seconds");
  std::map<std::string, uint64_t> last;
  bool have_last = false;
  for (long n = 0; count < 0 || n <= count; ++n) {
    admin.Send(R"({"cmd":"stats"})");
    element root = Parse(parser, admin.ReadLine());
    std::map<std::string, uint64_t> now;
    for (auto [key, value] : object(root["totals"]["counters"])) {
      uint64_t v = 0;
      if (value.get(v)) {}  // absent: keeps the default
      now[std::string(key)] = v;
    }
    element gauges = root["totals"]["gauges"];
    element lat = root["totals"]["latency"];
    if (have_last) {
      auto rate = [&](const char* name) {
        return static_cast<double>(now[name] - last[name]) / interval;
      };
      const double errors = rate("responses_400") + rate("responses_403") + rate("responses_404") +
                            rate("responses_405") + rate("responses_420") + rate("responses_423") +
                            rate("responses_500") + rate("responses_503") + rate("responses_513");
      if (o.json) {
        std::printf("{\"requests_per_s\":%.1f,\"ok_per_s\":%.1f,\"errors_per_s\":%.1f,"
                    "\"handoffs_per_s\":%.1f,\"retransmissions_per_s\":%.1f,\"aors\":%llu,"
                    "\"bindings\":%llu,\"p99_us\":%.1f}\n",
                    rate("requests_received"), rate("responses_200"), errors, rate("handed_off"),
                    rate("retransmissions_absorbed"),
                    static_cast<unsigned long long>(U(gauges, "aors")),
                    static_cast<unsigned long long>(U(gauges, "bindings")), D(lat, "p99_us"));
      } else {
        if (n == 1 || n % 20 == 1) {
          std::printf("%10s %10s %10s %10s %10s %12s %12s %10s\n", "req/s", "200/s", "err/s",
                      "handoff/s", "retrans/s", "aors", "bindings", "p99(us)");
        }
        std::printf("%10.0f %10.0f %10.0f %10.0f %10.0f %12llu %12llu %10.1f\n",
                    rate("requests_received"), rate("responses_200"), errors, rate("handed_off"),
                    rate("retransmissions_absorbed"),
                    static_cast<unsigned long long>(U(gauges, "aors")),
                    static_cast<unsigned long long>(U(gauges, "bindings")), D(lat, "p99_us"));
      }
      std::fflush(stdout);
    }
    last = std::move(now);
    have_last = true;
    if (count < 0 || n < count) std::this_thread::sleep_for(std::chrono::seconds(interval));
  }
  return 0;
}

// Prometheus text exposition format 0.0.4, as locusd writes it for its
// HTTP endpoint's /metrics too (engine/admin/metrics.h).
int Metrics(AdminConnection& admin) {
  simdjson::dom::parser parser;
  admin.Send(R"({"cmd":"metrics"})");
  element root = Parse(parser, admin.ReadLine());
  std::string_view text;
  if (root["text"].get(text)) Fail(2, "locusd sent no metrics text");
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

// Prints the SIP messages locusd traces until it hangs up: a line naming
// when, which shard, in or out, the addresses and the AOR, then the message
// as it went (line ends as LF); with --json the daemon's lines as they come.
int Trace(AdminConnection& admin, const Options& o) {
  std::string request = R"({"cmd":"trace")";
  if (o.flags.contains("aor")) request += ",\"aor\":" + JsonString(o.flags.at("aor"));
  if (o.flags.contains("source")) request += ",\"source\":" + JsonString(o.flags.at("source"));
  admin.Send(request + "}");
  simdjson::dom::parser parser;
  const std::string first = admin.ReadLine();
  element root = Parse(parser, first);
  if (o.json) {
    std::printf("%s\n", first.c_str());
  } else {
    std::fprintf(stderr, "tracing (at most %llu messages a second per shard); Ctrl-C stops\n",
                 static_cast<unsigned long long>(U(root, "rate_per_shard")));
  }
  std::fflush(stdout);
  for (;;) {
    const std::string line = admin.ReadLine();
    if (o.json) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      continue;
    }
    element e = Parse(parser, line, false);
    uint64_t dropped = 0;
    if (!e["dropped"].get(dropped)) {
      std::printf("-- %llu message(s) not shown: rate bound, or read too slowly\n\n",
                  static_cast<unsigned long long>(dropped));
      std::fflush(stdout);
      continue;
    }
    const bool in = S(e, "direction") == "in";
    const std::string local = S(e, "local"), peer = S(e, "peer"), aor = S(e, "aor");
    std::printf("%s shard %llu %s %s %s -> %s%s%s\n", S(e, "time").c_str(),
                static_cast<unsigned long long>(U(e, "shard")), in ? "received" : "sent",
                S(e, "transport").c_str(), (in ? peer : local).c_str(), (in ? local : peer).c_str(),
                aor.empty() ? "" : "  ", aor.c_str());
    std::string message = S(e, "message");
    std::string text;
    for (size_t i = 0; i < message.size(); ++i) {
      if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
      text.push_back(message[i]);
    }
    std::printf("%s%s", text.c_str(), text.ends_with("\n\n") ? "" : "\n\n");
    std::fflush(stdout);
  }
}

int Run(const Options& o) {
  AdminConnection admin(o.socket);
  simdjson::dom::parser parser;
  const std::string& cmd = o.command;
  auto need_args = [&](size_t min, size_t max, const char* usage) {
    if (o.args.size() < min || o.args.size() > max) Fail(2, std::string("usage: locusctl ") + usage);
  };
  if (cmd == "stats") return Stats(admin, o);
  if (cmd == "metrics") return Metrics(admin);
  if (cmd == "trace") {
    need_args(0, 0, "trace [--aor=AOR] [--source=IP]");
    return Trace(admin, o);
  }
  if (cmd == "lookup") {
    need_args(1, 1, "lookup AOR");
    admin.Send("{\"cmd\":\"lookup\",\"aor\":" + JsonString(o.args[0]) + "}");
    const std::string line = admin.ReadLine();
    element root = Parse(parser, line);
    if (o.json) {
      std::printf("%s\n", line.c_str());
      return 0;
    }
    simdjson::dom::array bindings = root["bindings"].get_array();
    std::printf("%s: %zu binding(s)\n", S(root, "aor").c_str(), bindings.size());
    if (bindings.size() > 0) PrintBindingHeader();
    for (element b : bindings) PrintBinding(b);
    return 0;
  }
  if (cmd == "dump") {
    need_args(0, 0, "dump [--domain=D | --prefix=P]");
    std::string request = R"({"cmd":"dump")";
    if (o.flags.contains("domain")) request += ",\"domain\":" + JsonString(o.flags.at("domain"));
    if (o.flags.contains("prefix")) request += ",\"prefix\":" + JsonString(o.flags.at("prefix"));
    admin.Send(request + "}");
    if (!o.json) PrintBindingHeader();
    for (;;) {
      const std::string line = admin.ReadLine();
      element e = Parse(parser, line, false);
      bool ok = false;
      if (!e["ok"].get(ok)) {  // the final object
        if (!ok) Parse(parser, line);  // exits with the error
        if (o.json) {
          std::printf("%s\n", line.c_str());
        } else {
          std::printf("%llu binding(s)\n", static_cast<unsigned long long>(U(e, "count")));
        }
        return 0;
      }
      if (o.json) {
        std::printf("%s\n", line.c_str());
      } else {
        PrintBinding(e);
      }
    }
  }
  if (cmd == "remove") {
    need_args(1, 2, "remove AOR [CONTACT]");
    std::string request = "{\"cmd\":\"remove\",\"aor\":" + JsonString(o.args[0]);
    if (o.args.size() == 2) request += ",\"contact\":" + JsonString(o.args[1]);
    admin.Send(request + "}");
    const std::string line = admin.ReadLine();
    element root = Parse(parser, line);
    if (o.json) {
      std::printf("%s\n", line.c_str());
    } else {
      std::printf("removed %llu binding(s)\n", static_cast<unsigned long long>(U(root, "removed")));
    }
    return 0;
  }
  // One request, one answer: an error exits 1; with --json the answer is
  // printed as it came and the caller returns.
  std::string answer;
  auto ask = [&](const char* request) {
    admin.Send(request);
    answer = admin.ReadLine();
    element root = Parse(parser, answer);
    if (o.json) std::printf("%s\n", answer.c_str());
    return root;
  };
  if (cmd == "shards") {
    element root = ask(R"({"cmd":"shards"})");
    if (o.json) return 0;
    std::printf("%5s %10s %12s %12s %10s %10s %8s %10s %10s %10s\n", "SHARD", "CPU(s)", "REQUESTS",
                "HANDED-OFF", "AORS", "BINDINGS", "TCP", "QUEUE(B)", "ADMIN(B)", "BEAT(ms)");
    for (element s : root["shards"].get_array()) {
      std::printf("%5llu %10.2f %12llu %12llu %10llu %10llu %8llu %10llu %10llu %10llu\n",
                  static_cast<unsigned long long>(U(s, "shard")), D(s, "cpu_seconds"),
                  static_cast<unsigned long long>(U(s, "requests_received")),
                  static_cast<unsigned long long>(U(s, "handed_off")),
                  static_cast<unsigned long long>(U(s, "aors")),
                  static_cast<unsigned long long>(U(s, "bindings")),
                  static_cast<unsigned long long>(U(s, "tcp_connections")),
                  static_cast<unsigned long long>(U(s, "handoff_queue_bytes")),
                  static_cast<unsigned long long>(U(s, "admin_queue_bytes")),
                  static_cast<unsigned long long>(U(s, "heartbeat_age_ms")));
    }
    return 0;
  }
  if (cmd == "health") {
    admin.Send(R"({"cmd":"health"})");
    const std::string line = admin.ReadLine();
    element root = Parse(parser, line, false);
    bool ok = false;
    if (root["ok"].get(ok)) {}  // absent: keeps the default
    if (o.json) {
      std::printf("%s\n", line.c_str());
    } else if (ok) {
      std::printf("ok (%llu shards)\n", static_cast<unsigned long long>(U(root, "shards")));
    } else {
      std::printf("unhealthy: %s\n", S(root, "error").c_str());
    }
    return ok ? 0 : 1;
  }
  if (cmd == "reload-users") {
    element root = ask(R"({"cmd":"reload_users"})");
    if (o.json) return 0;
    std::printf("users file reloaded: %llu user(s)\n", static_cast<unsigned long long>(U(root, "users")));
    for (element w : root["warnings"].get_array()) {
      std::string_view text;
      if (!w.get(text)) std::printf("warning: %.*s\n", static_cast<int>(text.size()), text.data());
    }
    return 0;
  }
  if (cmd == "reload-tls") {
    element root = ask(R"({"cmd":"reload_tls"})");
    if (o.json) return 0;
    std::printf("TLS certificate reloaded: %s\n", S(root, "subject").c_str());
    return 0;
  }
  if (cmd == "snapshot") {
    element root = ask(R"({"cmd":"snapshot"})");  // exits 1 when durability is off
    if (o.json) return 0;
    std::printf("snapshot started on %llu shard(s); the snapshots counter counts them when written\n",
                static_cast<unsigned long long>(U(root, "shards")));
    return 0;
  }
  if (cmd == "config" || cmd == "version") {
    admin.Send("{\"cmd\":\"" + cmd + "\"}");
    const std::string line = admin.ReadLine();
    element root = Parse(parser, line);
    if (cmd == "version" && !o.json) {
      std::printf("locusd %s (%s)\n", S(root, "version").c_str(), S(root, "server").c_str());
    } else {
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  Fail(2, "unknown command '" + cmd + "' (see --help)");
}

}  // namespace

int main(int argc, char** argv) { return Run(ParseArgs(argc, argv)); }
