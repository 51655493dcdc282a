// Iteration over the ";name=value" parameter lists that follow header values
// (Via, From/To, Contact, ...; RFC 3261 section 25.1 generic-param):
//   generic-param = token [ EQUAL gen-value ]
//   gen-value     = token / host / quoted-string
// LWS is allowed around ';' and '='. Views point into the input; quoted
// values keep their quotes.
#ifndef LOCUS_PARSER_PARAMS_H_
#define LOCUS_PARSER_PARAMS_H_

#include <string_view>

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
  std::string_view rest_;
  bool error_ = false;
};

// Checks a whole parameter list; true when every parameter is well formed.
bool ValidateParams(std::string_view params);

// First parameter named `name` (case-insensitive). Assumes a validated list.
bool FindParam(std::string_view params, std::string_view name, Param* out);

// The content of a quoted-string without its quotes (escapes kept), or the
// value itself when unquoted.
std::string_view Unquote(std::string_view value);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_PARAMS_H_
