#include "engine/sip/response_builder.h"

#include <arpa/inet.h>

#include <cstring>
#include <tuple>

#include "absl/hash/hash.h"
#include "parser/element_cursor.h"
#include "parser/name_addr.h"
#include "parser/params.h"

namespace locus::engine {
namespace {

// True when the Via sent-by host is the IP address the request came from.
bool SentByIsSource(const sip::Via& via, const Endpoint& source) {
  std::string_view host = via.host;
  if (via.host_type == sip::HostType::kIpv6 && host.size() >= 2) {
    host = host.substr(1, host.size() - 2);
  } else if (via.host_type != sip::HostType::kIpv4) {
    return false;  // a host name: section 18.2.1 always adds received
  }
  char text[64];
  if (host.size() >= sizeof(text)) return false;
  std::memcpy(text, host.data(), host.size());
  text[host.size()] = '\0';
  unsigned char ip[16];
  if (source.family() == AF_INET && via.host_type == sip::HostType::kIpv4) {
    return inet_pton(AF_INET, text, ip) == 1 &&
           std::memcmp(ip, &reinterpret_cast<const sockaddr_in*>(source.addr())->sin_addr, 4) == 0;
  }
  if (source.family() == AF_INET6 && via.host_type == sip::HostType::kIpv6) {
    return inet_pton(AF_INET6, text, ip) == 1 &&
           std::memcmp(ip, &reinterpret_cast<const sockaddr_in6*>(source.addr())->sin6_addr, 16) ==
               0;
  }
  return false;
}

}  // namespace

bool FindTopVia(const sip::Message& request, ReplyTo* reply) {
  const sip::HeaderField* field = request.Find(sip::HeaderId::kVia);
  if (field == nullptr) return false;
  sip::ElementCursor cursor(field->value());
  std::string_view element;
  if (!cursor.Next(&element)) return false;
  if (!sip::ParseVia(element, &reply->top_via).ok()) return false;
  reply->top_via_text = element;
  return true;
}

Endpoint UdpResponseDestination(const ReplyTo& reply) {
  Endpoint to = reply.source;
  if (reply.top_via.has_rport || reply.force_rport) return to;  // RFC 3581 section 4
  // Section 18.2.2: the received address, the sent-by port or 5060.
  to.set_port(reply.top_via.has_port ? reply.top_via.port : 5060);
  return to;
}

void ResponseBuilder::AppendUint(uint64_t value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) out_.push_back(digits[--n]);
}

void ResponseBuilder::AddHeader(std::string_view name, std::string_view value) {
  out_.append(name);
  out_.append(": ");
  out_.append(value);
  out_.append("\r\n");
}

void ResponseBuilder::AddHeaderUint(std::string_view name, uint64_t value) {
  out_.append(name);
  out_.append(": ");
  AppendUint(value);
  out_.append("\r\n");
}

// The top Via with rport's value filled in (RFC 3581 section 4) and received
// added when the sent-by is not the source address (section 18.2.1; always
// with rport).
void ResponseBuilder::AppendTopVia(const ReplyTo& reply) {
  const sip::Via& via = reply.top_via;
  std::string_view text = reply.top_via_text;
  sip::Param rport;
  const bool rport_without_value =
      via.has_rport && sip::FindParam(via.params, "rport", &rport) && !rport.has_value;
  if (rport_without_value) {
    const size_t split = static_cast<size_t>(rport.name.data() + rport.name.size() - text.data());
    out_.append(text.substr(0, split));
    out_.append("=");
    AppendUint(reply.source.port());
    out_.append(text.substr(split));
  } else {
    out_.append(text);
    if (!via.has_rport && reply.force_rport) {
      out_.append(";rport=");
      AppendUint(reply.source.port());
    }
  }
  const bool with_rport = via.has_rport || reply.force_rport;
  if (via.received.empty() && (with_rport || !SentByIsSource(via, reply.source))) {
    char ip[64];
    out_.append(";received=");
    out_.append(reply.source.IpText(ip));
  }
}

void ResponseBuilder::AppendTag(const sip::Message& request, const ReplyTo& reply) {
  // Section 8.2.6.2 / 19.3: a tag the UAS chooses. Derived from the request,
  // so that a retransmission answered again gets the same one.
  const sip::HeaderField* call_id = request.Find(sip::HeaderId::kCallId);
  const sip::HeaderField* from = request.Find(sip::HeaderId::kFrom);
  const uint64_t h = absl::Hash<std::tuple<uint64_t, std::string_view, std::string_view,
                                           std::string_view>>{}(
      {reply.tag_seed, call_id ? call_id->value() : "", from ? from->value() : "",
       reply.top_via.branch});
  static constexpr char kHex[] = "0123456789abcdef";
  out_.append(";tag=");
  for (int shift = 60; shift >= 0; shift -= 4) out_.push_back(kHex[(h >> shift) & 0xF]);
}

void ResponseBuilder::Start(int status, std::string_view reason, const sip::Message& request,
                            const ReplyTo& reply) {
  out_.append("SIP/2.0 ");
  AppendUint(static_cast<uint64_t>(status));
  out_.push_back(' ');
  AppendReasonSafe(reason, &out_);
  out_.append("\r\n");
  bool first_via = true;
  for (const sip::HeaderField& field : request.headers()) {
    switch (field.id) {
      case sip::HeaderId::kVia:
        out_.append("Via: ");
        if (first_via) {
          // The top element rewritten, then the rest of the first field.
          AppendTopVia(reply);
          const std::string_view value = field.value();
          const size_t end = static_cast<size_t>(reply.top_via_text.data() +
                                                 reply.top_via_text.size() - value.data());
          out_.append(value.substr(end));
          first_via = false;
        } else {
          out_.append(field.value());
        }
        out_.append("\r\n");
        break;
      case sip::HeaderId::kFrom:
        AddHeader("From", field.value());
        break;
      case sip::HeaderId::kTo:
        out_.append("To: ");
        out_.append(field.value());
        if (!reply.has_to_tag) AppendTag(request, reply);
        out_.append("\r\n");
        break;
      case sip::HeaderId::kCallId:
        AddHeader("Call-ID", field.value());
        break;
      case sip::HeaderId::kCSeq:
        AddHeader("CSeq", field.value());
        break;
      default:
        break;
    }
  }
}

void ResponseBuilder::Finish(std::string_view server) {
  AddHeader("Server", server);
  out_.append("Content-Length: 0\r\n\r\n");
}

void RewriteAsFailure(std::string_view success, int status, std::string_view reason,
                      uint32_t retry_after, std::string* out) {
  ResponseBuilder builder(out);
  out->append("SIP/2.0 ");
  builder.AppendUint(static_cast<uint64_t>(status));
  out->push_back(' ');
  AppendReasonSafe(reason, out);
  out->append("\r\n");
  size_t at = success.find("\r\n");
  at = at == std::string_view::npos ? success.size() : at + 2;
  bool dropping = false;
  bool retry_after_added = retry_after == 0;
  while (at < success.size()) {
    size_t end = success.find("\r\n", at);
    end = end == std::string_view::npos ? success.size() : end + 2;
    const std::string_view line = success.substr(at, end - at);
    at = end;
    if (line == "\r\n") {  // the end of the header section (no body: Content-Length 0)
      out->append(line);
      break;
    }
    if (line[0] != ' ' && line[0] != '\t') {  // not a folded continuation
      const std::string_view name = line.substr(0, line.find(':'));
      dropping = name == "Contact" || name == "Path" || name == "Date";
      if (!retry_after_added && (name == "Server" || name == "Content-Length")) {
        builder.AddHeaderUint("Retry-After", retry_after);
        retry_after_added = true;
      }
    }
    if (!dropping) out->append(line);
  }
}

void AppendReasonSafe(std::string_view text, std::string* out) {
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) out->push_back(c);
  }
}

}  // namespace locus::engine
