#include "parser/validate.h"

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "parser/contact.h"
#include "parser/digest.h"
#include "parser/element_cursor.h"
#include "parser/scan.h"

namespace locus::sip {
namespace {

// Headers that may appear at most once (their grammar has no list form).
constexpr HeaderId kSingleValued[] = {
    HeaderId::kCallId,  HeaderId::kCSeq,       HeaderId::kFrom,        HeaderId::kTo,
    HeaderId::kMaxForwards, HeaderId::kContentLength, HeaderId::kExpires,
    HeaderId::kMinExpires, HeaderId::kContentType, HeaderId::kDate,
};

// Mandatory in every request and response (8.1.1); Max-Forwards is tolerated
// missing, as proxies before RFC 3261 omitted it.
constexpr HeaderId kMandatory[] = {
    HeaderId::kVia, HeaderId::kFrom, HeaderId::kTo, HeaderId::kCallId, HeaderId::kCSeq,
};

// The count limits of the two lists above, per id: at most 1 for a
// single-valued header, at least 1 for a mandatory one.
struct CountLimits {
  alignas(16) std::array<uint8_t, Message::kIdSlots> max;
  alignas(16) std::array<uint8_t, Message::kIdSlots> min;
};

constexpr CountLimits MakeCountLimits() {
  CountLimits limits{};
  limits.max.fill(0xFF);
  for (HeaderId id : kSingleValued) limits.max[static_cast<size_t>(id)] = 1;
  for (HeaderId id : kMandatory) limits.min[static_cast<size_t>(id)] = 1;
  return limits;
}

constexpr CountLimits kCountLimits = MakeCountLimits();

// True when every id's count is within its limits: both rules over all ids
// at once, 16 per step. When false, the rules are checked one by one to name
// the header.
bool CountsWithinLimits(const Message& message) {
  const std::array<uint8_t, Message::kIdSlots>& counts = message.counts();
#if defined(__SSE2__)
  __m128i excess = _mm_setzero_si128();
  for (size_t i = 0; i < Message::kIdSlots; i += 16) {
    const __m128i count = _mm_loadu_si128(reinterpret_cast<const __m128i*>(counts.data() + i));
    const __m128i max = _mm_load_si128(reinterpret_cast<const __m128i*>(kCountLimits.max.data() + i));
    const __m128i min = _mm_load_si128(reinterpret_cast<const __m128i*>(kCountLimits.min.data() + i));
    // Saturating differences: nonzero exactly where a limit is crossed.
    excess = _mm_or_si128(excess, _mm_or_si128(_mm_subs_epu8(count, max), _mm_subs_epu8(min, count)));
  }
  return _mm_movemask_epi8(_mm_cmpeq_epi8(excess, _mm_setzero_si128())) == 0xFFFF;
#else
  for (size_t i = 0; i < Message::kIdSlots; ++i) {
    if (counts[i] > kCountLimits.max[i] || counts[i] < kCountLimits.min[i]) return false;
  }
  return true;
#endif
}

// Runs `check` on every element of a list-valued field; `at_least_one` when
// the grammar needs 1#element.
template <typename Check>
ParseError ForEachElement(const HeaderField& field, bool at_least_one, Check check) {
  // Most values are one element: without a comma, ElementCursor would yield
  // the trimmed value as it stands, and nothing more. (Framing trimmed it.)
  const std::string_view value = field.value();
  // (FindChar, inline SSE2: values are short for a memchr call.)
  if (!value.empty() && FindChar(value, ',') == std::string_view::npos) return check(value, 0);
  ElementCursor cursor(field.value());
  std::string_view element;
  int count = 0;
  while (cursor.Next(&element)) {
    if (const ParseError e = check(element, count); !e.ok()) return e;
    ++count;
  }
  if (cursor.error()) return HeaderError(field.id, "list has an empty or unterminated element");
  if (at_least_one && count == 0) return HeaderError(field.id, "value is empty");
  return kParseOk;
}

// The common shape of option-tag and method lists, "tag, tag, tag": tokens
// separated by commas with optional LWS around them. When `value` has it,
// every check of the general path (ElementCursor, then ValidateOptionTag per
// element) passes; when it does not, the caller takes the general path, which
// reports the precise error. An empty value is left to the general path.
bool IsSimpleTokenList(std::string_view value) {
  size_t i = SpanOf(value, 0, char_class::kToken);
  if (i == 0) return false;
  while (i < value.size()) {
    while (i < value.size() && IsLws(value[i])) ++i;
    if (i == value.size() || value[i] != ',') return false;
    ++i;
    while (i < value.size() && IsLws(value[i])) ++i;
    const size_t token_end = SpanOf(value, i, char_class::kToken);
    if (token_end == i) return false;
    i = token_end;
  }
  return true;
}

// Outputs that validation parses into and then drops (Route entries, every
// Via after the top one, credentials, Contacts past the caller's span). A
// fresh one per element would be zeroed each time (100 to 250 bytes, a
// `rep stos` on GCC); their parsers reset every member they report, so one
// set per thread serves every message.
struct Scratch {
  NameAddr name_addr;
  Via via;
  DigestParams digest;
  Contact contact;
};
thread_local Scratch scratch;

ParseError RouteElement(std::string_view element, HeaderId id) {
  NameAddr& route = scratch.name_addr;
  if (const ParseError e = ParseNameAddr(element, id, &route); !e.ok()) return e;
  if (!route.angle_brackets) return HeaderError(id, "route entry is not a name-addr in <...>");
  return kParseOk;
}

// Parses one Contact element into *contact and counts it.
ParseError CountContact(std::string_view element, Contact* contact, CoreHeaders* out) {
  if (const ParseError e = ParseContact(element, contact); !e.ok()) return e;
  ++out->contact_count;
  out->contact_star |= contact->star;
  return kParseOk;
}

// What ValidateField has parsed so far in this message.
struct Parsed {
  bool from = false;
  bool to = false;
};

ParseError ValidateField(const HeaderField& field, bool first_of_id, CoreHeaders* out,
                         std::span<Contact> contacts, Parsed* parsed) {
  const HeaderId id = field.id;
  switch (id) {
    case HeaderId::kVia:
      return ForEachElement(field, true, [&](std::string_view element, int index) {
        if (first_of_id && index == 0) return ParseVia(element, &out->top_via);
        return ParseVia(element, &scratch.via);
      });
    // The To and From of a REGISTER nearly always hold the same URI (a user
    // registering itself, RFC 3261 section 10.2): the second reuses the
    // first's parse when the text is the same. (Each appears once: counted.)
    case HeaderId::kFrom:
      parsed->from = true;
      return ParseNameAddr(field.value(), id, &out->from, parsed->to ? &out->to.uri : nullptr);
    case HeaderId::kTo:
      parsed->to = true;
      return ParseNameAddr(field.value(), id, &out->to, parsed->from ? &out->from.uri : nullptr);
    case HeaderId::kCallId:
      return ParseCallId(field.value(), &out->call_id);
    case HeaderId::kCSeq:
      return ParseCSeq(field.value(), &out->cseq);
    case HeaderId::kContact:
      return ForEachElement(field, true, [&](std::string_view element, int) {
        const size_t index = static_cast<size_t>(out->contact_count);
        if (index < contacts.size()) return CountContact(element, &contacts[index], out);
        return CountContact(element, &scratch.contact, out);  // the caller's span is full
      });
    case HeaderId::kExpires:
      out->has_expires = true;
      return ParseDeltaSeconds(field.value(), id, &out->expires);
    case HeaderId::kMinExpires: {
      uint32_t ignored;
      return ParseDeltaSeconds(field.value(), id, &ignored);
    }
    case HeaderId::kMaxForwards:
      out->has_max_forwards = true;
      return ParseMaxForwards(field.value(), &out->max_forwards);
    case HeaderId::kContentType:
      return ValidateContentType(field.value());
    case HeaderId::kRequire:
    case HeaderId::kProxyRequire:
      if (IsSimpleTokenList(field.value())) return kParseOk;
      return ForEachElement(field, true, [id](std::string_view element, int) {
        return ValidateOptionTag(element, id);
      });
    case HeaderId::kSupported:
    case HeaderId::kUnsupported:
    case HeaderId::kAllow:
      if (IsSimpleTokenList(field.value())) return kParseOk;
      return ForEachElement(field, false, [id](std::string_view element, int) {
        return ValidateOptionTag(element, id);
      });
    case HeaderId::kRoute:
    case HeaderId::kRecordRoute:
    case HeaderId::kPath:
      return ForEachElement(field, true, [id](std::string_view element, int) {
        return RouteElement(element, id);
      });
    case HeaderId::kAuthorization:
    case HeaderId::kProxyAuthorization:
    case HeaderId::kWwwAuthenticate:
    case HeaderId::kProxyAuthenticate: {
      return ParseDigest(field.value(), id, &scratch.digest);
    }
    case HeaderId::kDate:
      return ValidateDate(field.value());
    case HeaderId::kRetryAfter: {
      uint32_t ignored;
      return ParseRetryAfter(field.value(), &ignored);
    }
    case HeaderId::kWarning:
      return ForEachElement(field, true, [](std::string_view element, int) {
        return ValidateWarning(element);
      });
    default:
      return kParseOk;  // content checked by framing, or not interpreted
  }
}

}  // namespace

ParseError ValidateMessage(const Message& message, CoreHeaders* out, std::span<Contact> contacts) {
  // Via, From, To, Call-ID and CSeq are mandatory: a message that passes
  // has them all, and their parsers overwrite them. The rest is reset here
  // (a whole CoreHeaders{} is some 600 bytes of stores per message).
  out->has_max_forwards = false;
  out->max_forwards = 0;
  out->has_expires = false;
  out->expires = 0;
  out->contact_count = 0;
  out->contact_star = false;
  if (!CountsWithinLimits(message)) {
    for (HeaderId id : kSingleValued) {
      if (message.Count(id) > 1) {
        return MakeError(ErrorCode::kDuplicateHeader, "appears more than once", id);
      }
    }
    for (HeaderId id : kMandatory) {
      if (message.Count(id) == 0) return MakeError(ErrorCode::kMissingHeader, "is missing", id);
    }
  }
  const HeaderField* top_via = message.Find(HeaderId::kVia);
  Parsed parsed;
  for (const HeaderField& field : message.headers()) {
    if (const ParseError e = ValidateField(field, &field == top_via, out, contacts, &parsed); !e.ok()) {
      return e;
    }
  }
  // CSeq method must equal the request method (8.1.1.5; RFC 4475 3.1.2.17).
  // Known methods are exact, case-sensitive names: equal ids are equal
  // text; extension methods (kOther) are compared as text.
  if (message.is_request() &&
      (out->cseq.method != message.method() ||
       (message.method() == Method::kOther && out->cseq.method_name != message.method_name()))) {
    return MakeError(ErrorCode::kMismatch, "method differs from the request line", HeaderId::kCSeq);
  }
  return kParseOk;
}

}  // namespace locus::sip
