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

// Offset of the first non-LWS byte of s at or after i (or s.size()).
size_t SkipLws(std::string_view s, size_t i) {
  while (i < s.size() && IsLws(s[i])) ++i;
  return i;
}

}  // namespace

// challenge / credentials = auth-scheme LWS auth-param *(COMMA auth-param)
// (RFC 3261 section 25.1), one pass by offsets into the trimmed value.
ParseError ParseDigest(std::string_view value, HeaderId where, DigestParams* out) {
  // Member by member, not `*out = DigestParams{}` (see ParseUri), and not
  // chained (a = b = {} copies b with a load that stalls store forwarding).
  out->scheme = {};
  out->username = {};
  out->realm = {};
  out->nonce = {};
  out->uri = {};
  out->response = {};
  out->algorithm = {};
  out->cnonce = {};
  out->opaque = {};
  out->qop = {};
  out->nc = {};
  out->stale = {};
  out->params = {};
  const std::string_view s = TrimLws(value);
  size_t i = SpanOf(s, 0, char_class::kToken);
  if (i == 0) return HeaderError(where, "auth-scheme is missing");
  out->scheme = s.substr(0, i);
  if (i == s.size() || !IsLws(s[i])) return HeaderError(where, "auth-scheme has no parameters");
  i = SkipLws(s, i);
  out->params = s.substr(i);
  while (true) {
    const size_t name_start = i;
    i = SpanOf(s, i, char_class::kToken);
    if (i == name_start) return HeaderError(where, "auth-param name is missing");
    const std::string_view name(s.data() + name_start, i - name_start);
    i = SkipLws(s, i);
    if (i == s.size() || s[i] != '=') return HeaderError(where, "auth-param has no '='");
    i = SkipLws(s, i + 1);
    size_t n = 0;
    if (i < s.size() && s[i] == '"') {
      n = QuotedStringLength(s.substr(i));
      if (n == 0) return HeaderError(where, "unterminated quoted string");
    } else {
      n = SpanOf(s, i, char_class::kToken) - i;
      if (n == 0) return HeaderError(where, "auth-param value is missing");
    }
    if (std::string_view* field = FieldFor(out, name)) {
      if (!field->empty()) return HeaderError(where, "auth-param appears twice");
      *field = Unquote(std::string_view(s.data() + i, n));
    }
    i = SkipLws(s, i + n);
    if (i == s.size()) return kParseOk;
    if (s[i] != ',') return HeaderError(where, "auth-params not separated by ','");
    i = SkipLws(s, i + 1);
  }
}

}  // namespace locus::sip
