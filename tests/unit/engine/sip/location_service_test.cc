// The location service through the whole pipeline (RequestHandler, the real
// parser and store), without sockets: the redirect server's 302/480/404, the
// INVITE server transaction and its timers, GRUUs, Outbound, Service-Route
// and the 400 for malformed but answerable requests.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/sip/request_handler.h"
#include "tests/unit/engine/sip/two_shards.h"
#include "gtest/gtest.h"
#include "parser/message.h"

namespace locus::engine {
namespace {

constexpr uint32_t kNow = 1800000000;
constexpr std::string_view kInstance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";

struct Request {
  std::string method = "REGISTER";
  std::string ruri = "sip:example.com";
  std::string to = "<sip:bob@example.com>";
  std::string from = "<sip:bob@example.com>;tag=f1";
  std::string call_id = "call-bob";
  int cseq = 1;
  std::string branch = "z9hG4bKr1";
  std::vector<std::string> vias;  // extra Vias below ours (a proxy's)
  std::string extra;              // more header lines, each ending in CRLF

  std::string Text() const {
    std::string m = method + " " + ruri + " SIP/2.0\r\n";
    m += "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=" + branch + ";rport\r\n";
    for (const std::string& via : vias) m += "Via: " + via + "\r\n";
    m += "Max-Forwards: 70\r\nFrom: " + from + "\r\nTo: " + to + "\r\n";
    m += "Call-ID: " + call_id + "\r\nCSeq: " + std::to_string(cseq) + " " + method + "\r\n";
    m += extra + "Content-Length: 0\r\n\r\n";
    return m;
  }
};

Request Invite(std::string_view ruri, std::string_view branch = "z9hG4bKi1") {
  Request r;
  r.method = "INVITE";
  r.ruri = std::string(ruri);
  r.to = "<" + std::string(ruri) + ">";
  r.from = "<sip:carol@example.com>;tag=c1";
  r.call_id = "call-invite-" + std::string(branch);
  r.branch = std::string(branch);
  return r;
}

// The values of every header `name` in `response`, in order.
std::vector<std::string> Headers(const std::string& response, std::string_view name) {
  std::vector<std::string> values;
  const std::string prefix = std::string(name) + ": ";
  size_t at = 0;
  while ((at = response.find("\r\n" + prefix, at)) != std::string::npos) {
    at += 2 + prefix.size();
    values.push_back(response.substr(at, response.find("\r\n", at) - at));
  }
  return values;
}

// A Contact parameter's value (quotes removed), "" when absent.
std::string Param(const std::string& contact, std::string_view name) {
  const std::string key = ";" + std::string(name) + "=";
  size_t at = contact.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  if (contact[at] == '"') return contact.substr(at + 1, contact.find('"', at + 1) - at - 1);
  return contact.substr(at, contact.find(';', at) - at);
}

class LocationServiceTest : public ::testing::Test {
 protected:
  LocationServiceTest() { Make(); }

  void Make() {
    handler_ = std::make_unique<RequestHandler>(config_, 0, 1, 42, table_, counters_);
    handler_->SetServerSecret(std::string(32, 'k'));
    handler_->SetTime(now_s_, now_ms_);
    Endpoint::Parse("198.51.100.9:40000", &inbound_.source);
  }
  void At(uint32_t s, uint64_t ms) {
    now_s_ = s;
    now_ms_ = ms;
    handler_->SetTime(s, ms);
  }

  Disposition Send(const Request& r) { return SendText(r.Text()); }
  Disposition SendText(const std::string& text) {
    sip::Message message;
    const sip::ParseError error = sip::ParseMessage(text, sip::ParseOptions{}, &message);
    EXPECT_TRUE(error.ok()) << sip::Describe(error) << "\n" << text;
    response_.clear();
    return handler_->Handle(message, inbound_, false, &response_);
  }
  // A REGISTER of `contact` (a whole Contact value) for bob.
  std::string RegisterBob(const std::string& contact, int cseq, std::string extra = "") {
    Request r;
    r.cseq = cseq;
    r.branch = "z9hG4bKreg" + std::to_string(cseq);
    r.extra = "Contact: " + contact + "\r\n" + extra;
    Send(r);
    EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK") << response_;
    return response_;
  }
  std::string StatusLine() const { return response_.substr(0, response_.find("\r\n")); }

  Config config_ = Config::Defaults();
  store::BindingTable table_{kNow};
  ShardCounters counters_;
  std::unique_ptr<RequestHandler> handler_;
  Inbound inbound_;
  std::string response_;
  uint32_t now_s_ = kNow;
  uint64_t now_ms_ = 10000;
};

TEST_F(LocationServiceTest, RedirectListsEveryBindingHighestQFirstThenMostRecentlyRefreshed) {
  RegisterBob("<sip:bob@10.0.0.1>;q=0.5", 1);
  RegisterBob("<sip:bob@10.0.0.2>", 2);
  RegisterBob("<sip:bob@10.0.0.3>;q=0.5;expires=600", 3);
  At(kNow + 10, now_ms_ + 10000);
  RegisterBob("<sip:bob@10.0.0.1>;q=0.5", 4);  // refreshed last: first among q=0.5
  const Disposition d = Send(Invite("sip:bob@example.com"));
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(d.status, 302);
  EXPECT_EQ(StatusLine(), "SIP/2.0 302 Moved Temporarily");
  EXPECT_EQ(Headers(response_, "Contact"),
            (std::vector<std::string>{"<sip:bob@10.0.0.2>;q=1;expires=3590",
                                      "<sip:bob@10.0.0.1>;q=0.5;expires=3600",
                                      "<sip:bob@10.0.0.3>;q=0.5;expires=590"}));
  EXPECT_NE(Headers(response_, "To")[0].find(";tag="), std::string::npos);
  EXPECT_EQ(Headers(response_, "CSeq")[0], "1 INVITE");
  EXPECT_EQ(counters_.lookups.Get(), 1u);
}

TEST_F(LocationServiceTest, WithoutBindingsA404AndAnUnservedDomainToo) {
  Send(Invite("sip:nobody@example.com"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 404 Not Found");
  config_.domains = {"example.com"};
  Make();
  Send(Invite("sip:bob@elsewhere.net"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 404 Not Found (domain not served here)");
  Request tel = Invite("sip:x@example.com");
  tel.ruri = "tel:+14155550100";
  Send(tel);
  EXPECT_EQ(StatusLine(), "SIP/2.0 416 Unsupported URI Scheme");
}

TEST_F(LocationServiceTest, AKnownUserWithoutBindingsGets480) {
  const std::string path = ::testing::TempDir() + "/locus_location_users.json";
  std::ofstream(path) << R"({"users": [{"username": "bob", "realm": "example.com",
                              "password": "x", "aors": ["sip:bob@example.com"]}]})";
  std::vector<std::string> warnings;
  auto users = UserDb::Load(path, "example.com", &warnings);
  ASSERT_TRUE(users.ok());
  NonceService nonces(std::string(32, 's'), 30);
  FailureTable failures(300);
  AuthPolicy policy;
  policy.realm = "example.com";
  policy.algorithms = {DigestAlgorithm::kMd5};
  Authenticator auth(policy, &nonces, &failures, counters_, 0);
  auth.SetUsers(*users);
  handler_->SetAuthenticator(&auth);
  Send(Invite("sip:bob@example.com"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 480 Temporarily Unavailable");
  Send(Invite("sip:stranger@example.com", "z9hG4bKi2"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 404 Not Found");
  handler_->SetAuthenticator(nullptr);
}

TEST_F(LocationServiceTest, APathTravelsAsAnEscapedRouteHeader) {
  RegisterBob("<sip:bob@10.0.0.1;transport=tcp>", 1,
              "Path: <sip:edge.example.com;lr>\r\nPath: <sip:core.example.com;lr>\r\nSupported: path\r\n");
  Send(Invite("sip:bob@example.com"));
  EXPECT_EQ(Headers(response_, "Contact"),
            std::vector<std::string>{"<sip:bob@10.0.0.1;transport=tcp?Route=%3Csip:edge.example.com"
                                     "%3Blr%3E%2C%20%3Csip:core.example.com%3Blr%3E>;q=1;expires=3600"});
}

TEST_F(LocationServiceTest, InviteTransactionRetransmitsByTimerGUntilTheAckThenAbsorbs) {
  RegisterBob("<sip:bob@10.0.0.1>", 1);
  const Request invite = Invite("sip:bob@example.com");
  Send(invite);
  const std::string first = response_;
  ASSERT_TRUE(first.starts_with("SIP/2.0 302"));
  // A retransmitted INVITE: the same bytes, without a second lookup.
  At(now_s_, now_ms_ + 100);
  const Disposition again = Send(invite);
  EXPECT_EQ(again.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(response_, first);
  EXPECT_EQ(counters_.lookups.Get(), 1u);
  // Timer G: T1, 2*T1, 4*T1 after the response (at 500, 1500, 3500 ms).
  std::vector<uint64_t> resent_at;
  const uint64_t start = now_ms_ - 100;
  for (uint64_t t = start; t <= start + 4000; t += 50) {
    At(now_s_, t);
    handler_->RunInviteTimers([&](const InviteTransactions::Where& where, std::string_view bytes) {
      EXPECT_EQ(bytes, first);
      EXPECT_EQ(where.destination.port(), 40000);
      resent_at.push_back(t - start);
    });
  }
  EXPECT_EQ(resent_at, (std::vector<uint64_t>{500, 1500, 3500}));
  // The ACK (its To carries the 302's tag) ends the retransmissions.
  Request ack = invite;
  ack.method = "ACK";
  ack.to = Headers(first, "To")[0];
  EXPECT_EQ(Send(ack).kind, Disposition::Kind::kDrop);
  EXPECT_TRUE(response_.empty());
  EXPECT_EQ(counters_.acks_absorbed.Get(), 1u);
  int resent = 0;
  const uint64_t acked = now_ms_;
  for (uint64_t t = acked; t <= acked + 10000; t += 100) {
    At(now_s_, t);
    handler_->RunInviteTimers([&](const auto&, std::string_view) { ++resent; });
  }
  EXPECT_EQ(resent, 0);
  EXPECT_EQ(handler_->invite_transactions().size(), 0u);  // the ACK ended it
}

TEST_F(LocationServiceTest, WithoutAnAckTimerHEndsTheTransaction) {
  RegisterBob("<sip:bob@10.0.0.1>", 1);
  Send(Invite("sip:bob@example.com"));
  const uint64_t start = now_ms_;
  int resent = 0;
  for (uint64_t t = start; t <= start + 40000; t += 100) {
    At(now_s_, t);
    handler_->RunInviteTimers([&](const auto&, std::string_view) { ++resent; });
  }
  // 0.5, 1.5, 3.5, 7.5, then every T2 = 4 s until Timer H at 32 s.
  EXPECT_EQ(resent, 10);
  EXPECT_EQ(handler_->invite_transactions().size(), 0u);
}

TEST_F(LocationServiceTest, OverTcpNoTimerGButTheAckAndCancelStillMatch) {
  RegisterBob("<sip:bob@10.0.0.1>", 1);
  inbound_.transport = store::Transport::kTcp;
  const Request invite = Invite("sip:bob@example.com");
  Send(invite);
  int resent = 0;
  const uint64_t start = now_ms_;
  for (uint64_t t = start; t <= start + 5000; t += 100) {
    At(now_s_, t);
    handler_->RunInviteTimers([&](const auto&, std::string_view) { ++resent; });
  }
  EXPECT_EQ(resent, 0);
  Request cancel = invite;
  cancel.method = "CANCEL";
  Send(cancel);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
}

TEST_F(LocationServiceTest, CancelOfACompletedInviteIs200AndOfNothing481) {
  RegisterBob("<sip:bob@10.0.0.1>", 1);
  const Request invite = Invite("sip:bob@example.com");
  Send(invite);
  Request cancel = invite;
  cancel.method = "CANCEL";
  Send(cancel);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  EXPECT_EQ(Headers(response_, "CSeq")[0], "1 CANCEL");
  cancel.branch = "z9hG4bKother";
  Send(cancel);
  EXPECT_EQ(StatusLine(), "SIP/2.0 481 Call/Transaction Does Not Exist");
}

TEST_F(LocationServiceTest, NonInviteRequestsUseTheTransactionCache) {
  RegisterBob("<sip:bob@10.0.0.1>", 1);
  Request message = Invite("sip:bob@example.com", "z9hG4bKm1");
  message.method = "MESSAGE";
  Send(message);
  EXPECT_EQ(StatusLine(), "SIP/2.0 302 Moved Temporarily");
  const std::string first = response_;
  RegisterBob("<sip:bob@10.0.0.9>", 2);  // the bindings change meanwhile
  Send(message);
  EXPECT_EQ(response_, first);  // the retransmission gets the same answer
  EXPECT_EQ(counters_.retransmissions.Get(), 1u);
}

TEST_F(LocationServiceTest, ARequestInsideADialogGets481) {
  RegisterBob("<sip:bob@10.0.0.1>", 1);
  Request bye = Invite("sip:bob@example.com");
  bye.method = "BYE";
  bye.to += ";tag=dialog1";
  Send(bye);
  EXPECT_EQ(StatusLine(), "SIP/2.0 481 Call/Transaction Does Not Exist");
}

TEST_F(LocationServiceTest, GruusIssuedWithSupportedGruuAndReachOneInstance) {
  const std::string contact = "<sip:bob@10.0.0.1>;+sip.instance=\"" + std::string(kInstance) + "\"";
  const std::string ok = RegisterBob(contact, 1, "Supported: gruu\r\n");
  RegisterBob("<sip:bob@10.0.0.2>", 2);  // another phone, no instance
  const std::vector<std::string> listed = Headers(ok, "Contact");
  ASSERT_EQ(listed.size(), 1u);
  const std::string pub = Param(listed[0], "pub-gruu");
  const std::string temp = Param(listed[0], "temp-gruu");
  EXPECT_EQ(pub, "sip:bob@example.com;gr=urn:uuid:00000000-0000-1000-8000-000A95A0E128");
  ASSERT_TRUE(temp.starts_with("sip:tgruu.")) << temp;
  EXPECT_TRUE(temp.ends_with("@example.com;gr")) << temp;
  EXPECT_EQ(temp.find("bob"), std::string::npos);  // the AOR does not show
  // Without Supported: gruu, no GRUUs.
  const std::string plain = RegisterBob(contact, 3);
  EXPECT_EQ(Param(Headers(plain, "Contact")[0], "pub-gruu"), "");

  Send(Invite(pub, "z9hG4bKg1"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 302 Moved Temporarily");
  EXPECT_EQ(Headers(response_, "Contact"),
            std::vector<std::string>{"<sip:bob@10.0.0.1>;q=1;expires=3600"});
  Send(Invite(temp, "z9hG4bKg2"));
  EXPECT_EQ(Headers(response_, "Contact"),
            std::vector<std::string>{"<sip:bob@10.0.0.1>;q=1;expires=3600"});
  // The plain AOR still reaches both.
  Send(Invite("sip:bob@example.com", "z9hG4bKg3"));
  EXPECT_EQ(Headers(response_, "Contact").size(), 2u);
}

TEST_F(LocationServiceTest, ATempGruuEndsWithItsRegistrationAndAForgedOneIsUnknown) {
  const std::string contact = "<sip:bob@10.0.0.1>;+sip.instance=\"" + std::string(kInstance) + "\"";
  RegisterBob("<sip:bob@10.0.0.2>", 1);
  const std::vector<std::string> listed =
      Headers(RegisterBob(contact, 2, "Supported: gruu\r\n"), "Contact");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(Param(listed[0], "temp-gruu"), "");  // no instance, no GRUU
  const std::string temp = Param(listed[1], "temp-gruu");
  ASSERT_FALSE(temp.empty());
  std::string forged = temp;
  forged[12] = forged[12] == 'A' ? 'B' : 'A';
  Send(Invite(forged, "z9hG4bKt0"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 404 Not Found");
  // The instance unregisters: its pub-gruu gets 480 (the AOR is known), its
  // temp-gruu 404.
  RegisterBob(contact + ";expires=0", 3);
  const std::string pub =
      "sip:bob@example.com;gr=urn:uuid:00000000-0000-1000-8000-000A95A0E128";
  Send(Invite(pub, "z9hG4bKt1"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 480 Temporarily Unavailable");
  Send(Invite(temp, "z9hG4bKt2"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 404 Not Found");
  // A new registration of the instance does not revive the old temp-gruu.
  At(kNow + 5, now_ms_ + 5000);
  RegisterBob(contact, 4);
  Send(Invite(temp, "z9hG4bKt3"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 404 Not Found");
  Send(Invite(pub, "z9hG4bKt4"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 302 Moved Temporarily");
}

TEST_F(LocationServiceTest, OutboundFirstHopRequiresOutboundAndReplacesTheFlow) {
  config_.flow_timer = 120;
  Make();
  const std::string instance = ";+sip.instance=\"" + std::string(kInstance) + "\"";
  std::string ok = RegisterBob("<sip:bob@10.0.0.1:5060>;reg-id=1" + instance, 1,
                               "Supported: outbound, path\r\n");
  EXPECT_EQ(Headers(ok, "Require"), std::vector<std::string>{"outbound"});
  EXPECT_EQ(Headers(ok, "Flow-Timer"), std::vector<std::string>{"120"});
  // The NAT mapping changed: the same (instance, reg-id) replaces the flow.
  ok = RegisterBob("<sip:bob@10.0.0.1:6060>;reg-id=1" + instance, 2, "Supported: outbound\r\n");
  EXPECT_EQ(Headers(ok, "Contact").size(), 1u);
  // A second flow of the same instance lives beside it.
  ok = RegisterBob("<sip:bob@10.0.0.5:5060>;reg-id=2" + instance, 3, "Supported: outbound\r\n");
  EXPECT_EQ(Headers(ok, "Contact").size(), 2u);
  // Without Supported: outbound, no Require.
  ok = RegisterBob("<sip:bob@10.0.0.5:5060>;reg-id=2" + instance, 4);
  EXPECT_TRUE(Headers(ok, "Require").empty());
  EXPECT_TRUE(Headers(ok, "Flow-Timer").empty());
}

TEST_F(LocationServiceTest, OutboundThroughAProxyNeedsObInThePathElse439) {
  const std::string instance = ";+sip.instance=\"" + std::string(kInstance) + "\"";
  Request r;
  r.vias = {"SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKedge"};
  r.extra = "Contact: <sip:bob@10.0.0.1>;reg-id=1" + instance + "\r\nSupported: outbound\r\n";
  Send(r);
  EXPECT_EQ(StatusLine(), "SIP/2.0 439 First Hop Lacks Outbound Support");
  EXPECT_EQ(counters_.status[10].Get(), 1u);  // kCountedStatuses[10] == 439
  // Without Supported: outbound the reg-id is ignored: keyed by URI.
  r.extra = "Contact: <sip:bob@10.0.0.1>;reg-id=1" + instance + "\r\n";
  r.branch = "z9hG4bKr2";
  Send(r);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  EXPECT_EQ(Param(Headers(response_, "Contact")[0], "reg-id"), "");
  // An edge proxy that supports outbound puts ;ob in its Path.
  r.extra = "Contact: <sip:bob@10.0.0.2>;reg-id=1" + instance +
            "\r\nSupported: outbound, path\r\nPath: <sip:edge.example.com;lr;ob>\r\n";
  r.branch = "z9hG4bKr3";
  r.cseq = 3;
  Send(r);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  EXPECT_EQ(Headers(response_, "Require"), std::vector<std::string>{"outbound"});
}

TEST_F(LocationServiceTest, ServiceRouteInEvery200ToARegister) {
  config_.service_route = {"sip:orig@scscf.example.com;lr", "sip:as.example.com;lr"};
  Make();
  const std::string ok = RegisterBob("<sip:bob@10.0.0.1>", 1);
  EXPECT_EQ(Headers(ok, "Service-Route"),
            std::vector<std::string>{"<sip:orig@scscf.example.com;lr>, <sip:as.example.com;lr>"});
}

TEST_F(LocationServiceTest, AsRegistrarAloneNoRedirect) {
  config_.redirect = false;
  Make();
  RegisterBob("<sip:bob@10.0.0.1>", 1);
  Send(Invite("sip:bob@example.com"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 405 Method Not Allowed");
}

TEST_F(LocationServiceTest, MalformedButAnswerableGets400NamingTheHeader) {
  // baresip's REGISTER with a stray LF inside +sip.instance.
  Request r;
  r.extra = "Contact: <sip:bob@10.0.0.1>;+sip.instance=\"<urn:uuid:1234\n>\"\r\n";
  const std::string text = r.Text();
  sip::Message message;
  const sip::ParseError error = sip::ParseMessage(text, sip::ParseOptions{}, &message);
  ASSERT_FALSE(error.ok());
  sip::HeaderId broken;
  ASSERT_TRUE(sip::SalvageRequest(text, &message, &broken).ok());
  EXPECT_EQ(broken, sip::HeaderId::kContact);
  const Disposition d = handler_->HandleMalformed(message, broken, error, inbound_, &response_);
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(StatusLine(), "SIP/2.0 400 Contact: control character or bare CR/LF in a header line");
  EXPECT_EQ(Headers(response_, "Call-ID"), std::vector<std::string>{"call-bob"});
  EXPECT_EQ(Headers(response_, "CSeq"), std::vector<std::string>{"1 REGISTER"});
  // Without a readable CSeq it cannot be answered.
  std::string broken_cseq = text;
  broken_cseq.replace(broken_cseq.find("CSeq: 1 REGISTER"), 16, "CSeq: x REGISTER");
  ASSERT_TRUE(sip::SalvageRequest(broken_cseq, &message, &broken).ok());
  EXPECT_EQ(handler_->HandleMalformed(message, broken, error, inbound_, &response_).kind,
            Disposition::Kind::kDrop);
}

TEST(LocationServiceShards, AnInviteAndItsAckGoToTheShardThatOwnsTheAor) {
  TwoShards shards(kNow);
  int owned_elsewhere = 0;
  for (int i = 0; i < 20; ++i) {
    Request invite = Invite("sip:user" + std::to_string(i) + "@example.com",
                            "z9hG4bKs" + std::to_string(i));
    sip::Message message;
    const std::string text = invite.Text();
    ASSERT_TRUE(sip::ParseMessage(text, {}, &message).ok());
    std::string response;
    RequestHandler* owner = nullptr;
    bool handed_off = false;
    const Disposition d = shards.HandleAtOwner(message, &response, &owner, &handed_off);
    owned_elsewhere += handed_off ? 1 : 0;
    ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
    EXPECT_TRUE(response.starts_with("SIP/2.0 404")) << response;
    Request ack = invite;
    ack.method = "ACK";
    const std::string ack_text = ack.Text();
    ASSERT_TRUE(sip::ParseMessage(ack_text, {}, &message).ok());
    const Disposition a = shards.shard0.Handle(message, shards.inbound, false, &response);
    EXPECT_EQ(a.kind, handed_off ? Disposition::Kind::kHandOff : Disposition::Kind::kDrop);
  }
  EXPECT_GT(owned_elsewhere, 2);
  EXPECT_LT(owned_elsewhere, 18);
}

}  // namespace
}  // namespace locus::engine
