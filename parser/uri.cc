#include "parser/uri.h"

#include <arpa/inet.h>

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

// dec-octet: 1 to 3 digits, at most 255.
bool ParseIpv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t start = i;
    int value = 0;
    while (i < s.size() && IsDigit(s[i]) && i - start < 3) {
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
  return parts == 4;
}

// hostname = *( domainlabel "." ) toplabel [ "." ]   (section 25.1)
bool ParseHostname(std::string_view s) {
  if (s.empty()) return false;
  if (s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    const bool last = dot == std::string_view::npos;
    std::string_view label = s.substr(start, last ? std::string_view::npos : dot - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    if (last) return IsAlpha(label.front());  // toplabel starts with ALPHA
    start = dot + 1;
  }
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

bool ParsePort(std::string_view s, uint16_t* port) {
  uint64_t v = 0;
  if (s.size() > 5 || !ParseDecimal(s, 65536, &v) || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

// uri-parameters = *( ";" uri-parameter ), section 19.1.1 / 25.1.
bool ValidUriParams(std::string_view params) {
  size_t i = 0;
  while (i < params.size()) {
    if (params[i] != ';') return false;
    ++i;
    size_t end = params.find(';', i);
    if (end == std::string_view::npos) end = params.size();
    std::string_view param = params.substr(i, end - i);
    const size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq);
    if (name.empty() || !ValidEscapedRun(name, kParamChars)) return false;
    if (eq != std::string_view::npos) {
      std::string_view value = param.substr(eq + 1);
      if (value.empty() || !ValidEscapedRun(value, kParamChars)) return false;
      if (EqualsIgnoreCase(name, "ttl")) {
        uint64_t ttl = 0;
        if (value.size() > 3 || !ParseDecimal(value, 256, &ttl) || ttl > 255) return false;
      } else if (EqualsIgnoreCase(name, "maddr")) {
        HostType type;
        if (!ParseHost(value, &type)) return false;
      }
    }
    i = end;
  }
  return true;
}

// headers = "?" header *( "&" header ); header = hname "=" hvalue
bool ValidUriHeaders(std::string_view headers) {
  size_t i = 0;
  while (true) {
    size_t end = headers.find('&', i);
    if (end == std::string_view::npos) end = headers.size();
    std::string_view header = headers.substr(i, end - i);
    const size_t eq = header.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    if (!ValidEscapedRun(header.substr(0, eq), kHeaderChars)) return false;
    if (!ValidEscapedRun(header.substr(eq + 1), kHeaderChars)) return false;
    if (end == headers.size()) return true;
    i = end + 1;
  }
}

ParseError ParseSipUri(std::string_view rest, HeaderId where, Uri* out) {
  // userinfo: everything before the '@'. '@' appears nowhere else unescaped.
  const size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    if (rest.find('@', at + 1) != std::string_view::npos) {
      return HeaderError(where, "URI has more than one '@'");
    }
    std::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    if (user.empty() || !ValidEscapedRun(user, kUserChars)) {
      return HeaderError(where, "URI user part is empty or has an invalid character");
    }
    out->has_user = true;
    out->user = user;
    if (colon != std::string_view::npos) {
      std::string_view password = userinfo.substr(colon + 1);
      if (!ValidEscapedRun(password, kPasswordChars)) {
        return HeaderError(where, "URI password has an invalid character");
      }
      out->has_password = true;
      out->password = password;
    }
    rest.remove_prefix(at + 1);
  }
  // hostport ends at the first ';' (parameters) or '?' (headers).
  size_t hostport_end = rest.find_first_of(";?");
  if (hostport_end == std::string_view::npos) hostport_end = rest.size();
  if (!ParseHostPort(rest.substr(0, hostport_end), &out->host, &out->host_type,
                     &out->has_port, &out->port)) {
    return HeaderError(where, "URI host or port is invalid");
  }
  rest.remove_prefix(hostport_end);
  const size_t question = rest.find('?');
  out->params = rest.substr(0, question);
  if (!ValidUriParams(out->params)) return HeaderError(where, "URI parameter is invalid");
  if (question != std::string_view::npos) {
    out->headers = rest.substr(question + 1);
    if (!ValidUriHeaders(out->headers)) return HeaderError(where, "URI header is invalid");
  }
  return kParseOk;
}

}  // namespace

bool ParseHost(std::string_view host, HostType* type) {
  if (host.empty()) return false;
  if (host.front() == '[') {
    *type = HostType::kIpv6;
    return ParseIpv6Reference(host);
  }
  if (IsDigit(host.back()) || (host.size() > 1 && host.back() == '.' && IsDigit(host[host.size() - 2]))) {
    // A toplabel starts with a letter, so a host ending in a digit label can
    // only be an IPv4 address.
    *type = HostType::kIpv4;
    if (ParseIpv4(host)) return true;
  }
  *type = HostType::kHostname;
  return ParseHostname(host);
}

bool ParseHostPort(std::string_view text, std::string_view* host, HostType* type,
                   bool* has_port, uint16_t* port) {
  size_t host_end;
  if (!text.empty() && text.front() == '[') {
    host_end = text.find(']');
    if (host_end == std::string_view::npos) return false;
    ++host_end;
  } else {
    host_end = text.find(':');
    if (host_end == std::string_view::npos) host_end = text.size();
  }
  *host = text.substr(0, host_end);
  if (!ParseHost(*host, type)) return false;
  *has_port = false;
  *port = 0;
  if (host_end == text.size()) return true;
  if (text[host_end] != ':') return false;
  *has_port = true;
  return ParsePort(text.substr(host_end + 1), port);
}

bool FindUriParam(std::string_view params, std::string_view name, std::string_view* value) {
  size_t i = 0;
  while (i < params.size()) {
    ++i;  // skip ';'
    size_t end = params.find(';', i);
    if (end == std::string_view::npos) end = params.size();
    std::string_view param = params.substr(i, end - i);
    const size_t eq = param.find('=');
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
  const size_t colon = text.find(':');
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
  // '[' and ']' are admitted for IPv6 literals (RFC 3986).
  for (size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == '%') {
      if (i + 2 >= rest.size() || !IsHex(rest[i + 1]) || !IsHex(rest[i + 2])) {
        return HeaderError(where, "URI has an invalid %-escape");
      }
      i += 2;
    } else if (!Has(c, kUricChars) && c != '[' && c != ']') {
      return HeaderError(where, "URI has an invalid character");
    }
  }
  return kParseOk;
}

}  // namespace locus::sip
