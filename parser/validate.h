// Whole-message validation: every header locus knows is checked against its
// grammar, mandatory headers must be present, single-valued headers must be
// single, and the CSeq method must match the request method (RFC 3261
// sections 8.1.1, 8.2.2, 20). Fills the typed views that every transaction
// needs, so the engine parses them once.
#ifndef LOCUS_PARSER_VALIDATE_H_
#define LOCUS_PARSER_VALIDATE_H_

#include <cstdint>
#include <string_view>

#include <span>

#include "parser/contact.h"
#include "parser/error.h"
#include "parser/message.h"
#include "parser/name_addr.h"
#include "parser/scalar_headers.h"
#include "parser/via.h"

namespace locus::sip {

struct CoreHeaders {
  Via top_via;
  NameAddr from;
  NameAddr to;
  std::string_view call_id;
  CSeq cseq;
  bool has_max_forwards = false;
  uint32_t max_forwards = 0;
  bool has_expires = false;
  uint32_t expires = 0;
  int contact_count = 0;  // elements, across all Contact fields
  bool contact_star = false;
};

// On failure *out is unspecified (partly filled).
// Checks, in this order: single-valued headers appear once; Via, From, To,
// Call-ID and CSeq are present; every known header's value, in message order;
// the CSeq method against the request method. Returns the first problem.
// The first contacts.size() Contact elements are stored, parsed, in
// `contacts` (out->contact_count counts all of them), so that callers need
// not parse them again.
ParseError ValidateMessage(const Message& message, CoreHeaders* out,
                           std::span<Contact> contacts = {});

}  // namespace locus::sip

#endif  // LOCUS_PARSER_VALIDATE_H_
