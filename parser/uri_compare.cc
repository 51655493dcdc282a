#include "parser/uri_compare.h"

#include <arpa/inet.h>

#include <cstring>

#include "parser/scan.h"

namespace locus::sip {
namespace {

// One comparison unit of an escaped string: a character, and whether it must
// stay escaped (an escaped reserved character differs from its literal form).
struct Unit {
  char c;
  bool escaped_reserved;
};

Unit NextUnit(std::string_view s, size_t* i) {
  if (s[*i] == '%' && *i + 2 < s.size() && IsHex(s[*i + 1]) && IsHex(s[*i + 2])) {
    const char c = static_cast<char>(HexValue(s[*i + 1]) * 16 + HexValue(s[*i + 2]));
    *i += 3;
    return {c, IsReserved(c)};
  }
  return {s[(*i)++], false};
}

bool EscapedEquals(std::string_view a, std::string_view b, bool ignore_case) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    Unit x = NextUnit(a, &i);
    Unit y = NextUnit(b, &j);
    if (ignore_case) {
      x.c = ToLower(x.c);
      y.c = ToLower(y.c);
    }
    if (x.c != y.c || x.escaped_reserved != y.escaped_reserved) return false;
  }
  return i == a.size() && j == b.size();
}

bool HostEquals(const Uri& a, const Uri& b) {
  if (a.host_type == HostType::kIpv6 && b.host_type == HostType::kIpv6) {
    // RFC 5954 section 4: IPv6 references compare by address, not text.
    char buf[48];
    unsigned char x[16];
    unsigned char y[16];
    for (auto [host, out] : {std::pair{a.host, x}, std::pair{b.host, y}}) {
      if (host.size() < 2 || host.size() - 2 >= sizeof(buf)) return false;
      std::memcpy(buf, host.data() + 1, host.size() - 2);
      buf[host.size() - 2] = '\0';
      if (inet_pton(AF_INET6, buf, out) != 1) return false;
    }
    return std::memcmp(x, y, 16) == 0;
  }
  return EqualsIgnoreCase(a.host, b.host);
}

struct UriParam {
  std::string_view name;
  std::string_view value;
};

// Iterates ";name[=value]" URI parameters (already validated by ParseUri).
class UriParamCursor {
 public:
  explicit UriParamCursor(std::string_view params) : rest_(params) {}
  bool Next(UriParam* out) {
    if (rest_.empty()) return false;
    rest_.remove_prefix(1);  // ';'
    size_t end = FindChar(rest_, ';');
    std::string_view param = rest_.substr(0, end);
    rest_ = end == std::string_view::npos ? std::string_view() : rest_.substr(end);
    const size_t eq = FindChar(param, '=');
    out->name = param.substr(0, eq);
    out->value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    return true;
  }

 private:
  std::string_view rest_;
};

bool FindUriParamEscaped(std::string_view params, std::string_view name, UriParam* out) {
  UriParamCursor cursor(params);
  while (cursor.Next(out)) {
    if (EscapedEquals(out->name, name, true)) return true;
  }
  return false;
}

// Parameters that must be present in both URIs or in neither.
bool IsMatchRequired(std::string_view name) {
  for (std::string_view required : {"user", "ttl", "method", "maddr", "transport"}) {
    if (EscapedEquals(name, required, true)) return true;
  }
  return false;
}

bool ParamsEqual(std::string_view a, std::string_view b) {
  UriParam p;
  UriParam q;
  UriParamCursor ca(a);
  while (ca.Next(&p)) {
    if (FindUriParamEscaped(b, p.name, &q)) {
      if (!EscapedEquals(p.value, q.value, true)) return false;
    } else if (IsMatchRequired(p.name)) {
      return false;
    }
  }
  UriParamCursor cb(b);
  while (cb.Next(&q)) {
    if (IsMatchRequired(q.name) && !FindUriParamEscaped(a, q.name, &p)) return false;
  }
  return true;
}

// Iterates "name=value" URI headers separated by '&'.
class UriHeaderCursor {
 public:
  explicit UriHeaderCursor(std::string_view headers) : rest_(headers), done_(headers.empty()) {}
  bool Next(UriParam* out) {
    if (done_) return false;
    const size_t amp = FindChar(rest_, '&');
    std::string_view header = rest_.substr(0, amp);
    if (amp == std::string_view::npos) {
      done_ = true;
    } else {
      rest_.remove_prefix(amp + 1);
    }
    const size_t eq = FindChar(header, '=');
    out->name = header.substr(0, eq);
    out->value = eq == std::string_view::npos ? std::string_view() : header.substr(eq + 1);
    return true;
  }

 private:
  std::string_view rest_;
  bool done_;
};

// Every header of `a` is in `b` with an equal value.
bool HeadersContained(std::string_view a, std::string_view b) {
  UriHeaderCursor ca(a);
  UriParam p;
  while (ca.Next(&p)) {
    bool found = false;
    UriHeaderCursor cb(b);
    UriParam q;
    while (!found && cb.Next(&q)) {
      found = EscapedEquals(p.name, q.name, true) && EscapedEquals(p.value, q.value, false);
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace

bool UriEquals(const Uri& a, const Uri& b) {
  if (a.scheme != b.scheme) return false;  // sip and sips never match (19.1.4)
  if (!a.is_sip()) {
    return EqualsIgnoreCase(a.scheme_name, b.scheme_name) &&
           EscapedEquals(a.opaque, b.opaque, false);
  }
  if (a.has_user != b.has_user || !EscapedEquals(a.user, b.user, false)) return false;
  if (a.has_password != b.has_password || !EscapedEquals(a.password, b.password, false)) {
    return false;
  }
  if (!HostEquals(a, b)) return false;
  if (a.has_port != b.has_port || a.port != b.port) return false;
  if (!ParamsEqual(a.params, b.params)) return false;
  return HeadersContained(a.headers, b.headers) && HeadersContained(b.headers, a.headers);
}

}  // namespace locus::sip
