#include "parser/uri.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "parser/scan.h"

namespace locus::sip {
namespace {

// Checks that every '%' in s starts a "%" HEX HEX escape and every other
// character is in `allowed` (a char_class mask). Empty is allowed here; the
// callers decide whether their production needs 1*.
bool ValidEscapedRun(std::string_view s, uint16_t allowed) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) return false;
      i += 2;
    } else if (!Has(c, allowed)) {
      return false;
    }
  }
  return true;
}

constexpr uint16_t kUserChars = char_class::kUnreserved | char_class::kUserUnreserved;
constexpr uint16_t kPasswordChars = char_class::kUnreserved | char_class::kPasswordExtra;
constexpr uint16_t kParamChars = char_class::kUnreserved | char_class::kParamUnreserved;
constexpr uint16_t kHeaderChars = char_class::kUnreserved | char_class::kHnvUnreserved;
constexpr uint16_t kUricChars = char_class::kUnreserved | char_class::kReserved;

// IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each at most
// 255. `s` holds only digits and dots.
bool ParseIpv4(std::string_view s) {
  int parts = 0;
  int digits = 0;
  int value = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0 || ++parts == 4) return false;
      digits = value = 0;
    } else {
      value = value * 10 + (c - '0');
      if (++digits > 3 || value > 255) return false;
    }
  }
  return parts == 3 && digits != 0;
}

bool ParsePort(std::string_view s, uint16_t* port) {
  uint64_t v = 0;
  if (s.size() > 5 || !ParseDecimal(s, 65536, &v) || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

bool ParseIpv6Reference(std::string_view s) {
  // "[" IPv6address "]"; the longest textual IPv6 address is 45 characters.
  if (s.size() < 4 || s.front() != '[' || s.back() != ']' || s.size() > 47) return false;
  char buf[48];
  std::memcpy(buf, s.data() + 1, s.size() - 2);
  buf[s.size() - 2] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

// uri-parameters = *( ";" uri-parameter ), section 19.1.1 / 25.1: one pass.
bool ValidUriParams(std::string_view params) {
  size_t i = 0;
  while (i < params.size()) {
    if (params[i] != ';') return false;
    const size_t name_start = ++i;
    while (i < params.size() && params[i] != ';' && params[i] != '=') ++i;
    const std::string_view name = params.substr(name_start, i - name_start);
    if (name.empty() || !ValidEscapedRun(name, kParamChars)) return false;
    if (i == params.size() || params[i] == ';') continue;
    const size_t value_start = ++i;  // after '='
    while (i < params.size() && params[i] != ';') ++i;
    const std::string_view value = params.substr(value_start, i - value_start);
    if (value.empty() || !ValidEscapedRun(value, kParamChars)) return false;
    if (name.size() == 3 && EqualsIgnoreCase(name, "ttl")) {
      uint64_t ttl = 0;
      if (value.size() > 3 || !ParseDecimal(value, 256, &ttl) || ttl > 255) return false;
    } else if (name.size() == 5 && EqualsIgnoreCase(name, "maddr")) {
      HostType type;
      if (!ParseHost(value, &type)) return false;
    }
  }
  return true;
}

// headers = "?" header *( "&" header ); header = hname "=" hvalue
bool ValidUriHeaders(std::string_view headers) {
  size_t i = 0;
  while (true) {
    const size_t name_start = i;
    while (i < headers.size() && headers[i] != '=' && headers[i] != '&') ++i;
    if (i == name_start || i == headers.size() || headers[i] != '=') return false;
    if (!ValidEscapedRun(headers.substr(name_start, i - name_start), kHeaderChars)) return false;
    const size_t value_start = ++i;
    while (i < headers.size() && headers[i] != '&') ++i;
    if (!ValidEscapedRun(headers.substr(value_start, i - value_start), kHeaderChars)) return false;
    if (i == headers.size()) return true;
    ++i;  // '&'
  }
}

// userinfo = user [ ":" password ] "@", validated in one pass.
ParseError ParseUserinfo(std::string_view userinfo, HeaderId where, Uri* out) {
  size_t colon = std::string_view::npos;
  uint16_t allowed = kUserChars;
  for (size_t i = 0; i < userinfo.size(); ++i) {
    const char c = userinfo[i];
    if (c == '%') {
      if (i + 2 >= userinfo.size() || !IsHex(userinfo[i + 1]) || !IsHex(userinfo[i + 2])) {
        return HeaderError(where, "URI userinfo has an invalid %-escape");
      }
      i += 2;
    } else if (c == ':' && colon == std::string_view::npos) {
      colon = i;
      allowed = kPasswordChars;
    } else if (!Has(c, allowed)) {
      return HeaderError(where, "URI user or password has an invalid character");
    }
  }
  if (colon == 0 || userinfo.empty()) return HeaderError(where, "URI user part is empty");
  out->has_user = true;
  out->user = userinfo.substr(0, colon);
  if (colon != std::string_view::npos) {
    out->has_password = true;
    out->password = userinfo.substr(colon + 1);
  }
  return kParseOk;
}

ParseError ParseSipUri(std::string_view rest, HeaderId where, Uri* out) {
  // userinfo ends at the '@'. No other part of a SIP URI admits an unescaped
  // '@', so a second one fails the host, parameter or header check below.
  if (const void* at = std::memchr(rest.data(), '@', rest.size())) {
    const size_t size = static_cast<size_t>(static_cast<const char*>(at) - rest.data());
    if (const ParseError e = ParseUserinfo(rest.substr(0, size), where, out); !e.ok()) return e;
    rest.remove_prefix(size + 1);
  }
  // hostport = host [ ":" port ], then ';' parameters and '?' headers.
  const size_t host_size = ScanHost(rest, &out->host_type);
  if (host_size == 0) return HeaderError(where, "URI host is invalid");
  out->host = rest.substr(0, host_size);
  rest.remove_prefix(host_size);
  if (!rest.empty() && rest.front() == ':') {
    size_t digits = 1;
    while (digits < rest.size() && IsDigit(rest[digits])) ++digits;
    out->has_port = true;
    if (!ParsePort(rest.substr(1, digits - 1), &out->port)) return HeaderError(where, "URI port is invalid");
    rest.remove_prefix(digits);
  }
  if (!rest.empty() && rest.front() != ';' && rest.front() != '?') {
    return HeaderError(where, "URI host or port is invalid");
  }
  const size_t question = FindChar(rest, '?');
  out->params = rest.substr(0, question);
  if (!ValidUriParams(out->params)) return HeaderError(where, "URI parameter is invalid");
  if (question != std::string_view::npos) {
    out->headers = rest.substr(question + 1);
    if (!ValidUriHeaders(out->headers)) return HeaderError(where, "URI header is invalid");
  }
  return kParseOk;
}

}  // namespace

// Host characters for ScanHost: one lookup per byte gives everything the
// hostname rules need.
constexpr uint8_t kHostDigit = 1;
constexpr uint8_t kHostLetter = 2;
constexpr uint8_t kHostHyphen = 4;
constexpr uint8_t kHostDot = 8;

constexpr std::array<uint8_t, 256> MakeHostTable() {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = kHostDigit;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kHostLetter;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kHostLetter;
  t['-'] = kHostHyphen;
  t['.'] = kHostDot;
  return t;
}

constexpr std::array<uint8_t, 256> kHostTable = MakeHostTable();

size_t ScanHost(std::string_view s, HostType* type) {
  if (s.empty()) return 0;
  if (s.front() == '[') {
    const size_t close = FindChar(s, ']');
    if (close == std::string_view::npos) return 0;
    *type = HostType::kIpv6;
    return ParseIpv6Reference(s.substr(0, close + 1)) ? close + 1 : 0;
  }
  // hostname = *( domainlabel "." ) toplabel [ "." ] (section 25.1): labels
  // of alphanumerics with inner '-'; the toplabel starts with a letter. A host
  // of only digits and dots is an IPv4 address instead. One pass, stopping at
  // the first character that cannot be part of a host; label boundaries are
  // checked only at the '.' and '-' characters.
  uint8_t seen = 0;
  uint8_t previous = kHostDot;  // as if a '.' came before the first label
  size_t label = 0;             // start of the current label
  size_t previous_label = 0;    // start of the label before the last dot
  size_t i = 0;
  for (; i < s.size(); ++i) {
    const uint8_t k = kHostTable[static_cast<unsigned char>(s[i])];
    if (k == 0) break;
    if (k >= kHostHyphen) {
      // '-' may not start a label; '.' may not follow '.' or '-'.
      if (previous == kHostDot || (k == kHostDot && previous == kHostHyphen)) return 0;
      if (k == kHostDot) {
        previous_label = label;
        label = i + 1;
      }
    }
    seen |= k;
    previous = k;
  }
  if (i == 0 || previous == kHostHyphen) return 0;
  if ((seen & (kHostLetter | kHostHyphen)) == 0) {
    *type = HostType::kIpv4;
    return ParseIpv4(s.substr(0, i)) ? i : 0;
  }
  // After one trailing dot the toplabel is the label before it.
  const size_t toplabel = previous == kHostDot ? previous_label : label;
  *type = HostType::kHostname;
  return kHostTable[static_cast<unsigned char>(s[toplabel])] == kHostLetter ? i : 0;
}

bool ParseHost(std::string_view host, HostType* type) {
  return !host.empty() && ScanHost(host, type) == host.size();
}

bool FindUriParam(std::string_view params, std::string_view name, std::string_view* value) {
  size_t i = 0;
  while (i < params.size()) {
    ++i;  // skip ';'
    size_t end = FindChar(params, ';', i);
    if (end == std::string_view::npos) end = params.size();
    std::string_view param = params.substr(i, end - i);
    const size_t eq = FindChar(param, '=');
    if (EqualsIgnoreCase(param.substr(0, eq), name)) {
      *value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
      return true;
    }
    i = end;
  }
  return false;
}

ParseError ParseUri(std::string_view text, HeaderId where, Uri* out) {
  *out = Uri{};
  out->text = text;
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  const size_t colon = FindChar(text, ':');
  if (colon == std::string_view::npos || colon == 0 || !IsAlpha(text[0])) {
    return HeaderError(where, "URI has no scheme");
  }
  std::string_view scheme = text.substr(0, colon);
  for (char c : scheme) {
    if (!IsAlnum(c) && c != '+' && c != '-' && c != '.') {
      return HeaderError(where, "URI scheme has an invalid character");
    }
  }
  out->scheme_name = scheme;
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty()) return HeaderError(where, "URI is empty after the scheme");
  if (EqualsIgnoreCase(scheme, "sip") || EqualsIgnoreCase(scheme, "sips")) {
    out->scheme = scheme.size() == 3 ? UriScheme::kSip : UriScheme::kSips;
    return ParseSipUri(rest, where, out);
  }
  out->scheme = EqualsIgnoreCase(scheme, "tel") ? UriScheme::kTel : UriScheme::kOther;
  out->opaque = rest;
  // absoluteURI (RFC 2396 via section 25.1): uric characters and escapes.
  // '[' and ']' (param-unreserved) are admitted for IPv6 literals (RFC 3986).
  if (!ValidEscapedRun(rest, kUricChars | char_class::kParamUnreserved)) {
    return HeaderError(where, "URI has an invalid character or %-escape");
  }
  return kParseOk;
}

}  // namespace locus::sip
