#include "parser/scalar_headers.h"

#include "parser/params.h"
#include "parser/scan.h"

namespace locus::sip {
namespace {

size_t DigitRun(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && IsDigit(s[n])) ++n;
  return n;
}

size_t TokenRun(std::string_view s) {
  size_t n = SpanOf(s, 0, char_class::kToken);
  return n;
}

// The three bytes of s at `at`, packed into one word for comparison.
constexpr uint32_t Pack3(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16;
}

// True when the three bytes of s at `at` equal one of `names` (case-sensitive).
template <size_t N>
bool IsOneOf3(std::string_view s, size_t at, const uint32_t (&names)[N]) {
  const uint32_t packed = Pack3(s, at);
  for (const uint32_t name : names) {
    if (packed == name) return true;
  }
  return false;
}

constexpr uint32_t kWeekdays[] = {Pack3("Mon", 0), Pack3("Tue", 0), Pack3("Wed", 0), Pack3("Thu", 0),
                                  Pack3("Fri", 0), Pack3("Sat", 0), Pack3("Sun", 0)};
constexpr uint32_t kMonths[] = {Pack3("Jan", 0), Pack3("Feb", 0), Pack3("Mar", 0), Pack3("Apr", 0),
                                Pack3("May", 0), Pack3("Jun", 0), Pack3("Jul", 0), Pack3("Aug", 0),
                                Pack3("Sep", 0), Pack3("Oct", 0), Pack3("Nov", 0), Pack3("Dec", 0)};

bool TwoDigits(std::string_view s, size_t at, int max) {
  if (at + 2 > s.size() || !IsDigit(s[at]) || !IsDigit(s[at + 1])) return false;
  return (s[at] - '0') * 10 + (s[at + 1] - '0') <= max;
}

}  // namespace

ParseError ParseCSeq(std::string_view value, CSeq* out) {
  constexpr HeaderId kWhere = HeaderId::kCSeq;
  std::string_view s = TrimLws(value);
  // The number, in the same pass as its digits. Up to 19 digits cannot
  // overflow 64 bits; a longer run (leading zeros, or far too large) is read
  // again, stopping once above the limit.
  size_t digits = 0;
  uint64_t number = 0;
  for (; digits < s.size() && IsDigit(s[digits]); ++digits) {
    number = number * 10 + static_cast<uint64_t>(s[digits] - '0');
  }
  if (digits > 19) {
    number = 0;
    for (size_t i = 0; i < digits && number <= kMaxCSeq; ++i) number = number * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  if (digits == 0) return HeaderError(kWhere, "sequence number is missing");
  if (number > kMaxCSeq) return HeaderError(kWhere, "sequence number above 2^31-1");
  s.remove_prefix(digits);
  out->number = static_cast<uint32_t>(number);
  // Nearly always, at a registrar: " REGISTER", in one compare.
  if (s.size() == 9 && s[0] == ' ' && LoadWord<uint64_t>(s.data() + 1) == LoadWord<uint64_t>("REGISTER")) {
    out->method_name = SliceFrom(s, 1);
    out->method = Method::kRegister;
    return kParseOk;
  }
  if (s.empty() || !IsLws(s.front())) return HeaderError(kWhere, "no space before the method");
  s = TrimLeadingLws(s);
  if (!IsToken(s)) return HeaderError(kWhere, "method is not a token");
  out->method_name = s;
  out->method = LookupMethod(s);
  return kParseOk;
}

ParseError ParseCallId(std::string_view value, std::string_view* out) {
  // callid = word [ "@" word ]: words not empty, at most one '@'.
  const std::string_view s = TrimLws(value);
  size_t i = SpanOfLong<char_class::kWord>(s, 0);
  const size_t at = i;
  if (i < s.size() && s[i] == '@') i = SpanOfLong<char_class::kWord>(s, i + 1);
  if (s.empty() || i != s.size() || at == 0 || at + 1 == s.size()) {
    return HeaderError(HeaderId::kCallId, "not word[@word]");
  }
  *out = s;
  return kParseOk;
}

ParseError ParseDeltaSeconds(std::string_view value, HeaderId where, uint32_t* out) {
  uint64_t v = 0;
  if (!ParseDecimal(TrimLws(value), kMaxDeltaSeconds, &v)) {
    return HeaderError(where, "value is not delta-seconds");
  }
  *out = static_cast<uint32_t>(v);
  return kParseOk;
}

ParseError ParseMaxForwards(std::string_view value, uint32_t* out) {
  uint64_t v = 0;
  if (!ParseDecimal(TrimLws(value), 256, &v) || v > 255) {
    return HeaderError(HeaderId::kMaxForwards, "value is not 0-255");
  }
  *out = static_cast<uint32_t>(v);
  return kParseOk;
}

ParseError ParseRetryAfter(std::string_view value, uint32_t* out) {
  constexpr HeaderId kWhere = HeaderId::kRetryAfter;
  std::string_view s = TrimLws(value);
  const size_t digits = DigitRun(s);
  uint64_t v = 0;
  bool clamped = false;
  if (digits == 0 || !ParseDecimal(s.substr(0, digits), kMaxDeltaSeconds, &v, &clamped) ||
      clamped) {
    return HeaderError(kWhere, "value is not delta-seconds below 2^32");
  }
  s = TrimLeadingLws(s.substr(digits));
  if (!s.empty() && s.front() == '(') {
    // comment = LPAREN *(ctext / quoted-pair / comment) RPAREN; nesting bounded by length.
    int depth = 0;
    size_t i = 0;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '(') {
        ++depth;
      } else if (s[i] == ')' && --depth == 0) {
        break;
      }
    }
    if (depth != 0) return HeaderError(kWhere, "comment is not closed");
    s = s.substr(i + 1);
  }
  if (!ValidateParams(s)) return HeaderError(kWhere, "parameter is malformed");
  *out = static_cast<uint32_t>(v);
  return kParseOk;
}

ParseError ValidateDate(std::string_view value) {
  // "Sat, 13 Nov 2010 23:29:00 GMT": fixed layout, 29 characters.
  constexpr HeaderId kWhere = HeaderId::kDate;
  std::string_view s = TrimLws(value);
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || s[26] != 'G' ||
      s[27] != 'M' || s[28] != 'T') {
    return HeaderError(kWhere, "not an RFC 1123 date in GMT");
  }
  if (!IsOneOf3(s, 0, kWeekdays) || !IsOneOf3(s, 8, kMonths) ||
      !TwoDigits(s, 5, 31) || !TwoDigits(s, 12, 99) || !TwoDigits(s, 14, 99) ||
      !TwoDigits(s, 17, 23) || !TwoDigits(s, 20, 59) || !TwoDigits(s, 23, 60)) {
    return HeaderError(kWhere, "date has an invalid field");
  }
  return kParseOk;
}

ParseError ValidateWarning(std::string_view element) {
  constexpr HeaderId kWhere = HeaderId::kWarning;
  std::string_view s = TrimLws(element);
  if (s.size() < 4 || DigitRun(s) != 3 || s[3] != ' ') {
    return HeaderError(kWhere, "warn-code is not three digits");
  }
  s.remove_prefix(4);
  const size_t agent_end = FindChar(s, ' ');
  if (agent_end == 0 || agent_end == std::string_view::npos) {
    return HeaderError(kWhere, "warn-agent is missing");
  }
  std::string_view text = s.substr(agent_end + 1);
  if (text.empty() || text.front() != '"' || QuotedStringLength(text) != text.size()) {
    return HeaderError(kWhere, "warn-text is not a quoted string");
  }
  return kParseOk;
}

ParseError ValidateContentType(std::string_view value) {
  constexpr HeaderId kWhere = HeaderId::kContentType;
  std::string_view s = TrimLws(value);
  size_t n = TokenRun(s);
  if (n == 0) return HeaderError(kWhere, "media type is missing");
  s = TrimLeadingLws(s.substr(n));
  if (s.empty() || s.front() != '/') return HeaderError(kWhere, "media type has no '/'");
  s = TrimLeadingLws(s.substr(1));
  n = TokenRun(s);
  if (n == 0) return HeaderError(kWhere, "media subtype is missing");
  if (!ValidateParams(s.substr(n))) return HeaderError(kWhere, "parameter is malformed");
  return kParseOk;
}

ParseError ValidateOptionTag(std::string_view element, HeaderId where) {
  if (!IsToken(TrimLws(element))) return HeaderError(where, "option-tag is not a token");
  return kParseOk;
}

}  // namespace locus::sip
