// One Via hop (RFC 3261 section 20.42, 18.2.1; rport per RFC 3581).
#ifndef LOCUS_PARSER_VIA_H_
#define LOCUS_PARSER_VIA_H_

#include <cstdint>
#include <string_view>

#include "parser/error.h"
#include "parser/uri.h"

namespace locus::sip {

struct Via {
  std::string_view protocol_name;     // "SIP"
  std::string_view protocol_version;  // "2.0"
  std::string_view transport;         // "UDP", "TCP", "TLS", "SCTP", "WS", ...
  std::string_view host;              // sent-by host; IPv6 keeps its brackets
  HostType host_type = HostType::kNone;
  bool has_port = false;
  uint16_t port = 0;
  std::string_view branch;    // empty when absent
  std::string_view received;  // empty when absent
  std::string_view maddr;     // empty when absent
  bool has_ttl = false;
  uint8_t ttl = 0;
  bool has_rport = false;     // "rport" present (RFC 3581)
  uint16_t rport = 0;         // its value, 0 when written without one
  std::string_view params;    // all parameters as written
};

// Parses one via-parm (one element of a Via header).
ParseError ParseVia(std::string_view element, Via* out);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_VIA_H_
