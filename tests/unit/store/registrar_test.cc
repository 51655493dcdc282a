// RFC 3261 section 10.3 steps 6-8 (and the section 10.2 behaviours they
// serve) on the store: one test per rule, named after its clause.
#include "store/registrar.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace locus::store {
namespace {

constexpr uint32_t kT0 = 1'800'000'000;  // a fixed "now", seconds since the epoch

// Builds requests whose strings outlive the call (views are kept by specs).
class RequestBuilder {
 public:
  RequestBuilder& Aor(std::string aor) {
    aor_ = Keep(std::move(aor));
    return *this;
  }
  RequestBuilder& CallId(std::string id) {
    call_id_ = Keep(std::move(id));
    return *this;
  }
  RequestBuilder& CSeq(uint32_t cseq) {
    cseq_ = cseq;
    return *this;
  }
  RequestBuilder& Expires(uint32_t expires) {
    has_expires_ = true;
    expires_ = expires;
    return *this;
  }
  RequestBuilder& Wildcard() {
    wildcard_ = true;
    return *this;
  }
  // Adds a contact; expires < 0 means "no expires parameter", q < 0 "no q".
  RequestBuilder& Contact(std::string uri, int64_t expires = -1, int q = -1, std::string instance = "",
                          uint32_t reg_id = 0) {
    ContactSpec spec;
    spec.uri_text = Keep(std::move(uri));
    EXPECT_TRUE(sip::ParseUri(spec.uri_text, sip::HeaderId::kContact, &spec.uri).ok()) << spec.uri_text;
    spec.has_expires = expires >= 0;
    spec.expires = expires >= 0 ? static_cast<uint32_t>(expires) : 0;
    spec.has_q = q >= 0;
    spec.q = q >= 0 ? static_cast<uint16_t>(q) : 1000;
    spec.instance = Keep(std::move(instance));
    spec.reg_id = reg_id;
    contacts_.push_back(spec);
    return *this;
  }
  // The request views this builder's strings: keep the builder alive.
  RegisterRequest Build() const {
    RegisterRequest r;
    r.aor = aor_;
    r.call_id = call_id_;
    r.cseq = cseq_;
    r.has_expires_header = has_expires_;
    r.expires_header = expires_;
    r.wildcard = wildcard_;
    r.contacts = contacts_;
    r.user_agent = "TestPhone/1.0";
    return r;
  }

 private:
  std::string_view Keep(std::string s) { return strings_.emplace_back(std::move(s)); }
  std::deque<std::string> strings_;
  std::string_view aor_ = "sip:bob@biloxi.com";
  std::string_view call_id_ = "843817637684230@998sdasdh09";
  uint32_t cseq_ = 1;
  bool has_expires_ = false;
  uint32_t expires_ = 0;
  bool wildcard_ = false;
  std::vector<ContactSpec> contacts_;
};

class RegistrarTest : public ::testing::Test {
 protected:
  RegisterOutcome Apply(const RequestBuilder& builder, uint32_t now = kT0) {
    const RegisterRequest request = builder.Build();
    return ApplyRegister(table_, request, now, policy_, scratch_);
  }
  // Contacts of bob's AOR, as stored.
  std::vector<std::string> Contacts(std::string_view aor = "sip:bob@biloxi.com") {
    std::vector<std::string> out;
    if (const AorRecord* r = table_.Find(aor)) {
      for (const Binding& b : r->bindings()) out.emplace_back(b.contact());
    }
    return out;
  }
  const Binding* Only(std::string_view aor = "sip:bob@biloxi.com") {
    const AorRecord* r = table_.Find(aor);
    if (r == nullptr || r->bindings().size() != 1) return nullptr;
    return &r->bindings()[0];
  }

  BindingTable table_{kT0};
  RegistrarPolicy policy_;  // 60 / 3600 / 7200, 16 contacts, reject
  RegistrarScratch scratch_;
};

using Strings = std::vector<std::string>;

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_NewContactIsBoundWithItsExpiry) {
  const RegisterOutcome out = Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 600));
  EXPECT_EQ(out.status, 200);
  ASSERT_NE(out.record, nullptr);
  ASSERT_EQ(out.record->bindings().size(), 1u);
  const Binding& b = out.record->bindings()[0];
  EXPECT_EQ(b.contact(), "sip:bob@192.0.2.4");
  EXPECT_EQ(b.expires_at, kT0 + 600);
  EXPECT_EQ(b.call_id(), "843817637684230@998sdasdh09");
  EXPECT_EQ(b.cseq, 1u);
  EXPECT_EQ(b.user_agent(), "TestPhone/1.0");
  EXPECT_EQ(b.registered_at, kT0);
  EXPECT_EQ(table_.aor_count(), 1u);
  EXPECT_EQ(table_.binding_count(), 1u);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_ExpiresParameterTakesPrecedenceOverHeader) {
  Apply(RequestBuilder().Expires(300).Contact("sip:bob@192.0.2.4", 900));
  EXPECT_EQ(Only()->expires_at, kT0 + 900);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_ExpiresHeaderAppliesWithoutParameter) {
  Apply(RequestBuilder().Expires(300).Contact("sip:bob@192.0.2.4"));
  EXPECT_EQ(Only()->expires_at, kT0 + 300);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_LocalDefaultWithoutParameterOrHeader) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4"));
  EXPECT_EQ(Only()->expires_at, kT0 + policy_.default_expires);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_AboveMaximumIsShortened) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 86400));
  EXPECT_EQ(Only()->expires_at, kT0 + policy_.max_expires);
  Apply(RequestBuilder().CSeq(2).Contact("sip:bob@192.0.2.4", 4294967295u));
  EXPECT_EQ(Only()->expires_at, kT0 + policy_.max_expires);
}

TEST_F(RegistrarTest, Rfc3261_10_2_8_And_10_3_Step7_BelowMinimumIs423AndNothingChanges) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 600));
  const RegisterOutcome out = Apply(RequestBuilder().CSeq(2).Contact("sip:bob@192.0.2.9", 600)
                                        .Contact("sip:bob@192.0.2.4", 30));
  EXPECT_EQ(out.status, 423);
  EXPECT_EQ(out.min_expires, 60u);
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.4"});
  EXPECT_EQ(Only()->expires_at, kT0 + 600);
  EXPECT_EQ(Only()->cseq, 1u);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_ZeroIsNotBelowTheMinimum) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4"));
  EXPECT_EQ(Apply(RequestBuilder().CSeq(2).Contact("sip:bob@192.0.2.4", 0)).status, 200);
  EXPECT_EQ(table_.aor_count(), 0u);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_ExistingBindingIsFoundByUriEquality) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4;transport=UDP", 600));
  // Same URI under section 19.1.4: host case, parameter case, an extra param.
  Apply(RequestBuilder().CSeq(2).Contact("sip:bob@192.0.2.4;Transport=udp;ob", 900));
  ASSERT_NE(Only(), nullptr);
  EXPECT_EQ(Only()->expires_at, kT0 + 900);
  EXPECT_EQ(Only()->contact(), "sip:bob@192.0.2.4;Transport=udp;ob");  // latest form kept
  // Not equal: an explicit port differs from none.
  Apply(RequestBuilder().CSeq(3).Contact("sip:bob@192.0.2.4:5060;transport=udp", 900));
  EXPECT_EQ(Contacts().size(), 2u);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_SameCallIdHigherCSeqUpdates) {
  Apply(RequestBuilder().CSeq(10).Contact("sip:bob@192.0.2.4", 600), kT0);
  Apply(RequestBuilder().CSeq(11).Contact("sip:bob@192.0.2.4", 600), kT0 + 100);
  EXPECT_EQ(Only()->cseq, 11u);
  EXPECT_EQ(Only()->expires_at, kT0 + 700);
  EXPECT_EQ(Only()->registered_at, kT0);
  EXPECT_EQ(Only()->refreshed_at, kT0 + 100);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_SameCallIdNotHigherCSeqFailsTheWholeRequest) {
  Apply(RequestBuilder().CSeq(10).Contact("sip:bob@192.0.2.4", 600));
  for (uint32_t cseq : {10u, 9u}) {
    const RegisterOutcome out = Apply(RequestBuilder().CSeq(cseq).Contact("sip:bob@192.0.2.7", 600)
                                          .Contact("sip:bob@192.0.2.4", 900));
    EXPECT_EQ(out.status, 400) << cseq;
    EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.4"}) << "nothing changes";
    EXPECT_EQ(Only()->expires_at, kT0 + 600);
  }
}

TEST_F(RegistrarTest, TheSameRequestAgainAfterItsTransactionWasForgottenChangesNothing) {
  Apply(RequestBuilder().CSeq(10).Contact("sip:bob@192.0.2.4", 600), kT0);
  // A retransmission whose cached answer is gone: 200, as the first, and the
  // binding keeps the expiry the first gave it.
  const RegisterOutcome out = Apply(RequestBuilder().CSeq(10).Contact("sip:bob@192.0.2.4", 600), kT0 + 3);
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(Only()->expires_at, kT0 + 600);
  EXPECT_EQ(Only()->refreshed_at, kT0);
  // Another expiry with that CSeq is not the same request: it fails.
  EXPECT_EQ(Apply(RequestBuilder().CSeq(10).Contact("sip:bob@192.0.2.4", 900), kT0 + 3).status, 400);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_DifferentCallIdUpdatesWhateverTheCSeq) {
  Apply(RequestBuilder().CallId("first@host").CSeq(50).Contact("sip:bob@192.0.2.4", 600));
  Apply(RequestBuilder().CallId("rebooted@host").CSeq(1).Contact("sip:bob@192.0.2.4", 900));
  EXPECT_EQ(Only()->call_id(), "rebooted@host");
  EXPECT_EQ(Only()->cseq, 1u);
  EXPECT_EQ(Only()->expires_at, kT0 + 900);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_DifferentCallIdWithExpiresZeroRemoves) {
  Apply(RequestBuilder().CallId("first@host").CSeq(50).Contact("sip:bob@192.0.2.4", 600));
  EXPECT_EQ(Apply(RequestBuilder().CallId("other@host").CSeq(1).Contact("sip:bob@192.0.2.4", 0)).status, 200);
  EXPECT_TRUE(Contacts().empty());
}

TEST_F(RegistrarTest, Rfc3261_10_2_2_ExpiresZeroRemovesOnlyThatBinding) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4").Contact("sip:bob@192.0.2.5"));
  const RegisterOutcome out = Apply(RequestBuilder().CSeq(2).Expires(0).Contact("sip:bob@192.0.2.4"));
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.5"});
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step7_ExpiresZeroForAnUnknownContactChangesNothing) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4"));
  EXPECT_EQ(Apply(RequestBuilder().CSeq(2).Contact("sip:bob@192.0.2.99", 0)).status, 200);
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.4"});
}

TEST_F(RegistrarTest, Rfc3261_10_2_1_SeveralContactsAreBoundTogether) {
  const RegisterOutcome out = Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 600, 700)
                                        .Contact("mailto:bob@biloxi.com", 1200, 100));
  ASSERT_EQ(out.status, 200);
  EXPECT_EQ(Contacts(), (Strings{"sip:bob@192.0.2.4", "mailto:bob@biloxi.com"}));
}

TEST_F(RegistrarTest, Rfc3261_10_2_3_RequestWithoutContactIsAQueryAndChangesNothing) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 600));
  int commits = 0;
  RequestBuilder builder;
  builder.CSeq(2);
  const RegisterRequest query = builder.Build();
  const RegisterOutcome out = ApplyRegister(table_, query, kT0 + 10, policy_, scratch_,
                                            [&](const StagedRequest&) { return ++commits, true; });
  EXPECT_EQ(out.status, 200);
  ASSERT_NE(out.record, nullptr);
  EXPECT_EQ(out.record->bindings()[0].expires_at - (kT0 + 10), 590u);
  EXPECT_EQ(commits, 0);
  EXPECT_EQ(Only()->cseq, 1u);
  const RegisterOutcome empty = Apply(RequestBuilder().Aor("sip:nobody@biloxi.com"));
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.record, nullptr);
  EXPECT_EQ(table_.aor_count(), 1u);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step8_ResponseHoldsEveryCurrentBinding) {
  Apply(RequestBuilder().CallId("a@h").Contact("sip:bob@192.0.2.4", 600));
  const RegisterOutcome out = Apply(RequestBuilder().CallId("b@h").Contact("sip:bob@198.51.100.2", 1200));
  ASSERT_NE(out.record, nullptr);
  ASSERT_EQ(out.record->bindings().size(), 2u);
  EXPECT_EQ(out.record->bindings()[0].expires_at, kT0 + 600);
  EXPECT_EQ(out.record->bindings()[1].expires_at, kT0 + 1200);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step6_WildcardRemovesEveryBinding) {
  Apply(RequestBuilder().CallId("a@h").Contact("sip:bob@192.0.2.4"));
  Apply(RequestBuilder().CallId("b@h").Contact("sip:bob@192.0.2.5"));
  const RegisterOutcome out = Apply(RequestBuilder().CallId("c@h").CSeq(1).Expires(0).Wildcard());
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.record, nullptr);
  EXPECT_EQ(table_.aor_count(), 0u);
  EXPECT_EQ(table_.binding_count(), 0u);
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step6_WildcardWithOtherContactsIs400) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4"));
  const RegisterOutcome out = Apply(RequestBuilder().CSeq(2).Expires(0).Wildcard().Contact("sip:bob@192.0.2.5"));
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.4"});
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step6_WildcardNeedsExpiresZero) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4"));
  EXPECT_EQ(Apply(RequestBuilder().CSeq(2).Wildcard()).status, 400);             // no Expires
  EXPECT_EQ(Apply(RequestBuilder().CSeq(3).Expires(60).Wildcard()).status, 400);  // non-zero
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.4"});
}

TEST_F(RegistrarTest, Rfc3261_10_3_Step6_WildcardWithSameCallIdNeedsHigherCSeq) {
  Apply(RequestBuilder().CallId("a@h").CSeq(5).Contact("sip:bob@192.0.2.4"));
  Apply(RequestBuilder().CallId("b@h").CSeq(1).Contact("sip:bob@192.0.2.5"));
  EXPECT_EQ(Apply(RequestBuilder().CallId("a@h").CSeq(5).Expires(0).Wildcard()).status, 400);
  EXPECT_EQ(Contacts().size(), 2u) << "a failed wildcard removes nothing";
  EXPECT_EQ(Apply(RequestBuilder().CallId("a@h").CSeq(6).Expires(0).Wildcard()).status, 200);
  EXPECT_TRUE(Contacts().empty());
}

TEST_F(RegistrarTest, SameContactTwiceInOneRequestLastOneWins) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 600).Contact("sip:bob@192.0.2.4", 900));
  ASSERT_NE(Only(), nullptr);
  EXPECT_EQ(Only()->expires_at, kT0 + 900);
  Apply(RequestBuilder().CSeq(2).Contact("sip:bob@192.0.2.4", 600).Contact("sip:bob@192.0.2.4", 0));
  EXPECT_TRUE(Contacts().empty());
}

TEST_F(RegistrarTest, Rfc5626_6_InstanceAndRegIdReplaceTheFlow) {
  const std::string instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4:5060;ob", 600, -1, instance, 1));
  // The phone comes back from a new NAT binding: same instance and reg-id.
  Apply(RequestBuilder().CSeq(2).Contact("sip:bob@192.0.2.4:61000;ob", 600, -1, instance, 1));
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.4:61000;ob"});
  // Another reg-id is another flow.
  Apply(RequestBuilder().CSeq(3).Contact("sip:bob@203.0.113.9;ob", 600, -1, instance, 2));
  EXPECT_EQ(Contacts().size(), 2u);
}

TEST_F(RegistrarTest, Policy_TooManyContactsIsRefusedWith403) {
  policy_.max_contacts = 2;
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.1").Contact("sip:bob@192.0.2.2"));
  const RegisterOutcome out = Apply(RequestBuilder().CallId("x@h").Contact("sip:bob@192.0.2.3"));
  EXPECT_EQ(out.status, 403);
  EXPECT_EQ(Contacts().size(), 2u);
  // Replacing one within the same request fits.
  EXPECT_EQ(Apply(RequestBuilder().CallId("x@h").CSeq(2).Contact("sip:bob@192.0.2.1", 0)
                      .Contact("sip:bob@192.0.2.3")).status,
            200);
  EXPECT_EQ(Contacts(), (Strings{"sip:bob@192.0.2.2", "sip:bob@192.0.2.3"}));
}

TEST_F(RegistrarTest, Policy_DropOldestMakesRoom) {
  policy_.max_contacts = 2;
  policy_.too_many_contacts = TooManyContacts::kDropOldest;
  Apply(RequestBuilder().CallId("1@h").Contact("sip:bob@192.0.2.1"), kT0);
  Apply(RequestBuilder().CallId("2@h").Contact("sip:bob@192.0.2.2"), kT0 + 1);
  EXPECT_EQ(Apply(RequestBuilder().CallId("3@h").Contact("sip:bob@192.0.2.3"), kT0 + 2).status, 200);
  EXPECT_EQ(Contacts(), (Strings{"sip:bob@192.0.2.2", "sip:bob@192.0.2.3"}));
  // More new contacts than the limit cannot be made to fit.
  EXPECT_EQ(Apply(RequestBuilder().CallId("4@h").Contact("sip:bob@192.0.2.4").Contact("sip:bob@192.0.2.5")
                      .Contact("sip:bob@192.0.2.6"), kT0 + 3).status,
            403);
}

TEST_F(RegistrarTest, Atomicity_CommitFailureIs500AndNothingIsApplied) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 600));
  RequestBuilder builder;
  builder.CSeq(2).Contact("sip:bob@192.0.2.4", 0).Contact("sip:bob@192.0.2.5", 600);
  const RegisterRequest request = builder.Build();
  const RegisterOutcome out =
      ApplyRegister(table_, request, kT0, policy_, scratch_, [](const StagedRequest&) { return false; });
  EXPECT_EQ(out.status, 500);
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.4"});
  EXPECT_EQ(Only()->cseq, 1u);
}

TEST_F(RegistrarTest, Atomicity_CommitHookSeesEveryStagedChange) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 600).Contact("sip:bob@192.0.2.5", 600));
  RequestBuilder builder;
  builder.CSeq(2).Contact("sip:bob@192.0.2.4", 0).Contact("sip:bob@192.0.2.5", 900).Contact("sip:bob@192.0.2.6", 300);
  const RegisterRequest request = builder.Build();
  std::vector<std::pair<StagedChange::Kind, std::string>> seen;
  ApplyRegister(table_, request, kT0, policy_, scratch_, [&](const StagedRequest& staged) {
    EXPECT_EQ(staged.aor, "sip:bob@biloxi.com");
    EXPECT_EQ(staged.now, kT0);
    for (const StagedChange& c : staged.changes) seen.emplace_back(c.kind, std::string(c.contact));
    return true;
  });
  using K = StagedChange::Kind;
  EXPECT_EQ(seen, (std::vector<std::pair<K, std::string>>{
                      {K::kRemove, "sip:bob@192.0.2.4"}, {K::kUpdate, "sip:bob@192.0.2.5"},
                      {K::kAdd, "sip:bob@192.0.2.6"}}));
}

TEST_F(RegistrarTest, Expiry_BindingsLapseOnTheTimerWheel) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 60).Contact("sip:bob@192.0.2.5", 120));
  std::vector<std::string> expired;
  auto collect = [&](const AorRecord&, const Binding& b) { expired.emplace_back(b.contact()); };
  table_.Expire(kT0 + 59, collect);
  EXPECT_TRUE(expired.empty());
  table_.Expire(kT0 + 60, collect);
  EXPECT_EQ(expired, Strings{"sip:bob@192.0.2.4"});
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.5"});
  table_.Expire(kT0 + 1000, collect);
  EXPECT_EQ(expired.size(), 2u);
  EXPECT_EQ(table_.aor_count(), 0u) << "an AOR with no bindings is gone";
  EXPECT_EQ(table_.binding_count(), 0u);
}

TEST_F(RegistrarTest, Expiry_LapsedBindingIsNeverReportedEvenBeforeTheTimerRuns) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 60));
  const RegisterOutcome out = Apply(RequestBuilder().CallId("q@h"), kT0 + 60);  // query, no Expire() yet
  for (size_t i = 0; out.record != nullptr && i < out.record->bindings().size(); ++i) {
    EXPECT_LE(out.record->bindings()[i].expires_at, kT0 + 60) << "only a lapsed one, for the wheel";
  }
  const Binding* found[4];
  EXPECT_EQ(LookupBindings(table_, "sip:bob@biloxi.com", kT0 + 60, found), 0u);
}

TEST_F(RegistrarTest, Expiry_ALapsedBindingLeavesWithAChangeAndIsCountedAsExpired) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 60).Contact("sip:bob@192.0.2.5", 600));
  RequestBuilder builder;
  builder.CSeq(2).Contact("sip:bob@192.0.2.6", 600);
  const RegisterRequest request = builder.Build();
  BindingChanges tally;
  ApplyRegister(table_, request, kT0 + 60, policy_, scratch_, [&](const StagedRequest& staged) {
    tally = Tally(staged.changes);
    return true;
  });
  EXPECT_EQ(tally.created, 1u);
  EXPECT_EQ(tally.expired, 1u) << "the lapsed 192.0.2.4, not collected by the wheel yet";
  EXPECT_EQ(tally.removed, 0u);
  EXPECT_EQ(Contacts(), (Strings{"sip:bob@192.0.2.5", "sip:bob@192.0.2.6"}));
  EXPECT_EQ(table_.binding_count(), 2u);
}

TEST_F(RegistrarTest, Expiry_AQueryLeavesLapsedBindingsToTheWheel) {
  Apply(RequestBuilder().Contact("sip:bob@192.0.2.4", 60));
  bool committed = false;
  RequestBuilder builder;
  builder.CallId("q@h");
  const RegisterRequest request = builder.Build();
  ApplyRegister(table_, request, kT0 + 60, policy_, scratch_, [&](const StagedRequest&) {
    committed = true;
    return true;
  });
  EXPECT_FALSE(committed) << "a query changes nothing, so records nothing";
  std::vector<std::string> expired;
  table_.Expire(kT0 + 60, [&](const AorRecord&, const Binding& b) { expired.emplace_back(b.contact()); });
  EXPECT_EQ(expired, Strings{"sip:bob@192.0.2.4"}) << "the wheel counts it, once";
}

TEST_F(RegistrarTest, Lookup_OrdersByQThenMostRecentlyRefreshed) {
  Apply(RequestBuilder().CallId("1@h").Contact("sip:bob@192.0.2.1", 600, 500), kT0);
  Apply(RequestBuilder().CallId("2@h").Contact("sip:bob@192.0.2.2", 600), kT0 + 1);  // no q: 1.0
  Apply(RequestBuilder().CallId("3@h").Contact("sip:bob@192.0.2.3", 600, 500), kT0 + 2);
  Apply(RequestBuilder().CallId("4@h").Contact("sip:bob@192.0.2.4", 600, 900), kT0 + 3);
  const Binding* found[8];
  const size_t n = LookupBindings(table_, "sip:bob@biloxi.com", kT0 + 3, found);
  ASSERT_EQ(n, 4u);
  EXPECT_EQ(found[0]->contact(), "sip:bob@192.0.2.2");
  EXPECT_EQ(found[1]->contact(), "sip:bob@192.0.2.4");
  EXPECT_EQ(found[2]->contact(), "sip:bob@192.0.2.3");
  EXPECT_EQ(found[3]->contact(), "sip:bob@192.0.2.1");
  const Binding* top[2];
  ASSERT_EQ(LookupBindings(table_, "sip:bob@biloxi.com", kT0 + 3, top), 2u);
  EXPECT_EQ(top[0]->contact(), "sip:bob@192.0.2.2");
  EXPECT_EQ(top[1]->contact(), "sip:bob@192.0.2.4");
}

TEST_F(RegistrarTest, AorsAreIndependent) {
  Apply(RequestBuilder().Aor("sip:alice@atlanta.com").Contact("sip:alice@192.0.2.1"));
  Apply(RequestBuilder().Aor("sip:bob@biloxi.com").Contact("sip:bob@192.0.2.2"));
  EXPECT_EQ(table_.aor_count(), 2u);
  EXPECT_TRUE(table_.RemoveAor("sip:alice@atlanta.com"));
  EXPECT_FALSE(table_.RemoveAor("sip:alice@atlanta.com"));
  EXPECT_EQ(Contacts(), Strings{"sip:bob@192.0.2.2"});
  EXPECT_EQ(table_.binding_count(), 1u);
}

TEST(BindingText, RefreshWithSameStringsKeepsTheBlock) {
  Binding b;
  b.AssignText({"sip:a@b.com", "call@h", "UA", "", ""});
  const char* before = b.contact().data();
  b.AssignText({"sip:a@b.com", "call@h", "UA", "", ""});
  EXPECT_EQ(b.contact().data(), before);
  b.AssignText({"sip:a@b.com", "call@h", "UA/2", "<urn:x>", "<sip:p1>"});
  EXPECT_EQ(b.user_agent(), "UA/2");
  EXPECT_EQ(b.instance(), "<urn:x>");
  EXPECT_EQ(b.path(), "<sip:p1>");
  EXPECT_EQ(b.call_id(), "call@h");
}

}  // namespace
}  // namespace locus::store
