#include "engine/trace/message_aor.h"

#include "parser/name_addr.h"

namespace locus::engine {

bool MessageAor(std::string_view bytes, sip::Message* scratch, sip::CanonicalAor* aor) {
  if (!sip::ParseMessage(bytes, sip::ParseOptions{}, scratch).ok()) return false;
  const sip::HeaderField* to = scratch->Find(sip::HeaderId::kTo);
  if (to == nullptr) return false;
  sip::NameAddr value;
  return sip::ParseNameAddrUncheckedParams(to->value(), sip::HeaderId::kTo, &value).ok() &&
         sip::CanonicalizeAor(value.uri, aor).ok();
}

}  // namespace locus::engine
