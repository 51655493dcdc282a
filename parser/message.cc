#include "parser/message.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "parser/scan.h"
#include "parser/uri.h"

namespace locus::sip {
namespace {

constexpr size_t kMaxContentLengthDigits = 10;

// The control bytes a line may hold: HTAB, and any control byte but CR and LF
// right after a backslash, which is a quoted-pair (RFC 3261 section 25.1;
// RFC 4475 section 3.1.1.2 has NUL, BEL and DEL quoted in a display name). A
// backslash outside a quoted string is rejected by the value parsers.
bool AllowedControl(const char* base, size_t i, size_t line_start) {
  const char c = base[i];
  if (c == '\t') return true;
  return c != '\r' && c != '\n' && i > line_start && base[i - 1] == '\\';
}

#if defined(__SSE2__)
// Bit k is set when byte k of x may be a control byte: 0x00-0x1F or DEL, and
// also every byte from 0x80, which callers skip. Adding 1 maps exactly these
// onto 0x01-0x20 and the negative bytes: one signed compare finds them all.
[[gnu::always_inline]] inline unsigned MaybeControlMask(__m128i x) {
  const __m128i plus_one = _mm_add_epi8(x, _mm_set1_epi8(1));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_set1_epi8(0x21), plus_one)));
}

// Offset in the 16-byte block x at base + i of the first byte that ends the
// line starting at `pos`: a CR, or a control byte a line may not hold (see
// AllowedControl); 16 when there is none.
[[gnu::always_inline]] inline unsigned LineEndInBlock(__m128i x, const char* base, size_t i, size_t pos) {
  for (unsigned control = MaybeControlMask(x); control != 0; control &= control - 1) {
    const unsigned bit = static_cast<unsigned>(__builtin_ctz(control));
    const unsigned char c = static_cast<unsigned char>(base[i + bit]);
    if (c == '\r' || (c < 0x80 && !AllowedControl(base, i + bit, pos))) return bit;
  }
  return 16;
}
#endif

// Finds the CRLF that ends the line starting at `pos`, checking on the way
// that the line holds no control character but HTAB (RFC 3261 section 25.1:
// CR and LF appear only as line ends), and noting the first ':' of the line in
// *colon (npos when none) so that header lines need no second pass. Returns
// the offset of the CR; npos when the data ends first (more may come); sets
// *bad on a stray control byte.
// Inlined into both callers: it runs once per line.
[[gnu::always_inline]] inline size_t FindLineEnd(const char* base, size_t pos, size_t end, bool* bad,
                                                size_t* colon_out) {
  // A local, not *colon_out, in the loops: a store through the pointer could
  // alias the bytes read and force reloads.
  size_t colon = std::string_view::npos;
  size_t i = pos;
#if defined(__SSE2__)
  // Up to the block with the line's first colon (for header lines, nearly
  // always the first block) ...
  for (; i + 16 <= end; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + i));
    const unsigned colons = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(':'))));
    if (const unsigned bit = LineEndInBlock(x, base, i, pos); bit != 16) {
      if ((colons & ((1u << bit) - 1)) != 0) colon = i + static_cast<size_t>(__builtin_ctz(colons));
      i += bit;
      goto found;
    }
    if (colons != 0) {
      colon = i + static_cast<size_t>(__builtin_ctz(colons));
      i += 16;
      break;
    }
  }
  // ... then the line end alone.
  for (; i + 16 <= end; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + i));
    if (const unsigned bit = LineEndInBlock(x, base, i, pos); bit != 16) {
      i += bit;
      goto found;
    }
  }
#endif
  for (; i < end; ++i) {
    const unsigned char c = static_cast<unsigned char>(base[i]);
    if (c == ':' && colon == std::string_view::npos) colon = i;
    if ((c < 0x20 || c == 0x7F) && !AllowedControl(base, i, pos)) break;
  }
  *colon_out = colon;
  if (i == end) return std::string_view::npos;
  goto check;
#if defined(__SSE2__)
found:
  *colon_out = colon;
#endif
check:
  if (base[i] == '\r') {
    if (i + 1 == end) return std::string_view::npos;
    if (base[i + 1] == '\n') return i;
  }
  *bad = true;
  return std::string_view::npos;
}

constexpr bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

// Stores a trimmed value; an empty one points at the line end so that later
// folding can extend it. False when it does not fit the 16-bit size.
bool SetValue(HeaderField* field, std::string_view value, const char* line_end) {
  if (value.size() > UINT16_MAX) return false;
  field->value_data = value.empty() ? line_end : value.data();
  field->value_size = static_cast<uint16_t>(value.size());
  return true;
}

// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, case-insensitive (7.1).
ParseError CheckVersion(std::string_view v) {
  if (v.size() == 7 && std::memcmp(v.data(), "SIP/2.0", 7) == 0) return kParseOk;  // as nearly always
  if (v.size() >= 4 && EqualsIgnoreCase(v.substr(0, 4), "SIP/")) {
    std::string_view num = v.substr(4);
    const size_t dot = FindChar(num, '.');
    bool digits = dot != std::string_view::npos && dot > 0 && dot + 1 < num.size();
    for (size_t i = 0; digits && i < num.size(); ++i) {
      if (i != dot && !IsDigit(num[i])) digits = false;
    }
    if (digits) {
      return num == "2.0" ? kParseOk : MakeError(ErrorCode::kBadVersion, "SIP version is not 2.0");
    }
  }
  return MakeError(ErrorCode::kBadStartLine, "malformed SIP-Version");
}

// Request-Line = Method SP Request-URI SP SIP-Version (section 7.1), exactly
// one SP between elements.
ParseError ParseRequestLine(std::string_view line, std::string_view* method,
                            std::string_view* uri) {
  const size_t sp1 = FindChar(line, ' ');
  if (sp1 == std::string_view::npos) return MakeError(ErrorCode::kBadStartLine, "request line has no spaces");
  const size_t sp2 = FindChar(line, ' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return MakeError(ErrorCode::kBadStartLine, "request line has no SIP-Version");
  *method = line.substr(0, sp1);
  *uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(*method)) return MakeError(ErrorCode::kBadStartLine, "method is not a token");
  if (FindChar(version, ' ') != std::string_view::npos) {
    return MakeError(ErrorCode::kBadStartLine, "request line has extra spaces");
  }
  if (const ParseError e = CheckVersion(version); !e.ok()) return e;
  // Thread-local: a fresh Uri would be zeroed per message (`rep stos` on
  // GCC); ParseUri resets every member itself.
  thread_local Uri parsed;
  if (uri->empty() || !ParseUri(*uri, HeaderId::kNone, &parsed).ok()) {
    return MakeError(ErrorCode::kBadStartLine, "Request-URI is invalid");
  }
  // Header components are not allowed in a Request-URI (table of 19.1.1).
  if (parsed.is_sip() && !parsed.headers.empty()) {
    return MakeError(ErrorCode::kBadStartLine, "Request-URI has header components");
  }
  return kParseOk;
}

// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (section 7.2).
ParseError ParseStatusLine(std::string_view line, int* code, std::string_view* reason) {
  const size_t sp1 = FindChar(line, ' ');
  if (sp1 == std::string_view::npos) return MakeError(ErrorCode::kBadStartLine, "status line has no status code");
  if (const ParseError e = CheckVersion(line.substr(0, sp1)); !e.ok()) return e;
  std::string_view rest = line.substr(sp1 + 1);
  if (rest.size() < 4 || !IsDigit(rest[0]) || !IsDigit(rest[1]) || !IsDigit(rest[2]) ||
      rest[3] != ' ') {
    return MakeError(ErrorCode::kBadStartLine, "status code is not three digits and a space");
  }
  *code = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  if (*code < 100 || *code > 699) return MakeError(ErrorCode::kBadStartLine, "status code outside 100-699");
  *reason = rest.substr(4);
  for (char c : *reason) {  // Reason-Phrase has no quoted-pairs: no control bytes but HTAB
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) {
      return MakeError(ErrorCode::kBadStartLine, "reason phrase has a control character");
    }
  }
  return kParseOk;
}

}  // namespace

void Message::Reset() {
  is_request_ = false;
  method_ = Method::kOther;
  // One by one: a chained assignment makes GCC copy the first view with a
  // 16-byte load of two 8-byte stores, which stalls store forwarding.
  method_name_ = {};
  request_uri_ = {};
  reason_ = {};
  body_ = {};
  status_code_ = 0;
  consumed_ = 0;
  content_length_ = -1;
  header_count_ = 0;
  first_.fill(kAbsent);
  counts_.fill(0);
}

const HeaderField* Message::FindByName(std::string_view name) const {
  for (size_t i = 0; i < header_count_; ++i) {
    if (EqualsIgnoreCase(headers_[i].name(), name)) return &headers_[i];
  }
  return nullptr;
}

ParseError ParseMessage(std::string_view data, const ParseOptions& options, Message* out) {
  out->Reset();
  // Leading CRLFs are keep-alives, not part of the message (7.5, RFC 5626).
  size_t pos = 0;
  while (pos + 1 < data.size() && data[pos] == '\r' && data[pos + 1] == '\n') pos += 2;
  if (pos == data.size() || (pos + 1 == data.size() && data[pos] == '\r')) {
    out->consumed_ = pos;
    if (options.stream && pos < data.size()) return MakeError(ErrorCode::kNeedMore, "partial CRLF");
    return MakeError(ErrorCode::kEmpty, "only CRLF keep-alives");
  }
  const size_t start = pos;
  const size_t limit = start + options.max_message_size;
  if (!options.stream && data.size() > limit) {
    return MakeError(ErrorCode::kTooLarge, "message exceeds the size limit");
  }
  const char* const base = data.data();
  const size_t end = data.size() < limit ? data.size() : limit;

  // Start line.
  bool bad = false;
  size_t colon = 0;
  size_t cr = FindLineEnd(base, pos, end, &bad, &colon);
  if (bad) return MakeError(ErrorCode::kBadStartLine, "start line has a control character or bare CR/LF");
  if (cr == std::string_view::npos) {
    if (options.stream && data.size() < limit) return MakeError(ErrorCode::kNeedMore, "start line incomplete");
    if (options.stream) return MakeError(ErrorCode::kTooLarge, "start line exceeds the size limit");
    return MakeError(ErrorCode::kBadStartLine, "start line has no CRLF");
  }
  std::string_view start_line(base + pos, cr - pos);
  pos = cr + 2;

  // Header fields, up to the empty line.
  HeaderField* current = nullptr;
  bool ended = false;
  while (pos < end) {
    cr = FindLineEnd(base, pos, end, &bad, &colon);
    if (bad) return MakeError(ErrorCode::kBadHeaderLine, "control character or bare CR/LF in a header line");
    if (cr == std::string_view::npos) break;
    const size_t line_start = pos;
    pos = cr + 2;
    if (cr == line_start) {  // the empty line
      ended = true;
      break;
    }
    const char first = base[line_start];
    if (first == ' ' || first == '\t') {  // obsolete line folding (7.3.1)
      if (current == nullptr) return MakeError(ErrorCode::kBadHeaderLine, "continuation line before any header");
      // The value now runs to the end of this line; an empty value followed by
      // folding starts on this line.
      const char* value_begin = current->value_size == 0 ? base + line_start : current->value_data;
      const std::string_view value = TrimLws(std::string_view(value_begin, base + cr - value_begin));
      if (!SetValue(current, value, base + cr)) return MakeError(ErrorCode::kTooLarge, "header value too long");
      continue;
    }
    // header-name HCOLON value; HCOLON = *( SP / HTAB ) ":" SWS. A name that
    // matches a known header is a token; only unknown names are checked.
    if (colon == std::string_view::npos || colon >= cr) {
      return MakeError(ErrorCode::kBadHeaderLine, "header line has no colon");
    }
    // The line does not start with SP or HTAB (that is folding, above): no
    // bound check needed while trimming the name.
    size_t name_end = colon;
    while (IsSpaceOrTab(base[name_end - 1])) --name_end;
    const std::string_view name(base + line_start, name_end - line_start);
    const HeaderId id = LookupHeaderIdPadded(name, end - line_start);
    if (name.size() > UINT16_MAX || (id == HeaderId::kOther && !IsToken(name))) {
      return MakeError(ErrorCode::kBadHeaderLine, "header name is not a token");
    }
    const size_t name_size = name.size();
    const size_t i = colon;
    if (out->header_count_ == Message::kMaxHeaders) {
      return MakeError(ErrorCode::kTooManyHeaders, "more header fields than the index holds");
    }
    const uint8_t index = static_cast<uint8_t>(out->header_count_++);
    current = &out->headers_[index];
    current->id = id;
    current->name_data = base + line_start;
    current->name_size = static_cast<uint16_t>(name_size);
    // The value, trimmed: the line holds no CR or LF, so only SP and HTAB
    // surround it, and the CR ending the line and the colon bound the scans.
    size_t value_begin = i + 1;
    value_begin += base[value_begin] == ' ';  // as nearly always: one SP
    while (IsSpaceOrTab(base[value_begin])) ++value_begin;
    size_t value_end = cr;
    while (value_end > value_begin && IsSpaceOrTab(base[value_end - 1])) --value_end;
    if (!SetValue(current, std::string_view(base + value_begin, value_end - value_begin), base + cr)) {
      return MakeError(ErrorCode::kTooLarge, "header value too long");
    }
    const size_t slot = static_cast<size_t>(id);
    if (out->first_[slot] == Message::kAbsent) out->first_[slot] = index;
    ++out->counts_[slot];
  }
  if (!ended) {
    if (options.stream && data.size() < limit) return MakeError(ErrorCode::kNeedMore, "header section incomplete");
    if (data.size() >= limit) return MakeError(ErrorCode::kTooLarge, "header section exceeds the size limit");
    return MakeError(ErrorCode::kBadHeaderLine, "no empty line after the header section");
  }

  // Content-Length (sections 18.3 and 20.14).
  const size_t available = data.size() - pos;
  if (out->counts_[static_cast<size_t>(HeaderId::kContentLength)] > 1) {
    return MakeError(ErrorCode::kDuplicateHeader, "appears more than once",
                     HeaderId::kContentLength);
  }
  if (const HeaderField* cl = out->Find(HeaderId::kContentLength)) {
    uint64_t length = 0;
    if (cl->value().size() > kMaxContentLengthDigits ||
        !ParseDecimal(cl->value(), UINT32_MAX, &length)) {
      return MakeError(ErrorCode::kBadContentLength, "not a number",
                       HeaderId::kContentLength);
    }
    out->content_length_ = static_cast<int64_t>(length);
    if (pos - start + length > options.max_message_size) {
      return MakeError(ErrorCode::kTooLarge, "body exceeds the size limit", HeaderId::kContentLength);
    }
    if (length > available) {
      if (options.stream) return MakeError(ErrorCode::kNeedMore, "body incomplete");
      return MakeError(ErrorCode::kBadContentLength, "exceeds the bytes received",
                       HeaderId::kContentLength);
    }
    out->body_ = std::string_view(base + pos, length);
    out->consumed_ = pos + length;
  } else {
    if (options.stream) {
      return MakeError(ErrorCode::kBadContentLength, "mandatory on stream transports",
                       HeaderId::kContentLength);
    }
    out->body_ = std::string_view(base + pos, available);
    out->consumed_ = data.size();
  }

  // The start line is interpreted last: framing errors take precedence, so a
  // stream never misframes the next message because this one was bad.
  if (start_line.size() >= 4 && EqualsIgnoreCase(start_line.substr(0, 4), "SIP/")) {
    out->is_request_ = false;
    return ParseStatusLine(start_line, &out->status_code_, &out->reason_);
  }
  out->is_request_ = true;
  if (const ParseError e = ParseRequestLine(start_line, &out->method_name_, &out->request_uri_);
      !e.ok()) {
    return e;
  }
  out->method_ = LookupMethod(out->method_name_);
  return kParseOk;
}

ParseError SalvageRequest(std::string_view data, Message* out, HeaderId* broken) {
  out->Reset();
  *broken = HeaderId::kNone;
  // A line of `data` from `pos`: up to LF (or the end), without its CR;
  // `clean` when it held no control byte but HTAB and ended with CRLF.
  struct Line {
    std::string_view text;
    bool clean = true;
  };
  size_t pos = 0;
  auto next_line = [&](Line* line) {
    if (pos >= data.size()) return false;
    size_t lf = data.find('\n', pos);
    const bool has_lf = lf != std::string_view::npos;
    if (!has_lf) lf = data.size();
    std::string_view text = data.substr(pos, lf - pos);
    bool crlf = false;
    if (!text.empty() && text.back() == '\r') {
      text.remove_suffix(1);
      crlf = true;
    }
    pos = has_lf ? lf + 1 : data.size();
    line->text = text;
    line->clean = crlf || !has_lf;  // the last line of a datagram may lack its CRLF
    for (char ch : text) {
      const unsigned char u = static_cast<unsigned char>(ch);
      if ((u < 0x20 && ch != '\t') || u == 0x7F) line->clean = false;
    }
    return true;
  };
  while (pos + 1 < data.size() && data[pos] == '\r' && data[pos + 1] == '\n') pos += 2;
  Line line;
  if (!next_line(&line) || !line.clean) {
    return MakeError(ErrorCode::kBadStartLine, "start line unreadable");
  }
  if (line.text.size() >= 4 && EqualsIgnoreCase(line.text.substr(0, 4), "SIP/")) {
    return MakeError(ErrorCode::kBadStartLine, "a response, not a request");
  }
  if (const ParseError e = ParseRequestLine(line.text, &out->method_name_, &out->request_uri_);
      !e.ok()) {
    return e;
  }
  out->is_request_ = true;
  out->method_ = LookupMethod(out->method_name_);

  HeaderField* current = nullptr;  // the last field kept, which folding may extend
  while (next_line(&line) && !line.text.empty()) {
    const std::string_view text = line.text;
    if (text.front() == ' ' || text.front() == '\t') {  // folding (7.3.1)
      if (current != nullptr && line.clean) {
        const char* value_begin = current->value_size == 0 ? text.data() : current->value_data;
        const std::string_view value =
            TrimLws(std::string_view(value_begin, text.data() + text.size() - value_begin));
        if (!SetValue(current, value, text.data() + text.size())) current = nullptr;
      } else {
        current = nullptr;
      }
      continue;
    }
    current = nullptr;
    const size_t colon = FindChar(text, ':');
    HeaderId id = HeaderId::kNone;
    std::string_view name;
    if (colon != std::string_view::npos) {
      size_t name_end = colon;
      while (name_end > 0 && IsSpaceOrTab(text[name_end - 1])) --name_end;
      name = text.substr(0, name_end);
      id = name.empty() ? HeaderId::kNone : LookupHeaderId(name);
    }
    const bool good_name = !name.empty() && name.size() <= UINT16_MAX &&
                           (id != HeaderId::kOther || IsToken(name));
    if (!line.clean || !good_name) {
      if (*broken == HeaderId::kNone && good_name && id != HeaderId::kOther) *broken = id;
      continue;
    }
    if (out->header_count_ == Message::kMaxHeaders) break;
    const std::string_view value = TrimLws(text.substr(colon + 1));
    const uint8_t index = static_cast<uint8_t>(out->header_count_);
    HeaderField* field = &out->headers_[index];
    field->id = id;
    field->name_data = name.data();
    field->name_size = static_cast<uint16_t>(name.size());
    if (!SetValue(field, value, text.data() + text.size())) continue;
    ++out->header_count_;
    const size_t slot = static_cast<size_t>(id);
    if (out->first_[slot] == Message::kAbsent) out->first_[slot] = index;
    ++out->counts_[slot];
    current = field;
  }
  out->consumed_ = data.size();
  return kParseOk;
}

}  // namespace locus::sip
