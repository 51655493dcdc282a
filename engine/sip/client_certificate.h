// Mutual TLS as authorization (docs/tls.md): a client certificate that
// verified against tls_ca and names an AOR among its subjectAltName URIs
// (e.g. URI:sip:alice@example.com) may register that AOR without a Digest
// challenge. The comparison is of canonical AORs (section 10.3 step 5), so
// parameters and case of the host do not matter.
#ifndef LOCUS_ENGINE_SIP_CLIENT_CERTIFICATE_H_
#define LOCUS_ENGINE_SIP_CLIENT_CERTIFICATE_H_

#include <span>
#include <string>

#include "parser/message.h"

namespace locus::engine {

// `request` is a REGISTER whose To names the same AOR as one of `uris`.
bool CertificateNamesAor(const sip::Message& request, std::span<const std::string> uris);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_CLIENT_CERTIFICATE_H_
