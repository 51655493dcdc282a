#include "parser/element_cursor.h"

#include <cstring>

#include "parser/scan.h"

namespace locus::sip {

bool ElementCursor::Next(std::string_view* element) {
  if (error_) return false;
  if (!started_) {
    started_ = true;
    rest_ = TrimLws(rest_);
    if (rest_.empty()) return false;  // an empty value has no elements
    // Most values are one element: without a comma there is nothing to split
    // (one memchr instead of a walk through quotes and brackets).
    if (std::memchr(rest_.data(), ',', rest_.size()) == nullptr) {
      *element = rest_;
      rest_ = std::string_view();
      return true;
    }
  } else if (rest_.data() == nullptr) {
    return false;
  }
  size_t i = 0;
  while (i < rest_.size() && rest_[i] != ',') {
    const char c = rest_[i];
    if (c == '"') {
      const size_t n = QuotedStringLength(rest_.substr(i));
      if (n == 0) {
        error_ = true;
        return false;
      }
      i += n;
    } else if (c == '<') {
      const size_t close = FindChar(rest_, '>', i);
      if (close == std::string_view::npos) {
        error_ = true;
        return false;
      }
      i = close + 1;
    } else {
      ++i;
    }
  }
  *element = TrimLws(rest_.substr(0, i));
  if (element->empty()) {
    error_ = true;
    return false;
  }
  if (i == rest_.size()) {
    rest_ = std::string_view();  // data() == nullptr marks the end
  } else {
    rest_ = rest_.substr(i + 1);
    if (TrimLws(rest_).empty()) {  // trailing comma
      error_ = true;
      return false;
    }
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
