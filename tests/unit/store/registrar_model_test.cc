// Randomized check of the store: at least 100,000 random operations (register,
// refresh, remove, wildcard, out-of-order CSeq, queries, time advancing)
// applied both to the real BindingTable + ApplyRegister and to a deliberately
// naive reference model written straight from RFC 3261 section 10.3. After
// every operation the outcome and the whole state must agree.
//
// Contact URIs come from known equivalence classes (the same URI spelled with
// other host case, parameter case or extra ignorable parameters), so the model
// can match contacts by class id without a URI comparator of its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "store/registrar.h"

namespace locus::store {
namespace {

constexpr uint32_t kStart = 1'700'000'000;
constexpr int kAors = 40;
constexpr int kClassesPerAor = 6;
constexpr int kOperations = 120'000;

struct ModelBinding {
  int contact_class;
  std::string call_id;
  uint32_t cseq;
  uint32_t expires_at;
  uint32_t granted;  // the expiry the request that set it was given
};

struct ModelContact {
  int contact_class;
  bool has_expires;
  uint32_t expires;
};

struct ModelRequest {
  int aor;
  std::string call_id;
  uint32_t cseq;
  bool has_expires_header;
  uint32_t expires_header;
  bool wildcard;
  std::vector<ModelContact> contacts;
};

// The naive model: a map from AOR to a list, linear scans, rules in RFC order.
class Model {
 public:
  explicit Model(const RegistrarPolicy& policy) : policy_(policy) {}

  int Apply(const ModelRequest& r, uint32_t now, uint32_t* min_expires) {
    Expire(now);
    auto found = aors_.find(r.aor);
    std::vector<ModelBinding> next = found == aors_.end() ? std::vector<ModelBinding>() : found->second;
    if (r.wildcard) {
      if (!r.contacts.empty()) return 400;
      if (!r.has_expires_header || r.expires_header != 0) return 400;
      for (const ModelBinding& b : next) {
        if (b.call_id == r.call_id && r.cseq <= b.cseq) return 400;
      }
      next.clear();
    } else {
      const std::vector<ModelBinding> before = next;
      for (const ModelContact& c : r.contacts) {
        uint32_t e = c.has_expires ? c.expires : (r.has_expires_header ? r.expires_header : policy_.default_expires);
        if (e != 0 && e < policy_.min_expires) {
          *min_expires = policy_.min_expires;
          return 423;
        }
        if (e > policy_.max_expires) e = policy_.max_expires;
        // CSeq ordering is judged against the bindings as they were before the
        // request; the request that set a binding, again, changes nothing.
        bool again = false;
        for (const ModelBinding& b : before) {
          if (b.contact_class != c.contact_class || b.call_id != r.call_id || r.cseq > b.cseq) continue;
          if (r.cseq == b.cseq && e != 0 && e == b.granted) {
            again = true;
            continue;
          }
          return 400;
        }
        if (again) continue;
        auto it = std::find_if(next.begin(), next.end(),
                               [&](const ModelBinding& b) { return b.contact_class == c.contact_class; });
        if (e == 0) {
          if (it != next.end()) next.erase(it);
        } else if (it != next.end()) {
          it->call_id = r.call_id;
          it->cseq = r.cseq;
          it->expires_at = now + e;
          it->granted = e;
        } else {
          next.push_back({c.contact_class, r.call_id, r.cseq, now + e, e});
        }
      }
      if (policy_.max_contacts != 0 && next.size() > policy_.max_contacts) return 403;
    }
    if (next.empty()) {
      aors_.erase(r.aor);
    } else {
      aors_[r.aor] = next;
    }
    return 200;
  }

  void Expire(uint32_t now) {
    for (auto it = aors_.begin(); it != aors_.end();) {
      auto& list = it->second;
      list.erase(std::remove_if(list.begin(), list.end(), [&](const ModelBinding& b) { return b.expires_at <= now; }),
                 list.end());
      it = list.empty() ? aors_.erase(it) : std::next(it);
    }
  }

  const std::map<int, std::vector<ModelBinding>>& aors() const { return aors_; }

 private:
  RegistrarPolicy policy_;
  std::map<int, std::vector<ModelBinding>> aors_;
};

std::string AorName(int aor) { return "sip:user" + std::to_string(aor) + "@example.com"; }

// Spellings of one contact class that are equal under RFC 3261 section 19.1.4.
std::string ContactSpelling(int aor, int contact_class, std::mt19937& rng) {
  const std::string host = (rng() % 2) ? "Host" + std::to_string(contact_class) + ".EXAMPLE.net"
                                       : "host" + std::to_string(contact_class) + ".example.net";
  std::string uri = "sip:u" + std::to_string(aor) + "@" + host + ";transport=" + ((rng() % 2) ? "TCP" : "tcp");
  if (rng() % 3 == 0) uri += ";ob";
  // A parameter in only one of two URIs is ignored; in both, it must match.
  if (rng() % 3 == 0) uri += ";x-tag=" + std::string((rng() % 2) ? "V" : "v") + std::to_string(contact_class);
  return uri;
}

int ClassOf(std::string_view contact) {
  const size_t at = contact.find("ost");
  return std::stoi(std::string(contact.substr(at + 3)));
}

class Harness {
 public:
  Harness() {
    policy_.min_expires = 20;
    policy_.default_expires = 60;
    policy_.max_expires = 150;
    policy_.max_contacts = 4;
  }

  void Run(uint32_t seed) {
    std::mt19937 rng(seed);
    Model model(policy_);
    BindingTable table(kStart);
    RegistrarScratch scratch;
    uint32_t now = kStart;
    std::vector<std::string> call_ids = {"a@phone", "b@phone", "c@phone"};
    std::map<int, uint32_t> last_cseq;  // per AOR, to produce mostly increasing CSeqs
    int statuses[600] = {};
    for (int op = 0; op < kOperations; ++op) {
      if (rng() % 10 == 0) now += rng() % 40;  // time advances
      table.Expire(now, [](const AorRecord&, const Binding&) {});
      ModelRequest mr;
      mr.aor = static_cast<int>(rng() % kAors);
      mr.call_id = call_ids[rng() % call_ids.size()];
      uint32_t& cseq = last_cseq[mr.aor];
      mr.cseq = (rng() % 8 == 0) ? cseq - std::min<uint32_t>(cseq, rng() % 3) : (cseq += 1 + rng() % 2);
      mr.has_expires_header = rng() % 2;
      mr.expires_header = RandomExpiry(rng);
      const int kind = static_cast<int>(rng() % 20);
      mr.wildcard = kind == 0;
      if (mr.wildcard && rng() % 3 != 0) {  // mostly the valid form
        mr.has_expires_header = true;
        mr.expires_header = 0;
      }
      const int contacts = mr.wildcard ? (rng() % 6 == 0 ? 1 : 0) : (kind == 1 ? 0 : 1 + static_cast<int>(rng() % 3));
      std::deque<std::string> texts;
      std::vector<ContactSpec> specs;
      for (int i = 0; i < contacts; ++i) {
        ModelContact mc{static_cast<int>(rng() % kClassesPerAor), rng() % 2 == 0, RandomExpiry(rng)};
        mr.contacts.push_back(mc);
        ContactSpec spec;
        spec.uri_text = texts.emplace_back(ContactSpelling(mr.aor, mc.contact_class, rng));
        ASSERT_TRUE(sip::ParseUri(spec.uri_text, sip::HeaderId::kContact, &spec.uri).ok());
        spec.has_expires = mc.has_expires;
        spec.expires = mc.expires;
        specs.push_back(spec);
      }
      const std::string aor = AorName(mr.aor);
      RegisterRequest request;
      request.aor = aor;
      request.call_id = mr.call_id;
      request.cseq = mr.cseq;
      request.has_expires_header = mr.has_expires_header;
      request.expires_header = mr.expires_header;
      request.wildcard = mr.wildcard;
      request.contacts = specs;

      uint32_t model_min = 0;
      const int expected = model.Apply(mr, now, &model_min);
      const RegisterOutcome got = ApplyRegister(table, request, now, policy_, scratch);
      ASSERT_EQ(got.status, expected) << "operation " << op;
      ++statuses[got.status];
      if (expected == 423) {
        ASSERT_EQ(got.min_expires, model_min);
      }
      if (expected == 200) {
        ASSERT_NO_FATAL_FAILURE(CheckRecord(got.record, model, mr.aor, op));
      }
      if (op % 997 == 0) {
        ASSERT_NO_FATAL_FAILURE(CheckAll(table, model, op));
      }
    }
    CheckAll(table, model, kOperations);
    // The mix really exercised every outcome.
    EXPECT_GT(statuses[200], kOperations / 3);
    EXPECT_GT(statuses[400], 500);
    EXPECT_GT(statuses[403], 100);
    EXPECT_GT(statuses[423], 500);
  }

 private:
  static uint32_t RandomExpiry(std::mt19937& rng) {
    switch (rng() % 6) {
      case 0: return 0;
      case 1: return rng() % 20;      // below the minimum, or 0
      case 2: return 1000 + rng() % 5000;  // above the maximum
      default: return 20 + rng() % 130;
    }
  }

  static void CheckRecord(const AorRecord* record, const Model& model, int aor, int op) {
    auto it = model.aors().find(aor);
    if (it == model.aors().end()) {
      ASSERT_EQ(record, nullptr) << "operation " << op;
      return;
    }
    ASSERT_NE(record, nullptr) << "operation " << op;
    Compare(*record, it->second, op);
  }

  static void Compare(const AorRecord& record, const std::vector<ModelBinding>& expected, int op) {
    std::vector<std::tuple<int, std::string, uint32_t, uint32_t>> a;
    std::vector<std::tuple<int, std::string, uint32_t, uint32_t>> b;
    for (const Binding& x : record.bindings()) {
      a.emplace_back(ClassOf(x.contact()), std::string(x.call_id()), x.cseq, x.expires_at);
    }
    for (const ModelBinding& x : expected) b.emplace_back(x.contact_class, x.call_id, x.cseq, x.expires_at);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    ASSERT_EQ(a, b) << "AOR " << record.key() << " after operation " << op;
  }

  static void CheckAll(const BindingTable& table, const Model& model, int op) {
    size_t bindings = 0;
    for (const auto& [aor, list] : model.aors()) {
      const AorRecord* record = table.Find(AorName(aor));
      ASSERT_NE(record, nullptr) << AorName(aor) << " after operation " << op;
      Compare(*record, list, op);
      bindings += list.size();
    }
    ASSERT_EQ(table.aor_count(), model.aors().size()) << "operation " << op;
    ASSERT_EQ(table.binding_count(), bindings) << "operation " << op;
  }

  RegistrarPolicy policy_;
};

TEST(RegistrarModel, HundredThousandRandomOperationsAgreeWithTheNaiveModel) {
  Harness().Run(20261128);
}

TEST(RegistrarModel, AnotherSeed) { Harness().Run(7); }

}  // namespace
}  // namespace locus::store
