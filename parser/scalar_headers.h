// Single-valued and token-list headers: CSeq, Call-ID, Expires, Min-Expires,
// Max-Forwards, Retry-After, Date, Warning, Content-Type, option tags
// (RFC 3261 section 20 and 25.1).
#ifndef LOCUS_PARSER_SCALAR_HEADERS_H_
#define LOCUS_PARSER_SCALAR_HEADERS_H_

#include <cstdint>
#include <string_view>

#include "parser/error.h"
#include "parser/method.h"

namespace locus::sip {

inline constexpr uint32_t kMaxCSeq = 0x7FFFFFFFu;  // "MUST be less than 2**31" (8.1.1.5)

struct CSeq {
  uint32_t number = 0;
  Method method = Method::kOther;
  std::string_view method_name;
};

// CSeq = 1*DIGIT LWS Method
ParseError ParseCSeq(std::string_view value, CSeq* out);

// callid = word [ "@" word ]
ParseError ParseCallId(std::string_view value, std::string_view* out);

// delta-seconds for Expires and Min-Expires; values above 2^32-1 are clamped.
ParseError ParseDeltaSeconds(std::string_view value, HeaderId where, uint32_t* out);

// Max-Forwards = 1*DIGIT, 0 to 255.
ParseError ParseMaxForwards(std::string_view value, uint32_t* out);

// Retry-After = delta-seconds [ comment ] *( SEMI retry-param ); the value
// must fit in 32 bits.
ParseError ParseRetryAfter(std::string_view value, uint32_t* out);

// rfc1123-date = wkday "," SP date1 SP time SP "GMT"
ParseError ValidateDate(std::string_view value);

// warning-value = warn-code SP warn-agent SP warn-text (one list element).
ParseError ValidateWarning(std::string_view element);

// media-type = m-type SLASH m-subtype *( SEMI m-parameter )
ParseError ValidateContentType(std::string_view value);

// One option-tag (Require, Proxy-Require, Supported, Unsupported): a token.
ParseError ValidateOptionTag(std::string_view element, HeaderId where);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_SCALAR_HEADERS_H_
