// libFuzzer target: sequences of requests through one shard's whole request
// pipeline -- the real RequestHandler over a real binding table, transaction
// cache, Digest authentication (users file in a temporary directory) and
// group commit in sync mode, whose groups the input makes durable or fail --
// checking the registrar's invariants after every step:
//  - no AOR holds more than max_contacts bindings, none expired (after the
//    expiry pass) and none granted more than max_expires;
//  - the table's counts equal what it holds;
//  - a 200 to a REGISTER lists exactly the AOR's bindings, each with the
//    seconds it has left;
//  - a failed group leaves the table as the last durable group did (the
//    bindings that lapsed meanwhile aside).
// The input is a program: each step reads a few bytes (what to send, with
// which AOR, contacts, expiry, Call-ID, CSeq, credentials; or time passing,
// or a group written). Any crash, sanitizer report or broken invariant
// (__builtin_trap) is a finding.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "engine/auth/authenticator.h"
#include "engine/auth/digest.h"
#include "engine/auth/failure_table.h"
#include "engine/auth/nonce_service.h"
#include "engine/auth/user_db.h"
#include "engine/config.h"
#include "engine/counters.h"
#include "engine/durability/group_commit.h"
#include "engine/sip/request_handler.h"
#include "parser/message.h"
#include "store/binding_table.h"
#include "store/registrar.h"

using namespace locus;
using namespace locus::engine;

namespace {

constexpr uint32_t kStart = 1800000000;
constexpr char kRealm[] = "example.com";
constexpr char kPassword[] = "secret";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    __builtin_trap();
  }
}

// The writer's side of group commit, as the journal drives it
// (durability/journal.cc), its writes' outcomes chosen by the input.
class FuzzJournal : public GroupCommit {
 public:
  using GroupCommit::GroupCommit;
  bool in_flight() const { return inflight() != nullptr; }
  // The journal's turn with nothing in flight: the pending group's write
  // starts (true), or responses held only behind committed groups leave.
  bool Turn() {
    if (!pending()->records.empty()) {
      BeginGroup();
      return true;
    }
    if (!pending()->held.empty()) ReleaseHeld();
    return false;
  }
  void Commit() { GroupCommitted(); }
  void Fail(uint32_t now) { GroupFailed(now); }
  void Drop() {
    TakeDecided([](const HeldResponse&, std::string_view, std::string_view, std::string_view, bool) {});
  }
};

// An AOR's bindings as (contact, expires_at, Call-ID, CSeq), for comparisons.
using State = std::map<std::string, std::set<std::tuple<std::string, uint32_t, std::string, uint32_t>>>;

State Snapshot(const store::BindingTable& table, uint32_t now) {
  State s;
  table.ForEach([&](const store::AorRecord& r) {
    for (const store::Binding& b : r.bindings()) {
      if (b.expires_at > now) {
        s[std::string(r.key())].insert({std::string(b.contact()), b.expires_at, std::string(b.call_id()), b.cseq});
      }
    }
  });
  for (auto it = s.begin(); it != s.end();) it = it->second.empty() ? s.erase(it) : std::next(it);
  return s;
}

State Lapsed(State s, uint32_t now) {
  for (auto& [aor, bindings] : s) {
    for (auto it = bindings.begin(); it != bindings.end();) {
      it = std::get<1>(*it) <= now ? bindings.erase(it) : std::next(it);
    }
  }
  for (auto it = s.begin(); it != s.end();) it = it->second.empty() ? s.erase(it) : std::next(it);
  return s;
}

struct Pipeline {
  Pipeline() : table(kStart), failures(300), nonces(std::string(32, 'k'), 300) {
    config = Config::Defaults();
    config.policy.max_contacts = 4;
    config.transaction_limit = 64;  // small: evictions happen
    config.transaction_memory = 64 << 10;
    char dir[] = "/tmp/pipeline-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    users_path = std::string(dir) + "/users.json";
    FILE* f = std::fopen(users_path.c_str(), "w");
    std::fputs("{\"users\":[{\"username\":\"u0\",\"password\":\"secret\"},"
               "{\"username\":\"u1\",\"password\":\"secret\",\"aors\":[\"sip:u1@example.com\",\"sip:u2@example.com\"]}]}",
               f);
    std::fclose(f);
    std::vector<std::string> warnings;
    auto loaded = UserDb::Load(users_path, kRealm, &warnings);
    if (!loaded.ok()) std::abort();
    users = *loaded;
    std::remove(users_path.c_str());
    rmdir(dir);
  }

  Config config;
  store::BindingTable table;
  ShardCounters counters;
  FailureTable failures;
  NonceService nonces;
  std::shared_ptr<const UserDb> users;
  std::string users_path;
};

Pipeline& Shared() {
  static Pipeline* p = new Pipeline();
  return *p;
}

class Program {
 public:
  Program(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  uint8_t Next() { return at_ < size_ ? data_[at_++] : 0; }
  std::string_view Rest(size_t max) {
    const size_t n = std::min(max, size_ - std::min(at_, size_));
    std::string_view s(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

std::string Register(int user, const std::vector<std::string>& contacts, int expires_header,
                     int call_id, uint32_t cseq, int branch, const std::string& authorization) {
  std::string m = "REGISTER sip:example.com SIP/2.0\r\n";
  m += "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK" + std::to_string(branch) + ";rport\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <sip:u" + std::to_string(user) + "@example.com>;tag=f1\r\n";
  m += "To: <sip:u" + std::to_string(user) + "@example.com>\r\n";
  m += "Call-ID: call" + std::to_string(call_id) + "\r\n";
  m += "CSeq: " + std::to_string(cseq) + " REGISTER\r\n";
  for (const std::string& c : contacts) m += "Contact: " + c + "\r\n";
  if (expires_header >= 0) m += "Expires: " + std::to_string(expires_header) + "\r\n";
  m += authorization;
  m += "Content-Length: 0\r\n\r\n";
  return m;
}

// The contacts of a 200 and their expires, as the registrar wrote them.
std::set<std::pair<std::string, uint32_t>> ContactsOf(std::string_view response) {
  std::set<std::pair<std::string, uint32_t>> out;
  size_t at = 0;
  while ((at = response.find("\r\nContact: <", at)) != std::string_view::npos) {
    at += 12;
    const size_t end = response.find('>', at);
    const size_t line_end = response.find("\r\n", at);
    const size_t exp = response.find(";expires=", end);
    if (end == std::string_view::npos || exp == std::string_view::npos || exp > line_end) Check(false, "Contact shape");
    out.insert({std::string(response.substr(at, end - at)),
                static_cast<uint32_t>(std::strtoul(std::string(response.substr(exp + 9, 12)).c_str(), nullptr, 10))});
  }
  return out;
}

// An Authorization answering the MD5 challenge of a 401 for user `user`.
std::string Answer(std::string_view challenge_response, int user, bool wrong) {
  const size_t n = challenge_response.find("nonce=\"");
  if (n == std::string_view::npos) return {};
  const size_t end = challenge_response.find('"', n + 7);
  const std::string nonce(challenge_response.substr(n + 7, end - n - 7));
  const std::string username = "u" + std::to_string(user);
  const HexDigest ha1 = ComputeHa1(DigestAlgorithm::kMd5, username, kRealm, wrong ? "nope" : kPassword);
  const HexDigest response =
      ComputeResponse(DigestAlgorithm::kMd5, ha1.view(), nonce, "00000001", "fz", "auth", "REGISTER", "sip:example.com");
  return "Authorization: Digest username=\"" + username + "\", realm=\"example.com\", nonce=\"" + nonce +
         "\", uri=\"sip:example.com\", response=\"" + std::string(response.view()) +
         "\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"fz\"\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Pipeline& shared = Shared();
  Program program(data, size);
  const uint8_t mode = program.Next();
  const bool auth_on = (mode & 1) != 0;

  store::BindingTable table(kStart);
  ShardCounters counters;
  RequestHandler handler(shared.config, 0, 1, 42, table, counters);
  FuzzJournal journal(DurabilityMode::kSync, 1 << 20, table, counters);
  handler.SetJournal(&journal);
  std::unique_ptr<Authenticator> auth;
  if (auth_on) {
    AuthPolicy policy;
    policy.realm = kRealm;
    policy.algorithms = {DigestAlgorithm::kMd5};
    policy.max_failures = 0;
    auth = std::make_unique<Authenticator>(policy, &shared.nonces, &shared.failures, counters, 0);
    auth->SetUsers(shared.users);
    handler.SetAuthenticator(auth.get());
  }
  Inbound inbound;
  Endpoint::Parse("198.51.100.9:40000", &inbound.source);

  uint32_t now = kStart;
  uint64_t now_ms = 1000;
  handler.SetTime(now, now_ms);
  State durable;   // after the last group made durable
  State in_group;  // the in-flight group's state when it began
  std::vector<uint32_t> cseqs(4, 1);
  std::string response;
  int branch = 0;
  int64_t counted_gap = 0;          // created - removed - expired - bindings
  bool failed_since_check = false;  // a group failed since the last check

  for (int step = 0; step < 64 && !program.done(); ++step) {
    const uint8_t op = program.Next();
    switch (op % 8) {
      case 0:
      case 1:
      case 2:
      case 3: {  // a REGISTER
        const int user = program.Next() % 3;
        const uint8_t shape = program.Next();
        std::vector<std::string> contacts;
        const int n = shape % 4;
        if ((shape & 0x80) != 0) {
          contacts.push_back("*");
        }
        static const char* kExpires[] = {"", ";expires=0", ";expires=30", ";expires=60", ";expires=3600",
                                         ";expires=100000", ";expires=7200", ";q=0.5"};
        for (int i = 0; i < n; ++i) {
          const uint8_t c = program.Next();
          contacts.push_back("<sip:u" + std::to_string(user) + "@10.0.0." + std::to_string(c % 6) + ":5060>" +
                             kExpires[(c >> 3) % 8]);
        }
        static const int kHeader[] = {-1, 0, 60, 3600, 10, 90000, -1, 600};
        const int expires_header = kHeader[(shape >> 2) % 8];
        const int call_id = (shape >> 5) % 3;
        const uint8_t seq = program.Next();
        uint32_t& cseq = cseqs[static_cast<size_t>(call_id)];
        if (seq % 4 == 0) cseq += 1 + seq / 4;          // higher
        else if (seq % 4 == 1 && cseq > 1) cseq -= 1;   // lower
        // 2, 3: the same again
        const bool udp = (seq & 0x80) == 0;
        inbound.transport = udp ? store::Transport::kUdp : store::Transport::kTcp;
        std::string authorization;
        for (int attempt = 0; attempt < 2; ++attempt) {
          const std::string text =
              Register(user, contacts, expires_header, call_id, cseq, ++branch, authorization);
          sip::Message message;
          if (!sip::ParseMessage(text, sip::ParseOptions{}, &message).ok()) Check(false, "harness message parses");
          const Disposition d = handler.Handle(message, inbound, false, &response);
          if (d.kind != Disposition::Kind::kRespond) break;
          if (d.status == 401 && attempt == 0 && auth_on) {
            authorization = Answer(response, user, (seq & 0x40) != 0);
            cseq += 1;
            continue;
          }
          if (d.status == 200) {
            const std::string aor = "sip:u" + std::to_string(user) + "@example.com";
            std::set<std::pair<std::string, uint32_t>> expected;
            if (const store::AorRecord* record = table.Find(aor)) {
              for (const store::Binding& b : record->bindings()) {
                if (b.expires_at > now) expected.insert({std::string(b.contact()), b.expires_at - now});
              }
            }
            Check(ContactsOf(response) == expected, "a 200 lists exactly the AOR's bindings");
          }
          break;
        }
        break;
      }
      case 4: {  // a raw message, as received
        const std::string_view bytes = program.Rest(program.Next() * 4);
        sip::Message message;
        if (sip::ParseMessage(bytes, sip::ParseOptions{}, &message).ok()) {
          inbound.transport = store::Transport::kUdp;
          (void)handler.Handle(message, inbound, false, &response);
        }
        break;
      }
      case 5: {  // time passes
        const uint8_t t = program.Next();
        now += static_cast<uint32_t>(t % 8 == 0 ? 4000 : t % 64);
        now_ms += (t % 64) * 1000 + 1;
        handler.SetTime(now, now_ms);
        // The timer wheel runs a moment after the clock moves: a request can
        // come between, and find bindings lapsed but not yet collected.
        if ((t & 0x40) == 0) handler.Expire();
        break;
      }
      case 6:  // the journal's turn: the pending group starts its write
        if (!journal.in_flight() && journal.Turn()) in_group = Snapshot(table, 0);
        journal.Drop();
        break;
      case 7:  // the write ends: durable, or failed
        if (journal.in_flight()) {
          if ((op & 0x80) == 0) {
            journal.Commit();
            durable = in_group;
          } else {
            journal.Fail(now);
            failed_since_check = true;
            Check(Snapshot(table, now) == Lapsed(durable, now), "a failed group leaves the durable state");
          }
          journal.Drop();
        }
        break;
    }
    // The table's invariants.
    size_t bindings = 0, aors = 0;
    table.ForEach([&](const store::AorRecord& r) {
      ++aors;
      bindings += r.bindings().size();
      Check(r.bindings().size() <= shared.config.policy.max_contacts, "max_contacts");
      for (const store::Binding& b : r.bindings()) {
        Check(b.expires_at - b.refreshed_at <= shared.config.policy.max_expires, "granted <= max_expires");
      }
    });
    Check(bindings == table.binding_count(), "binding count");
    Check(aors == table.aor_count(), "AOR count");
    // Every binding that left was counted once, as removed or expired (in
    // sync mode once its group is durable, so only with nothing pending). A
    // failed group's undo may shift the sum by the bindings that lapsed
    // while it was written; from then on it must hold still.
    if (!journal.MustHold()) {
      const int64_t gap = static_cast<int64_t>(counters.bindings_created.Get() - counters.bindings_removed.Get() -
                                               counters.bindings_expired.Get() - table.binding_count());
      if (failed_since_check) counted_gap = gap;
      failed_since_check = false;
      Check(gap == counted_gap, "created - removed - expired = bindings");
    }
  }
  // Nothing held forever: the rest of the groups decided.
  if (journal.in_flight()) journal.Commit();
  if (journal.Turn()) journal.Commit();
  journal.Drop();
  return 0;
}
