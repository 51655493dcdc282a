// A SIP message parsed in place (RFC 3261 section 7): the start line, an index
// of header fields, and the body, all as views into the caller's buffer. The
// buffer must outlive the Message. Parsing never allocates: the header index
// has a fixed capacity, and a message with more fields is rejected.
#ifndef LOCUS_PARSER_MESSAGE_H_
#define LOCUS_PARSER_MESSAGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "parser/error.h"
#include "parser/header_id.h"
#include "parser/method.h"

namespace locus::sip {

// One header field line (with its folded continuation lines). Trivially
// constructible, so a Message's fixed index costs nothing to create.
struct HeaderField {
  HeaderId id;
  uint16_t name_size;
  uint16_t value_size;
  const char* name_data;
  const char* value_data;

  std::string_view name() const { return {name_data, name_size}; }  // as written
  // Trimmed; may contain folded line breaks (CRLF + WSP).
  std::string_view value() const { return {value_data, value_size}; }
};

struct ParseOptions {
  // Largest message accepted, start line to end of body. 65,535 is the largest
  // UDP payload; streams may choose less.
  size_t max_message_size = 65535;
  // Stream transports (TCP, TLS): Content-Length is mandatory and the message
  // ends exactly after that many body bytes (RFC 3261 section 18.3). For
  // datagrams a missing Content-Length means "to the end of the datagram", and
  // extra bytes after Content-Length are discarded.
  bool stream = false;
};

class Message {
 public:
  static constexpr size_t kMaxHeaders = 80;

  bool is_request() const { return is_request_; }
  bool is_response() const { return !is_request_; }

  // Requests: method token (case-sensitive) and the Request-URI as written.
  Method method() const { return method_; }
  std::string_view method_name() const { return method_name_; }
  std::string_view request_uri() const { return request_uri_; }

  // Responses: status code (100..699) and reason phrase (may be empty).
  int status_code() const { return status_code_; }
  std::string_view reason() const { return reason_; }

  std::span<const HeaderField> headers() const { return {headers_.data(), header_count_}; }

  // First field with this id, or nullptr.
  const HeaderField* Find(HeaderId id) const {
    const uint8_t i = first_[static_cast<size_t>(id)];
    return i == kAbsent ? nullptr : &headers_[i];
  }
  // Number of header fields (lines) with this id.
  int Count(HeaderId id) const { return counts_[static_cast<size_t>(id)]; }
  // Every id's count, indexed by id and padded with zeros to kIdSlots (a
  // whole number of 16-byte words), for checks over all ids at once.
  static constexpr size_t kIdSlots = (kHeaderIdCount + 15) / 16 * 16;
  const std::array<uint8_t, kIdSlots>& counts() const { return counts_; }
  // First field whose name equals `name` case-insensitively (for unknown
  // headers); nullptr when absent.
  const HeaderField* FindByName(std::string_view name) const;

  std::string_view body() const { return body_; }
  // Bytes from the start of the buffer to the end of this message (leading
  // CRLFs included); for streams, where the next message begins.
  size_t consumed() const { return consumed_; }
  // Content-Length as declared, or -1 when the header is absent.
  int64_t content_length() const { return content_length_; }

 private:
  friend ParseError ParseMessage(std::string_view, const ParseOptions&, Message*);
  friend ParseError SalvageRequest(std::string_view, Message*, HeaderId*);
  friend size_t EncodeMessageOffsets(const Message&, std::string_view, std::span<char>);
  friend bool DecodeMessageOffsets(std::string_view, std::string_view, Message*);
  static constexpr uint8_t kAbsent = 0xFF;
  static_assert(kMaxHeaders < kAbsent);

  void Reset();

  bool is_request_ = false;
  Method method_ = Method::kOther;
  std::string_view method_name_;
  std::string_view request_uri_;
  int status_code_ = 0;
  std::string_view reason_;
  std::string_view body_;
  size_t consumed_ = 0;
  int64_t content_length_ = -1;
  size_t header_count_ = 0;
  // Rounded up to whole 16-byte words (kIdSlots), so that resetting them is
  // a few stores rather than a call to memset.
  std::array<uint8_t, kIdSlots> first_{};
  std::array<uint8_t, kIdSlots> counts_{};
  std::array<HeaderField, kMaxHeaders> headers_;  // the first header_count_ are set
};

// Parses one message from `data`. On success `*out` describes it. Leading CRLFs
// (keep-alives, RFC 5626 section 3.5.1) are skipped; a buffer of nothing but
// CRLFs yields kEmpty. Checks framing, the start line, header-line syntax and
// Content-Length; it does not interpret header values (see validate.h).
// With options.stream, kNeedMore means "append more bytes and call again".
ParseError ParseMessage(std::string_view data, const ParseOptions& options, Message* out);

// A lenient second reading of a datagram that ParseMessage refused, to tell
// whether it can still be answered (ARCHITECTURE section 5: a malformed
// request whose Via, From, To, Call-ID and CSeq are readable gets a 400 that
// names the problem, not silence). Lines end at LF, with or without CR. A
// line that is not a clean header field -- ended by a bare LF, holding a
// control character or a bare CR, without a colon, or with a name that is
// not a token -- is left out, and the header of the first such line (when it
// names a known one) goes to *broken; a line that cannot be part of a field
// is left out too. The header section ends at the first empty line; the body
// is not read. Fails unless the start line is a valid Request-Line. The
// result holds only clean header lines: validate what you use.
ParseError SalvageRequest(std::string_view data, Message* out, HeaderId* broken);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_MESSAGE_H_
