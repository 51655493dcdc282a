#include "engine/trace/message_aor.h"

namespace locus::engine {

bool MessageAor(std::string_view bytes, sip::Message* scratch, sip::CanonicalAor* aor) {
  return sip::ParseMessage(bytes, sip::ParseOptions{}, scratch).ok() &&
         sip::AorOfTo(*scratch, aor).ok();
}

}  // namespace locus::engine
