#include "engine/sip/redirect_contacts.h"

#include "engine/sip/uri_escape.h"

namespace locus::engine {

void AppendQValue(uint16_t q, std::string* out) {
  if (q >= 1000) {
    out->push_back('1');
    return;
  }
  out->append("0.");
  const char digits[3] = {static_cast<char>('0' + q / 100), static_cast<char>('0' + q / 10 % 10),
                          static_cast<char>('0' + q % 10)};
  int n = 3;
  while (n > 1 && digits[n - 1] == '0') --n;
  out->append(digits, static_cast<size_t>(n));
}

void AppendRedirectContacts(std::span<const store::Binding* const> bindings, uint32_t now,
                            std::string* out) {
  for (const store::Binding* b : bindings) {
    out->append("Contact: <");
    const std::string_view uri = b->contact();
    out->append(uri);
    if (!b->path().empty()) {
      // Section 19.1.1: headers follow '?', joined by '&'.
      out->push_back(uri.find('?') == std::string_view::npos ? '?' : '&');
      out->append("Route=");
      AppendPercentEscaped(b->path(), kHeaderValueMarks, out);
    }
    out->append(">;q=");
    AppendQValue(b->has_q ? b->q : 1000, out);
    out->append(";expires=");
    out->append(std::to_string(b->expires_at > now ? b->expires_at - now : 0));
    out->append("\r\n");
  }
}

}  // namespace locus::engine
