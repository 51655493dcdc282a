#include "engine/sip/outbound.h"

#include "parser/element_cursor.h"
#include "parser/name_addr.h"
#include "parser/scan.h"
#include "parser/uri.h"

namespace locus::engine {
namespace {

// The request passed no proxy: it has a single Via element.
bool FromFirstHop(const sip::Message& request) {
  sip::HeaderElements vias(request, sip::HeaderId::kVia);
  std::string_view element;
  int count = 0;
  while (count < 2 && vias.Next(&element)) ++count;
  return count == 1;
}

// The first Path URI has the "ob" parameter.
bool PathFirstHopSupportsOutbound(const sip::Message& request) {
  sip::HeaderElements paths(request, sip::HeaderId::kPath);
  std::string_view element;
  if (!paths.Next(&element)) return false;
  sip::NameAddr first;
  if (!sip::ParseNameAddr(element, sip::HeaderId::kPath, &first).ok()) return false;
  std::string_view value;
  return sip::FindUriParam(first.uri.params, "ob", &value);
}

}  // namespace

bool SupportsOption(const sip::Message& request, std::string_view tag) {
  sip::HeaderElements elements(request, sip::HeaderId::kSupported);
  std::string_view element;
  while (elements.Next(&element)) {
    if (sip::EqualsIgnoreCase(element, tag)) return true;
  }
  return false;
}

OutboundDecision DecideOutbound(const sip::Message& request,
                                std::span<const sip::Contact> contacts) {
  OutboundDecision d;
  bool reg_id = false;
  for (const sip::Contact& c : contacts) reg_id = reg_id || (!c.star && c.has_reg_id);
  if (!reg_id) return d;
  const bool supported = SupportsOption(request, "outbound");
  if (FromFirstHop(request) || PathFirstHopSupportsOutbound(request)) {
    d.apply = true;
    d.require = supported;
  } else {
    d.reject_439 = supported;
  }
  return d;
}

}  // namespace locus::engine
