// Builds SIP responses to requests, per RFC 3261 section 8.2.6: the status
// line, then Via (every value, the top one with `received` and `rport` filled
// in, section 18.2.1 and RFC 3581), From, To (a tag added when absent),
// Call-ID and CSeq copied from the request. Record-Route is never copied (a
// REGISTER creates no dialog). The caller appends its own headers, then
// Finish() adds Server and Content-Length and the blank line.
//
// Writes into a caller-owned std::string whose capacity is reused: building a
// response allocates nothing once the string has grown to its working size.
#ifndef LOCUS_ENGINE_SIP_RESPONSE_BUILDER_H_
#define LOCUS_ENGINE_SIP_RESPONSE_BUILDER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/endpoint.h"
#include "parser/message.h"
#include "parser/via.h"

namespace locus::engine {

// What a response needs from its request, beyond the message itself.
struct ReplyTo {
  sip::Via top_via;               // parsed top Via of the request
  std::string_view top_via_text;  // its element text, inside the first Via field
  Endpoint source;                // where the request came from
  bool has_to_tag = false;        // the request's To already has a tag
  uint64_t tag_seed = 0;          // per-process secret mixed into generated tags
  bool force_rport = false;       // fill rport even when the request did not ask
};

// Finds and parses the request's top Via. False when there is none usable:
// such a request cannot be answered (ARCHITECTURE section 5: drop it).
bool FindTopVia(const sip::Message& request, ReplyTo* reply);

// The next hop of a UDP response (section 18.2.2 and RFC 3581 section 4): the
// source address; its port when the top Via has rport (or when
// reply.force_rport), otherwise the sent-by port (5060 by default).
Endpoint UdpResponseDestination(const ReplyTo& reply);

class ResponseBuilder {
 public:
  explicit ResponseBuilder(std::string* out) : out_(*out) { out_.clear(); }

  // Status line and the headers copied from the request.
  void Start(int status, std::string_view reason, const sip::Message& request,
             const ReplyTo& reply);

  void Append(std::string_view text) { out_.append(text); }
  void AppendUint(uint64_t value);
  // "Name: value\r\n"
  void AddHeader(std::string_view name, std::string_view value);
  void AddHeaderUint(std::string_view name, uint64_t value);

  // Server header, Content-Length: 0 and the end of the header section.
  void Finish(std::string_view server);

 private:
  void AppendTopVia(const ReplyTo& reply);
  void AppendTag(const sip::Message& request, const ReplyTo& reply);
  std::string& out_;
};

// The failure answer to a request whose success answer `success` (built by
// ResponseBuilder) was held and cannot be sent: the same Via, From, To (and
// tag), Call-ID and CSeq, with another status line, Retry-After when
// retry_after > 0, and without what only a 200 carries (Contact, Path, Date).
// Built only when needed, so a held request costs one response, not two.
void RewriteAsFailure(std::string_view success, int status, std::string_view reason,
                      uint32_t retry_after, std::string* out);

// A reason phrase is TEXT-UTF8 without CR or LF (section 25.1): control
// characters are dropped. For reasons built from error descriptions.
void AppendReasonSafe(std::string_view text, std::string* out);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_RESPONSE_BUILDER_H_
