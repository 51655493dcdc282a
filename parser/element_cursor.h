// Splits header values into their comma-separated elements (RFC 3261 section
// 7.3.1). Commas inside quoted strings and inside <...> do not separate
// elements. SIP lists have no empty elements: ",," or a trailing comma is an
// error.
#ifndef LOCUS_PARSER_ELEMENT_CURSOR_H_
#define LOCUS_PARSER_ELEMENT_CURSOR_H_

#include <cstddef>
#include <string_view>

#include "parser/message.h"

namespace locus::sip {

// Elements of one header field value.
class ElementCursor {
 public:
  explicit ElementCursor(std::string_view value) : rest_(value) {}

  // Stores the next element, LWS-trimmed. False at the end or on an error
  // (empty element, unterminated quote or '<').
  bool Next(std::string_view* element);
  bool error() const { return error_; }

 private:
  std::string_view rest_;
  bool started_ = false;
  bool error_ = false;
};

// Elements of every field with one header id, in message order: "Contact: a,
// b" followed by "Contact: c" yields a, b, c.
class HeaderElements {
 public:
  HeaderElements(const Message& message, HeaderId id);

  bool Next(std::string_view* element);
  bool error() const { return cursor_.error(); }

 private:
  bool NextField();

  std::span<const HeaderField> fields_;
  HeaderId id_;
  size_t index_;
  ElementCursor cursor_{{}};
};

}  // namespace locus::sip

#endif  // LOCUS_PARSER_ELEMENT_CURSOR_H_
