// Iteration over the ";name=value" parameter lists that follow header values
// (Via, From/To, Contact, ...; RFC 3261 section 25.1 generic-param):
//   generic-param = token [ EQUAL gen-value ]
//   gen-value     = token / host / quoted-string
// LWS is allowed around ';' and '='. Views point into the input; quoted
// values keep their quotes.
#ifndef LOCUS_PARSER_PARAMS_H_
#define LOCUS_PARSER_PARAMS_H_

#include <string_view>

#include "parser/scan.h"

namespace locus::sip {

struct Param {
  std::string_view name;
  std::string_view value;  // empty when has_value is false
  bool has_value = false;
};

class ParamCursor {
 public:
  // `params` starts at the first ';' (or is empty).
  explicit ParamCursor(std::string_view params) : rest_(params) {}

  // Advances to the next parameter. Returns false at the end or on a syntax
  // error; error() tells which.
  bool Next(Param* out);
  bool error() const { return error_; }

 private:
  bool NextGeneral(Param* out);

  std::string_view rest_;
  bool error_ = false;
};

// Inline: parameters are read by every Via, From, To and Contact. The common
// shapes ";name", ";name=value" and ";name=\"quoted\"" without LWS are read
// here; anything else (LWS, errors) by NextGeneral, from the same position.
inline bool ParamCursor::Next(Param* out) {
  const std::string_view s = rest_;
  if (s.empty()) return false;  // the end of every list
  if (error_ || s.size() < 2 || s[0] != ';' || !IsTokenChar(s[1])) return NextGeneral(out);
  const size_t name_end = SpanOf(s, 2, char_class::kToken);
  if (name_end < s.size() && IsLws(s[name_end])) return NextGeneral(out);
  if (name_end == s.size() || s[name_end] != '=') {
    *out = Param{std::string_view(s.data() + 1, name_end - 1), {}, false};
    rest_ = std::string_view(s.data() + name_end, s.size() - name_end);
    return true;
  }
  size_t value_end = SpanOf(s, name_end + 1, char_class::kGenValue);
  if (value_end == name_end + 1) {
    if (value_end == s.size() || s[value_end] != '"') return NextGeneral(out);  // LWS, or an error
    const size_t quoted = QuotedStringLength(SliceFrom(s, value_end));
    if (quoted == 0) return NextGeneral(out);  // unterminated: the error
    value_end += quoted;
  }
  *out = Param{std::string_view(s.data() + 1, name_end - 1),
               std::string_view(s.data() + name_end + 1, value_end - name_end - 1), true};
  rest_ = std::string_view(s.data() + value_end, s.size() - value_end);
  return true;
}

// Checks a whole parameter list; true when every parameter is well formed.
bool ValidateParams(std::string_view params);

// First parameter named `name` (case-insensitive). Assumes a validated list.
bool FindParam(std::string_view params, std::string_view name, Param* out);

// The content of a quoted-string without its quotes (escapes kept), or the
// value itself when unquoted.
std::string_view Unquote(std::string_view value);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_PARAMS_H_
