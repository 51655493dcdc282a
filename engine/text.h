// Small string helpers over std::string_view. (Debian's abseil has its own
// absl::string_view type, which does not mix with std::string_view, so
// absl::StrCat and friends are not used on the engine's views.)
#ifndef LOCUS_ENGINE_TEXT_H_
#define LOCUS_ENGINE_TEXT_H_

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace locus::engine {

namespace text_internal {
inline void AppendPart(std::string& out, std::string_view part) { out.append(part); }
inline void AppendPart(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void AppendPart(std::string& out, T value) {
  out.append(std::to_string(value));
}
}  // namespace text_internal

// Concatenates strings, characters and integers.
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  (text_internal::AppendPart(out, parts), ...);
  return out;
}

// Appends `value` in decimal, without allocating.
inline void AppendUint(uint64_t value, std::string* out) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  out->append(digits, static_cast<size_t>(end - digits));
}

template <typename Strings>
std::string Join(const Strings& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out.append(separator);
    out.append(item);
  }
  return out;
}

// Comma-separated items, each trimmed of spaces; empty items skipped.
std::vector<std::string_view> SplitList(std::string_view list);

// A decimal number without sign or spaces that fits in uint64_t.
bool ParseUint(std::string_view text, uint64_t* out);

// 1 to 8 hex digits, any case.
bool ParseHex32(std::string_view text, uint32_t* out);

std::string ToLowerAscii(std::string_view text);

// Escapes a string for a JSON string literal (without the quotes).
std::string JsonEscape(std::string_view text);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TEXT_H_
