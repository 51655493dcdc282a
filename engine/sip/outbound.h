// Outbound (RFC 5626), the registrar's part (section 6): whether a REGISTER
// gets outbound processing -- its bindings keyed by (+sip.instance, reg-id),
// so that a phone whose NAT mapping changed replaces its flow instead of
// adding one -- and what the response says about it.
//
// Outbound applies when a Contact has a reg-id and either the registrar is
// the first hop (the request has one Via) or the first URI of the Path has
// the "ob" parameter (an edge proxy that supports outbound). When a reg-id
// came through a first hop without that support, the REGISTER is refused
// with 439 if it said Supported: outbound, and its reg-ids are ignored
// otherwise. A 200 to a REGISTER with outbound applied and Supported:
// outbound carries Require: outbound (section 6), and the Flow-Timer when
// one is configured (section 4.4.1).
#ifndef LOCUS_ENGINE_SIP_OUTBOUND_H_
#define LOCUS_ENGINE_SIP_OUTBOUND_H_

#include <span>

#include "parser/contact.h"
#include "parser/message.h"

namespace locus::engine {

struct OutboundDecision {
  bool apply = false;       // bindings keyed by (instance, reg-id)
  bool reject_439 = false;  // First Hop Lacks Outbound Support
  bool require = false;     // the 200 carries Require: outbound
};

// `contacts`: the request's parsed Contact elements.
OutboundDecision DecideOutbound(const sip::Message& request,
                                std::span<const sip::Contact> contacts);

// True when `request` lists `tag` in its Supported header (any case).
bool SupportsOption(const sip::Message& request, std::string_view tag);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_OUTBOUND_H_
