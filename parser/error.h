// Parse errors as values. A ParseError names what went wrong (the code), where
// (the header, when the problem is inside one) and how (a static description).
// Building or copying one never allocates.
#ifndef LOCUS_PARSER_ERROR_H_
#define LOCUS_PARSER_ERROR_H_

#include <cstdint>
#include <string>

#include "parser/header_id.h"

namespace locus::sip {

enum class ErrorCode : uint8_t {
  kOk = 0,
  kNeedMore,          // stream framing: the buffer does not hold a whole message yet
  kTooLarge,          // message (or its header section) exceeds the configured limit
  kEmpty,             // nothing but CRLFs (a keep-alive), not a message
  kBadStartLine,      // request line or status line malformed
  kBadVersion,        // SIP-Version other than SIP/2.0
  kBadHeaderLine,     // header line without a valid name and colon
  kTooManyHeaders,    // more header fields than the fixed index holds
  kBadContentLength,  // Content-Length malformed, missing on a stream, or larger than the body
  kMissingHeader,     // a mandatory header is absent
  kDuplicateHeader,   // a single-valued header appears more than once
  kBadHeaderValue,    // a known header's value does not follow its grammar
  kMismatch,          // fields that must agree do not (CSeq method vs request method)
};

struct ParseError {
  ErrorCode code = ErrorCode::kOk;
  HeaderId header = HeaderId::kNone;  // the header at fault, kNone for framing/start line
  const char* what = "";              // static text: what was wrong

  constexpr bool ok() const { return code == ErrorCode::kOk; }
};

constexpr ParseError kParseOk{};

constexpr ParseError MakeError(ErrorCode code, const char* what,
                               HeaderId header = HeaderId::kNone) {
  return ParseError{code, header, what};
}

constexpr ParseError HeaderError(HeaderId header, const char* what) {
  return ParseError{ErrorCode::kBadHeaderValue, header, what};
}

// Stable lower-case name of a code, e.g. "bad_header_value".
const char* ErrorCodeName(ErrorCode code);

// Human-readable one-line description, e.g. "CSeq: sequence number above 2^31-1".
// Allocates; for logs, tools and reason phrases, not the hot path.
std::string Describe(const ParseError& error);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_ERROR_H_
