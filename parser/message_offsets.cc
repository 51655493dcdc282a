#include "parser/message_offsets.h"

#include <cstdint>
#include <cstring>

namespace locus::sip {
namespace {

// A view as offset and size within the message's bytes.
struct Span {
  uint16_t offset;
  uint16_t size;
};

struct Head {
  uint8_t is_request;
  uint8_t unused_byte;  // the method is looked up again from its name
  uint16_t header_count;
  int32_t status_code;
  Span method_name;
  Span request_uri;
  Span reason;
  Span body;
  uint32_t consumed;
  uint32_t unused_word;
  int64_t content_length;
};
static_assert(sizeof(Head) == 40);

struct Field {
  uint8_t id;
  uint8_t unused_byte;
  Span name;
  Span value;
};
static_assert(sizeof(Field) == 6 + 4);
static_assert(kMaxMessageOffsetsSize == sizeof(Head) + sizeof(Field) * Message::kMaxHeaders);

// False when [data, data + size) is not within `bytes` (an empty view with no
// data is taken as offset 0).
bool ToSpan(const char* data, size_t size, std::string_view bytes, Span* out) {
  if (size == 0 && data == nullptr) {
    *out = {0, 0};
    return true;
  }
  const auto begin = reinterpret_cast<uintptr_t>(bytes.data());
  const auto at = reinterpret_cast<uintptr_t>(data);
  if (at < begin || at - begin > bytes.size() || size > bytes.size() - (at - begin)) return false;
  *out = {static_cast<uint16_t>(at - begin), static_cast<uint16_t>(size)};
  return true;
}

bool FromSpan(Span span, std::string_view bytes, std::string_view* out) {
  if (span.offset > bytes.size() || span.size > bytes.size() - span.offset) return false;
  *out = bytes.substr(span.offset, span.size);
  return true;
}

}  // namespace

size_t EncodeMessageOffsets(const Message& message, std::string_view bytes, std::span<char> out) {
  if (bytes.size() > UINT16_MAX) return 0;
  const size_t size = sizeof(Head) + sizeof(Field) * message.header_count_;
  if (out.size() < size) return 0;
  Head head{};
  head.is_request = message.is_request_ ? 1 : 0;
  head.header_count = static_cast<uint16_t>(message.header_count_);
  head.status_code = message.status_code_;
  head.consumed = static_cast<uint32_t>(message.consumed_);
  head.content_length = message.content_length_;
  const auto span_of = [&](std::string_view view, Span* span) {
    return ToSpan(view.data(), view.size(), bytes, span);
  };
  if (!span_of(message.method_name_, &head.method_name) ||
      !span_of(message.request_uri_, &head.request_uri) || !span_of(message.reason_, &head.reason) ||
      !span_of(message.body_, &head.body) || message.consumed_ > bytes.size()) {
    return 0;
  }
  std::memcpy(out.data(), &head, sizeof(head));
  char* at = out.data() + sizeof(head);
  for (size_t i = 0; i < message.header_count_; ++i, at += sizeof(Field)) {
    const HeaderField& h = message.headers_[i];
    Field field{};
    field.id = static_cast<uint8_t>(h.id);
    if (!ToSpan(h.name_data, h.name_size, bytes, &field.name) ||
        !ToSpan(h.value_data, h.value_size, bytes, &field.value)) {
      return 0;
    }
    std::memcpy(at, &field, sizeof(field));
  }
  return size;
}

bool DecodeMessageOffsets(std::string_view record, std::string_view bytes, Message* out) {
  Head head;
  if (record.size() < sizeof(head)) return false;
  std::memcpy(&head, record.data(), sizeof(head));
  if (head.header_count > Message::kMaxHeaders ||
      record.size() != sizeof(Head) + sizeof(Field) * head.header_count ||
      head.consumed > bytes.size()) {
    return false;
  }
  out->Reset();
  out->is_request_ = head.is_request != 0;
  out->status_code_ = head.status_code;
  out->consumed_ = head.consumed;
  out->content_length_ = head.content_length;
  if (!FromSpan(head.method_name, bytes, &out->method_name_) ||
      !FromSpan(head.request_uri, bytes, &out->request_uri_) ||
      !FromSpan(head.reason, bytes, &out->reason_) || !FromSpan(head.body, bytes, &out->body_)) {
    return false;
  }
  if (out->is_request_) out->method_ = LookupMethod(out->method_name_);
  const char* at = record.data() + sizeof(head);
  for (size_t i = 0; i < head.header_count; ++i, at += sizeof(Field)) {
    Field field;
    std::memcpy(&field, at, sizeof(field));
    std::string_view name, value;
    if (field.id >= kHeaderIdCount || !FromSpan(field.name, bytes, &name) ||
        !FromSpan(field.value, bytes, &value)) {
      return false;
    }
    HeaderField& h = out->headers_[i];
    h.id = static_cast<HeaderId>(field.id);
    h.name_size = field.name.size;
    h.value_size = field.value.size;
    h.name_data = name.data();
    h.value_data = value.data();
    const size_t slot = field.id;
    if (out->first_[slot] == Message::kAbsent) out->first_[slot] = static_cast<uint8_t>(i);
    ++out->counts_[slot];
  }
  out->header_count_ = head.header_count;
  return true;
}

}  // namespace locus::sip
