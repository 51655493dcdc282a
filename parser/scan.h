// Character classes of the RFC 3261 section 25 grammar and the small scanning
// helpers every header parser shares. Header-only; everything is constexpr or
// inline and never allocates.
//
// Values handed to these helpers are views into one header field's value. A
// CR or LF inside such a view can only be obsolete line folding (the framer
// split lines already), so the helpers treat CR and LF like SP: as linear
// white space (RFC 3261 section 7.3.1).
#ifndef LOCUS_PARSER_SCAN_H_
#define LOCUS_PARSER_SCAN_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace locus::sip {

// delta-seconds values above 2^32-1 are treated as 2^32-1 (RFC 3261 section
// 20.19 / 20.10 grammar; RFC 4475 section 3.1.2.4).
inline constexpr uint32_t kMaxDeltaSeconds = 0xFFFFFFFFu;

namespace char_class {
inline constexpr uint16_t kAlpha = 1 << 0;
inline constexpr uint16_t kDigit = 1 << 1;
inline constexpr uint16_t kToken = 1 << 2;           // token (section 25.1)
inline constexpr uint16_t kWord = 1 << 3;            // word (Call-ID)
inline constexpr uint16_t kUnreserved = 1 << 4;      // alphanum / mark
inline constexpr uint16_t kUserUnreserved = 1 << 5;  // user-unreserved
inline constexpr uint16_t kPasswordExtra = 1 << 6;   // & = + $ ,
inline constexpr uint16_t kParamUnreserved = 1 << 7;
inline constexpr uint16_t kHnvUnreserved = 1 << 8;
inline constexpr uint16_t kReserved = 1 << 9;        // RFC 2396 reserved
inline constexpr uint16_t kWhitespace = 1 << 10;     // SP HTAB CR LF (LWS inside a value)
inline constexpr uint16_t kHex = 1 << 11;
inline constexpr uint16_t kGenValue = 1 << 12;       // gen-value: token / host / IPv6 (params.h)

constexpr bool In(std::string_view set, char c) {
  for (char s : set) {
    if (s == c) return true;
  }
  return false;
}

constexpr std::array<uint16_t, 256> MakeTable() {
  std::array<uint16_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    uint16_t f = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (alpha) f |= kAlpha;
    if (digit) f |= kDigit;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHex;
    const bool alnum = alpha || digit;
    if (alnum || In("-.!%*_+`'~", c)) f |= kToken;
    if (alnum || In("-.!%*_+`'~()<>:\\\"/[]?{}", c)) f |= kWord;
    if (alnum || In("-_.!~*'()", c)) f |= kUnreserved;
    if (In("&=+$,;?/", c)) f |= kUserUnreserved;
    if (In("&=+$,", c)) f |= kPasswordExtra;
    if (In("[]/:&+$", c)) f |= kParamUnreserved;
    if (In("[]/?:+$", c)) f |= kHnvUnreserved;
    if (In(";/?:@&=+$,", c)) f |= kReserved;
    if (In(" \t\r\n", c)) f |= kWhitespace;
    if (alnum || In("-.!%*_+`'~:[]", c)) f |= kGenValue;
    t[static_cast<size_t>(i)] = f;
  }
  return t;
}

inline constexpr std::array<uint16_t, 256> kTable = MakeTable();
}  // namespace char_class

constexpr bool Has(char c, uint16_t flags) {
  return (char_class::kTable[static_cast<unsigned char>(c)] & flags) != 0;
}
constexpr bool IsAlpha(char c) { return Has(c, char_class::kAlpha); }
constexpr bool IsDigit(char c) { return Has(c, char_class::kDigit); }
constexpr bool IsAlnum(char c) { return Has(c, char_class::kAlpha | char_class::kDigit); }
constexpr bool IsHex(char c) { return Has(c, char_class::kHex); }
constexpr bool IsTokenChar(char c) { return Has(c, char_class::kToken); }
constexpr bool IsWordChar(char c) { return Has(c, char_class::kWord); }
constexpr bool IsLws(char c) { return Has(c, char_class::kWhitespace); }
constexpr bool IsReserved(char c) { return Has(c, char_class::kReserved); }
constexpr bool IsGenValueChar(char c) { return Has(c, char_class::kGenValue); }

constexpr char ToLower(char c) {
  // Branch-free: adds 0x20 exactly to 'A'..'Z'.
  return static_cast<char>(c | ((static_cast<unsigned char>(c - 'A') < 26u) << 5));
}

constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ASCII case-insensitive equality.
constexpr bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

// Case-insensitive equality of `token`, which holds only token characters
// (section 25.1), and `lower`, a literal of lower-case letters, digits and
// "-.+!%*'~". OR-ing 0x20 maps each upper-case letter onto its lower-case
// one; the only other bytes it maps onto one of those characters are control
// bytes, which a token never holds.
constexpr bool TokenEquals(std::string_view token, std::string_view lower) {
  if (token.size() != lower.size()) return false;
  for (size_t i = 0; i < token.size(); ++i) {
    if ((token[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// Offset of the first of the bytes a, b, c in s at or after `from`, or
// s.size() when there is none. Never reads outside s: 16 bytes at a time
// (SSE2) while 16 remain, then byte by byte.
inline size_t FindFirstOf3(std::string_view s, size_t from, char a, char b, char c) {
  size_t i = from;
  const char* p = s.data();
#if defined(__SSE2__)
  const __m128i va = _mm_set1_epi8(a);
  const __m128i vb = _mm_set1_epi8(b);
  const __m128i vc = _mm_set1_epi8(c);
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
                                     _mm_cmpeq_epi8(x, vc));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  for (; i < s.size(); ++i) {
    if (p[i] == a || p[i] == b || p[i] == c) return i;
  }
  return s.size();
}

// Removes linear white space (SP, HTAB, folding CRLF) from both ends.
constexpr std::string_view TrimLws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && IsLws(s[b])) ++b;
  while (e > b && IsLws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

constexpr std::string_view TrimLeadingLws(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && IsLws(s[b])) ++b;
  return s.substr(b);
}

// True when every character of s is a token character and s is not empty.
constexpr bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Parses 1*DIGIT. Values above `clamp` are clamped to it and *clamped is set;
// any length of digits is accepted (the loop stops growing the value at the
// clamp, so it never overflows). Returns false for empty or non-digit input.
constexpr bool ParseDecimal(std::string_view s, uint64_t clamp, uint64_t* value,
                            bool* clamped = nullptr) {
  if (s.empty()) return false;
  uint64_t v = 0;
  bool over = false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    if (!over) {
      v = v * 10 + static_cast<uint64_t>(c - '0');
      if (v > clamp) over = true;
    }
  }
  if (over) v = clamp;
  *value = v;
  if (clamped != nullptr) *clamped = over;
  return true;
}

// Offset of the first `c` in s, or npos. A plain loop: the strings it is used
// on are a few dozen bytes, where a libc memchr call costs more than it saves.
constexpr size_t FindChar(std::string_view s, char c, size_t from = 0) {
  for (size_t i = from; i < s.size(); ++i) {
    if (s[i] == c) return i;
  }
  return std::string_view::npos;
}

// Length of a quoted-string starting at s[0] == '"' (RFC 3261 section 25.1:
// quoted-pair escapes any octet but CR and LF). Returns 0 when unterminated.
inline size_t QuotedStringLength(std::string_view s) {
  if (s.empty() || s[0] != '"') return 0;
  size_t i = 1;
  while (true) {
    i = FindFirstOf3(s, i, '"', '\\', '"');
    if (i == s.size()) return 0;
    if (s[i] == '"') return i + 1;
    if (i + 1 >= s.size() || s[i + 1] == '\r' || s[i + 1] == '\n') return 0;
    i += 2;
  }
}

}  // namespace locus::sip

#endif  // LOCUS_PARSER_SCAN_H_
