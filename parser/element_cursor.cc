#include "parser/element_cursor.h"

#include <cstring>

#include "parser/scan.h"

namespace locus::sip {

namespace {

// Offset of the first ',' of s outside quoted strings and <...>, s.size()
// when there is none; npos when a quoted string or a '<' is not closed.
size_t ElementEnd(std::string_view s) {
  size_t i = FindFirstOf3(s, 0, ',', '"', '<');
  while (i < s.size() && s[i] != ',') {
    if (s[i] == '"') {
      const size_t n = QuotedStringLength(SliceFrom(s, i));
      if (n == 0) return std::string_view::npos;
      i += n;
    } else {  // '<'
      const size_t close = FindChar(s, '>', i);
      if (close == std::string_view::npos) return std::string_view::npos;
      i = close + 1;
    }
    i = FindFirstOf3(s, i, ',', '"', '<');
  }
  return i;
}

}  // namespace

bool ElementCursor::Next(std::string_view* element) {
  if (error_) return false;
  if (!started_) {
    started_ = true;
    rest_ = TrimLws(rest_);
    if (rest_.empty()) return false;  // an empty value has no elements
    // Most values are one element: without a comma there is nothing to split
    // (one inline scan instead of a walk through quotes and brackets), and the
    // value is one element as it stands: its quotes and brackets are for the
    // value parsers to judge.
    if (FindChar(rest_, ',') == std::string_view::npos) {
      *element = rest_;
      rest_ = std::string_view();
      return true;
    }
  } else if (rest_.data() == nullptr) {
    return false;
  }
  const size_t i = ElementEnd(rest_);
  if (i == std::string_view::npos) {
    error_ = true;
    return false;
  }
  if (i == rest_.size()) {
    *element = rest_;  // trimmed already: the value, or what follows a comma
    rest_ = std::string_view();  // data() == nullptr marks the end
    return true;
  }
  *element = TrimLws(Slice(rest_, 0, i));
  if (element->empty()) {
    error_ = true;
    return false;
  }
  rest_ = TrimLws(SliceFrom(rest_, i + 1));
  if (rest_.empty()) {  // trailing comma
    error_ = true;
    return false;
  }
  return true;
}

HeaderElements::HeaderElements(const Message& message, HeaderId id)
    : fields_(message.headers()), id_(id), index_(0) {
  const HeaderField* first = message.Find(id);
  index_ = first == nullptr ? fields_.size() : static_cast<size_t>(first - fields_.data());
  if (index_ < fields_.size()) cursor_ = ElementCursor(fields_[index_].value());
}

bool HeaderElements::NextField() {
  for (++index_; index_ < fields_.size(); ++index_) {
    if (fields_[index_].id == id_) {
      cursor_ = ElementCursor(fields_[index_].value());
      return true;
    }
  }
  return false;
}

bool HeaderElements::Next(std::string_view* element) {
  if (index_ >= fields_.size()) return false;
  while (true) {
    if (cursor_.Next(element)) return true;
    if (cursor_.error() || !NextField()) return false;
  }
}

}  // namespace locus::sip
