#include "engine/sip/redirect_server.h"

#include <span>

#include "engine/sip/redirect_contacts.h"
#include "parser/aor.h"
#include "parser/scan.h"
#include "store/registrar.h"

namespace locus::engine {

bool RedirectServer::Resolve(const sip::Uri& request_uri, LookupTarget* target,
                             const char** problem) {
  target->kind = LookupTarget::Kind::kAor;
  target->instance.clear();
  target->temporary = false;
  target->issued = 0;
  target->sips = request_uri.scheme == sip::UriScheme::kSips;
  GruuTarget gruu;
  if (gruu_ != nullptr) {
    gruu = gruu_->Resolve(request_uri);
  } else {
    std::string_view gr;
    if (sip::FindUriParam(request_uri.params, "gr", &gr)) gruu.kind = GruuTarget::Kind::kInvalid;
  }
  switch (gruu.kind) {
    case GruuTarget::Kind::kInvalid:
      target->kind = LookupTarget::Kind::kUnknownGruu;
      target->aor.clear();
      return true;
    case GruuTarget::Kind::kTemporary:
      target->kind = LookupTarget::Kind::kGruu;
      target->aor = std::move(gruu.aor);
      target->instance = std::move(gruu.instance);
      target->temporary = true;
      target->issued = gruu.issued;
      return true;
    case GruuTarget::Kind::kPublic:
      target->kind = LookupTarget::Kind::kGruu;
      target->instance = std::move(gruu.instance);
      break;
    case GruuTarget::Kind::kNone:
      break;
  }
  // Section 10.3 step 5: the AOR is the URI without parameters or headers.
  sip::CanonicalAor aor;
  if (const sip::ParseError error = sip::CanonicalizeAor(request_uri, &aor); !error.ok()) {
    *problem = error.what;
    return false;
  }
  target->aor.assign(aor.view());
  return true;
}

int RedirectServer::Answer(const sip::Message& request, const ReplyTo& reply,
                           const LookupTarget& target, uint32_t now, std::string_view server,
                           std::string* response) {
  counters_.lookups.Add();
  size_t n = 0;
  if (target.kind != LookupTarget::Kind::kUnknownGruu) {
    n = store::LookupBindings(table_, target.aor, now, std::span(found_), target.instance);
  }
  if (target.sips) {
    // RFC 5630 section 4.1: a SIPS request is forwarded only to SIPS
    // contacts (every hop secured).
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      const std::string_view contact = found_[i]->contact();
      if (contact.size() > 5 && sip::EqualsIgnoreCase(contact.substr(0, 5), "sips:")) {
        found_[kept++] = found_[i];
      }
    }
    n = kept;
  }
  if (n > 0 && target.temporary) {
    // A temp-gruu lasts as long as the registration it was issued in: some
    // binding of the instance must date from then or before.
    bool valid = false;
    for (size_t i = 0; i < n && !valid; ++i) valid = found_[i]->registered_at <= target.issued;
    if (!valid) n = 0;
  }
  ResponseBuilder builder(response);
  if (n > 0) {
    builder.Start(302, "Moved Temporarily", request, reply);
    AppendRedirectContacts(std::span(found_.data(), n), now, response);
    builder.Finish(server);
    return 302;
  }
  bool known = false;
  if (target.kind == LookupTarget::Kind::kGruu && !target.temporary) {
    known = table_.Find(target.aor) != nullptr;  // the AOR has other bindings
  }
  if (target.kind != LookupTarget::Kind::kUnknownGruu && !target.temporary && auth_ != nullptr &&
      auth_->users() != nullptr) {
    known = known || auth_->users()->KnowsAor(target.aor);
  }
  if (known) {
    builder.Start(480, "Temporarily Unavailable", request, reply);
    builder.Finish(server);
    return 480;
  }
  builder.Start(404, "Not Found", request, reply);
  builder.Finish(server);
  return 404;
}

}  // namespace locus::engine
