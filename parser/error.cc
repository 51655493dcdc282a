#include "parser/error.h"

namespace locus::sip {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kNeedMore: return "need_more";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kEmpty: return "empty";
    case ErrorCode::kBadStartLine: return "bad_start_line";
    case ErrorCode::kBadVersion: return "bad_version";
    case ErrorCode::kBadHeaderLine: return "bad_header_line";
    case ErrorCode::kTooManyHeaders: return "too_many_headers";
    case ErrorCode::kBadContentLength: return "bad_content_length";
    case ErrorCode::kMissingHeader: return "missing_header";
    case ErrorCode::kDuplicateHeader: return "duplicate_header";
    case ErrorCode::kBadHeaderValue: return "bad_header_value";
    case ErrorCode::kMismatch: return "mismatch";
  }
  return "unknown";
}

std::string Describe(const ParseError& error) {
  if (error.ok()) return "ok";
  std::string text;
  const std::string_view header = HeaderName(error.header);
  if (!header.empty()) {
    text.append(header);
    text.append(": ");
  }
  text.append(error.what != nullptr && error.what[0] != '\0' ? error.what
                                                              : ErrorCodeName(error.code));
  return text;
}

}  // namespace locus::sip
