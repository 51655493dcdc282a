#include "parser/name_addr.h"

#include <cstring>

#include "parser/params.h"
#include "parser/scan.h"

namespace locus::sip {
namespace {

// display-name = *(token LWS) / quoted-string
bool ValidUnquotedDisplayName(std::string_view name) {
  return SpanOf(name, 0, char_class::kToken | char_class::kWhitespace) == name.size();
}

}  // namespace

ParseError ParseNameAddr(std::string_view element, HeaderId where, NameAddr* out, const Uri* same_uri) {
  if (const ParseError e = ParseNameAddrUncheckedParams(element, where, out, same_uri); !e.ok()) return e;
  if (!out->params.empty() && !ValidateParams(out->params)) {
    return HeaderError(where, "header parameter is malformed");
  }
  return kParseOk;
}

ParseError ParseNameAddrUncheckedParams(std::string_view element, HeaderId where, NameAddr* out,
                                        const Uri* same_uri) {
  // out->uri is reset by ParseUri, which every successful parse reaches.
  out->display_name = {};
  out->angle_brackets = false;
  out->params = {};
  std::string_view s = TrimLws(element);
  if (s.empty()) return HeaderError(where, "empty value");
  std::string_view uri_text;
  if (s.front() == '"') {
    const size_t n = QuotedStringLength(s);
    if (n == 0) return HeaderError(where, "display name has an unterminated quoted string");
    out->display_name = Slice(s, 0, n);
    s = TrimLeadingLws(SliceFrom(s, n));
    if (s.empty() || s.front() != '<') {
      return HeaderError(where, "quoted display name is not followed by <URI>");
    }
  }
  const size_t open = s.front() == '<' ? 0 : FindChar(s, '<');
  if (open != std::string_view::npos) {
    if (out->display_name.empty()) {
      out->display_name = TrimLws(Slice(s, 0, open));
      if (!ValidUnquotedDisplayName(out->display_name)) {
        return HeaderError(where, "display name has characters that need quoting");
      }
    }
    const size_t close = FindChar(s, '>', open);
    if (close == std::string_view::npos) return HeaderError(where, "'<' without '>'");
    uri_text = Slice(s, open + 1, close - open - 1);
    out->angle_brackets = true;
    out->params = SliceFrom(s, close + 1);
  } else {
    // addr-spec: parameters after the first ';' belong to the header.
    size_t end = 0;
    while (end < s.size() && s[end] != ';' && !IsLws(s[end])) ++end;
    uri_text = Slice(s, 0, end);
    out->params = SliceFrom(s, end);
    if (FindChar(uri_text, '?') != std::string_view::npos) {
      return HeaderError(where, "URI with headers must be inside <...>");
    }
  }
  if (same_uri != nullptr && EqualBytes(same_uri->text, uri_text)) {
    CopyParsedUri(*same_uri, uri_text, &out->uri);
    return kParseOk;
  }
  return ParseUri(uri_text, where, &out->uri);
}

std::string_view TagOf(const NameAddr& value) {
  Param tag;
  return FindParam(value.params, "tag", &tag) ? tag.value : std::string_view();
}

}  // namespace locus::sip
