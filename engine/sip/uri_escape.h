// %-escaping inside SIP URIs (RFC 3261 section 25.1: escaped = "%" HEXDIG
// HEXDIG). The characters a URI part may carry as they are depend on the
// part, so the caller names them: unreserved's alphanumerics always, plus
// `marks`.
#ifndef LOCUS_ENGINE_SIP_URI_ESCAPE_H_
#define LOCUS_ENGINE_SIP_URI_ESCAPE_H_

#include <string>
#include <string_view>

namespace locus::engine {

// URI parameter values (paramchar: mark, param-unreserved).
inline constexpr std::string_view kParamMarks = "-_.!~*'()[]/:&+$";
// URI header values (hvalue: mark, hnv-unreserved).
inline constexpr std::string_view kHeaderValueMarks = "-_.!~*'()[]/?:+$";

// Appends `text` with every byte that is neither alphanumeric nor in
// `marks` written as %XX.
void AppendPercentEscaped(std::string_view text, std::string_view marks, std::string* out);

// `text` with its %XX escapes decoded into `out`; false on a malformed one.
bool PercentUnescape(std::string_view text, std::string* out);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_URI_ESCAPE_H_
