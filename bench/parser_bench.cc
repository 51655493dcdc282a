// parser_bench: parse + field extraction for three REGISTER-flow messages,
// locus against libosip2 and sofia-sip, with a memchr pass as the floor.
//
// Every parser does the same job: parse the message and extract what a
// registrar needs, as numbers or URI parts: the To URI, every Contact URI with
// its expires and q, the Call-ID, the CSeq number and the top Via branch. The
// results go into an ExtractedFields, which is handed to DoNotOptimize. Each
// parser has one ExtractedFields that every parse resets and fills in place
// (zeroing a fresh one, or copying a built Contact into it, was harness
// work that cost every parser the same 10-15 ns).
//
// How the peers are used (what their callers would write):
//   libosip2:  osip_message_init + osip_message_parse, then the parsed structs.
//              URIs are read from osip_uri_t fields (no osip_uri_to_str, which
//              would allocate and print); numbers come as text and are
//              converted with strtoul/strtod.
//   sofia-sip: msg_make(sip_default_mclass(), ...), the documented one-call
//              "parse a message" path, then sip_object() fields. expires, q
//              and ports come as text and are converted the same way.
//   locus:     ParseMessage + ValidateMessage (To, Call-ID, CSeq, top Via come
//              typed from CoreHeaders, the Contacts parsed by validation).
//              As in the engine: a fresh Message per parse (on the stack, as
//              Shard::Process makes it), and one CoreHeaders and one array of
//              Contacts that every parse overwrites (RequestHandler's members).
// A URI is extracted as user, host and port number: the parts every parser
// exposes directly.
//
// Before measuring, every parser's output is checked against the expected
// values of each message; the program exits on any mismatch.
//
// Counters: `allocs` is heap allocation calls per parse (see
// allocation_counter.cc), `msg_bytes` the message size; bytes_per_second
// comes from SetBytesProcessed.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "bench/allocation_counter.h"
#include "parser/contact.h"
#include "parser/element_cursor.h"
#include "parser/message.h"
#include "parser/validate.h"

#if LOCUS_PEER_BENCH
#include <osipparser2/osip_parser.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#endif

namespace {

namespace sip = locus::sip;

// ---------------------------------------------------------------------------
// What every parser extracts.

struct UriFields {
  std::string_view user;
  std::string_view host;
  uint32_t port = 0;  // 0 when the URI has none

  bool operator==(const UriFields&) const = default;
};

struct ContactFields {
  UriFields uri;
  bool has_expires = false;
  uint32_t expires = 0;
  bool has_q = false;
  uint16_t q = 0;  // thousandths: q=0.7 is 700

  bool operator==(const ContactFields&) const = default;
};

// One per parser, reused by every parse (as the engine reuses its outputs):
// a fresh one would zero the contact slots, 300-odd bytes, per parse, which
// is harness work, not parsing. Reset() clears what a parse may leave unset.
struct ExtractedFields {
  static constexpr size_t kMaxContacts = 8;

  UriFields to;
  std::array<ContactFields, kMaxContacts> contacts{};
  size_t contact_count = 0;
  std::string_view call_id;
  // libosip2 splits "word@word" into two strings and does not keep the
  // original; the other parsers leave this empty.
  std::string_view call_id_host;
  uint32_t cseq = 0;
  std::string_view branch;

  void Reset() {
    to = {};
    contact_count = 0;
    call_id = {};
    call_id_host = {};
    cseq = 0;
    branch = {};
  }
  // The next contact slot, to be filled in place (building a ContactFields
  // and copying it stalls on store forwarding); nullptr when the message has
  // more contacts than kMaxContacts.
  ContactFields* AddContact() { return contact_count == kMaxContacts ? nullptr : &contacts[contact_count++]; }
  std::span<const ContactFields> contact_list() const { return {contacts.data(), contact_count}; }
};

// ---------------------------------------------------------------------------
// The messages, with the values every parser must extract from them.

struct TestMessage {
  const char* name;
  std::string_view text;
  UriFields to;
  std::span<const ContactFields> contacts;
  std::string_view call_id;
  uint32_t cseq;
  std::string_view branch;
};

// A bare-bones REGISTER: the headers RFC 3261 section 10.2 needs, one Contact.
constexpr std::string_view kMinimalRegister =
    "REGISTER sip:atlanta.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK.5e8a7d0c3f1b9d2e\r\n"
    "Max-Forwards: 70\r\n"
    "To: Alice <sip:alice@atlanta.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710f3b2c9@pc33.example.com\r\n"
    "CSeq: 314159 REGISTER\r\n"
    "Contact: <sip:alice@192.0.2.10:5060>\r\n"
    "Expires: 3600\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

constexpr ContactFields kMinimalRegisterContacts[] = {
    {{"alice", "192.0.2.10", 5060}, false, 0, false, 0},
};

// A softphone's authenticated REGISTER over TCP with RFC 5626 outbound.
constexpr std::string_view kSoftphoneRegister =
    "REGISTER sip:sip.example.com;transport=tcp SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 10.0.0.23:51372;rport;branch=z9hG4bK-524287-1---7f3a9c1e2b4d6a8f;alias\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:bob@10.0.0.23:51372;transport=tcp;ob>;expires=600;q=0.8"
    ";+sip.instance=\"<urn:uuid:6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9>\";reg-id=1\r\n"
    "To: \"Bob\" <sip:bob@sip.example.com>\r\n"
    "From: \"Bob\" <sip:bob@sip.example.com>;tag=9b6c1d2e\r\n"
    "Call-ID: ZDk0MmE4ZTMxNjNmNmI3YzQ1ZTM2YjNhNzFhOWY0MmE.\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Expires: 600\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    "Supported: replaces, outbound, path, gruu\r\n"
    "User-Agent: Zoiper rv2.10.19.6-mod\r\n"
    "Authorization: Digest username=\"bob\",realm=\"sip.example.com\""
    ",nonce=\"Y2FmZWJhYmUxMjM0NTY3ODkwYWJjZGVm\",uri=\"sip:sip.example.com;transport=tcp\""
    ",response=\"6629fae49393a05397450978507c4ef1\",algorithm=MD5,cnonce=\"0a4f113b\""
    ",qop=auth,nc=00000001\r\n"
    "Allow-Events: presence, kpml, talk\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

constexpr ContactFields kSoftphoneRegisterContacts[] = {
    {{"bob", "10.0.0.23", 51372}, true, 600, true, 800},
};

// The registrar's 200 OK listing five bindings: three Contact fields, the
// first holding two comma-separated elements.
constexpr std::string_view kRegisterOk =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK.5e8a7d0c3f1b9d2e;received=198.51.100.7"
    ";rport=5060\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "To: Alice <sip:alice@atlanta.example.com>;tag=37GkEhwl6\r\n"
    "Call-ID: a84b4c76e66710f3b2c9@pc33.example.com\r\n"
    "CSeq: 314159 REGISTER\r\n"
    "Contact: <sip:alice@192.0.2.10:5060>;expires=3600;q=1.0"
    ", <sip:alice@198.51.100.7:49152;transport=tcp>;expires=1800;q=0.7\r\n"
    "Contact: <sip:alice@203.0.113.45:5061;transport=tls;ob>;expires=600"
    ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-00a0c91e6bf6>\";reg-id=1\r\n"
    "Contact: <sip:alice@192.0.2.77:5060>;expires=120;q=0.5"
    ";+sip.instance=\"<urn:uuid:8c3f2a1b-77d4-4e0a-9b5e-2f6d1c0a9e83>\";reg-id=2\r\n"
    "Contact: <sips:alice@phone.atlanta.example.net>;expires=3599\r\n"
    "Path: <sip:edge1.atlanta.example.com;lr;ob>\r\n"
    "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n"
    "Supported: path, outbound, gruu\r\n"
    "Server: locus/0.1.0 (registrar)\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

constexpr ContactFields kRegisterOkContacts[] = {
    {{"alice", "192.0.2.10", 5060}, true, 3600, true, 1000},
    {{"alice", "198.51.100.7", 49152}, true, 1800, true, 700},
    {{"alice", "203.0.113.45", 5061}, true, 600, false, 0},
    {{"alice", "192.0.2.77", 5060}, true, 120, true, 500},
    {{"alice", "phone.atlanta.example.net", 0}, true, 3599, false, 0},
};

const TestMessage kMessages[] = {
    {"minimal_register", kMinimalRegister, {"alice", "atlanta.example.com", 0},
     kMinimalRegisterContacts, "a84b4c76e66710f3b2c9@pc33.example.com", 314159,
     "z9hG4bK.5e8a7d0c3f1b9d2e"},
    {"softphone_register", kSoftphoneRegister, {"bob", "sip.example.com", 0},
     kSoftphoneRegisterContacts, "ZDk0MmE4ZTMxNjNmNmI3YzQ1ZTM2YjNhNzFhOWY0MmE.", 2,
     "z9hG4bK-524287-1---7f3a9c1e2b4d6a8f"},
    {"register_200_ok", kRegisterOk, {"alice", "atlanta.example.com", 0}, kRegisterOkContacts,
     "a84b4c76e66710f3b2c9@pc33.example.com", 314159, "z9hG4bK.5e8a7d0c3f1b9d2e"},
};

// ---------------------------------------------------------------------------
// Parsers. Each is a scope: the constructor parses and extracts, the fields
// stay valid until the destructor releases the parser's memory.

class LocusParse {
 public:
  static constexpr const char* kName = "locus";

  // Not inlined: one call per parse, as for the peers (and callgrind can
  // count it: bench/parser_icount).
  [[gnu::noinline]] explicit LocusParse(std::string_view text) {
    fields_.Reset();
    ok_ = Extract(text);
  }

  bool ok() const { return ok_; }
  const ExtractedFields& fields() const { return fields_; }
  std::string failure() const { return sip::Describe(error_); }

 private:
  static UriFields FromUri(const sip::Uri& uri) { return {uri.user, uri.host, uri.port}; }

  bool Extract(std::string_view text) {
    error_ = sip::ParseMessage(text, sip::ParseOptions{}, &message_);
    if (error_.ok()) error_ = sip::ValidateMessage(message_, &core_, contacts_);
    if (!error_.ok()) return false;
    fields_.to = FromUri(core_.to.uri);
    fields_.call_id = core_.call_id;
    fields_.cseq = core_.cseq.number;
    fields_.branch = core_.top_via.branch;
    return ExtractContacts();
  }

  // ValidateMessage hands back the Contacts it parsed (up to contacts_.size()).
  bool ExtractContacts() {
    if (static_cast<size_t>(core_.contact_count) > contacts_.size()) {
      error_ = sip::HeaderError(sip::HeaderId::kContact, "more contacts than the benchmark holds");
      return false;
    }
    for (int i = 0; i < core_.contact_count; ++i) {
      const sip::Contact& contact = contacts_[static_cast<size_t>(i)];
      ContactFields* fields = contact.star ? nullptr : fields_.AddContact();
      if (fields == nullptr) {
        error_ = sip::HeaderError(sip::HeaderId::kContact, "'*', or more contacts than the benchmark holds");
        return false;
      }
      fields->uri = FromUri(contact.address.uri);
      fields->has_expires = contact.has_expires;
      fields->expires = contact.expires;
      fields->has_q = contact.has_q;
      fields->q = contact.q;
    }
    return true;
  }

  // What the engine keeps per shard and reuses for every request.
  struct Workspace {
    sip::CoreHeaders core;
    std::array<sip::Contact, 8> contacts;
  };
  static inline Workspace workspace_;

  sip::Message message_;
  sip::CoreHeaders& core_ = workspace_.core;
  std::array<sip::Contact, 8>& contacts_ = workspace_.contacts;
  sip::ParseError error_;
  static inline ExtractedFields shared_fields_;
  ExtractedFields& fields_ = shared_fields_;
  bool ok_ = false;
};

#if LOCUS_PEER_BENCH

// The peers hand out strings and numbers as NUL-terminated text, NULL when
// absent. Strings become views (one strlen each), numbers are converted.
std::string_view TextOrEmpty(const char* text) {
  return text ? std::string_view(text) : std::string_view();
}

uint32_t DecimalOrZero(const char* text) {
  return text ? static_cast<uint32_t>(std::strtoul(text, nullptr, 10)) : 0;
}

uint16_t QToThousandths(const char* text) {
  return static_cast<uint16_t>(std::lround(std::strtod(text, nullptr) * 1000));
}

// Fills the next contact slot of *fields; false when there is none left.
bool AddContact(ExtractedFields* fields, UriFields uri, const char* expires, const char* q) {
  ContactFields* contact = fields->AddContact();
  if (contact == nullptr) return false;
  contact->uri = uri;
  contact->has_expires = expires != nullptr;
  contact->expires = DecimalOrZero(expires);
  contact->has_q = q != nullptr;
  contact->q = q ? QToThousandths(q) : 0;
  return true;
}

class OsipParse {
 public:
  static constexpr const char* kName = "libosip2";

  explicit OsipParse(std::string_view text) {
    fields_.Reset();
    ok_ = Extract(text);
  }
  ~OsipParse() { osip_message_free(message_); }  // accepts NULL
  OsipParse(const OsipParse&) = delete;
  OsipParse& operator=(const OsipParse&) = delete;

  bool ok() const { return ok_; }
  const ExtractedFields& fields() const { return fields_; }
  std::string failure() const { return failure_; }

 private:
  static UriFields FromUri(const osip_uri_t& uri) {
    return {TextOrEmpty(uri.username), TextOrEmpty(uri.host), DecimalOrZero(uri.port)};
  }

  // The *_param_get_byname macros take the name as `char*`; osip only reads it.
  static char* ParamName(const char* name) { return const_cast<char*>(name); }

  // Value of a generic parameter, NULL when absent or written without "=".
  static const char* ContactParam(osip_contact_t* contact, const char* name) {
    osip_generic_param_t* param = nullptr;
    osip_contact_param_get_byname(contact, ParamName(name), &param);
    return param ? param->gvalue : nullptr;
  }

  bool Fail(const char* why) {
    failure_ = why;
    return false;
  }

  bool Extract(std::string_view text) {
    if (osip_message_init(&message_) != 0) return Fail("osip_message_init failed");
    if (osip_message_parse(message_, text.data(), text.size()) != 0) {
      return Fail("osip_message_parse failed");
    }
    const osip_message_t& m = *message_;
    if (m.to == nullptr || m.to->url == nullptr || m.call_id == nullptr || m.cseq == nullptr) {
      return Fail("To, Call-ID or CSeq missing");
    }
    fields_.to = FromUri(*m.to->url);
    fields_.call_id = TextOrEmpty(m.call_id->number);
    fields_.call_id_host = TextOrEmpty(m.call_id->host);
    fields_.cseq = DecimalOrZero(m.cseq->number);
    return ExtractBranch() && ExtractContacts();
  }

  bool ExtractBranch() {
    osip_via_t* via = nullptr;
    if (osip_message_get_via(message_, 0, &via) < 0 || via == nullptr) return Fail("no Via");
    osip_generic_param_t* branch = nullptr;
    osip_via_param_get_byname(via, ParamName("branch"), &branch);
    if (branch != nullptr) fields_.branch = TextOrEmpty(branch->gvalue);
    return true;
  }

  bool ExtractContacts() {
    osip_list_iterator_t it;
    for (void* item = osip_list_get_first(&message_->contacts, &it); item != nullptr;
         item = osip_list_get_next(&it)) {
      auto* contact = static_cast<osip_contact_t*>(item);
      if (contact->url == nullptr) return Fail("Contact without URI");
      if (!AddContact(&fields_, FromUri(*contact->url), ContactParam(contact, "expires"),
                      ContactParam(contact, "q"))) {
        return Fail("too many contacts");
      }
    }
    return true;
  }

  osip_message_t* message_ = nullptr;
  static inline ExtractedFields shared_fields_;
  ExtractedFields& fields_ = shared_fields_;
  const char* failure_ = "";
  bool ok_ = false;
};

class SofiaParse {
 public:
  static constexpr const char* kName = "sofia-sip";

  explicit SofiaParse(std::string_view text)
      : msg_(msg_make(sip_default_mclass(), 0, text.data(), static_cast<ssize_t>(text.size()))) {
    fields_.Reset();
    ok_ = Extract();
  }
  ~SofiaParse() {
    if (msg_ != nullptr) msg_destroy(msg_);
  }
  SofiaParse(const SofiaParse&) = delete;
  SofiaParse& operator=(const SofiaParse&) = delete;

  bool ok() const { return ok_; }
  const ExtractedFields& fields() const { return fields_; }
  std::string failure() const { return failure_; }

 private:
  static UriFields FromUrl(const url_t& url) {
    return {TextOrEmpty(url.url_user), TextOrEmpty(url.url_host), DecimalOrZero(url.url_port)};
  }

  bool Fail(const char* why) {
    failure_ = why;
    return false;
  }

  bool Extract() {
    if (msg_ == nullptr) return Fail("msg_make failed");
    // sofia-sip keeps going past a bad header: it lands in sip_error.
    const sip_t* sip = sip_object(msg_);
    if (sip == nullptr || msg_has_error(msg_) || sip->sip_error != nullptr) {
      return Fail("message or a header failed to parse");
    }
    if (sip->sip_to == nullptr || sip->sip_call_id == nullptr || sip->sip_cseq == nullptr ||
        sip->sip_via == nullptr) {
      return Fail("To, Call-ID, CSeq or Via missing");
    }
    fields_.to = FromUrl(*sip->sip_to->a_url);
    fields_.call_id = TextOrEmpty(sip->sip_call_id->i_id);
    fields_.cseq = sip->sip_cseq->cs_seq;
    fields_.branch = TextOrEmpty(sip->sip_via->v_branch);
    for (const sip_contact_t* m = sip->sip_contact; m != nullptr; m = m->m_next) {
      if (!AddContact(&fields_, FromUrl(*m->m_url), m->m_expires, m->m_q)) {
        return Fail("too many contacts");
      }
    }
    return true;
  }

  msg_t* msg_;
  static inline ExtractedFields shared_fields_;
  ExtractedFields& fields_ = shared_fields_;
  const char* failure_ = "";
  bool ok_ = false;
};

#endif  // LOCUS_PEER_BENCH

// The floor: one memchr pass finding every line end.
size_t CountLines(std::string_view text) {
  size_t lines = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
    ++lines;
    p = static_cast<const char*>(nl) + 1;
  }
  return lines;
}

// ---------------------------------------------------------------------------
// Checking the extracted fields before measuring.

std::string UriText(const UriFields& uri) {
  return std::string(uri.user) + "@" + std::string(uri.host) + ":" + std::to_string(uri.port);
}

std::string ContactText(const ContactFields& c) {
  std::string text = UriText(c.uri);
  text += c.has_expires ? " expires=" + std::to_string(c.expires) : " no expires";
  text += c.has_q ? " q=" + std::to_string(c.q) + "/1000" : " no q";
  return text;
}

// The Call-ID as written, rejoining libosip2's two halves.
std::string JoinedCallId(const ExtractedFields& fields) {
  std::string id(fields.call_id);
  if (!fields.call_id_host.empty()) id += "@" + std::string(fields.call_id_host);
  return id;
}

// Empty when `got` holds the expected values, else what differs.
std::string Differences(const TestMessage& expected, const ExtractedFields& got) {
  std::string diff;
  auto compare = [&diff](const char* what, const std::string& want, const std::string& have) {
    if (want != have) diff += std::string("\n    ") + what + ": expected " + want + ", got " + have;
  };
  compare("To URI", UriText(expected.to), UriText(got.to));
  compare("Call-ID", std::string(expected.call_id), JoinedCallId(got));
  compare("CSeq", std::to_string(expected.cseq), std::to_string(got.cseq));
  compare("Via branch", std::string(expected.branch), std::string(got.branch));
  compare("Contact count", std::to_string(expected.contacts.size()),
          std::to_string(got.contact_count));
  const std::span<const ContactFields> contacts = got.contact_list();
  for (size_t i = 0; i < expected.contacts.size() && i < contacts.size(); ++i) {
    compare("Contact", ContactText(expected.contacts[i]), ContactText(contacts[i]));
  }
  return diff;
}

template <typename Parse>
bool Verify(const TestMessage& message) {
  const Parse parse(message.text);
  const std::string diff =
      parse.ok() ? Differences(message, parse.fields()) : "\n    parse failed: " + parse.failure();
  if (diff.empty()) return true;
  std::fprintf(stderr, "parser_bench: %s extracts wrong values from %s:%s\n", Parse::kName,
               message.name, diff.c_str());
  return false;
}

bool VerifyFloor(const TestMessage& message) {
  const auto expected = std::count(message.text.begin(), message.text.end(), '\n');
  if (CountLines(message.text) == static_cast<size_t>(expected)) return true;
  std::fprintf(stderr, "parser_bench: memchr floor miscounts lines of %s\n", message.name);
  return false;
}

bool VerifyAll() {
  bool ok = true;
  for (const TestMessage& message : kMessages) {
    ok &= VerifyFloor(message);
    ok &= Verify<LocusParse>(message);
#if LOCUS_PEER_BENCH
    ok &= Verify<OsipParse>(message);
    ok &= Verify<SofiaParse>(message);
#endif
  }
  return ok;
}

// ---------------------------------------------------------------------------
// Benchmarks.

void ReportCounters(benchmark::State& state, const TestMessage& message, uint64_t allocations) {
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(message.text.size()));
  state.counters["allocs"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
  state.counters["msg_bytes"] = static_cast<double>(message.text.size());
}

template <typename Parse>
void BM_Parse(benchmark::State& state, const TestMessage* message) {
  const uint64_t allocations_before = locus::bench::ThreadAllocationCount();
  for (auto _ : state) {
    const Parse parse(message->text);
    if (!parse.ok()) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(parse.fields());
  }
  ReportCounters(state, *message, locus::bench::ThreadAllocationCount() - allocations_before);
}

void BM_MemchrFloor(benchmark::State& state, const TestMessage* message) {
  const uint64_t allocations_before = locus::bench::ThreadAllocationCount();
  for (auto _ : state) {
    std::string_view text = message->text;
    benchmark::DoNotOptimize(text);  // keep the pass from being hoisted
    benchmark::DoNotOptimize(CountLines(text));
  }
  ReportCounters(state, *message, locus::bench::ThreadAllocationCount() - allocations_before);
}

std::string BenchmarkName(const TestMessage& message, const char* parser) {
  return std::string(message.name) + "/" + parser;
}

void RegisterAll() {
  for (const TestMessage& message : kMessages) {
    benchmark::RegisterBenchmark(BenchmarkName(message, "memchr_floor").c_str(), BM_MemchrFloor,
                                 &message);
    benchmark::RegisterBenchmark(BenchmarkName(message, LocusParse::kName).c_str(),
                                 BM_Parse<LocusParse>, &message);
#if LOCUS_PEER_BENCH
    benchmark::RegisterBenchmark(BenchmarkName(message, OsipParse::kName).c_str(),
                                 BM_Parse<OsipParse>, &message);
    benchmark::RegisterBenchmark(BenchmarkName(message, SofiaParse::kName).c_str(),
                                 BM_Parse<SofiaParse>, &message);
#endif
  }
}

}  // namespace

int main(int argc, char** argv) {
#if LOCUS_PEER_BENCH
  parser_init();  // libosip2's one-time table setup
#endif
  if (!VerifyAll()) {
    std::fprintf(stderr, "parser_bench: not benchmarking parsers that extract wrong values\n");
    return EXIT_FAILURE;
  }
  RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return EXIT_FAILURE;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return EXIT_SUCCESS;
}
