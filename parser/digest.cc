#include "parser/digest.h"

#include "parser/params.h"
#include "parser/scan.h"

namespace locus::sip {
namespace {

// The field for a known auth-param name (a token, compared case-
// insensitively), nullptr for others; dispatched on the name's length.
std::string_view* FieldFor(DigestParams* out, std::string_view name) {
  switch (name.size()) {
    case 2:
      if (TokenEquals(name, "nc")) return &out->nc;
      break;
    case 3:
      if (TokenEquals(name, "uri")) return &out->uri;
      if (TokenEquals(name, "qop")) return &out->qop;
      break;
    case 5:
      if (TokenEquals(name, "realm")) return &out->realm;
      if (TokenEquals(name, "nonce")) return &out->nonce;
      if (TokenEquals(name, "stale")) return &out->stale;
      break;
    case 6:
      if (TokenEquals(name, "cnonce")) return &out->cnonce;
      if (TokenEquals(name, "opaque")) return &out->opaque;
      break;
    case 8:
      if (TokenEquals(name, "username")) return &out->username;
      if (TokenEquals(name, "response")) return &out->response;
      break;
    case 9:
      if (TokenEquals(name, "algorithm")) return &out->algorithm;
      break;
    default:
      break;
  }
  return nullptr;
}

}  // namespace

ParseError ParseDigest(std::string_view value, HeaderId where, DigestParams* out) {
  *out = DigestParams{};
  std::string_view s = TrimLws(value);
  size_t n = SpanOf(s, 0, char_class::kToken);
  if (n == 0) return HeaderError(where, "auth-scheme is missing");
  out->scheme = s.substr(0, n);
  s.remove_prefix(n);
  if (s.empty() || !IsLws(s.front())) return HeaderError(where, "auth-scheme has no parameters");
  s = TrimLeadingLws(s);
  out->params = s;
  while (true) {
    n = SpanOf(s, 0, char_class::kToken);
    if (n == 0) return HeaderError(where, "auth-param name is missing");
    std::string_view name = s.substr(0, n);
    s = TrimLeadingLws(s.substr(n));
    if (s.empty() || s.front() != '=') return HeaderError(where, "auth-param has no '='");
    s = TrimLeadingLws(s.substr(1));
    if (!s.empty() && s.front() == '"') {
      n = QuotedStringLength(s);
      if (n == 0) return HeaderError(where, "unterminated quoted string");
    } else {
      n = SpanOf(s, 0, char_class::kToken);
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
