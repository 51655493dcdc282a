#include "parser/contact.h"

#include "parser/params.h"
#include "parser/scan.h"

namespace locus::sip {

bool ParseQValue(std::string_view text, uint16_t* thousandths) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return false;
  const bool one = text[0] == '1';
  uint16_t value = one ? kQMax : 0;
  if (text.size() > 1) {
    if (text[1] != '.' || text.size() > 5) return false;
    uint16_t scale = 100;
    for (size_t i = 2; i < text.size(); ++i, scale /= 10) {
      if (!IsDigit(text[i]) || (one && text[i] != '0')) return false;
      value = static_cast<uint16_t>(value + (text[i] - '0') * scale);
    }
  }
  *thousandths = value;
  return true;
}

ParseError ParseContact(std::string_view element, Contact* out) {
  constexpr HeaderId kWhere = HeaderId::kContact;
  // Field by field: the address is reset by ParseNameAddrUncheckedParams.
  out->star = false;
  out->has_expires = false;
  out->expires = 0;
  out->has_q = false;
  out->q = 0;
  out->instance = {};
  out->has_reg_id = false;
  out->reg_id = 0;
  // "*" (with LWS around it, when not trimmed yet): only then is the first
  // byte '*' or LWS.
  if (!element.empty() && (element.front() == '*' || IsLws(element.front())) && TrimLws(element) == "*") {
    out->star = true;
    out->address = NameAddr{};
    return kParseOk;
  }
  if (const ParseError e = ParseNameAddrUncheckedParams(element, kWhere, &out->address); !e.ok()) {
    return e;
  }
  ParamCursor cursor(out->address.params);
  Param p;
  while (cursor.Next(&p)) {
    if (TokenEquals(p.name, "expires")) {
      uint64_t v = 0;
      if (!p.has_value || !ParseDecimal(p.value, kMaxDeltaSeconds, &v)) {
        return HeaderError(kWhere, "expires is not delta-seconds");
      }
      out->has_expires = true;
      out->expires = static_cast<uint32_t>(v);
    } else if (TokenEquals(p.name, "q")) {
      if (!p.has_value || !ParseQValue(p.value, &out->q)) {
        return HeaderError(kWhere, "q is not a qvalue between 0 and 1");
      }
      out->has_q = true;
    } else if (TokenEquals(p.name, "+sip.instance")) {
      if (!p.has_value || p.value.front() != '"') {
        return HeaderError(kWhere, "+sip.instance is not a quoted string");
      }
      out->instance = Unquote(p.value);
    } else if (TokenEquals(p.name, "reg-id")) {
      uint64_t v = 0;
      // reg-id = 1*DIGIT, from 1 to 2^31-1 (RFC 5626 section 4.2)
      if (!p.has_value || !ParseDecimal(p.value, 1ull << 31, &v) || v == 0 || v >= (1ull << 31)) {
        return HeaderError(kWhere, "reg-id is not 1 to 2^31-1");
      }
      out->has_reg_id = true;
      out->reg_id = static_cast<uint32_t>(v);
    }
  }
  if (cursor.error()) return HeaderError(kWhere, "header parameter is malformed");
  return kParseOk;
}

}  // namespace locus::sip
