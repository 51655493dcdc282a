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
#include <cstring>
#include <string_view>

#if defined(__SSSE3__)
#include <tmmintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace locus::sip {

// delta-seconds values above 2^32-1 are treated as 2^32-1 (RFC 3261 section
// 20.19 / 20.10 grammar; RFC 4475 section 3.1.2.4).
inline constexpr uint32_t kMaxDeltaSeconds = 0xFFFFFFFFu;

namespace char_class {
inline constexpr uint32_t kAlpha = 1 << 0;
inline constexpr uint32_t kDigit = 1 << 1;
inline constexpr uint32_t kToken = 1 << 2;           // token (section 25.1)
inline constexpr uint32_t kWord = 1 << 3;            // word (Call-ID)
inline constexpr uint32_t kUnreserved = 1 << 4;      // alphanum / mark
inline constexpr uint32_t kUserUnreserved = 1 << 5;  // user-unreserved
inline constexpr uint32_t kPasswordExtra = 1 << 6;   // & = + $ ,
inline constexpr uint32_t kParamUnreserved = 1 << 7;
inline constexpr uint32_t kHnvUnreserved = 1 << 8;
inline constexpr uint32_t kReserved = 1 << 9;        // RFC 2396 reserved
inline constexpr uint32_t kWhitespace = 1 << 10;     // SP HTAB CR LF (LWS inside a value)
inline constexpr uint32_t kHex = 1 << 11;
inline constexpr uint32_t kGenValue = 1 << 12;       // gen-value: token / host / IPv6 (params.h)
// Unions of the classes above as single bits, so that SpanOf can test four
// characters at once (section 25.1 names in the comments).
inline constexpr uint32_t kUserChar = 1 << 13;       // unreserved / user-unreserved
inline constexpr uint32_t kPasswordChar = 1 << 14;   // unreserved / & = + $ ,
inline constexpr uint32_t kParamChar = 1 << 15;      // unreserved / param-unreserved
inline constexpr uint32_t kLabelChar = 1 << 16;      // alphanum / "-" (domainlabel)

constexpr bool In(std::string_view set, char c) {
  for (char s : set) {
    if (s == c) return true;
  }
  return false;
}

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    uint32_t f = 0;
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
    if (f & (kUnreserved | kUserUnreserved)) f |= kUserChar;
    if (f & (kUnreserved | kPasswordExtra)) f |= kPasswordChar;
    if (f & (kUnreserved | kParamUnreserved)) f |= kParamChar;
    if (alnum || c == '-') f |= kLabelChar;
    t[static_cast<size_t>(i)] = f;
  }
  return t;
}

inline constexpr std::array<uint32_t, 256> kTable = MakeTable();
}  // namespace char_class

constexpr bool Has(char c, uint32_t flags) {
  return (char_class::kTable[static_cast<unsigned char>(c)] & flags) != 0;
}
constexpr bool IsAlpha(char c) { return Has(c, char_class::kAlpha); }
constexpr bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }
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

// The sizeof(Word) bytes at p, in memory order.
template <typename Word>
Word LoadWord(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

// Case-insensitive equality of `token`, which holds only token characters
// (section 25.1), and `lower`, a literal of lower-case letters, digits and
// "-.+!%*'~". OR-ing 0x20 maps each upper-case letter onto its lower-case
// one; the only other bytes it maps onto one of those characters are control
// bytes, which a token never holds.
inline bool TokenEquals(std::string_view token, std::string_view lower) {
  const size_t n = lower.size();
  if (token.size() != n) return false;
  const char* t = token.data();
  const char* l = lower.data();
  // Two overlapping loads of a word size that fits cover the whole name.
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if ((LoadWord<uint64_t>(t + i) | 0x2020202020202020ull) != LoadWord<uint64_t>(l + i)) return false;
    }
    return (LoadWord<uint64_t>(t + n - 8) | 0x2020202020202020ull) == LoadWord<uint64_t>(l + n - 8);
  }
  if (n >= 4) {
    return (LoadWord<uint32_t>(t) | 0x20202020u) == LoadWord<uint32_t>(l) &&
           (LoadWord<uint32_t>(t + n - 4) | 0x20202020u) == LoadWord<uint32_t>(l + n - 4);
  }
  for (size_t i = 0; i < n; ++i) {
    if ((t[i] | 0x20) != l[i]) return false;
  }
  return true;
}

// Offset of the first character at or after `i` that is not in the class
// `flag` (char_class bits: a character is in it when it has any of them), or
// s.size(). Four characters per step while four remain and share one of the
// bits (always, for a single-bit class); then one at a time.
inline size_t SpanOf(std::string_view s, size_t i, uint32_t flag) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto& t = char_class::kTable;
  while (i + 4 <= s.size() && (t[p[i]] & t[p[i + 1]] & t[p[i + 2]] & t[p[i + 3]] & flag) != 0) i += 4;
  while (i < s.size() && (t[p[i]] & flag) != 0) ++i;
  return i;
}

namespace char_class {
// A class as a pshufb table (SSSE3): bit r of by_low[c & 15] is set when the
// byte (r << 4) | (c & 15) is in the class, for the ASCII rows r = 0..7. A
// byte is in the class when that bit and the bit of its own row agree; bytes
// from 0x80 have no row, and are in no class.
struct NibbleTable {
  alignas(16) uint8_t by_low[16];
};

constexpr NibbleTable MakeNibbleTable(uint32_t flag) {
  NibbleTable t{};
  for (int c = 0; c < 128; ++c) {
    if ((kTable[static_cast<size_t>(c)] & flag) != 0) t.by_low[c & 15] |= static_cast<uint8_t>(1u << (c >> 4));
  }
  return t;
}

template <uint32_t kFlag>
inline constexpr NibbleTable kNibbleTable = MakeNibbleTable(kFlag);
}  // namespace char_class

#if defined(__SSSE3__)
// Bit k is set when p[k] is NOT in the class kFlag, for the 16 bytes at p.
template <uint32_t kFlag>
[[gnu::always_inline]] inline uint32_t OutsideMask16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i nibble = _mm_set1_epi8(0x0F);
  const __m128i low = _mm_and_si128(x, nibble);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(x, 4), nibble);
  const __m128i by_low = _mm_shuffle_epi8(
      _mm_load_si128(reinterpret_cast<const __m128i*>(char_class::kNibbleTable<kFlag>.by_low)), low);
  const __m128i row = _mm_shuffle_epi8(_mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0), high);
  return static_cast<uint32_t>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(by_low, row), _mm_setzero_si128())));
}
#endif

// SpanOf for runs that are often longer than 16 characters (a Call-ID, a Via
// branch; on short runs the table loop of SpanOf is faster): with
// SSSE3, 16 characters per step while 16 remain, then the last 16 bytes of s
// once; SpanOf for what is shorter. Same result as SpanOf, for one class bit
// or a union (kFlag), and never reads outside s.
template <uint32_t kFlag>
inline size_t SpanOfLong(std::string_view s, size_t i) {
#if defined(__SSSE3__)
  const size_t n = s.size();
  if (i + 16 <= n) {
    const char* p = s.data();
    for (; i + 16 <= n; i += 16) {
      const uint32_t outside = OutsideMask16<kFlag>(p + i);
      if (outside != 0) return i + static_cast<size_t>(__builtin_ctz(outside));
    }
    if (i == n) return n;
    const size_t last = n - 16;
    const uint32_t outside = OutsideMask16<kFlag>(p + last) >> (i - last);
    return outside != 0 ? i + static_cast<size_t>(__builtin_ctz(outside)) : n;
  }
#endif
  return SpanOf(s, i, kFlag);
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
  if (i < s.size() && s.size() >= 16) {
    // The last 16 bytes of s, of which those before i were checked already.
    const size_t last = s.size() - 16;
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + last));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
                                     _mm_cmpeq_epi8(x, vc));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit)) >> (i - last);
    return mask != 0 ? i + static_cast<size_t>(__builtin_ctz(mask)) : s.size();
  }
#endif
  for (; i < s.size(); ++i) {
    if (p[i] == a || p[i] == b || p[i] == c) return i;
  }
  return s.size();
}

// s[pos, pos + n) and s[pos, end) for ranges known to lie within s: the hot
// paths' substr without its range check (and the exception path behind it).
constexpr std::string_view Slice(std::string_view s, size_t pos, size_t n) {
  return std::string_view(s.data() + pos, n);
}
constexpr std::string_view SliceFrom(std::string_view s, size_t pos) {
  return std::string_view(s.data() + pos, s.size() - pos);
}

// Removes linear white space (SP, HTAB, folding CRLF) from both ends.
constexpr std::string_view TrimLws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && IsLws(s[b])) ++b;
  while (e > b && IsLws(s[e - 1])) --e;
  return std::string_view(s.data() + b, e - b);  // in bounds: no substr check
}

constexpr std::string_view TrimLeadingLws(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && IsLws(s[b])) ++b;
  return std::string_view(s.data() + b, s.size() - b);
}

// True when every character of s is a token character and s is not empty.
inline bool IsToken(std::string_view s) {
  return !s.empty() && SpanOf(s, 0, char_class::kToken) == s.size();
}

// Parses 1*DIGIT. Values above `clamp` are clamped to it and *clamped is set;
// any length of digits is accepted (the loop stops growing the value at the
// clamp, so it never overflows). Returns false for empty or non-digit input.
constexpr bool ParseDecimal(std::string_view s, uint64_t clamp, uint64_t* value,
                            bool* clamped = nullptr) {
  if (s.empty()) return false;
  uint64_t v = 0;
  // Up to 19 digits cannot overflow 64 bits: the usual case, without a
  // clamp test per digit (v only grows, so it is above the clamp at the end
  // exactly when it went above it on the way).
  if (s.size() <= 19) {
    for (char c : s) {
      if (!IsDigit(c)) return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    const bool over = v > clamp;
    *value = over ? clamp : v;
    if (clamped != nullptr) *clamped = over;
    return true;
  }
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

// a == b, inline: for the short texts of header values a call to memcmp
// costs more than the comparison (SSE2: 16 bytes per step, the last 16
// overlapping; shorter texts 8, 4 or 1 bytes per step).
inline bool EqualBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
#if defined(__SSE2__)
  if (n >= 16) {
    const auto same16 = [p, q](size_t at) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
      const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + at));
      return _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) == 0xFFFF;
    };
    for (size_t i = 0; i + 16 < n; i += 16) {
      if (!same16(i)) return false;
    }
    return same16(n - 16);
  }
#endif
  // Two overlapping loads of a word size that fits cover the whole text.
  if (n >= 8) {
    return LoadWord<uint64_t>(p) == LoadWord<uint64_t>(q) &&
           LoadWord<uint64_t>(p + n - 8) == LoadWord<uint64_t>(q + n - 8);
  }
  if (n >= 4) {
    return LoadWord<uint32_t>(p) == LoadWord<uint32_t>(q) &&
           LoadWord<uint32_t>(p + n - 4) == LoadWord<uint32_t>(q + n - 4);
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != q[i]) return false;
  }
  return true;
}

// Offset of the first `c` in s at or after `from`, or npos.
inline size_t FindChar(std::string_view s, char c, size_t from = 0) {
  const size_t i = FindFirstOf3(s, from, c, c, c);
  return i == s.size() ? std::string_view::npos : i;
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
