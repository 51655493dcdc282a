#include "engine/sip/uri_escape.h"

#include "parser/scan.h"

namespace locus::engine {

void AppendPercentEscaped(std::string_view text, std::string_view marks, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    if (sip::IsAlnum(c) || marks.find(c) != std::string_view::npos) {
      out->push_back(c);
      continue;
    }
    const unsigned char u = static_cast<unsigned char>(c);
    out->push_back('%');
    out->push_back(kHex[u >> 4]);
    out->push_back(kHex[u & 0xF]);
  }
}

bool PercentUnescape(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int high = sip::HexValue(text[i + 1]);
    const int low = sip::HexValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out->push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

}  // namespace locus::engine
