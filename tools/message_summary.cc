#include "tools/message_summary.h"

#include <cstdio>

#include "parser/aor.h"
#include "parser/contact.h"
#include "parser/element_cursor.h"
#include "parser/message.h"
#include "parser/validate.h"

namespace locus::tools {
namespace {

using namespace locus::sip;

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\r': out->append("\\r"); break;
      case '\n': out->append("\\n"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));  // UTF-8 passes through
        }
    }
  }
  out->push_back('"');
}

void Key(std::string* out, const char* key) {
  if (out->back() != '{') out->push_back(',');
  AppendJsonString(out, key);
  out->push_back(':');
}

std::string QValue(uint16_t thousandths) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%g", thousandths / 1000.0);
  return buf;
}

}  // namespace

std::string SummarizeMessage(std::string_view bytes, bool* valid) {
  Message message;
  CoreHeaders core;
  ParseError error = ParseMessage(bytes, ParseOptions{}, &message);
  if (error.ok()) error = ValidateMessage(message, &core);
  std::string out = "{";
  *valid = error.ok();
  Key(&out, "valid");
  out.append(*valid ? "true" : "false");
  if (!*valid) {
    Key(&out, "error");
    AppendJsonString(&out, Describe(error));
    Key(&out, "error_code");
    AppendJsonString(&out, ErrorCodeName(error.code));
    Key(&out, "error_header");
    AppendJsonString(&out, HeaderName(error.header));
    out.push_back('}');
    return out;
  }
  Key(&out, "kind");
  if (message.is_request()) {
    AppendJsonString(&out, "request");
    Key(&out, "method");
    AppendJsonString(&out, message.method_name());
    Key(&out, "request_uri");
    AppendJsonString(&out, message.request_uri());
  } else {
    AppendJsonString(&out, "response");
    Key(&out, "status");
    out.append(std::to_string(message.status_code()));
    Key(&out, "reason");
    AppendJsonString(&out, message.reason());
  }
  Key(&out, "to_uri");
  AppendJsonString(&out, core.to.uri.text);
  Key(&out, "aor");
  CanonicalAor aor;
  if (CanonicalizeAor(core.to.uri, &aor).ok()) {
    AppendJsonString(&out, aor.view());
  } else {
    out.append("null");
  }
  Key(&out, "call_id");
  AppendJsonString(&out, core.call_id);
  Key(&out, "cseq");
  out.append("{\"number\":" + std::to_string(core.cseq.number) + ",\"method\":");
  AppendJsonString(&out, core.cseq.method_name);
  out.push_back('}');
  Key(&out, "via_branch");
  if (core.top_via.branch.empty()) {
    out.append("null");
  } else {
    AppendJsonString(&out, core.top_via.branch);
  }
  Key(&out, "contacts");
  out.push_back('[');
  HeaderElements contacts(message, HeaderId::kContact);
  std::string_view element;
  bool first = true;
  while (contacts.Next(&element)) {
    Contact contact;
    ParseContact(element, &contact);  // validated above
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"uri\":");
    AppendJsonString(&out, contact.star ? std::string_view("*") : contact.address.uri.text);
    out.append(",\"expires\":");
    out.append(contact.has_expires ? std::to_string(contact.expires) : "null");
    out.append(",\"q\":");
    out.append(contact.has_q ? QValue(contact.q) : "null");
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

}  // namespace locus::tools
