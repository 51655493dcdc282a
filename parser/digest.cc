#include "parser/digest.h"

#include "parser/params.h"
#include "parser/scan.h"

namespace locus::sip {
namespace {

std::string_view* FieldFor(DigestParams* out, std::string_view name) {
  struct Entry {
    std::string_view name;
    std::string_view DigestParams::*field;
  };
  static constexpr Entry kFields[] = {
      {"username", &DigestParams::username}, {"realm", &DigestParams::realm},
      {"nonce", &DigestParams::nonce},       {"uri", &DigestParams::uri},
      {"response", &DigestParams::response}, {"algorithm", &DigestParams::algorithm},
      {"cnonce", &DigestParams::cnonce},     {"opaque", &DigestParams::opaque},
      {"qop", &DigestParams::qop},           {"nc", &DigestParams::nc},
      {"stale", &DigestParams::stale},
  };
  for (const Entry& e : kFields) {
    if (TokenEquals(name, e.name)) return &(out->*e.field);  // name is a token
  }
  return nullptr;
}

}  // namespace

ParseError ParseDigest(std::string_view value, HeaderId where, DigestParams* out) {
  *out = DigestParams{};
  std::string_view s = TrimLws(value);
  size_t n = 0;
  while (n < s.size() && IsTokenChar(s[n])) ++n;
  if (n == 0) return HeaderError(where, "auth-scheme is missing");
  out->scheme = s.substr(0, n);
  s.remove_prefix(n);
  if (s.empty() || !IsLws(s.front())) return HeaderError(where, "auth-scheme has no parameters");
  s = TrimLeadingLws(s);
  out->params = s;
  while (true) {
    n = 0;
    while (n < s.size() && IsTokenChar(s[n])) ++n;
    if (n == 0) return HeaderError(where, "auth-param name is missing");
    std::string_view name = s.substr(0, n);
    s = TrimLeadingLws(s.substr(n));
    if (s.empty() || s.front() != '=') return HeaderError(where, "auth-param has no '='");
    s = TrimLeadingLws(s.substr(1));
    if (!s.empty() && s.front() == '"') {
      n = QuotedStringLength(s);
      if (n == 0) return HeaderError(where, "unterminated quoted string");
    } else {
      n = 0;
      while (n < s.size() && IsTokenChar(s[n])) ++n;
      if (n == 0) return HeaderError(where, "auth-param value is missing");
    }
    if (std::string_view* field = FieldFor(out, name)) {
      if (!field->empty()) return HeaderError(where, "auth-param appears twice");
      *field = Unquote(s.substr(0, n));
    }
    s = TrimLeadingLws(s.substr(n));
    if (s.empty()) return kParseOk;
    if (s.front() != ',') return HeaderError(where, "auth-params not separated by ','");
    s = TrimLeadingLws(s.substr(1));
  }
}

}  // namespace locus::sip
