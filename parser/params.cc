#include "parser/params.h"

#include "parser/scan.h"

namespace locus::sip {
namespace {

// gen-value = token / host / quoted-string: token characters plus the ':',
// '[' and ']' of IPv6 references.
bool IsGenValueChar(char c) { return IsTokenChar(c) || c == ':' || c == '[' || c == ']'; }

}  // namespace

bool ParamCursor::Next(Param* out) {
  if (error_) return false;
  std::string_view s = TrimLeadingLws(rest_);
  if (s.empty()) return false;
  if (s.front() != ';') {
    error_ = true;
    return false;
  }
  s = TrimLeadingLws(s.substr(1));
  size_t n = 0;
  while (n < s.size() && IsTokenChar(s[n])) ++n;
  if (n == 0) {
    error_ = true;
    return false;
  }
  *out = Param{s.substr(0, n), {}, false};
  s.remove_prefix(n);
  std::string_view after = TrimLeadingLws(s);
  if (!after.empty() && after.front() == '=') {
    s = TrimLeadingLws(after.substr(1));
    if (!s.empty() && s.front() == '"') {
      n = QuotedStringLength(s);
    } else {
      n = 0;
      while (n < s.size() && IsGenValueChar(s[n])) ++n;
    }
    if (n == 0) {
      error_ = true;
      return false;
    }
    out->value = s.substr(0, n);
    out->has_value = true;
    s.remove_prefix(n);
  }
  rest_ = s;
  return true;
}

bool ValidateParams(std::string_view params) {
  ParamCursor cursor(params);
  Param p;
  while (cursor.Next(&p)) {
  }
  return !cursor.error();
}

bool FindParam(std::string_view params, std::string_view name, Param* out) {
  ParamCursor cursor(params);
  while (cursor.Next(out)) {
    if (EqualsIgnoreCase(out->name, name)) return true;
  }
  return false;
}

std::string_view Unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

}  // namespace locus::sip
