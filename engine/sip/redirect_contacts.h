// The Contact header fields of a redirect (RFC 3261 sections 8.3 and
// 21.3.3): one per binding, in the order given (q, then most recently
// refreshed: store::LookupBindings), each with its q and the seconds it has
// left. A binding registered through proxies that gave a Path (RFC 3327)
// must still be reached through them: its Path travels in the Contact URI as
// an escaped Route header (section 19.1.1), which a UAC following the
// redirect turns into a Route header field of its new request (section
// 19.1.5); docs/location-service.md shows a proxy doing so.
#ifndef LOCUS_ENGINE_SIP_REDIRECT_CONTACTS_H_
#define LOCUS_ENGINE_SIP_REDIRECT_CONTACTS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "store/binding.h"

namespace locus::engine {

// "Contact: <uri[?Route=...]>;q=...;expires=N\r\n" for each binding.
void AppendRedirectContacts(std::span<const store::Binding* const> bindings, uint32_t now,
                            std::string* out);

// Writes q in thousandths as a qvalue: 1000 -> "1", 500 -> "0.5", 5 -> "0.005".
void AppendQValue(uint16_t q, std::string* out);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_REDIRECT_CONTACTS_H_
