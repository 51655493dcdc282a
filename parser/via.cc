#include "parser/via.h"

#include <arpa/inet.h>

#include <cstring>

#include "parser/params.h"
#include "parser/scan.h"

namespace locus::sip {
namespace {

constexpr HeaderId kWhere = HeaderId::kVia;

// Reads a token at the front of *s (after SWS); empty when there is none.
std::string_view TakeToken(std::string_view* s) {
  *s = TrimLeadingLws(*s);
  const size_t n = SpanOf(*s, 0, char_class::kToken);
  std::string_view token = Slice(*s, 0, n);
  s->remove_prefix(n);
  return token;
}

// SLASH = SWS "/" SWS
bool TakeSlash(std::string_view* s) {
  *s = TrimLeadingLws(*s);
  if (s->empty() || s->front() != '/') return false;
  s->remove_prefix(1);
  return true;
}

// via-received = IPv4address / IPv6address (bare or bracketed, RFC 5118).
bool ValidReceived(std::string_view value) {
  HostType type;
  if (!value.empty() && value.front() != '[' && FindChar(value, ':') != std::string_view::npos) {
    if (value.size() > 45) return false;
    char buf[46];
    std::memcpy(buf, value.data(), value.size());
    buf[value.size()] = '\0';
    unsigned char addr[16];
    return inet_pton(AF_INET6, buf, addr) == 1;
  }
  return ParseHost(value, &type) && type != HostType::kHostname;
}

}  // namespace

ParseError ParseVia(std::string_view element, Via* out) {
  // Member by member, not `*out = Via{}` (see ParseUri).
  out->protocol_name = {};
  out->protocol_version = {};
  out->transport = {};
  out->host = {};
  out->host_type = HostType::kNone;
  out->has_port = false;
  out->port = 0;
  out->branch = {};
  out->received = {};
  out->maddr = {};
  out->has_ttl = false;
  out->ttl = 0;
  out->has_rport = false;
  out->rport = 0;
  out->params = {};
  std::string_view s = element;
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport.
  // Nearly every Via starts "SIP/2.0/": one folded 8-byte compare (OR 0x20
  // lower-cases the letters; the other bytes could only match control
  // characters, which framing rejected).
  uint64_t head = 0;
  if (s.size() > 8) std::memcpy(&head, s.data(), 8);
  uint64_t sip20;
  std::memcpy(&sip20, "sip/2.0/", 8);  // folded to a constant by the compiler
  if ((head | 0x2020202020202020ull) == sip20) {
    out->protocol_name = Slice(s, 0, 3);
    out->protocol_version = Slice(s, 4, 3);
    s.remove_prefix(8);
  } else {
    out->protocol_name = TakeToken(&s);
    if (out->protocol_name.empty() || !TakeSlash(&s)) {
      return HeaderError(kWhere, "sent-protocol is not name/version/transport");
    }
    out->protocol_version = TakeToken(&s);
    if (out->protocol_version.empty() || !TakeSlash(&s)) {
      return HeaderError(kWhere, "sent-protocol is not name/version/transport");
    }
  }
  out->transport = TakeToken(&s);
  if (out->transport.empty()) return HeaderError(kWhere, "transport is missing");
  // LWS, then sent-by = host [ COLON port ], COLON = SWS ":" SWS.
  if (s.empty() || !IsLws(s.front())) return HeaderError(kWhere, "no space before sent-by");
  s = TrimLeadingLws(s);
  const size_t host_end = ScanHost(s, &out->host_type);
  if (host_end == 0) return HeaderError(kWhere, "sent-by host is invalid");
  out->host = Slice(s, 0, host_end);
  s.remove_prefix(host_end);
  std::string_view after_host = TrimLeadingLws(s);
  if (!after_host.empty() && after_host.front() == ':') {
    s = TrimLeadingLws(SliceFrom(after_host, 1));
    // port = 1*DIGIT, at most 5 of them and at most 65535, in one pass.
    size_t n = 0;
    uint32_t port = 0;
    for (; n < s.size() && IsDigit(s[n]); ++n) {
      if (n < 5) port = port * 10 + static_cast<uint32_t>(s[n] - '0');
    }
    if (n == 0 || n > 5 || port > 65535) return HeaderError(kWhere, "sent-by port is invalid");
    out->has_port = true;
    out->port = static_cast<uint16_t>(port);
    s.remove_prefix(n);
  }
  out->params = s;
  // Nearly every Via's parameters start with the branch, whose value is long
  // (a magic cookie and a unique string): ";branch=" in one compare (letters
  // folded) and the value 16 bytes at a time. This is what the loop below
  // would do with that first parameter; anything else is left to it.
  size_t params_from = 0;
  uint64_t first_word = 0;
  if (s.size() > 8) std::memcpy(&first_word, s.data(), 8);
  uint64_t branch_name;
  std::memcpy(&branch_name, ";branch=", 8);
  if ((first_word | 0x0020202020202000ull) == branch_name) {
    // The branch is a token: gen-value characters but ':', '[' and ']'. A
    // token that stops at one of those is a gen-value that is not a token.
    const size_t value_end = SpanOfLong<char_class::kToken>(s, 8);
    if (value_end > 8) {
      if (value_end < s.size() && IsGenValueChar(s[value_end])) return HeaderError(kWhere, "branch is not a token");
      out->branch = Slice(s, 8, value_end - 8);
      params_from = value_end;
    }
  }
  ParamCursor cursor(SliceFrom(s, params_from));
  Param p;
  while (cursor.Next(&p)) {
    if (TokenEquals(p.name, "branch")) {
      // A value is a quoted string or a gen-value, which is a token but for
      // ':', '[' and ']': checked with one scan for those three.
      if (!p.has_value || p.value.front() == '"' || FindFirstOf3(p.value, 0, ':', '[', ']') != p.value.size()) {
        return HeaderError(kWhere, "branch is not a token");
      }
      out->branch = p.value;
    } else if (TokenEquals(p.name, "received")) {
      if (!p.has_value || !ValidReceived(p.value)) {
        return HeaderError(kWhere, "received is not an IP address");
      }
      out->received = p.value;
    } else if (TokenEquals(p.name, "maddr")) {
      HostType type;
      if (!p.has_value || !ParseHost(p.value, &type)) return HeaderError(kWhere, "maddr is not a host");
      out->maddr = p.value;
    } else if (TokenEquals(p.name, "ttl")) {
      uint64_t ttl = 0;
      if (!p.has_value || p.value.size() > 3 || !ParseDecimal(p.value, 256, &ttl) || ttl > 255) {
        return HeaderError(kWhere, "ttl is not 0-255");
      }
      out->has_ttl = true;
      out->ttl = static_cast<uint8_t>(ttl);
    } else if (TokenEquals(p.name, "rport")) {
      out->has_rport = true;
      if (p.has_value) {
        uint64_t port = 0;
        if (p.value.size() > 5 || !ParseDecimal(p.value, 65536, &port) || port > 65535) {
          return HeaderError(kWhere, "rport is not a port number");
        }
        out->rport = static_cast<uint16_t>(port);
      }
    }
  }
  if (cursor.error()) return HeaderError(kWhere, "parameter is malformed");
  return kParseOk;
}

}  // namespace locus::sip
