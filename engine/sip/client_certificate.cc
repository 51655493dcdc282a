#include "engine/sip/client_certificate.h"

#include "parser/aor.h"
#include "parser/name_addr.h"
#include "parser/uri.h"

namespace locus::engine {

bool CertificateNamesAor(const sip::Message& request, std::span<const std::string> uris) {
  if (uris.empty() || request.method() != sip::Method::kRegister) return false;
  const sip::HeaderField* to_field = request.Find(sip::HeaderId::kTo);
  sip::NameAddr to;
  sip::CanonicalAor aor;
  if (to_field == nullptr || !sip::ParseNameAddr(to_field->value(), sip::HeaderId::kTo, &to).ok() ||
      !sip::CanonicalizeAor(to.uri, &aor).ok()) {
    return false;
  }
  for (const std::string& text : uris) {
    sip::Uri uri;
    sip::CanonicalAor named;
    if (sip::ParseUri(text, sip::HeaderId::kNone, &uri).ok() &&
        sip::CanonicalizeAor(uri, &named).ok() && named.view() == aor.view()) {
      return true;
    }
  }
  return false;
}

}  // namespace locus::engine
