// The registrar pipeline on real messages, through the real parser and store:
// everything locusd answers, without sockets.
#include "engine/sip/request_handler.h"

#include <arpa/inet.h>

#include <fstream>
#include <memory>
#include <string>

#include "engine/durability/journal.h"
#include "engine/text.h"
#include "tests/unit/engine/sip/two_shards.h"
#include "gtest/gtest.h"
#include "parser/message.h"

namespace locus::engine {
namespace {

constexpr uint32_t kNow = 1800000000;

std::string Register(std::string_view user, std::string_view extra, int cseq = 1,
                     std::string_view branch = "z9hG4bKb1", std::string_view via_tail = ";rport") {
  std::string m = "REGISTER sip:example.com SIP/2.0\r\n";
  m += "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=" + std::string(branch) + std::string(via_tail) +
       "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <sip:" + std::string(user) + "@example.com>;tag=f1\r\n";
  m += "To: <sip:" + std::string(user) + "@example.com>\r\n";
  m += "Call-ID: call-" + std::string(user) + "\r\n";
  m += "CSeq: " + std::to_string(cseq) + " REGISTER\r\n";
  m += std::string(extra);
  m += "Content-Length: 0\r\n\r\n";
  return m;
}

class RequestHandlerTest : public ::testing::Test {
 protected:
  RequestHandlerTest() : table_(kNow), handler_(config_, 0, 1, 42, table_, counters_) {
    handler_.SetTime(kNow, 5000);
    Endpoint::Parse("198.51.100.9:40000", &inbound_.source);
  }

  Disposition Send(const std::string& text) {
    sip::Message message;
    const sip::ParseError error = sip::ParseMessage(text, sip::ParseOptions{}, &message);
    EXPECT_TRUE(error.ok()) << sip::Describe(error);
    return handler_.Handle(message, inbound_, false, &response_);
  }

  std::string StatusLine() const { return response_.substr(0, response_.find("\r\n")); }
  bool Has(std::string_view line) const { return response_.find(line) != std::string::npos; }

  Config config_ = Config::Defaults();
  store::BindingTable table_;
  ShardCounters counters_;
  RequestHandler handler_;
  Inbound inbound_;
  std::string response_;
};

TEST_F(RequestHandlerTest, RegisterAnswers200WithTheBindingAndCopiedHeaders) {
  const Disposition d = Send(Register("alice", "Contact: <sip:alice@10.1.1.1:5060>;expires=600\r\n"));
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  // RFC 3581: rport filled in, received added; section 18.2.2: sent to source.
  EXPECT_TRUE(Has("Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKb1;rport=40000;received=198.51.100.9\r\n"))
      << response_;
  EXPECT_EQ(d.destination.port(), 40000);
  EXPECT_TRUE(Has("From: <sip:alice@example.com>;tag=f1\r\n"));
  EXPECT_TRUE(Has("To: <sip:alice@example.com>;tag="));
  EXPECT_TRUE(Has("Call-ID: call-alice\r\n"));
  EXPECT_TRUE(Has("CSeq: 1 REGISTER\r\n"));
  EXPECT_TRUE(Has("Contact: <sip:alice@10.1.1.1:5060>;expires=600\r\n"));
  EXPECT_TRUE(Has("Date: "));
  EXPECT_TRUE(Has("Server: locus/0.1.0\r\n"));
  EXPECT_TRUE(response_.ends_with("Content-Length: 0\r\n\r\n"));
  EXPECT_FALSE(Has("Max-Forwards"));
  EXPECT_EQ(table_.binding_count(), 1u);
}

TEST_F(RequestHandlerTest, WithoutRportTheAnswerGoesToTheSentByPort) {
  const Disposition d =
      Send(Register("bob", "Contact: <sip:bob@10.1.1.1>\r\n", 1, "z9hG4bKb2", ""));
  EXPECT_EQ(d.destination.port(), 5070);
  EXPECT_TRUE(Has(";branch=z9hG4bKb2;received=198.51.100.9\r\n")) << response_;
  EXPECT_TRUE(Has("Contact: <sip:bob@10.1.1.1>;expires=3600\r\n"));  // the default
}

TEST_F(RequestHandlerTest, QueryListsEveryBindingWithQInstanceAndRegId) {
  Send(Register("carol",
                "Contact: <sip:carol@10.0.0.1>;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=1, "
                "<sip:carol@10.0.0.2>;expires=100\r\n"));
  ASSERT_EQ(StatusLine(), "SIP/2.0 200 OK");
  Send(Register("carol", "", 2, "z9hG4bKq"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  EXPECT_TRUE(Has("Contact: <sip:carol@10.0.0.1>;expires=3600;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=1\r\n"))
      << response_;
  EXPECT_TRUE(Has("Contact: <sip:carol@10.0.0.2>;expires=100\r\n"));
}

TEST_F(RequestHandlerTest, AMassExpiryIsSpreadOverCalls) {
  const size_t phones = RequestHandler::kExpiryAorsPerCall + 100;
  for (size_t i = 0; i < phones; ++i) {
    const std::string user = "m" + std::to_string(i);
    Send(Register(user, "Contact: <sip:" + user + "@10.1.1.1>;expires=600\r\n", 1,
                  "z9hG4bKm" + std::to_string(i)));
    ASSERT_EQ(StatusLine(), "SIP/2.0 200 OK") << i;
  }
  // They all lapse in the same second: the first call takes its share only,
  // and the handler is due again at once.
  handler_.SetTime(kNow + 601, 5000 + 601000);
  handler_.Expire();
  EXPECT_EQ(counters_.bindings_expired.Get(), RequestHandler::kExpiryAorsPerCall);
  EXPECT_EQ(handler_.NextTimerMs(), 5000u + 601000);
  handler_.Expire();
  EXPECT_EQ(counters_.bindings_expired.Get(), phones);
  EXPECT_EQ(table_.aor_count(), 0u);
  EXPECT_NE(handler_.NextTimerMs(), 5000u + 601000);
}

TEST_F(RequestHandlerTest, TooBriefAnswers423WithMinExpires) {
  Send(Register("dave", "Contact: <sip:dave@10.0.0.1>;expires=10\r\n"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 423 Interval Too Brief");
  EXPECT_TRUE(Has("Min-Expires: 60\r\n"));
  EXPECT_EQ(table_.binding_count(), 0u);
}

TEST_F(RequestHandlerTest, UnknownRequireAnswers420WithUnsupported) {
  Send(Register("erin", "Require: path, foo, bar\r\nContact: <sip:erin@10.0.0.1>\r\n"));
  EXPECT_EQ(StatusLine(), "SIP/2.0 420 Bad Extension");
  EXPECT_TRUE(Has("Unsupported: foo, bar\r\n"));
}

TEST_F(RequestHandlerTest, AsRegistrarAloneOtherMethodsAnswer405WithAllowAndOptions200) {
  config_.redirect = false;
  std::string invite = Register("f", "");
  invite.replace(0, 8, "INVITE");
  invite.replace(invite.find("1 REGISTER"), 10, "1 INVITE");
  Send(invite);
  EXPECT_EQ(StatusLine(), "SIP/2.0 405 Method Not Allowed");
  EXPECT_TRUE(Has("Allow: REGISTER, OPTIONS\r\n"));
  std::string options = Register("f", "");
  options.replace(0, 8, "OPTIONS");
  options.replace(options.find("1 REGISTER"), 10, "1 OPTIONS");
  Send(options);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  EXPECT_TRUE(Has("Allow: REGISTER, OPTIONS\r\n"));
  EXPECT_TRUE(Has("Supported: path, outbound, gruu\r\n"));
}

TEST_F(RequestHandlerTest, InvalidHeaderAnswers400NamingIt) {
  std::string m = Register("g", "Contact: <sip:g@10.0.0.1>\r\n");
  m.replace(m.find("CSeq: 1 REGISTER"), 16, "CSeq: x REGISTER");
  Send(m);
  EXPECT_TRUE(StatusLine().starts_with("SIP/2.0 400 CSeq")) << StatusLine();
}

TEST_F(RequestHandlerTest, WildcardWithOtherContactsIs400) {
  Send(Register("h", "Contact: *, <sip:h@10.0.0.1>\r\nExpires: 0\r\n"));
  EXPECT_TRUE(StatusLine().starts_with("SIP/2.0 400")) << StatusLine();
  EXPECT_TRUE(Has("Wildcard")) << StatusLine();
}

// A copy that arrived before its original was answered (it waited in the
// socket's queue) gets no second response; one that arrived after does.
TEST_F(RequestHandlerTest, ARetransmissionThatArrivedBeforeTheAnswerIsNotAnsweredAgain) {
  const std::string first = Register("ivo", "Contact: <sip:ivo@10.0.0.1>\r\n", 1, "z9hG4bKq1");
  handler_.SetTime(kNow, 5000);  // answered at 5,000 ms
  ASSERT_EQ(Send(first).kind, Disposition::Kind::kRespond);
  const std::string original = response_;
  handler_.SetTime(kNow, 5300);
  inbound_.received_ns = uint64_t{4900} * 1000000;  // queued behind the original
  response_.clear();
  EXPECT_EQ(Send(first).kind, Disposition::Kind::kDrop);
  EXPECT_TRUE(response_.empty());
  EXPECT_EQ(counters_.retransmissions.Get(), 1u);
  EXPECT_EQ(counters_.retransmissions_before_answer.Get(), 1u);
  inbound_.received_ns = uint64_t{5200} * 1000000;  // sent after the answer was lost
  EXPECT_EQ(Send(first).kind, Disposition::Kind::kRespond);
  EXPECT_EQ(response_, original);
  inbound_.received_ns = 0;  // no receive time: answered again
  response_.clear();
  EXPECT_EQ(Send(first).kind, Disposition::Kind::kRespond);
  EXPECT_EQ(response_, original);
  EXPECT_EQ(counters_.retransmissions.Get(), 3u);
  EXPECT_EQ(counters_.retransmissions_before_answer.Get(), 1u);
  EXPECT_EQ(table_.binding_count(), 1u);
}

TEST_F(RequestHandlerTest, RetransmissionGetsTheSameBytesAndIsNotReapplied) {
  const std::string first = Register("ivy", "Contact: <sip:ivy@10.0.0.1>\r\n", 1, "z9hG4bKr1");
  Send(first);
  const std::string original = response_;
  // A later REGISTER removes the binding...
  Send(Register("ivy", "Contact: <sip:ivy@10.0.0.1>;expires=0\r\n", 2, "z9hG4bKr2"));
  EXPECT_EQ(table_.binding_count(), 0u);
  // ...and a late retransmission of the first one is answered from the cache.
  handler_.SetTime(kNow + 3, 8000);
  Send(first);
  EXPECT_EQ(response_, original);
  EXPECT_EQ(table_.binding_count(), 0u);
  EXPECT_EQ(counters_.retransmissions.Get(), 1u);
  // After Timer J it is a new request again: applied, the binding is back.
  handler_.SetTime(kNow + 40, 5000 + kTimerJMs + 1);
  handler_.Expire();
  Send(first);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  EXPECT_EQ(table_.binding_count(), 1u);
}

TEST_F(RequestHandlerTest, OverTcpNothingIsCached) {
  inbound_.transport = store::Transport::kTcp;
  const std::string m = Register("jo", "Contact: <sip:jo@10.0.0.1>\r\n");
  Send(m);
  EXPECT_EQ(handler_.transactions().size(), 0u);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
}

TEST_F(RequestHandlerTest, UnanswerableInputIsDropped) {
  std::string no_via = Register("k", "");
  no_via.erase(no_via.find("Via:"), no_via.find("Max-Forwards") - no_via.find("Via:"));
  EXPECT_EQ(Send(no_via).kind, Disposition::Kind::kDrop);
  std::string ack = Register("k", "");
  ack.replace(0, 8, "ACK");
  ack.replace(ack.find("1 REGISTER"), 10, "1 ACK");
  EXPECT_EQ(Send(ack).kind, Disposition::Kind::kDrop);
  EXPECT_EQ(Send("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n"
                 "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n")
                .kind,
            Disposition::Kind::kDrop);
}

TEST_F(RequestHandlerTest, CancelMatchingARegisterGets200OtherwiseItGets481) {
  const std::string reg = Register("lu", "Contact: <sip:lu@10.0.0.1>\r\n", 1, "z9hG4bKc1");
  Send(reg);
  std::string cancel = reg;
  cancel.replace(0, 8, "CANCEL");
  cancel.replace(cancel.find("1 REGISTER"), 10, "1 CANCEL");
  cancel.erase(cancel.find("Contact:"), cancel.find("Content-Length") - cancel.find("Contact:"));
  Send(cancel);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  cancel.replace(cancel.find("z9hG4bKc1"), 9, "z9hG4bKc9");
  Send(cancel);
  EXPECT_EQ(StatusLine(), "SIP/2.0 481 Call/Transaction Does Not Exist");
}

// `text`, parsed, handled as TwoShards::HandleAtOwner does; a text that does
// not parse fails the test.
Disposition HandleTextAtOwner(TwoShards& shards, const std::string& text, std::string* response,
                              bool* handed_off) {
  sip::Message message;
  if (!sip::ParseMessage(text, {}, &message).ok()) {
    ADD_FAILURE() << "does not parse: " << text;
    return Disposition{};
  }
  RequestHandler* owner = nullptr;
  return shards.HandleAtOwner(message, response, &owner, handed_off);
}

TEST(RequestHandlerShards, AnAorOwnedElsewhereIsHandedOffAndTheOwnerAnswers) {
  TwoShards shards(kNow);
  int handed = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string user = "user" + std::to_string(i);
    const std::string m =
        Register(user, "Contact: <sip:" + user + "@10.0.0.1>\r\n", 1, "z9hG4bK" + user);
    std::string response;
    bool handed_off = false;
    const Disposition d = HandleTextAtOwner(shards, m, &response, &handed_off);
    handed += handed_off ? 1 : 0;
    ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
    ASSERT_TRUE(response.starts_with("SIP/2.0 200 OK")) << response;
  }
  EXPECT_GT(handed, 5);
  EXPECT_LT(handed, 35);
  EXPECT_EQ(shards.table0.binding_count() + shards.table1.binding_count(), 40u);
  EXPECT_EQ(shards.table1.binding_count(), static_cast<size_t>(handed));
}

TEST(RequestHandlerShards, ARegisterGoesToItsOwnerBeforeItIsValidatedAndTheOwnerAnswers400) {
  TwoShards shards(kNow);
  int handed = 0, at_receiver = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string user = "user" + std::to_string(i);
    // The CSeq's method does not match the request's: a 400, from the owner.
    std::string m = Register(user, "Contact: <sip:" + user + "@10.0.0.1>\r\n");
    m.replace(m.find("1 REGISTER"), 10, "1 INVITE");
    std::string response;
    bool handed_off = false;
    const Disposition d = HandleTextAtOwner(shards, m, &response, &handed_off);
    (handed_off ? handed : at_receiver) += 1;
    ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
    EXPECT_TRUE(response.starts_with("SIP/2.0 400 ")) << response;
  }
  EXPECT_GT(handed, 5);
  EXPECT_GT(at_receiver, 5);
  EXPECT_EQ(shards.table0.binding_count() + shards.table1.binding_count(), 0u);
  // A To that names no AOR: answered where it arrived.
  std::string m = Register("user1", "");
  m.replace(m.find("To: <sip:"), 9, "To: <tel:");
  sip::Message message;
  ASSERT_TRUE(sip::ParseMessage(m, {}, &message).ok());
  std::string response;
  EXPECT_EQ(shards.shard0.Handle(message, shards.inbound, false, &response).kind,
            Disposition::Kind::kRespond);
  EXPECT_TRUE(response.starts_with("SIP/2.0 404 ")) << response;
}

// One shard's handler on a configuration of the test's own.
struct OwnHandler {
  explicit OwnHandler(const Config& c) : config(c), table(kNow), handler(config, 0, 1, 42, table, counters) {
    handler.SetTime(kNow, 1);
    Endpoint::Parse("198.51.100.9:40000", &inbound.source);
  }
  Config config;
  store::BindingTable table;
  ShardCounters counters;
  RequestHandler handler;
  Inbound inbound;
};

TEST(RequestHandlerBudget, NothingIsAddedPastTheMemoryBudget) {
  Config config = Config::Defaults();
  config.max_aors = 2;
  config.max_bindings = 3;
  OwnHandler own(config);
  RequestHandler& handler = own.handler;
  store::BindingTable& table = own.table;
  ShardCounters& counters = own.counters;
  Inbound& inbound = own.inbound;
  int branch = 0;
  auto send = [&](std::string_view user, std::string_view contact, int cseq, std::string_view expires = "600") {
    const std::string m = Register(user, Cat("Contact: <", contact, ">;expires=", expires, "\r\n"), cseq,
                                   Cat("z9hG4bKbudget", ++branch));
    sip::Message message;
    EXPECT_TRUE(sip::ParseMessage(m, {}, &message).ok());
    std::string response;
    handler.Handle(message, inbound, false, &response);
    return response;
  };
  EXPECT_TRUE(send("a", "sip:a1@10.0.0.1", 1).starts_with("SIP/2.0 200"));
  EXPECT_TRUE(send("b", "sip:b1@10.0.0.1", 1).starts_with("SIP/2.0 200"));
  // A third AOR: refused, with a Retry-After, nothing applied.
  const std::string full = send("c", "sip:c1@10.0.0.1", 1);
  EXPECT_TRUE(full.starts_with("SIP/2.0 503 Service Unavailable (registrar full)\r\n")) << full;
  EXPECT_NE(full.find("Retry-After: 300\r\n"), std::string::npos) << full;
  EXPECT_EQ(table.Find("sip:c@example.com"), nullptr);
  EXPECT_EQ(counters.capacity_refused.Get(), 1u);
  // A second binding of a: the third of three.
  EXPECT_TRUE(send("a", "sip:a2@10.0.0.1", 2).starts_with("SIP/2.0 200"));
  // A fourth binding: refused; refreshing one is not.
  EXPECT_TRUE(send("b", "sip:b2@10.0.0.1", 2).starts_with("SIP/2.0 503"));
  EXPECT_TRUE(send("b", "sip:b1@10.0.0.1", 3).starts_with("SIP/2.0 200"));
  EXPECT_EQ(table.binding_count(), 3u);
  // Removing b makes room for c.
  EXPECT_TRUE(send("b", "sip:b1@10.0.0.1", 4, "0").starts_with("SIP/2.0 200"));
  EXPECT_TRUE(send("c", "sip:c1@10.0.0.1", 2).starts_with("SIP/2.0 200"));
  EXPECT_EQ(counters.capacity_refused.Get(), 2u);
}

TEST(RequestHandlerBudget, ZeroMeansFromTheMachinesMemory) {
  Config config = Config::Defaults();
  EXPECT_GT(EffectiveMaxBindings(config), uint64_t{1} << 20);  // any test machine holds a million
  EXPECT_EQ(EffectiveMaxAors(config), EffectiveMaxBindings(config));
  config.max_bindings = 7;
  EXPECT_EQ(EffectiveMaxBindings(config), 7u);
  EXPECT_EQ(EffectiveMaxAors(config), 7u);
  config.max_aors = 5;
  EXPECT_EQ(EffectiveMaxAors(config), 5u);
}

TEST(RequestHandlerDomains, DomainNotServedIs404) {
  Config config = Config::Defaults();
  config.domains = {"example.com"};
  OwnHandler own(config);
  RequestHandler& handler = own.handler;
  const Inbound& inbound = own.inbound;
  std::string m = Register("m", "Contact: <sip:m@10.0.0.1>\r\n");
  std::string response;
  sip::Message message;
  ASSERT_TRUE(sip::ParseMessage(m, {}, &message).ok());
  handler.Handle(message, inbound, false, &response);
  EXPECT_TRUE(response.starts_with("SIP/2.0 200")) << response;
  m.replace(m.find("To: <sip:m@example.com>"), 23, "To: <sip:m@other.net>");
  m.replace(m.find("z9hG4bKb1"), 9, "z9hG4bKb2");
  ASSERT_TRUE(sip::ParseMessage(m, {}, &message).ok());
  handler.Handle(message, inbound, false, &response);
  EXPECT_TRUE(response.starts_with("SIP/2.0 404")) << response;
}

}  // namespace
}  // namespace locus::engine

namespace locus::engine {
namespace {

// Steps 3-4 through the whole pipeline: challenge, answer, authorization.
class RequestHandlerAuthTest : public ::testing::Test {
 protected:
  RequestHandlerAuthTest()
      : table_(kNow), nonces_(std::string(32, 's'), 30), failures_(300),
        handler_(config_, 0, 1, 42, table_, counters_) {
    AuthPolicy policy;
    policy.realm = "example.com";
    policy.algorithms = {DigestAlgorithm::kSha256, DigestAlgorithm::kMd5};
    policy.max_failures = 3;
    auth_ = std::make_unique<Authenticator>(policy, &nonces_, &failures_, counters_, 0);
    const std::string path = ::testing::TempDir() + "/locus_users_test.json";
    std::ofstream(path) << R"({"users": [
        {"username": "alice", "realm": "example.com", "password": "secret",
         "aors": ["sip:alice@example.com", "sip:desk@example.com"]},
        {"username": "bob", "password": "hunter2"}]})";
    std::vector<std::string> warnings;
    auto users = UserDb::Load(path, "example.com", &warnings);
    EXPECT_TRUE(users.ok()) << users.status();
    EXPECT_EQ(warnings.size(), 2u);  // plaintext passwords
    auth_->SetUsers(*users);
    handler_.SetAuthenticator(auth_.get());
    handler_.SetTime(kNow, 1000);
    Endpoint::Parse("198.51.100.9:40000", &inbound_.source);
  }

  std::string Send(const std::string& text) {
    sip::Message message;
    EXPECT_TRUE(sip::ParseMessage(text, sip::ParseOptions{}, &message).ok());
    std::string response;
    handler_.Handle(message, inbound_, false, &response);
    return response;
  }

  // The nonce of the challenge for `algorithm` in a 401.
  static std::string NonceOf(const std::string& response, std::string_view algorithm) {
    size_t at = response.find(std::string("algorithm=") + std::string(algorithm));
    const size_t start = response.rfind("nonce=\"", at) + 7;
    return response.substr(start, response.find('"', start) - start);
  }

  static std::string Authorization(std::string_view user, std::string_view password,
                                   DigestAlgorithm algorithm, const std::string& nonce,
                                   std::string_view nc, std::string_view uri = "sip:example.com") {
    const HexDigest ha1 = ComputeHa1(algorithm, user, "example.com", password);
    const HexDigest response = ComputeResponse(algorithm, ha1.view(), nonce, nc, "c0ffee", "auth",
                                               "REGISTER", uri);
    return "Authorization: Digest username=\"" + std::string(user) +
           "\", realm=\"example.com\", nonce=\"" + nonce + "\", uri=\"" + std::string(uri) +
           "\", response=\"" + std::string(response.view()) + "\", algorithm=" +
           std::string(DigestAlgorithmName(algorithm)) + ", qop=auth, nc=" + std::string(nc) +
           ", cnonce=\"c0ffee\"\r\n";
  }

  Config config_ = Config::Defaults();
  store::BindingTable table_;
  ShardCounters counters_;
  NonceService nonces_;
  FailureTable failures_;
  RequestHandler handler_;
  std::unique_ptr<Authenticator> auth_;
  Inbound inbound_;
};

TEST_F(RequestHandlerAuthTest, ChallengeThenAnswerRegistersWithEitherAlgorithm) {
  std::string r = Send(Register("alice", "Contact: <sip:a@10.0.0.1>\r\n", 1, "z9hG4bKa1"));
  ASSERT_TRUE(r.starts_with("SIP/2.0 401")) << r;
  // RFC 8760: one challenge per algorithm, SHA-256 first.
  const size_t sha = r.find("algorithm=SHA-256");
  const size_t md5 = r.find("algorithm=MD5");
  ASSERT_NE(sha, std::string::npos);
  ASSERT_NE(md5, std::string::npos);
  EXPECT_LT(sha, md5);
  EXPECT_NE(r.find("qop=\"auth\""), std::string::npos);
  EXPECT_EQ(table_.binding_count(), 0u);
  for (DigestAlgorithm a : {DigestAlgorithm::kSha256, DigestAlgorithm::kMd5}) {
    const std::string nonce = NonceOf(r, DigestAlgorithmName(a));
    const std::string answer =
        Send(Register("alice", "Contact: <sip:a@10.0.0.1>\r\n" + Authorization("alice", "secret", a, nonce, "00000001"),
                      a == DigestAlgorithm::kMd5 ? 3 : 2, a == DigestAlgorithm::kMd5 ? "z9hG4bKa3" : "z9hG4bKa2"));
    EXPECT_TRUE(answer.starts_with("SIP/2.0 200")) << answer;
  }
  EXPECT_EQ(table_.binding_count(), 1u);
  EXPECT_EQ(counters_.auth_successes.Get(), 2u);
}

TEST_F(RequestHandlerAuthTest, WrongPasswordReplayOtherUsersAorAndMalformedHeader) {
  const std::string r = Send(Register("alice", "", 1, "z9hG4bKb1"));
  const std::string nonce = NonceOf(r, "SHA-256");
  // Wrong password: 401 again.
  std::string answer = Send(Register("alice", Authorization("alice", "wrong", DigestAlgorithm::kSha256, nonce, "00000001"), 2, "z9hG4bKb2"));
  EXPECT_TRUE(answer.starts_with("SIP/2.0 401")) << answer;
  // Right password: 200; the same nonce-count again: refused (replay).
  const std::string good = Authorization("alice", "secret", DigestAlgorithm::kSha256, nonce, "00000002");
  EXPECT_TRUE(Send(Register("alice", good, 3, "z9hG4bKb3")).starts_with("SIP/2.0 200"));
  answer = Send(Register("alice", good, 4, "z9hG4bKb4"));
  EXPECT_TRUE(answer.starts_with("SIP/2.0 401")) << answer;
  EXPECT_EQ(counters_.auth_replays.Get(), 1u);
  // A third-party AOR alice may register (sip:desk@example.com), and one she
  // may not (bob's).
  answer = Send(Register("desk", Authorization("alice", "secret", DigestAlgorithm::kSha256, nonce, "00000003"), 5, "z9hG4bKb5"));
  EXPECT_TRUE(answer.starts_with("SIP/2.0 200")) << answer;
  answer = Send(Register("bob", Authorization("alice", "secret", DigestAlgorithm::kSha256, nonce, "00000004"), 6, "z9hG4bKb6"));
  EXPECT_TRUE(answer.starts_with("SIP/2.0 403")) << answer;
  // Malformed Authorization: 400.
  answer = Send(Register("alice", "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\r\n", 7, "z9hG4bKb7"));
  EXPECT_TRUE(answer.starts_with("SIP/2.0 400")) << answer;
}

TEST_F(RequestHandlerAuthTest, StaleNonceGetsStaleTrueAndRepeatedFailuresLockOut) {
  const std::string r = Send(Register("bob", "", 1, "z9hG4bKc1"));
  const std::string nonce = NonceOf(r, "MD5");
  handler_.SetTime(kNow + 31, 2000);  // the nonce lifetime is 30 s
  std::string answer = Send(Register("bob", Authorization("bob", "hunter2", DigestAlgorithm::kMd5, nonce, "00000001"), 2, "z9hG4bKc2"));
  ASSERT_TRUE(answer.starts_with("SIP/2.0 401")) << answer;
  EXPECT_NE(answer.find("stale=true"), std::string::npos) << answer;
  const std::string fresh = NonceOf(answer, "MD5");
  for (int i = 0; i < 3; ++i) {
    answer = Send(Register("bob", Authorization("bob", "nope", DigestAlgorithm::kMd5, fresh, "0000000" + std::to_string(i + 1)),
                           3 + i, "z9hG4bKd" + std::to_string(i)));
    EXPECT_TRUE(answer.starts_with("SIP/2.0 401")) << answer;
  }
  answer = Send(Register("bob", Authorization("bob", "hunter2", DigestAlgorithm::kMd5, fresh, "00000009"), 9, "z9hG4bKe"));
  EXPECT_TRUE(answer.starts_with("SIP/2.0 403 Too Many Failed Attempts")) << answer;
  EXPECT_NE(answer.find("Retry-After:"), std::string::npos);
}

}  // namespace
}  // namespace locus::engine

namespace locus::engine {
namespace {

// With a sync journal: a REGISTER that changes bindings is held with
// a 500 ready, its retransmissions are absorbed until the decided response is
// cached, and a journal that cannot take changes gets 500 with nothing applied.
class RequestHandlerJournalTest : public RequestHandlerTest {
 protected:
  RequestHandlerJournalTest() {
    char tmpl[] = "/tmp/locus-handler-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~RequestHandlerJournalTest() override {
    journal_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  void Attach(uint64_t max_pending_bytes) {
    JournalOptions options;
    options.mode = DurabilityMode::kSync;
    options.generation_dir = dir_;
    options.max_pending_bytes = max_pending_bytes;
    journal_ = std::make_unique<Journal>(options, table_, counters_);
    ASSERT_TRUE(journal_->Open(1, {}, 0, 0).ok());
    handler_.SetJournal(journal_.get());
  }
  std::string dir_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(RequestHandlerJournalTest, ChangeIsHeldWithA500ReadyAndRetransmissionsAbsorbed) {
  Attach(64 << 20);
  const std::string request = Register("hana", "Contact: <sip:hana@10.0.0.1>;expires=600\r\n");
  const Disposition d = Send(request);
  ASSERT_EQ(d.kind, Disposition::Kind::kRespond);
  EXPECT_TRUE(d.hold);
  EXPECT_EQ(StatusLine(), "SIP/2.0 200 OK");
  // Were its group to fail: the same answer as a 500 made from the request,
  // To-tag included, without the 200's Contact and Date.
  std::string failure;
  RequestHandler::FailureFor(response_, &failure);
  const std::string to = response_.substr(response_.find("To: "));
  const std::string expected =
      "SIP/2.0 500 Server Internal Error\r\n"
      "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKb1;rport=40000;received=198.51.100.9\r\n"
      "From: <sip:hana@example.com>;tag=f1\r\n" + to.substr(0, to.find("\r\n") + 2) +
      "Call-ID: call-hana\r\nCSeq: 1 REGISTER\r\nRetry-After: 5\r\n"
      "Server: locus/0.1.0\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(failure, expected);
  EXPECT_EQ(counters_.status[0].Get(), 0u);  // a held 200 is counted when it leaves
  EXPECT_EQ(table_.binding_count(), 1u);     // applied: later requests see it
  const std::string key(handler_.transaction_key());
  EXPECT_FALSE(key.empty());

  // The same request again while held: absorbed, not re-applied.
  EXPECT_EQ(Send(request).kind, Disposition::Kind::kDrop);
  EXPECT_EQ(counters_.retransmissions.Get(), 1u);
  // A query of another AOR while changes are not durable is held too.
  EXPECT_TRUE(Send(Register("ivan", "", 1, "z9hG4bKq1")).hold);

  // Decided: from then on the retransmission gets the decided bytes.
  const std::string ok = "SIP/2.0 200 OK\r\nX: decided\r\n\r\n";
  handler_.CacheResponse(key, ok);
  const Disposition again = Send(request);
  EXPECT_EQ(again.kind, Disposition::Kind::kRespond);
  EXPECT_FALSE(again.hold);
  EXPECT_EQ(response_, ok);
}

TEST_F(RequestHandlerJournalTest, JournalThatCannotTakeChangesGets500AndNothingApplied) {
  Attach(1);  // any pending byte is too many
  EXPECT_EQ(Send(Register("jo", "Contact: <sip:jo@10.0.0.1>\r\n")).status, 200);  // nothing pending yet
  const Disposition d = Send(Register("kim", "Contact: <sip:kim@10.0.0.1>\r\n", 1, "z9hG4bKk1"));
  EXPECT_EQ(d.status, 500);
  EXPECT_FALSE(d.hold);
  EXPECT_EQ(StatusLine(), "SIP/2.0 500 Server Internal Error");
  EXPECT_TRUE(Has("Retry-After: 5\r\n"));
  EXPECT_EQ(table_.Find("sip:kim@example.com"), nullptr);
}

}  // namespace
}  // namespace locus::engine
