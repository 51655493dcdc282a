#include "store/registrar.h"

#include <algorithm>
#include <limits>

#include "parser/scan.h"
#include "parser/uri_compare.h"

namespace locus::store {
namespace {

using Kind = StagedChange::Kind;

RegisterOutcome Fail(int status, const char* reason, uint32_t min_expires = 0) {
  RegisterOutcome outcome;
  outcome.status = status;
  outcome.reason = reason;
  outcome.min_expires = min_expires;
  return outcome;
}

bool Live(const Binding& binding, uint32_t now) { return binding.expires_at > now; }

// Section 10.3 step 7: "the value of the expires parameter or, if none, the
// Expires header field or, if none, a locally-configured default".
uint32_t RequestedExpiry(const ContactSpec& contact, const RegisterRequest& request,
                         const RegistrarPolicy& policy) {
  if (contact.has_expires) return contact.expires;
  if (request.has_expires_header) return request.expires_header;
  return policy.default_expires;
}

// The existing live binding a contact refers to, or -1. RFC 5626 section 6:
// a contact with +sip.instance and reg-id matches the binding with the same
// pair; otherwise section 10.3 step 7 matches by URI equality (19.1.4).
int FindBinding(const AorRecord* record, const ContactSpec& contact, uint32_t now) {
  if (record == nullptr) return -1;
  const AorRecord::Bindings& bindings = record->bindings();
  if (!contact.instance.empty() && contact.reg_id != 0) {
    for (size_t i = 0; i < bindings.size(); ++i) {
      if (Live(bindings[i], now) && bindings[i].reg_id == contact.reg_id &&
          bindings[i].instance() == contact.instance) {
        return static_cast<int>(i);
      }
    }
  }
  for (size_t i = 0; i < bindings.size(); ++i) {
    if (!Live(bindings[i], now)) continue;
    // A refresh from the same phone carries the same bytes: equal for sure.
    if (bindings[i].contact() == contact.uri_text) return static_cast<int>(i);
  }
  for (size_t i = 0; i < bindings.size(); ++i) {
    if (!Live(bindings[i], now)) continue;
    sip::Uri stored;
    if (!sip::ParseUri(bindings[i].contact(), sip::HeaderId::kContact, &stored).ok()) continue;
    if (sip::UriEquals(stored, contact.uri)) return static_cast<int>(i);
  }
  return -1;
}

// Section 10.3 steps 6 and 7: with the same Call-ID, a request must carry a
// higher CSeq than the binding it changes, or the whole request fails.
bool OutOfOrder(const Binding& binding, const RegisterRequest& request) {
  return binding.call_id() == request.call_id && request.cseq <= binding.cseq;
}

// Section 17.2.3 by other means: the request that made `binding` again --
// the same Call-ID and CSeq, the same expiry asked -- once its transaction's
// cached answer is gone (the cache is bounded, and a registration storm
// outruns it). It is a retransmission, answered as the first was, with
// nothing changed; any other request with that CSeq still fails.
bool SameRequestAgain(const Binding& binding, const RegisterRequest& request, uint32_t expires) {
  return binding.call_id() == request.call_id && request.cseq == binding.cseq && expires != 0 &&
         binding.expires_at - binding.refreshed_at == expires;
}

uint32_t ExpiresAt(uint32_t now, uint32_t expires) {
  const uint64_t at = uint64_t{now} + expires;
  return at > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                   : static_cast<uint32_t>(at);
}

// Sets every field a REGISTER determines. For a refresh the string block is
// reused when the strings did not change.
void UpdateBinding(Binding& binding, const StagedChange& change, const RegisterRequest& request,
                   uint32_t now) {
  const ContactSpec& contact = *change.spec;
  binding.AssignText({contact.uri_text, request.call_id, request.user_agent, contact.instance,
                      request.path});
  binding.cseq = request.cseq;
  binding.expires_at = change.expires_at;
  binding.refreshed_at = now;
  binding.reg_id = contact.reg_id;
  binding.q = contact.has_q ? contact.q : 1000;
  binding.has_q = contact.has_q;
  binding.transport = request.transport;
  binding.source = request.source;
}

Binding MakeBinding(const StagedChange& change, const RegisterRequest& request, uint32_t now) {
  Binding binding;
  UpdateBinding(binding, change, request, now);
  binding.registered_at = now;
  return binding;
}

bool FieldsFit(const RegisterRequest& request) {
  const size_t max = Binding::kMaxFieldSize;
  if (request.call_id.size() > max || request.user_agent.size() > max || request.path.size() > max ||
      request.aor.size() > AorRecord::kMaxKeySize) {
    return false;
  }
  for (const ContactSpec& c : request.contacts) {
    if (c.uri_text.size() > max || c.instance.size() > max) return false;
  }
  return true;
}

// Stages the removal of the least recently refreshed live bindings that this
// request does not touch, until `excess` are gone. False when not enough.
bool StageDropOldest(const AorRecord* record, uint32_t now, size_t excess,
                     std::vector<StagedChange>& changes) {
  while (excess > 0) {
    int oldest = -1;
    for (size_t i = 0; record != nullptr && i < record->bindings().size(); ++i) {
      const Binding& b = record->bindings()[i];
      if (!Live(b, now)) continue;
      const bool touched = std::any_of(changes.begin(), changes.end(), [&](const StagedChange& c) {
        return c.binding_index == static_cast<int>(i);
      });
      if (touched) continue;
      if (oldest < 0 || b.refreshed_at < record->bindings()[oldest].refreshed_at) {
        oldest = static_cast<int>(i);
      }
    }
    if (oldest < 0) return false;
    changes.push_back({Kind::kRemove, record->bindings()[oldest].contact(), nullptr, 0, oldest});
    --excess;
  }
  return true;
}

// A request that changes an AOR takes its lapsed bindings along, so that the
// journal's new state of the AOR holds only live ones. A request that changes
// nothing leaves them to the timer wheel.
void StageLapsed(const AorRecord* record, uint32_t now, std::vector<StagedChange>& changes) {
  if (record == nullptr || changes.empty()) return;
  for (size_t i = 0; i < record->bindings().size(); ++i) {
    const Binding& b = record->bindings()[i];
    if (!Live(b, now)) changes.push_back({Kind::kLapse, b.contact(), nullptr, 0, static_cast<int>(i)});
  }
}

// Applies staged changes to the table: updates in place, then removals
// (highest index first, so indices stay valid), then additions.
const AorRecord* ApplyChanges(BindingTable& table, AorRecord* record, const RegisterRequest& request,
                              uint32_t now, std::vector<StagedChange>& changes, std::vector<int>& removals) {
  const bool adds = std::any_of(changes.begin(), changes.end(),
                                [](const StagedChange& c) { return c.kind == Kind::kAdd; });
  if (record == nullptr && !adds) return nullptr;
  if (record == nullptr) record = table.FindOrCreate(request.aor);
  AorRecord::Bindings& bindings = record->mutable_bindings();
  removals.clear();
  for (const StagedChange& change : changes) {
    if (change.kind == Kind::kUpdate) UpdateBinding(bindings[change.binding_index], change, request, now);
    if (change.kind == Kind::kRemove || change.kind == Kind::kLapse) {
      removals.push_back(change.binding_index);
    }
  }
  std::sort(removals.begin(), removals.end(), std::greater<int>());
  removals.erase(std::unique(removals.begin(), removals.end()), removals.end());
  for (int index : removals) table.RemoveBinding(record, static_cast<size_t>(index));
  for (const StagedChange& change : changes) {
    if (change.kind == Kind::kAdd) table.AddBinding(record, MakeBinding(change, request, now));
  }
  return table.Rearm(record);
}

}  // namespace

RegisterOutcome ApplyRegister(BindingTable& table, const RegisterRequest& request, uint32_t now,
                              const RegistrarPolicy& policy, RegistrarScratch& scratch,
                              CommitHook commit) {
  std::vector<StagedChange>& changes = scratch.changes;
  changes.clear();
  if (!FieldsFit(request)) return Fail(400, "Header Field Too Long");
  AorRecord* const record = table.FindMutable(request.aor);

  if (request.wildcard) {
    // Step 6: "*" only alone and only with Expires: 0; it removes every binding.
    if (!request.contacts.empty()) return Fail(400, "Wildcard Contact With Other Contacts");
    if (!request.has_expires_header || request.expires_header != 0) {
      return Fail(400, "Wildcard Contact Requires Expires 0");
    }
    for (size_t i = 0; record != nullptr && i < record->bindings().size(); ++i) {
      const Binding& binding = record->bindings()[i];
      if (!Live(binding, now)) continue;
      if (OutOfOrder(binding, request)) return Fail(400, "CSeq Out Of Order");
      changes.push_back({Kind::kRemove, binding.contact(), nullptr, 0, static_cast<int>(i)});
    }
  } else {
    size_t live = 0;
    for (size_t i = 0; record != nullptr && i < record->bindings().size(); ++i) {
      live += Live(record->bindings()[i], now) ? 1 : 0;
    }
    for (const ContactSpec& contact : request.contacts) {
      // Step 7: expiry per contact; below the minimum is refused, above the
      // maximum is shortened.
      uint32_t expires = RequestedExpiry(contact, request, policy);
      if (expires != 0 && expires < policy.min_expires) {
        return Fail(423, "Interval Too Brief", policy.min_expires);
      }
      expires = std::min(expires, policy.max_expires);
      const int existing = FindBinding(record, contact, now);
      if (existing >= 0 && OutOfOrder(record->bindings()[existing], request)) {
        if (SameRequestAgain(record->bindings()[existing], request, expires)) continue;
        return Fail(400, "CSeq Out Of Order");
      }
      // The same contact twice in one request: the later one wins.
      auto same = std::find_if(changes.begin(), changes.end(), [&](const StagedChange& c) {
        if (existing >= 0) return c.binding_index == existing;
        return c.kind == Kind::kAdd && sip::UriEquals(c.spec->uri, contact.uri);
      });
      if (same != changes.end()) changes.erase(same);
      const uint32_t expires_at = ExpiresAt(now, expires);
      if (existing >= 0) {
        const Kind kind = expires == 0 ? Kind::kRemove : Kind::kUpdate;
        changes.push_back({kind, record->bindings()[existing].contact(), &contact, expires_at, existing});
      } else if (expires != 0) {
        changes.push_back({Kind::kAdd, contact.uri_text, &contact, expires_at, -1});
      }
    }
    size_t after = live;
    for (const StagedChange& c : changes) {
      if (c.kind == Kind::kAdd) ++after;
      if (c.kind == Kind::kRemove) --after;
    }
    if (policy.max_contacts != 0 && after > policy.max_contacts) {
      if (policy.too_many_contacts == TooManyContacts::kReject ||
          !StageDropOldest(record, now, after - policy.max_contacts, changes)) {
        return Fail(403, "Too Many Contacts");
      }
    }
  }

  StageLapsed(record, now, changes);
  // Step 8 (and the atomicity the architecture asks for): record durably,
  // then apply everything.
  if (!changes.empty()) {
    const StagedRequest staged{request.aor, &request, now, changes};
    if (!commit(staged)) return Fail(500, "Server Internal Error");
  }
  RegisterOutcome outcome;
  outcome.record = ApplyChanges(table, record, request, now, changes, scratch.removals);
  return outcome;
}

BindingChanges Tally(std::span<const StagedChange> changes) {
  BindingChanges tally;
  for (const StagedChange& change : changes) {
    switch (change.kind) {
      case Kind::kAdd: ++tally.created; break;
      case Kind::kUpdate: ++tally.refreshed; break;
      case Kind::kRemove: ++tally.removed; break;
      case Kind::kLapse: ++tally.expired; break;
    }
  }
  return tally;
}

size_t LookupBindings(const BindingTable& table, AorKey aor, uint32_t now,
                      std::span<const Binding*> out, std::string_view instance) {
  const AorRecord* record = table.Find(aor);
  if (record == nullptr || out.empty()) return 0;
  auto before = [](const Binding* a, const Binding* b) {
    if (a->q != b->q) return a->q > b->q;
    return a->refreshed_at > b->refreshed_at;
  };
  // Insertion into a sorted prefix keeps the best out.size() bindings.
  size_t n = 0;
  for (const Binding& binding : record->bindings()) {
    if (!Live(binding, now)) continue;
    if (!instance.empty() && !sip::EqualsIgnoreCase(binding.instance(), instance)) continue;
    if (n == out.size() && !before(&binding, out[n - 1])) continue;
    size_t i = n < out.size() ? n++ : n - 1;
    while (i > 0 && before(&binding, out[i - 1])) {
      out[i] = out[i - 1];
      --i;
    }
    out[i] = &binding;
  }
  return n;
}

}  // namespace locus::store
