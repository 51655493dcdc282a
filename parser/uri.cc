#include "parser/uri.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "parser/scan.h"

namespace locus::sip {
namespace {

// Checks that every '%' in s starts a "%" HEX HEX escape and every other
// character is in `allowed` (a char_class mask). Empty is allowed here; the
// callers decide whether their production needs 1*.
bool ValidEscapedRun(std::string_view s, uint32_t allowed) {
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

constexpr uint32_t kUserChars = char_class::kUserChar;  // unreserved / user-unreserved
constexpr uint32_t kPasswordChars = char_class::kPasswordChar;
constexpr uint32_t kParamChars = char_class::kParamChar;
constexpr uint32_t kHeaderChars = char_class::kUnreserved | char_class::kHnvUnreserved;
constexpr uint32_t kUricChars = char_class::kUnreserved | char_class::kReserved;

bool ParseIpv6Reference(std::string_view s) {
  // "[" IPv6address "]"; the longest textual IPv6 address is 45 characters.
  if (s.size() < 4 || s.front() != '[' || s.back() != ']' || s.size() > 47) return false;
  char buf[48];
  std::memcpy(buf, s.data() + 1, s.size() - 2);
  buf[s.size() - 2] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

// Offset of the first character at or after `i` that is neither in `allowed`
// (a char_class mask) nor the start of a "%" HEX HEX escape; npos when a '%'
// starts an invalid escape.
size_t EscapedRunEnd(std::string_view s, size_t i, uint32_t allowed) {
  while (true) {
    i = SpanOf(s, i, allowed);
    if (i == s.size() || s[i] != '%') return i;
    if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) return std::string_view::npos;
    i += 3;
  }
}

// uri-parameters = *( ";" uri-parameter ), section 19.1.1 / 25.1, at the front
// of `s` and up to its first '?' (or its end), in one pass. On success
// *end is the offset of that '?' (or s.size()).
bool ScanUriParams(std::string_view s, size_t* end) {
  size_t i = 0;
  while (i < s.size() && s[i] != '?') {
    if (s[i] != ';') return false;
    const size_t name_start = ++i;
    i = EscapedRunEnd(s, i, kParamChars);
    if (i == std::string_view::npos || i == name_start) return false;
    const std::string_view name = s.substr(name_start, i - name_start);
    if (i == s.size() || s[i] != '=') continue;  // no value; the loop checks what follows
    const size_t value_start = ++i;
    i = EscapedRunEnd(s, i, kParamChars);
    if (i == std::string_view::npos || i == value_start) return false;
    if (i < s.size() && s[i] != ';' && s[i] != '?') return false;
    const std::string_view value = s.substr(value_start, i - value_start);
    if (name.size() == 3 && EqualsIgnoreCase(name, "ttl")) {
      uint64_t ttl = 0;
      if (value.size() > 3 || !ParseDecimal(value, 256, &ttl) || ttl > 255) return false;
    } else if (name.size() == 5 && EqualsIgnoreCase(name, "maddr")) {
      HostType type;
      if (!ParseHost(value, &type)) return false;
    }
  }
  *end = i;
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

// userinfo = user [ ":" password ] "@" at the front of `rest`, validated in
// one pass. Stores the userinfo and sets *host_start to the offset after the
// '@'; leaves it 0 when `rest` has no '@' (no userinfo). The userinfo ends at
// the first '@': no other part of a SIP URI admits an unescaped '@', so a
// second one fails the host, parameter or header check.
ParseError ScanUserinfo(std::string_view rest, HeaderId where, Uri* out, size_t* host_start) {
  *host_start = 0;
  const size_t at = FindChar(rest, '@');  // inline SSE2: URIs are short for a memchr call
  if (at == std::string_view::npos) return kParseOk;
  const std::string_view userinfo = Slice(rest, 0, at);
  size_t colon = std::string_view::npos;
  uint32_t allowed = kUserChars;
  for (size_t i = 0;; ++i) {
    i = SpanOf(userinfo, i, allowed);
    if (i == userinfo.size()) break;
    const char c = userinfo[i];
    if (c == '%') {
      if (i + 2 >= userinfo.size() || !IsHex(userinfo[i + 1]) || !IsHex(userinfo[i + 2])) {
        return HeaderError(where, "URI userinfo has an invalid %-escape");
      }
      i += 2;
    } else if (c == ':' && colon == std::string_view::npos) {
      colon = i;
      allowed = kPasswordChars;
    } else {
      return HeaderError(where, "URI user or password has an invalid character");
    }
  }
  if (colon == 0 || userinfo.empty()) return HeaderError(where, "URI user part is empty");
  out->has_user = true;
  out->user = Slice(userinfo, 0, colon < userinfo.size() ? colon : userinfo.size());
  if (colon != std::string_view::npos) {
    out->has_password = true;
    out->password = SliceFrom(userinfo, colon + 1);
  }
  *host_start = userinfo.size() + 1;
  return kParseOk;
}

ParseError ParseSipUri(std::string_view rest, HeaderId where, Uri* out) {
  size_t host_start = 0;
  if (const ParseError e = ScanUserinfo(rest, where, out, &host_start); !e.ok()) return e;
  rest.remove_prefix(host_start);
  // hostport = host [ ":" port ], then ';' parameters and '?' headers.
  const size_t host_size = ScanHost(rest, &out->host_type);
  if (host_size == 0) return HeaderError(where, "URI host is invalid");
  out->host = Slice(rest, 0, host_size);
  rest.remove_prefix(host_size);
  if (!rest.empty() && rest.front() == ':') {
    // port = 1*DIGIT, at most 5 of them and at most 65535.
    size_t digits = 1;
    uint32_t port = 0;
    for (; digits < rest.size() && IsDigit(rest[digits]); ++digits) {
      if (digits <= 5) port = port * 10 + static_cast<uint32_t>(rest[digits] - '0');
    }
    if (digits == 1 || digits > 6 || port > 65535) return HeaderError(where, "URI port is invalid");
    out->has_port = true;
    out->port = static_cast<uint16_t>(port);
    rest.remove_prefix(digits);
  }
  if (!rest.empty() && rest.front() != ';' && rest.front() != '?') {
    return HeaderError(where, "URI host or port is invalid");
  }
  size_t question = 0;
  if (!ScanUriParams(rest, &question)) return HeaderError(where, "URI parameter is invalid");
  out->params = Slice(rest, 0, question);
  if (question != rest.size()) {
    out->headers = SliceFrom(rest, question + 1);
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

namespace {

constexpr uint8_t kHostAlnum = kHostDigit | kHostLetter;

uint8_t HostClass(std::string_view s, size_t i) {
  return i < s.size() ? kHostTable[static_cast<unsigned char>(s[i])] : 0;
}

// IPv4address (section 25.1) at the front of `s`, when the host there is one:
// four dot-separated runs of 1-3 digits, each at most 255, and no host
// character after them. Returns its length, or 0 when the front of `s` is
// anything else (another kind of host, or an invalid one).
// kSixteenReadable: s.size() >= 16, so no bound needs checking (an address
// and the byte after it are at most 16 bytes).
template <bool kSixteenReadable>
size_t ScanIpv4(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  const auto digit_at = [end](const char* q) { return (kSixteenReadable || q != end) && IsDigit(*q); };
  for (int part = 0;; ++part) {
    if (!digit_at(p)) return 0;
    unsigned value = static_cast<unsigned>(*p++ - '0');
    if (digit_at(p)) {
      value = value * 10 + static_cast<unsigned>(*p++ - '0');
      if (digit_at(p)) value = value * 10 + static_cast<unsigned>(*p++ - '0');
    }
    if (value > 255) return 0;
    if (part == 3) break;
    if ((!kSixteenReadable && p == end) || *p != '.') return 0;
    ++p;
  }
  const size_t n = static_cast<size_t>(p - s.data());
  return HostClass(s, n) == 0 ? n : 0;
}

#if defined(__SSE2__)
// Per-class bit masks of 16 bytes (bit k for byte k).
struct HostMasks {
  uint32_t alnum;
  uint32_t letter;
  uint32_t dot;
  uint32_t hyphen;
};

[[gnu::always_inline]] inline HostMasks ClassifyHost16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i zero = _mm_setzero_si128();
  // Unsigned range tests: (x - lo) saturating-minus (hi - lo) is 0 inside.
  const __m128i lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
  const __m128i letter =
      _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(lower, _mm_set1_epi8('a')), _mm_set1_epi8(25)), zero);
  const __m128i digit =
      _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(x, _mm_set1_epi8('0')), _mm_set1_epi8(9)), zero);
  return {static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(letter, digit))),
          static_cast<uint32_t>(_mm_movemask_epi8(letter)),
          static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.')))),
          static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('-'))))};
}

constexpr size_t kUndecided = std::string_view::npos;

// The hostname rules of ScanHost on bit masks of the first 32 bytes of s
// (s.size() >= 16; never reads past its end). Returns the host's length, 0
// when invalid, kUndecided when the host may run past 32 bytes.
size_t ScanHostnameMasks(std::string_view s) {
  HostMasks m = ClassifyHost16(s.data());
  if ((m.alnum | m.dot | m.hyphen) == 0xFFFF && s.size() > 16) {
    // Bytes 16..31: the next 16, or the last 16 of s with those before byte
    // 16 shifted out (bits past the end of s stay 0).
    const size_t at = s.size() >= 32 ? 16 : s.size() - 16;
    const HostMasks n = ClassifyHost16(s.data() + at);
    const unsigned shift = static_cast<unsigned>(16 - at);
    m.alnum |= (n.alnum >> shift) << 16;
    m.letter |= (n.letter >> shift) << 16;
    m.dot |= (n.dot >> shift) << 16;
    m.hyphen |= (n.hyphen >> shift) << 16;
  }
  const uint32_t host = m.alnum | m.dot | m.hyphen;
  if (host == 0xFFFFFFFFu) return kUndecided;
  const unsigned length = static_cast<unsigned>(__builtin_ctz(~host));
  if (length == 0) return 0;
  const uint32_t inside = (1u << length) - 1;
  // Every label starts with an alphanumeric (the first byte, and each byte
  // after a '.' inside the host); no '-' ends a label: none before a '.', and
  // not the last byte.
  const uint32_t starts = (1u | (m.dot << 1)) & inside;
  if ((starts & ~m.alnum) != 0 || (m.hyphen & (m.dot >> 1) & inside) != 0) return 0;
  if ((m.hyphen >> (length - 1)) & 1u) return 0;
  // The toplabel follows the last '.', one trailing '.' aside, and starts
  // with a letter.
  uint32_t dots = m.dot & inside & ~(1u << (length - 1));
  const unsigned toplabel = dots == 0 ? 0 : 32 - static_cast<unsigned>(__builtin_clz(dots));
  return (m.letter >> toplabel) & 1u ? length : 0;
}
#endif

}  // namespace

size_t ScanHost(std::string_view s, HostType* type) {
  if (s.empty()) return 0;
  if (s.front() == '[') {
    const size_t close = FindChar(s, ']');
    if (close == std::string_view::npos) return 0;
    *type = HostType::kIpv6;
    return ParseIpv6Reference(s.substr(0, close + 1)) ? close + 1 : 0;
  }
  // The host is the longest run of host characters (alphanumerics, '-', '.').
  // Most hosts that start with a digit are IPv4 addresses: one pass for those.
  if (IsDigit(s.front())) {
    if (const size_t n = s.size() >= 16 ? ScanIpv4<true>(s) : ScanIpv4<false>(s); n != 0) {
      *type = HostType::kIpv4;
      return n;
    }
  }
  // hostname = *( domainlabel "." ) toplabel [ "." ] (section 25.1): labels
  // of alphanumerics with inner '-'; the toplabel starts with a letter. A run
  // of only digits and dots is an IPv4 address instead, and an invalid one
  // here since ScanIpv4 did not take it; its "toplabel" starts with a digit,
  // so the toplabel rule rejects it too. Label by label, stopping at the first
  // character that cannot be part of a host.
  *type = HostType::kHostname;
#if defined(__SSE2__)
  if (s.size() >= 16) {
    if (const size_t n = ScanHostnameMasks(s); n != kUndecided) return n;
  }
#endif
  size_t i = 0;
  size_t toplabel = 0;
  while (true) {
    // A label starts with an alphanumeric; after a '.' the host may also end
    // (one trailing dot), and the toplabel is then the label before it.
    const uint8_t first = HostClass(s, i);
    if ((first & kHostAlnum) == 0) {
      if (i != 0 && first == 0) break;
      return 0;
    }
    toplabel = i;
    i = SpanOf(s, i + 1, char_class::kLabelChar);
    if (s[i - 1] == '-') return 0;  // a label ends with an alphanumeric
    if (i == s.size() || s[i] != '.') break;
    ++i;
  }
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

void CopyParsedUri(const Uri& parsed, std::string_view text, Uri* out) {
  // Views that ParseUri left empty ({}) have no data and stay so.
  const auto moved = [&parsed, &text](std::string_view view) {
    if (view.data() == nullptr) return view;
    return std::string_view(text.data() + (view.data() - parsed.text.data()), view.size());
  };
  out->text = text;
  out->scheme = parsed.scheme;
  out->scheme_name = moved(parsed.scheme_name);
  out->has_user = parsed.has_user;
  out->user = moved(parsed.user);
  out->has_password = parsed.has_password;
  out->password = moved(parsed.password);
  out->host = moved(parsed.host);
  out->host_type = parsed.host_type;
  out->has_port = parsed.has_port;
  out->port = parsed.port;
  out->params = moved(parsed.params);
  out->headers = moved(parsed.headers);
  out->opaque = moved(parsed.opaque);
}

ParseError ParseUri(std::string_view text, HeaderId where, Uri* out) {
  // Member by member: `*out = Uri{}` compiles to `rep stos` on GCC, whose
  // start-up costs more than this whole reset, once per URI.
  out->text = text;
  out->scheme = UriScheme::kOther;
  out->scheme_name = {};
  out->has_user = false;
  out->user = {};
  out->has_password = false;
  out->password = {};
  out->host = {};
  out->host_type = HostType::kNone;
  out->has_port = false;
  out->port = 0;
  out->params = {};
  out->headers = {};
  out->opaque = {};
  // Fast path for the common schemes: "sip:" and "sips:" in any case.
  if (text.size() > 5 && (text[0] | 0x20) == 's' && (text[1] | 0x20) == 'i' &&
      (text[2] | 0x20) == 'p') {
    if (text[3] == ':') {
      out->scheme = UriScheme::kSip;
      out->scheme_name = Slice(text, 0, 3);
      return ParseSipUri(SliceFrom(text, 4), where, out);
    }
    if ((text[3] | 0x20) == 's' && text[4] == ':') {
      out->scheme = UriScheme::kSips;
      out->scheme_name = Slice(text, 0, 4);
      return ParseSipUri(SliceFrom(text, 5), where, out);
    }
  }
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
