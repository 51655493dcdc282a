#include "parser/params.h"

#include "parser/scan.h"

namespace locus::sip {
namespace {

size_t SkipLws(std::string_view s, size_t i) {
  while (i < s.size() && IsLws(s[i])) ++i;
  return i;
}

}  // namespace

bool ParamCursor::NextGeneral(Param* out) {
  if (error_) return false;
  const std::string_view s = rest_;
  size_t i = SkipLws(s, 0);
  if (i == s.size()) return false;
  if (s[i] != ';') {
    error_ = true;
    return false;
  }
  i = SkipLws(s, i + 1);
  const size_t name_start = i;
  i = SpanOf(s, i, char_class::kToken);
  if (i == name_start) {
    error_ = true;
    return false;
  }
  *out = Param{std::string_view(s.data() + name_start, i - name_start), {}, false};
  size_t j = SkipLws(s, i);
  if (j < s.size() && s[j] == '=') {
    // gen-value = token / host / quoted-string: token characters plus the
    // ':', '[' and ']' of IPv6 references, or a quoted string.
    j = SkipLws(s, j + 1);
    size_t n = 0;
    if (j < s.size() && s[j] == '"') {
      n = QuotedStringLength(SliceFrom(s, j));
    } else {
      n = SpanOf(s, j, char_class::kGenValue) - j;
    }
    if (n == 0) {
      error_ = true;
      return false;
    }
    out->value = std::string_view(s.data() + j, n);
    out->has_value = true;
    i = j + n;
  }
  rest_ = SliceFrom(s, i);
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
