// regload: a REGISTER load generator for registrars (locusd, Kamailio, ...),
// fast enough to saturate one where SIPp cannot: many UDP sockets, batched
// sendmmsg/recvmmsg, millions of distinct AORs, RFC 3261 Timer E
// retransmissions and Timer F timeouts, open loop at a target rate or closed
// loop with a window of outstanding requests. It always stops by itself: at
// --count requests or --duration seconds, then waits for the stragglers (at
// most Timer F, or --drain seconds; those still unanswered count as timeouts).
//
//   regload --target=127.0.0.1:5060 [--mode=register|refresh|mixed|lookup|storm]
//           [--mix=REGISTER:REFRESH:UNREGISTER:QUERY] [--rate=N | --window=N]
//           [--count=N] [--duration=S] [--aors=N] [--aor-offset=K] [--first-cseq=N]
//           [--contact-port=P]
//           [--sockets=N] [--udp-gso=on|off] [--domain=D] [--expires=S] [--t1-ms=500]
//           [--drain=S] [--report-interval=S] [--json] [--quiet]
//           [--auth-password=P] [--transport=udp|tcp|tls]
//           [--storm-spread=S] [--backoff-base=S] [--backoff-max=S]
//
// Modes: `register` binds AORs aor-offset .. aor-offset+aors-1 once each, in
// order (new bindings); `refresh` cycles over them (they must be bound: run
// `register` first); `mixed` draws each request from --mix (default
// 10:80:5:5) over random AORs; `lookup` sends an INVITE to each AOR in turn,
// as a proxy asking a redirect server where the user is (they must be bound:
// run `register` first), counts its 302 as the success and answers every
// final response with the ACK of section 17.1.1.3. `storm` is a fleet of --aors
// phones coming back after an outage, all at once (or spread over
// --storm-spread seconds): each registers, retransmits on Timer E, and
// until it has a 200 keeps trying as a phone does -- after a 503 with
// Retry-After no sooner than it says, after a 423 at once with the
// Min-Expires given, after a timeout or another failure after the back-off
// of RFC 5626 section 4.5 (base --backoff-base, default 30 s, doubling to
// --backoff-max, 1800 s, times a random 50-100%); the run ends when every
// phone is registered, and each report says how many are. Every AOR keeps its Call-ID and a CSeq that
// grows by one per request, as a phone does (section 10.2.4), from --first-cseq
// (default 1; a later run over the same AORs must start above the last). An
// AOR's Contact is sip:+1415...@<local address>:<port of the AOR's socket, or
// --contact-port>, the same at every request (a refresh in a later run needs
// --contact-port, as the sockets' ports change).
//
// With --auth-password, a 401 is answered as a phone answers it (RFC 3261
// section 22.4): the first challenge whose algorithm regload knows (SHA-256,
// MD5 and their -sess forms), qop=auth, username = the AOR's user part, then
// the same request again with a new branch and CSeq + 1. The request counts
// once, its latency spans both round trips; `challenges` counts the 401s.
//
// With --transport=tcp or tls, each of the --sockets is a long-lived
// connection (TLS: TLS 1.2/1.3, the server's certificate not checked: a
// load generator); requests are pipelined on them and not retransmitted
// (section 17.1.2.2: Timer E is for unreliable transports), Timer F still
// bounds each.
//
// Output: one line per report interval (sent, 2xx, other, timeouts,
// retransmissions, latency percentiles) and a summary; --json makes each of
// them a JSON object. Exit 0 when every request got a 2xx (lookup: a 302),
// 1 otherwise, 2 on usage errors.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <functional>
#include <queue>
#include <utility>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/auth/digest.h"
#include "engine/endpoint.h"
#include "engine/latency_histogram.h"

namespace {

using locus::engine::Endpoint;
using locus::engine::LatencyHistogram;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

constexpr char kUsage[] =
    "Usage: regload --target=IP:PORT [OPTION]...\n"
    "A REGISTER load generator for registrars: many UDP sockets, batched\n"
    "sendmmsg/recvmmsg, millions of distinct AORs, RFC 3261 Timer E retransmissions\n"
    "and Timer F timeouts, open loop at a rate or closed loop with a window. It always\n"
    "stops by itself: at --count requests or after --duration seconds, then waits for\n"
    "the last answers.\n"
    "\n"
    "Target and load:\n"
    "  --target=IP:PORT        the registrar (required)\n"
    "  --mode=MODE             register: bind each AOR once, in order (default);\n"
    "                          refresh: cycle over AORs already bound; mixed: draw\n"
    "                          each request from --mix over random AORs; lookup: an\n"
    "                          INVITE to each bound AOR in turn, its 302 the success,\n"
    "                          then the ACK (a proxy asking a redirect server);\n"
    "                          storm: --aors phones come back at once and each keeps\n"
    "                          trying until registered (Retry-After, Min-Expires,\n"
    "                          RFC 5626 back-off); ends when all are registered\n"
    "  --mix=R:F:U:Q           mixed mode weights of REGISTER, REFRESH, UNREGISTER and\n"
    "                          QUERY (default 10:80:5:5)\n"
    "  --rate=N                open loop: requests per second\n"
    "  --window=N              closed loop: requests outstanding (default 100)\n"
    "  --count=N               stop after N requests (register mode: default --aors)\n"
    "  --duration=S            stop after S seconds\n"
    "  --drain=S               seconds to wait for answers after the last send\n"
    "                          (default: Timer F, 64*T1)\n"
    "\n"
    "AORs and requests:\n"
    "  --aors=N                distinct AORs (default 100000)\n"
    "  --aor-offset=K          first AOR index (default 0)\n"
    "  --first-cseq=N          CSeq of each AOR's first request (default 1; a later run\n"
    "                          over the same AORs must start above the last)\n"
    "  --contact-port=P        the Contact's port (default: the port of the AOR's socket)\n"
    "  --transport=T           udp (default), tcp or tls: over tcp and tls each socket is\n"
    "                          a long-lived connection, requests pipelined on it and\n"
    "                          not retransmitted (TLS: the certificate not checked)\n"
    "  --sockets=N             UDP sockets or connections (default 16)\n"
    "  --udp-gso=on|off        UDP: send the requests of a batch that have the same\n"
    "                          length as one UDP_SEGMENT message, cut into datagrams by\n"
    "                          the kernel (default on; off where GSO is refused)\n"
    "  --threads=N             N generator threads, each with its share of the rate or\n"
    "                          window, the count, the sockets and its own range of the\n"
    "                          AORs (default 1; not with storm); only the summary is\n"
    "                          printed\n"
    "  --domain=D              the AORs' domain (default example.com)\n"
    "  --expires=S             Expires of each REGISTER (default 3600)\n"
    "  --t1-ms=MS              RFC 3261 T1 for retransmissions (default 500)\n"
    "  --auth-password=P       answer 401 challenges as a phone does, with this\n"
    "                          password and the AOR's user part as username\n"
    "  --storm-spread=S        storm: the phones come back over S seconds (default 0)\n"
    "  --backoff-base=S        storm: RFC 5626 back-off base-time (default 30)\n"
    "  --backoff-max=S         storm: back-off max-time (default 1800)\n"
    "\n"
    "Output:\n"
    "  --report-interval=S     seconds between report lines (default 1)\n"
    "  --json                  reports and summary as JSON objects\n"
    "  --quiet                 only the summary\n"
    "  --help                  print this help and exit\n"
    "  --version               print the version and exit\n"
    "\n"
    "Exit status: 0 when every request got a 2xx (a 302 in lookup mode), 1 otherwise,\n"
    "2 on usage errors.\n";

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "regload: %s (see regload --help)\n", why.c_str());
  std::exit(2);
}

enum class Kind : uint8_t { kRegister, kRefresh, kUnregister, kQuery, kLookup };
struct Options {
  Endpoint target;
  std::string mode = "register";
  double mix[4] = {10, 80, 5, 5};
  double rate = 0;         // requests per second; 0: closed loop
  uint32_t window = 0;     // closed loop: outstanding requests
  uint64_t count = 0;      // stop after this many new requests (0: no limit)
  double duration = 0;     // stop after this many seconds (0: no limit)
  uint64_t aors = 100000;
  uint64_t aor_offset = 0;
  uint32_t first_cseq = 1;  // a later run over the same AORs starts above the last
  uint16_t contact_port = 0;  // 0: the port of the AOR's socket
  uint32_t sockets = 16;
  uint32_t threads = 1;
  uint32_t thread_index = 0;  // of this generator, among --threads
  bool print_summary = true;  // false: the caller merges and prints it
  std::string domain = "example.com";
  uint32_t expires = 3600;
  uint64_t t1_ms = 500;
  double report_interval = 1;
  double drain = 0;  // seconds to wait for answers after the last send; 0: Timer F
  bool json = false;
  bool quiet = false;
  std::string auth_password;  // answer 401s with this password
  std::string transport = "udp";  // udp, tcp or tls
  bool stream() const { return transport != "udp"; }
  // Storm mode.
  double storm_spread = 0;     // seconds over which the phones come back
  double backoff_base = 30;    // RFC 5626 section 4.5 base-time, seconds
  double backoff_max = 1800;   // and max-time
  bool storm() const { return mode == "storm"; }
  bool udp_gso = true;
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  bool have_target = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (!a.starts_with("--")) Usage("unexpected argument " + std::string(a));
    const size_t eq = a.find('=');
    const std::string name(a.substr(2, eq == std::string_view::npos ? std::string_view::npos : eq - 2));
    const std::string value(eq == std::string_view::npos ? "" : a.substr(eq + 1));
    auto number = [&](double min, double max) {
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || v < min || v > max) Usage("bad --" + name + "=" + value);
      return v;
    };
    if (name == "help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (name == "version") {
      std::printf("regload %s\n", LOCUS_VERSION);
      std::exit(0);
    } else if (name == "target") {
      if (!Endpoint::Parse(value, &o.target)) Usage("--target=IP:PORT");
      have_target = true;
    } else if (name == "mode") {
      if (value != "register" && value != "refresh" && value != "mixed" && value != "lookup" &&
          value != "storm") {
        Usage("--mode=register|refresh|mixed|lookup|storm");
      }
      o.mode = value;
    } else if (name == "mix") {
      if (std::sscanf(value.c_str(), "%lf:%lf:%lf:%lf", &o.mix[0], &o.mix[1], &o.mix[2], &o.mix[3]) != 4) {
        Usage("--mix=REGISTER:REFRESH:UNREGISTER:QUERY");
      }
    } else if (name == "rate") {
      o.rate = number(1, 1e8);
    } else if (name == "window") {
      o.window = static_cast<uint32_t>(number(1, 1e6));
    } else if (name == "count") {
      o.count = static_cast<uint64_t>(number(1, 1e12));
    } else if (name == "duration") {
      o.duration = number(0.1, 86400);
    } else if (name == "aors") {
      o.aors = static_cast<uint64_t>(number(1, 1e9));
    } else if (name == "aor-offset") {
      o.aor_offset = static_cast<uint64_t>(number(0, 1e10));
    } else if (name == "contact-port") {
      o.contact_port = static_cast<uint16_t>(number(1, 65535));
    } else if (name == "first-cseq") {
      o.first_cseq = static_cast<uint32_t>(number(1, 1e9));
    } else if (name == "sockets") {
      o.sockets = static_cast<uint32_t>(number(1, 4096));
    } else if (name == "udp-gso") {
      if (value != "on" && value != "off") Usage("--udp-gso is on or off");
      o.udp_gso = value == "on";
    } else if (name == "domain") {
      o.domain = value;
    } else if (name == "expires") {
      o.expires = static_cast<uint32_t>(number(0, 1e9));
    } else if (name == "t1-ms") {
      o.t1_ms = static_cast<uint64_t>(number(1, 60000));
    } else if (name == "drain") {
      o.drain = number(0.1, 3600);
    } else if (name == "report-interval") {
      o.report_interval = number(0.1, 3600);
    } else if (name == "transport") {
      if (value != "udp" && value != "tcp" && value != "tls") Usage("--transport=udp|tcp|tls");
      o.transport = value;
    } else if (name == "auth-password") {
      o.auth_password = value;
    } else if (name == "storm-spread") {
      o.storm_spread = number(0, 3600);
    } else if (name == "backoff-base") {
      o.backoff_base = number(0.01, 3600);
    } else if (name == "backoff-max") {
      o.backoff_max = number(0.01, 86400);
    } else if (name == "threads") {
      o.threads = static_cast<uint32_t>(number(1, 64));
    } else if (name == "json") {
      o.json = true;
    } else if (name == "quiet") {
      o.quiet = true;
    } else {
      Usage("unknown option --" + name);
    }
  }
  if (!have_target) Usage("--target=IP:PORT is required");
  if (o.rate == 0 && o.window == 0) o.window = 100;
  if (o.rate > 0 && o.window > 0) Usage("--rate (open loop) or --window (closed loop), not both");
  if (o.storm()) {
    if (o.stream()) Usage("--mode=storm is for UDP");
    if (o.threads > 1) Usage("--mode=storm runs on one thread");
    o.rate = 0;
    o.window = static_cast<uint32_t>(std::min<uint64_t>(o.aors, 4000000));  // every phone may be in flight
    if (o.duration == 0) o.duration = 3600;  // a bound, whatever happens
  }
  if (o.count == 0 && o.duration == 0) {
    if (o.mode == "register") {
      o.count = o.aors;
    } else {
      Usage("give --count or --duration: regload always stops by itself");
    }
  }
  return o;
}

// One request in flight.
struct Transaction {
  uint32_t generation = 0;  // bumps when the slot is reused
  bool active = false;
  Kind kind = Kind::kRegister;
  uint64_t aor = 0;
  uint32_t cseq = 0;
  uint32_t socket = 0;
  uint32_t retransmissions = 0;
  uint64_t first_sent_ns = 0;
  uint64_t interval_ns = 0;  // Timer E: T1, doubling up to T2
  // The credentials to send, after a 401.
  bool authorized = false;
  locus::engine::DigestAlgorithm algorithm = locus::engine::DigestAlgorithm::kMd5;
  uint8_t nonce_size = 0;
  uint8_t realm_size = 0;
  char nonce[64];
  char realm[64];
};

constexpr size_t kMaxMessage = 768;  // a REGISTER as regload writes it
constexpr uint64_t kSocketRun = 32;  // consecutive requests started on one socket
// Open loop: the shortest sleep between two rounds of sending and reading.
constexpr uint64_t kPaceNs = 50000;
// Storm: phones started between two readings of the answers.
constexpr int kStormBatch = 256;

struct Stats {
  uint64_t sent = 0, ok = 0, other = 0, timeouts = 0, retransmissions = 0, challenges = 0;
  uint64_t segmented = 0;  // requests that left in a UDP GSO message with others
  std::map<int, uint64_t> by_code;  // non-2xx final responses
  std::array<uint64_t, LatencyHistogram::kBuckets> latency{};
  uint64_t max_latency_ns = 0;

  void Add(const Stats& s) {
    sent += s.sent, ok += s.ok, other += s.other, timeouts += s.timeouts;
    retransmissions += s.retransmissions;
    challenges += s.challenges;
    segmented += s.segmented;
    for (const auto& [code, n] : s.by_code) by_code[code] += n;
    for (size_t b = 0; b < latency.size(); ++b) latency[b] += s.latency[b];
    max_latency_ns = std::max(max_latency_ns, s.max_latency_ns);
  }
  void Record(uint64_t ns) {
    ++latency[LatencyHistogram::BucketOf(ns)];
    max_latency_ns = std::max(max_latency_ns, ns);
  }
};

// Appends text and numbers to a fixed buffer; what does not fit is cut off
// (the message is then malformed, never overrun).
class MessageWriter {
 public:
  MessageWriter(char* out, size_t capacity) : out_(out), capacity_(capacity) {}
  MessageWriter& Put(std::string_view text) {
    const size_t n = std::min(text.size(), capacity_ - size_);
    std::memcpy(out_ + size_, text.data(), n);
    size_ += n;
    return *this;
  }
  // `value` in decimal, with leading zeros up to `width` digits.
  MessageWriter& Number(uint64_t value, size_t width = 1) {
    char digits[20];
    size_t n = 0;
    do {
      digits[sizeof(digits) - ++n] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0 || n < std::min(width, sizeof(digits)));
    return Put({digits + sizeof(digits) - n, n});
  }
  size_t size() const { return size_; }

 private:
  char* out_;
  size_t capacity_;
  size_t size_ = 0;
};

class Generator {
 public:
  explicit Generator(const Options& o) : o_(o), cseq_(o.aors, o.first_cseq - 1), rng_(12345 + o.thread_index) {
    const uint32_t slots = o.window > 0 ? o.window : static_cast<uint32_t>(std::min(4e6, o.rate * 40 + 1024));
    slots_.resize(slots);
    for (uint32_t i = slots; i-- > 0;) free_.push_back(i);
    t1_ns_ = o.t1_ms * 1000000;
    for (uint32_t i = 0; i < o.sockets; ++i) OpenSocket();
    mix_total_ = o.mix[0] + o.mix[1] + o.mix[2] + o.mix[3];
    if (mix_total_ <= 0) Usage("--mix needs a positive weight");
    if (o.storm()) {
      phone_failures_.assign(o.aors, 0);
      phone_expires_.assign(o.aors, o.expires);
      phone_registered_.assign(o.aors, 0);
    }
  }

  int Run();
  // --threads: adds another generator's totals to this one's, then prints
  // the summary of all (`seconds`: the run's wall time).
  void Absorb(const Generator& other) {
    total_.Add(other.total_);
    sending_seconds_ = std::max(sending_seconds_, other.sending_seconds_);
  }
  void PrintSummary(double seconds) { Report(seconds, total_, seconds, true); }

 private:
  // A socket of `type` connected to the target (UDP: only the peer is set).
  int ConnectedSocket(int type) {
    const int fd = socket(o_.target.family(), type | SOCK_CLOEXEC, 0);
    if (fd < 0) Usage(std::string("socket: ") + std::strerror(errno));
    if (connect(fd, o_.target.addr(), o_.target.len()) != 0) {
      Usage(std::string("connect: ") + std::strerror(errno));
    }
    return fd;
  }

  // Keeps `fd` as the next socket, with its local address (the Contacts').
  void AddSocket(int fd) {
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    fds_.push_back(fd);
    local_.push_back(Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&local), len));
    char ip[64];
    local_ip_.emplace_back(local_.back().IpText(ip));
  }

  void OpenSocket() {
    if (o_.stream()) {
      OpenConnection();
      return;
    }
    const int fd = ConnectedSocket(SOCK_DGRAM | SOCK_NONBLOCK);
    const int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
    // The kernel's arrival time of each response: latency ends there, not
    // when regload gets round to reading it.
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
    AddSocket(fd);
  }

  // A long-lived TCP (or TLS) connection, connected and handshaken before
  // the load starts, then non-blocking.
  void OpenConnection() {
    const int fd = ConnectedSocket(SOCK_STREAM);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Connection conn;
    if (o_.transport == "tls") {
      if (tls_ == nullptr) {
        tls_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
        SSL_CTX_set_verify(tls_, SSL_VERIFY_NONE, nullptr);
      }
      conn.ssl = SSL_new(tls_);
      SSL_set_fd(conn.ssl, fd);
      if (SSL_connect(conn.ssl) != 1) Usage("TLS handshake with the target failed");
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    AddSocket(fd);
    connections_.push_back(std::move(conn));
  }

  Kind NextKind() {
    if (o_.mode == "register" || o_.storm()) return Kind::kRegister;
    if (o_.mode == "refresh") return Kind::kRefresh;
    if (o_.mode == "lookup") return Kind::kLookup;
    double r = std::uniform_real_distribution<double>(0, mix_total_)(rng_);
    for (int k = 0; k < 4; ++k) {
      if (r < o_.mix[k]) return static_cast<Kind>(k);
      r -= o_.mix[k];
    }
    return Kind::kQuery;
  }

  uint64_t NextAor() {
    if (o_.mode == "mixed") return std::uniform_int_distribution<uint64_t>(0, o_.aors - 1)(rng_);
    return next_aor_++ % o_.aors;
  }

  // An INVITE (or its ACK, with the To of the final response) to the AOR of
  // `t`, from a caller: what a proxy sends a redirect server.
  size_t BuildLookup(const Transaction& t, uint32_t slot, std::string_view ack_to, char* out) {
    const uint64_t user = 14150000000ull + o_.aor_offset + t.aor;
    const Endpoint& local = local_[t.socket];
    char ip[64];
    const std::string_view ip_text = local.IpText(ip);
    const bool v6 = local.is_v6();
    char to[256];
    if (ack_to.empty()) {
      std::snprintf(to, sizeof(to), "<sip:+%" PRIu64 "@%s>", user, o_.domain.c_str());
    } else {
      std::snprintf(to, sizeof(to), "%.*s", static_cast<int>(ack_to.size()), ack_to.data());
    }
    const char* method = ack_to.empty() ? "INVITE" : "ACK";
    const int n = std::snprintf(
        out, kMaxMessage,
        "%s sip:+%" PRIu64 "@%s SIP/2.0\r\n"
        "Via: SIP/2.0/%s %s%.*s%s:%u;branch=z9hG4bK-rl-%u-%u;rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:caller@%s>;tag=rl%" PRIu64 "\r\n"
        "To: %s\r\n"
        "Call-ID: rl-lookup-%" PRIu64 "@regload\r\n"
        "CSeq: %u %s\r\n"
        "User-Agent: regload\r\n"
        "Content-Length: 0\r\n\r\n",
        method, user, o_.domain.c_str(), ViaTransport(), v6 ? "[" : "", static_cast<int>(ip_text.size()),
        ip_text.data(), v6 ? "]" : "", local.port(), slot, t.generation, o_.domain.c_str(), user,
        to, user, t.cseq, method);
    return static_cast<size_t>(std::clamp<int>(n, 0, kMaxMessage - 1));
  }

  const char* ViaTransport() const {
    return o_.transport == "tcp" ? "TCP" : o_.transport == "tls" ? "TLS" : "UDP";
  }

  // Writes the request of slot `slot` into `out` (kMaxMessage bytes); the same
  // bytes each time, so a retransmission is rebuilt rather than stored.
  size_t Build(const Transaction& t, uint32_t slot, char* out) {
    if (t.kind == Kind::kLookup) return BuildLookup(t, slot, {}, out);
    const uint64_t user = 14150000000ull + o_.aor_offset + t.aor;  // +1415 and 7 digits
    const Endpoint& local = local_[t.socket];
    const std::string_view ip_text = local_ip_[t.socket];
    const bool v6 = local.is_v6();
    char authorization[400] = "";
    if (t.authorized) {
      using namespace locus::engine;
      char username[32];
      std::snprintf(username, sizeof(username), "+%" PRIu64, user);
      char uri[128];
      std::snprintf(uri, sizeof(uri), "sip:%s", o_.domain.c_str());
      const std::string_view realm(t.realm, t.realm_size);
      const std::string_view nonce(t.nonce, t.nonce_size);
      const HexDigest ha1 = ComputeHa1(t.algorithm, username, realm, o_.auth_password);
      const HexDigest response = ComputeResponse(t.algorithm, ha1.view(), nonce, "00000001",
                                                 "regload", "auth", "REGISTER", uri);
      std::snprintf(authorization, sizeof(authorization),
                    "Authorization: Digest username=\"%s\", realm=\"%.*s\", nonce=\"%.*s\", "
                    "uri=\"%s\", response=\"%.*s\", algorithm=%.*s, qop=auth, nc=00000001, "
                    "cnonce=\"regload\"\r\n",
                    username, static_cast<int>(realm.size()), realm.data(),
                    static_cast<int>(nonce.size()), nonce.data(), uri,
                    static_cast<int>(response.view().size()), response.view().data(),
                    static_cast<int>(DigestAlgorithmName(t.algorithm).size()),
                    DigestAlgorithmName(t.algorithm).data());
    }
    // Written piece by piece (no printf: it was a fifth of regload's CPU).
    MessageWriter w(out, kMaxMessage);
    w.Put("REGISTER sip:").Put(o_.domain).Put(" SIP/2.0\r\nVia: SIP/2.0/").Put(ViaTransport()).Put(" ");
    w.Put(v6 ? "[" : "").Put(ip_text).Put(v6 ? "]" : "").Put(":").Number(local.port());
    // Fixed-width numbers in the branch: most requests of a run then have
    // the same length, which lets UDP GSO send them together.
    w.Put(";branch=z9hG4bK-rl-").Number(slot, 7).Put("-").Number(t.generation, 6).Put(";rport\r\n");
    w.Put("Max-Forwards: 70\r\nFrom: <sip:+").Number(user).Put("@").Put(o_.domain).Put(">;tag=rl");
    w.Number(user).Put("\r\nTo: <sip:+").Number(user).Put("@").Put(o_.domain).Put(">\r\nCall-ID: rl-");
    w.Number(user).Put("@regload\r\nCSeq: ").Number(t.cseq).Put(" REGISTER\r\n");
    if (t.kind != Kind::kQuery) {
      // A phone keeps its Contact: the same port for an AOR whatever socket
      // sends (so a refresh refreshes, and never adds a binding), fixed
      // across runs with --contact-port.
      const unsigned contact_port = o_.contact_port != 0 ? o_.contact_port
                                                         : local_[t.aor % local_.size()].port();
      w.Put("Contact: <sip:+").Number(user).Put("@").Put(v6 ? "[" : "").Put(ip_text).Put(v6 ? "]" : "");
      w.Put(":").Number(contact_port);
      w.Put(o_.transport == "tcp" ? ";transport=tcp" : o_.transport == "tls" ? ";transport=tls" : "");
      w.Put(">").Put(t.kind == Kind::kUnregister ? ";expires=0" : "").Put("\r\n");
    }
    if (t.kind == Kind::kRegister || t.kind == Kind::kRefresh) {
      w.Put("Expires: ").Number(o_.storm() ? phone_expires_[t.aor] : o_.expires).Put("\r\n");
    }
    w.Put(authorization).Put("User-Agent: regload\r\nContent-Length: 0\r\n\r\n");
    return w.size();
  }


  // Starts a new request in a free slot (storm: phone `phone`'s); false
  // when none is free.
  bool Start(uint64_t now, uint64_t phone = UINT64_MAX) {
    if (free_.empty()) return false;
    const uint32_t slot = free_.back();
    free_.pop_back();
    Transaction& t = slots_[slot];
    ++t.generation;
    t.active = true;
    t.kind = NextKind();
    t.aor = phone != UINT64_MAX ? phone : NextAor();
    t.cseq = ++cseq_[t.aor];
    // Runs of kSocketRun requests per socket, in turn: a flush then sends
    // many requests through each socket (one GSO message each, often).
    t.socket = static_cast<uint32_t>(started_ / kSocketRun % fds_.size());
    t.retransmissions = 0;
    t.authorized = false;
    t.first_sent_ns = now;
    t.interval_ns = t1_ns_;
    Queue(slot);
    timers_.push({now + t.interval_ns, slot, t.generation});
    ++started_;
    ++interval_.sent;
    ++outstanding_;
    return true;
  }

  void Queue(uint32_t slot) { pending_[slots_[slot].socket].push_back(slot); }

  // Streams: what is queued goes into the connection's output, then as much
  // of it as the socket takes now.
  void FlushStreams() {
    static thread_local char buffer[kMaxMessage];
    for (size_t s = 0; s < fds_.size(); ++s) {
      Connection& conn = connections_[s];
      for (uint32_t slot : pending_[s]) {
        conn.out.append(buffer, Build(slots_[slot], slot, buffer));
      }
      pending_[s].clear();
      WriteConnection(s);
    }
  }

  void WriteConnection(size_t s) {
    Connection& conn = connections_[s];
    while (conn.out_sent < conn.out.size()) {
      const char* data = conn.out.data() + conn.out_sent;
      const size_t size = conn.out.size() - conn.out_sent;
      long n;
      if (conn.ssl != nullptr) {
        n = SSL_write(conn.ssl, data, static_cast<int>(std::min<size_t>(size, 1 << 20)));
        if (n <= 0) break;  // WANT_WRITE: later
      } else {
        n = send(fds_[s], data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) break;
      }
      conn.out_sent += static_cast<size_t>(n);
    }
    if (conn.out_sent == conn.out.size()) {
      conn.out.clear();
      conn.out_sent = 0;
    }
  }

  // Streams: reads what arrived and hands each response (framed by its
  // empty line and Content-Length) to OnResponse.
  void ReceiveStreams(const std::vector<pollfd>& polls, uint64_t now) {
    static thread_local char buffer[1 << 16];
    for (size_t s = 0; s < fds_.size(); ++s) {
      Connection& conn = connections_[s];
      if ((polls[s].revents & POLLIN) == 0 && (conn.ssl == nullptr || SSL_pending(conn.ssl) == 0)) continue;
      for (;;) {
        const long n = conn.ssl != nullptr ? SSL_read(conn.ssl, buffer, sizeof(buffer))
                                           : recv(fds_[s], buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n <= 0) break;
        conn.in.append(buffer, static_cast<size_t>(n));
      }
      size_t at = 0;
      for (;;) {
        const size_t end = conn.in.find("\r\n\r\n", at);
        if (end == std::string::npos) break;
        size_t length = 0;
        const size_t cl = conn.in.find("\r\nContent-Length: ", at);
        if (cl != std::string::npos && cl < end) length = std::strtoul(conn.in.c_str() + cl + 18, nullptr, 10);
        if (end + 4 + length > conn.in.size()) break;
        OnResponse(std::string_view(conn.in).substr(at, end + 4 + length - at), now, now);
        at = end + 4 + length;
      }
      conn.in.erase(0, at);
    }
  }

  // Sends what is queued, one sendmmsg per socket and batch of 64. With
  // UDP GSO (--udp-gso, the default) the requests of a batch that have the
  // same length go as one message that the kernel cuts into datagrams
  // (UDP_SEGMENT): the server receives the same separate datagrams, and the
  // generator pays for one trip through the IP stack instead of one per
  // request.
  void Flush() {
    if (o_.stream()) {
      FlushStreams();
      return;
    }
    static thread_local char buffers[64][kMaxMessage];
    for (size_t s = 0; s < fds_.size(); ++s) {
      std::vector<uint32_t>& queue = pending_[s];
      size_t done = 0;
      while (done < queue.size()) {
        const size_t batch = std::min<size_t>(64, queue.size() - done);
        uint16_t length[64];
        for (size_t i = 0; i < batch; ++i) {
          const uint32_t slot = queue[done + i];
          length[i] = static_cast<uint16_t>(Build(slots_[slot], slot, buffers[i]));
        }
        const size_t sent = gso_ ? SendSegmented(fds_[s], buffers, length, batch)
                                 : SendEach(fds_[s], buffers, length, batch);
        if (sent < batch) break;  // socket buffer full: Timer E resends what is lost
        done += batch;
      }
      queue.clear();
    }
  }

  // One datagram per request; returns how many left.
  static size_t SendEach(int fd, char (*buffers)[kMaxMessage], const uint16_t* length, size_t batch) {
    mmsghdr msgs[64];
    iovec iov[64];
    for (size_t i = 0; i < batch; ++i) {
      iov[i] = {buffers[i], length[i]};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = sendmmsg(fd, msgs, static_cast<unsigned>(batch), MSG_DONTWAIT);
    return n < 0 ? 0 : static_cast<size_t>(n);
  }

  // Requests of equal length together, each run as one UDP_SEGMENT message
  // (at most kGsoBytes); returns how many requests left. The first refusal
  // of GSO itself turns it off for the rest of the run.
  size_t SendSegmented(int fd, char (*buffers)[kMaxMessage], const uint16_t* length, size_t batch) {
    constexpr size_t kGsoBytes = 60000;  // under the 64 KiB of one UDP message
    uint8_t order[64];
    for (size_t i = 0; i < batch; ++i) order[i] = static_cast<uint8_t>(i);
    std::sort(order, order + batch, [&](uint8_t a, uint8_t b) { return length[a] < length[b]; });
    mmsghdr msgs[64];
    iovec iov[64];
    size_t requests_in[64];
    alignas(cmsghdr) char control[64][CMSG_SPACE(sizeof(uint16_t))];
    size_t messages = 0;
    for (size_t i = 0; i < batch;) {
      const uint16_t size = length[order[i]];
      size_t run = 0;
      while (i + run < batch && length[order[i + run]] == size && (run + 1) * size <= kGsoBytes) {
        iov[i + run] = {buffers[order[i + run]], size};
        ++run;
      }
      mmsghdr& m = msgs[messages];
      m = {};
      m.msg_hdr.msg_iov = &iov[i];
      m.msg_hdr.msg_iovlen = run;
      if (run > 1) {
        m.msg_hdr.msg_control = control[messages];
        m.msg_hdr.msg_controllen = sizeof(control[messages]);
        cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        std::memcpy(CMSG_DATA(c), &size, sizeof(size));
      }
      requests_in[messages++] = run;
      i += run;
    }
    const int n = sendmmsg(fd, msgs, static_cast<unsigned>(messages), MSG_DONTWAIT);
    if (n < 0 && (errno == EINVAL || errno == EIO || errno == EOPNOTSUPP || errno == ENOPROTOOPT)) {
      gso_ = false;  // a kernel or route without UDP GSO
      return SendEach(fd, buffers, length, batch);
    }
    size_t sent = 0;
    for (int m = 0; m < n; ++m) {
      sent += requests_in[m];
      if (requests_in[m] > 1) interval_.segmented += requests_in[m];
    }
    return sent;
  }

  // One exchange with the server: sends what is queued, waits up to
  // `wait_ms` for answers, reads them and runs the timers. Returns the time.
  uint64_t Exchange(std::vector<pollfd>& polls, int wait_ms) {
    Flush();
    poll(polls.data(), polls.size(), wait_ms);
    const uint64_t now = NowNs();
    Receive(polls, now);
    RunTimers(now);
    return now;
  }

  // Reads every socket that poll() found readable.
  void Receive(const std::vector<pollfd>& polls, uint64_t now) {
    if (o_.stream()) {
      ReceiveStreams(polls, now);
      return;
    }
    static thread_local char buffers[64][2048];
    alignas(cmsghdr) static thread_local char control[64][CMSG_SPACE(sizeof(timespec))];
    // Arrival stamps are CLOCK_REALTIME; our clock is CLOCK_MONOTONIC.
    const int64_t realtime_ahead = static_cast<int64_t>(RealtimeNs()) - static_cast<int64_t>(NowNs());
    for (size_t s = 0; s < fds_.size(); ++s) {
      if ((polls[s].revents & POLLIN) == 0) continue;
      for (;;) {
        mmsghdr msgs[64];
        iovec iov[64];
        for (int i = 0; i < 64; ++i) {
          iov[i] = {buffers[i], sizeof(buffers[i])};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
          msgs[i].msg_hdr.msg_control = control[i];
          msgs[i].msg_hdr.msg_controllen = sizeof(control[i]);
        }
        const int n = recvmmsg(fds_[s], msgs, 64, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
          OnResponse({buffers[i], msgs[i].msg_len}, now, ArrivalNs(msgs[i].msg_hdr, realtime_ahead, now));
        }
        if (n < 64) break;
      }
    }
  }

  // When the kernel received a datagram (its SO_TIMESTAMPNS stamp, on our
  // clock); `now` without one.
  static uint64_t ArrivalNs(const msghdr& header, int64_t realtime_ahead, uint64_t now) {
    for (const cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&header), const_cast<cmsghdr*>(c))) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
      timespec stamp;
      std::memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
      const int64_t arrival = static_cast<int64_t>(stamp.tv_sec) * 1000000000 + stamp.tv_nsec - realtime_ahead;
      return arrival > 0 && static_cast<uint64_t>(arrival) < now ? static_cast<uint64_t>(arrival) : now;
    }
    return now;
  }

  // Reads the decimal number at the start of `text` (at most 10 digits: any
  // uint32_t) and moves past it.
  static bool TakeNumber(std::string_view& text, uint64_t* value) {
    size_t n = 0;
    *value = 0;
    while (n < text.size() && n < 10 && text[n] >= '0' && text[n] <= '9') {
      *value = *value * 10 + static_cast<uint64_t>(text[n] - '0');
      ++n;
    }
    text.remove_prefix(n);
    return n > 0;
  }

  // `arrival`: when the response reached our socket (latency ends there).
  void OnResponse(std::string_view r, uint64_t now, uint64_t arrival) {
    if (!r.starts_with("SIP/2.0 ") || r.size() < 12) return;
    const int code = (r[8] - '0') * 100 + (r[9] - '0') * 10 + (r[10] - '0');
    const size_t at = r.find("branch=z9hG4bK-rl-");
    if (at == std::string_view::npos) return;
    // branch=z9hG4bK-rl-<slot>-<generation>
    std::string_view rest = r.substr(at + 18);
    uint64_t slot_number = 0, generation = 0;
    if (!TakeNumber(rest, &slot_number) || rest.empty() || rest[0] != '-') return;
    rest.remove_prefix(1);
    if (!TakeNumber(rest, &generation)) return;
    if (slot_number >= slots_.size()) return;
    const uint32_t slot = static_cast<uint32_t>(slot_number);
    Transaction& t = slots_[slot];
    if (!t.active || t.generation != generation) return;  // a late duplicate
    if (code < 200) return;  // provisional: Timer E keeps running (section 17.1.2.2)
    if (code == 401 && !o_.auth_password.empty() && !t.authorized && Challenge(r, t)) {
      // Section 22.4: the same request again, with credentials, as a new
      // transaction (new branch, CSeq + 1).
      ++interval_.challenges;
      ++t.generation;
      t.authorized = true;
      t.cseq = ++cseq_[t.aor];
      t.retransmissions = 0;
      t.interval_ns = t1_ns_;
      Queue(slot);
      timers_.push({now + t.interval_ns, slot, t.generation});
      return;
    }
    if (t.kind == Kind::kLookup && code >= 300) SendAck(r, t, slot);
    t.active = false;
    --outstanding_;
    free_.push_back(slot);
    const uint64_t latency = arrival > t.first_sent_ns ? arrival - t.first_sent_ns : 0;
    interval_.Record(latency);
    if (code < 300 || (t.kind == Kind::kLookup && code == 302)) {
      ++interval_.ok;
    } else {
      ++interval_.other;
      ++interval_.by_code[code];
    }
    if (o_.storm()) StormOutcome(t.aor, code, r, now);
  }

  // Storm: what a phone does after its REGISTER ended (code 0: Timer F).
  void StormOutcome(uint64_t phone, int code, std::string_view response, uint64_t now) {
    if (code >= 200 && code < 300) {
      if (!phone_registered_[phone]) {
        phone_registered_[phone] = 1;
        ++registered_;
        if (registered_ == o_.aors) all_registered_ns_ = now;
      }
      return;
    }
    if (code == 423) {  // section 10.2.8: again at once, with Min-Expires
      const uint32_t min = static_cast<uint32_t>(HeaderNumber(response, "Min-Expires", 0));
      if (min > phone_expires_[phone]) phone_expires_[phone] = min;
      ready_.push({now, phone});
      return;
    }
    const uint64_t retry_after_s = code == 503 ? HeaderNumber(response, "Retry-After", 0) : 0;
    if (retry_after_s > 0) {  // section 21.5.4: not before it says
      ready_.push({now + retry_after_s * 1000000000ull, phone});
      return;
    }
    // RFC 5626 section 4.5: min(max-time, base-time * 2^failures) times a
    // random 50-100%.
    const uint32_t failures = phone_failures_[phone]++;
    const double wait_s = std::min(o_.backoff_max, o_.backoff_base * std::pow(2.0, std::min(failures, 30u))) *
                          std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
    ready_.push({now + static_cast<uint64_t>(wait_s * 1e9), phone});
  }

  // The value of header `name` of a response as a number, or `otherwise`.
  static uint64_t HeaderNumber(std::string_view r, std::string_view name, uint64_t otherwise) {
    size_t at = 0;
    while ((at = r.find(name, at)) != std::string_view::npos) {
      if (at >= 2 && r[at - 2] == '\r' && r[at - 1] == '\n' && at + name.size() < r.size() &&
          r[at + name.size()] == ':') {
        size_t p = at + name.size() + 1;
        while (p < r.size() && r[p] == ' ') ++p;
        uint64_t v = 0;
        bool any = false;
        while (p < r.size() && r[p] >= '0' && r[p] <= '9' && v < (1ull << 40)) {
          v = v * 10 + static_cast<uint64_t>(r[p++] - '0');
          any = true;
        }
        return any ? v : otherwise;
      }
      at += name.size();
    }
    return otherwise;
  }

  // Section 17.1.1.3: a final non-2xx response to an INVITE is acknowledged
  // by the client transaction, with the response's To (and its tag).
  void SendAck(std::string_view response, const Transaction& t, uint32_t slot) {
    const size_t at = response.find("\r\nTo: ");
    if (at == std::string_view::npos) return;
    const size_t start = at + 6;
    const std::string_view to = response.substr(start, response.find("\r\n", start) - start);
    char ack[kMaxMessage];
    const size_t size = BuildLookup(t, slot, to, ack);
    if (o_.stream()) {
      connections_[t.socket].out.append(ack, size);
      return;  // written with the next flush
    }
    [[maybe_unused]] ssize_t n = send(fds_[t.socket], ack, size, MSG_DONTWAIT);
  }

  // Takes the first challenge with an algorithm regload knows.
  static bool Challenge(std::string_view r, Transaction& t) {
    size_t at = 0;
    while ((at = r.find("WWW-Authenticate:", at)) != std::string_view::npos) {
      const std::string_view line = r.substr(at, r.find("\r\n", at) - at);
      at += 17;
      auto param = [&](std::string_view name) -> std::string_view {
        const size_t p = line.find(name);
        if (p == std::string_view::npos) return {};
        size_t start = p + name.size();
        const bool quoted = start < line.size() && line[start] == '"';
        if (quoted) ++start;
        const size_t end = line.find_first_of(quoted ? "\"" : ", ", start);
        return line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      };
      locus::engine::DigestAlgorithm algorithm;
      const std::string_view name = param("algorithm=");
      if (!locus::engine::ParseDigestAlgorithm(name.empty() ? "MD5" : name, &algorithm)) continue;
      const std::string_view nonce = param("nonce=");
      const std::string_view realm = param("realm=");
      if (nonce.size() > sizeof(t.nonce) || realm.size() > sizeof(t.realm)) continue;
      std::memcpy(t.nonce, nonce.data(), nonce.size());
      std::memcpy(t.realm, realm.data(), realm.size());
      t.nonce_size = static_cast<uint8_t>(nonce.size());
      t.realm_size = static_cast<uint8_t>(realm.size());
      t.algorithm = algorithm;
      return true;
    }
    return false;
  }

  void RunTimers(uint64_t now) {
    const uint64_t timer_f = 64 * t1_ns_;
    const uint64_t t2 = 8 * t1_ns_;  // T2 = 4 s when T1 = 500 ms
    while (!timers_.empty() && timers_.top().at <= now) {
      const Timer timer = timers_.top();
      timers_.pop();
      Transaction& t = slots_[timer.slot];
      if (!t.active || t.generation != timer.generation) continue;
      if (now - t.first_sent_ns >= timer_f) {  // Timer F: the transaction fails
        t.active = false;
        --outstanding_;
        free_.push_back(timer.slot);
        ++interval_.timeouts;
        if (o_.storm()) StormOutcome(t.aor, 0, {}, now);
        continue;
      }
      if (o_.stream()) {  // reliable: only Timer F
        timers_.push({t.first_sent_ns + timer_f, timer.slot, t.generation});
        continue;
      }
      ++t.retransmissions;
      ++interval_.retransmissions;
      Queue(timer.slot);
      t.interval_ns = std::min(2 * t.interval_ns, t2);
      timers_.push({std::min(now + t.interval_ns, t.first_sent_ns + timer_f), timer.slot, t.generation});
    }
  }

  void Report(double elapsed, const Stats& s, double seconds, bool final);
  // Storm: ",\"registered\":N" (and the time to all registered, at the end).
  std::string StormJson(bool final) const;

  struct Timer {
    uint64_t at;
    uint32_t slot;
    uint32_t generation;
    bool operator>(const Timer& other) const { return at > other.at; }
  };

  const Options& o_;
  std::vector<int> fds_;
  bool gso_ = o_.udp_gso;  // UDP: send runs of equal-length requests with UDP_SEGMENT
  // Streams: a connection's buffers (and its TLS), one per socket.
  struct Connection {
    SSL* ssl = nullptr;
    std::string out;  // requests not yet written: [out_sent, size)
    size_t out_sent = 0;
    std::string in;   // bytes of responses not yet complete
  };
  std::vector<Connection> connections_;
  SSL_CTX* tls_ = nullptr;
  std::vector<Endpoint> local_;
  std::vector<std::string> local_ip_;  // each socket's address as text, for the messages
  std::vector<std::vector<uint32_t>> pending_;
  std::vector<Transaction> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> cseq_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::mt19937_64 rng_;
  double mix_total_ = 0;
  uint64_t t1_ns_ = 0;
  uint64_t next_aor_ = 0;
  uint64_t started_ = 0;
  uint64_t outstanding_ = 0;
  Stats interval_;
  Stats total_;
  uint64_t reports_printed_ = 0;
  uint64_t stopped_sending_ns_ = 0;
  double sending_seconds_ = 0;  // start to last send, for the summary
  // Storm: each phone's failures in a row, Expires, whether registered;
  // the phones due to try again (at, phone), soonest first.
  std::vector<uint32_t> phone_failures_;
  std::vector<uint32_t> phone_expires_;
  std::vector<uint8_t> phone_registered_;
  std::priority_queue<std::pair<uint64_t, uint64_t>, std::vector<std::pair<uint64_t, uint64_t>>,
                      std::greater<>> ready_;
  uint64_t registered_ = 0;
  uint64_t all_registered_ns_ = 0;
  uint64_t start_ns_ = 0;
};

std::string Generator::StormJson(bool final) const {
  if (!o_.storm()) return {};
  std::string out = ",\"registered\":" + std::to_string(registered_);
  if (final) {
    out += ",\"all_registered_seconds\":";
    out += all_registered_ns_ != 0 ? std::to_string(static_cast<double>(all_registered_ns_ - start_ns_) / 1e9)
                                   : std::string("null");
  }
  return out;
}

std::string LatencyText(const Stats& s, bool json) {
  auto us = [&](double q) { return static_cast<double>(LatencyHistogram::Quantile(s.latency, q)) / 1000; };
  char buf[256];
  if (json) {
    std::snprintf(buf, sizeof(buf),
                  "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f",
                  us(0.5), us(0.9), us(0.99), us(0.999), static_cast<double>(s.max_latency_ns) / 1000);
  } else {
    std::snprintf(buf, sizeof(buf), "%9.1f %9.1f %9.1f %9.1f %9.1f", us(0.5), us(0.9), us(0.99),
                  us(0.999), static_cast<double>(s.max_latency_ns) / 1000);
  }
  return buf;
}

void Generator::Report(double elapsed, const Stats& s, double seconds, bool final) {
  if (o_.quiet && !final) return;
  std::string codes;
  for (const auto& [code, n] : s.by_code) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), o_.json ? "%s\"%d\":%" PRIu64 : "%s%d:%" PRIu64,
                  codes.empty() ? "" : ",", code, n);
    codes += buf;
  }
  // The generator's own CPU (every thread) per request sent, in the summary.
  double cpu_us = 0;
  if (final) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    cpu_us = cpu_s * 1e6 / static_cast<double>(std::max<uint64_t>(s.sent, 1));
  }
  if (o_.json) {
    std::printf("{\"%s\":%.1f,\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"other\":%" PRIu64
                ",\"timeouts\":%" PRIu64 ",\"retransmissions\":%" PRIu64 ",\"challenges\":%" PRIu64
                ",\"rate\":%.1f,\"ok_rate\":%.1f,\"codes\":{%s},%s%s}\n",
                final ? "summary_seconds" : "t", elapsed, s.sent, s.ok, s.other, s.timeouts,
                s.retransmissions, s.challenges, static_cast<double>(s.sent) / seconds,
                static_cast<double>(s.ok) / seconds, codes.c_str(), LatencyText(s, true).c_str(),
                ((final ? ",\"sending_seconds\":" + std::to_string(sending_seconds_) +
                              ",\"regload_cpu_us_per_request\":" + std::to_string(cpu_us) +
                              ",\"segmented\":" + std::to_string(s.segmented)
                        : std::string()) +
                 StormJson(final))
                    .c_str());
  } else {
    if (final) {
      std::printf("summary over %.1f s:\n", seconds);
    } else if (reports_printed_++ % 20 == 0) {
      std::printf("%7s %9s %9s %7s %8s %8s %9s %9s %9s %9s %9s  %s\n", "t(s)", "sent/s", "2xx/s",
                  "other", "timeout", "retrans", "p50(us)", "p90(us)", "p99(us)", "p999(us)",
                  "max(us)", "codes");
    }
    std::printf("%7.1f %9.0f %9.0f %7" PRIu64 " %8" PRIu64 " %8" PRIu64 " %s  %s%s\n", elapsed,
                static_cast<double>(s.sent) / seconds, static_cast<double>(s.ok) / seconds, s.other,
                s.timeouts, s.retransmissions, LatencyText(s, false).c_str(), codes.c_str(),
                o_.storm() ? (" registered " + std::to_string(registered_)).c_str() : "");
    if (final) {
      std::printf("sent %" PRIu64 ", 2xx %" PRIu64 ", other %" PRIu64 ", timeouts %" PRIu64
                  ", retransmissions %" PRIu64 ", 401s answered %" PRIu64
                  "; regload's CPU %.2f us per request\n",
                  s.sent, s.ok, s.other, s.timeouts, s.retransmissions, s.challenges, cpu_us);
    }
  }
  std::fflush(stdout);
}

int Generator::Run() {
  pending_.resize(fds_.size());
  const uint64_t start = NowNs();
  start_ns_ = start;
  if (o_.storm()) {
    // Every phone comes back at once, or evenly over --storm-spread.
    for (uint64_t phone = 0; phone < o_.aors; ++phone) {
      const double at = o_.storm_spread * static_cast<double>(phone) / static_cast<double>(o_.aors);
      ready_.push({start + static_cast<uint64_t>(at * 1e9), phone});
    }
  }
  const uint64_t stop_sending = o_.duration > 0 ? start + static_cast<uint64_t>(o_.duration * 1e9) : UINT64_MAX;
  const uint64_t interval_ns = static_cast<uint64_t>(o_.report_interval * 1e9);
  uint64_t next_report = start + interval_ns;
  uint64_t last_report = start;
  std::vector<pollfd> polls;
  for (int fd : fds_) polls.push_back({fd, POLLIN, 0});
  for (;;) {
    uint64_t now = NowNs();
    const bool sending = o_.storm() ? now < stop_sending && registered_ < o_.aors
                                    : now < stop_sending && (o_.count == 0 || started_ < o_.count);
    if (sending && o_.storm()) {
      // Storm: every phone whose time has come, as slots allow. Answers are
      // read and the phones' timers run between batches, as they would for
      // phones that do not wait for one another to send.
      for (int started = 1; !ready_.empty() && ready_.top().first <= now && !free_.empty();
           ++started) {
        const uint64_t phone = ready_.top().second;
        ready_.pop();
        Start(now, phone);
        if (started % kStormBatch == 0) now = Exchange(polls, 0);
      }
    } else if (sending) {
      if (o_.rate > 0) {
        // Open loop: as many as the rate says should have started by now.
        const uint64_t due = static_cast<uint64_t>(static_cast<double>(now - start) * o_.rate / 1e9);
        uint64_t limit = o_.count == 0 ? due : std::min(due, o_.count);
        // When every slot waits for an answer the target is far behind; the
        // missing requests start as slots free up (the offered rate is missed).
        while (started_ < limit && Start(now)) {}
      } else {
        while (outstanding_ < o_.window && (o_.count == 0 || started_ < o_.count) && Start(now)) {}
      }
    } else {
      if (stopped_sending_ns_ == 0) stopped_sending_ns_ = now;
      if (outstanding_ == 0 || o_.storm()) break;
      if (o_.drain > 0 && now - stopped_sending_ns_ >= static_cast<uint64_t>(o_.drain * 1e9)) {
        interval_.timeouts += outstanding_;  // given up on: as Timer F would
        break;
      }
    }
    if (sending && o_.rate > 0 && !o_.storm()) {
      // Open loop: sleep until the next request is due (at least kPaceNs,
      // at most 1 ms), then read every answer that came meanwhile. Reading in
      // batches costs far less than waking for each answer, and the arrival
      // stamps keep the latencies exact.
      Flush();
      const uint64_t due = start + static_cast<uint64_t>(static_cast<double>(started_ + 1) * 1e9 / o_.rate);
      const uint64_t wake = std::clamp<uint64_t>(due, now + kPaceNs, now + 1000000);
      const timespec until{static_cast<time_t>(wake / 1000000000), static_cast<long>(wake % 1000000000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
      now = Exchange(polls, 0);
    } else {
      // Wait briefly for answers (1 ms at most).
      now = Exchange(polls, outstanding_ > 0 || sending ? 1 : 0);
    }
    Flush();
    if (now >= next_report) {
      total_.Add(interval_);
      Report(static_cast<double>(now - start) / 1e9, interval_, static_cast<double>(now - last_report) / 1e9, false);
      interval_ = Stats{};
      last_report = now;
      next_report = now + interval_ns;
    }
  }
  total_.Add(interval_);
  const uint64_t end = NowNs();
  sending_seconds_ = static_cast<double>((stopped_sending_ns_ != 0 ? stopped_sending_ns_ : end) - start) / 1e9;
  if (o_.print_summary) {
    Report(static_cast<double>(end - start) / 1e9, total_, static_cast<double>(end - start) / 1e9, true);
  }
  if (o_.storm()) return registered_ == o_.aors ? 0 : 1;
  return total_.ok == total_.sent ? 0 : 1;
}

// --threads: each generator takes its share of the load and its own range of
// the AORs (so that one AOR's CSeq is only ever counted by one thread).
int RunThreads(const Options& o) {
  const uint64_t n = o.threads;
  auto share = [n](uint64_t total, uint64_t i) { return total * (i + 1) / n - total * i / n; };
  if (o.aors < n || (o.count > 0 && o.count < n) || (o.window > 0 && o.window < n)) {
    Usage("--threads needs at least one AOR, request and window slot per thread");
  }
  std::vector<Options> parts(n, o);  // each generator keeps a reference to its own
  std::vector<std::unique_ptr<Generator>> generators;
  for (uint64_t i = 0; i < n; ++i) {
    Options& part = parts[i];
    part.thread_index = static_cast<uint32_t>(i);
    part.print_summary = false;
    part.quiet = true;
    part.aor_offset = o.aor_offset + o.aors * i / n;
    part.aors = share(o.aors, i);
    part.count = o.count > 0 ? share(o.count, i) : 0;
    part.rate = o.rate / static_cast<double>(n);
    part.window = o.window > 0 ? static_cast<uint32_t>(share(o.window, i)) : 0;
    part.sockets = static_cast<uint32_t>(std::max<uint64_t>(1, share(o.sockets, i)));
    generators.push_back(std::make_unique<Generator>(part));
  }
  const uint64_t start = NowNs();
  std::vector<int> results(n, 0);
  std::vector<std::thread> threads;
  for (uint64_t i = 0; i < n; ++i) {
    threads.emplace_back([&generators, &results, i] { results[i] = generators[i]->Run(); });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = static_cast<double>(NowNs() - start) / 1e9;
  for (uint64_t i = 1; i < n; ++i) generators[0]->Absorb(*generators[i]);
  generators[0]->PrintSummary(seconds);
  for (int r : results) {
    if (r != 0) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  if (options.threads > 1) return RunThreads(options);
  Generator generator(options);
  return generator.Run();
}
