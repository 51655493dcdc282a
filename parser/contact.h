// Contact header elements (RFC 3261 section 20.10 and 10.2.1; +sip.instance
// and reg-id per RFC 5626 section 4.2).
#ifndef LOCUS_PARSER_CONTACT_H_
#define LOCUS_PARSER_CONTACT_H_

#include <cstdint>
#include <string_view>

#include "parser/error.h"
#include "parser/name_addr.h"

namespace locus::sip {

inline constexpr uint16_t kQMax = 1000;                    // q=1 in thousandths

struct Contact {
  bool star = false;  // "Contact: *"
  NameAddr address;   // unset when star
  bool has_expires = false;
  uint32_t expires = 0;  // delta-seconds, values above 2^32-1 clamped
  bool has_q = false;
  uint16_t q = 0;                 // thousandths: q=0.7 is 700
  std::string_view instance;      // +sip.instance value without its quotes, or empty
  bool has_reg_id = false;
  uint32_t reg_id = 0;
};

// Parses one Contact list element.
ParseError ParseContact(std::string_view element, Contact* out);

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )  (section 25.1)
bool ParseQValue(std::string_view text, uint16_t* thousandths);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_CONTACT_H_
