// One binding of an address-of-record to a contact address (RFC 3261 section
// 10), stored compactly: the fixed-size fields inline, and every variable-length
// string (contact URI, Call-ID, User-Agent, +sip.instance, Path) in a single heap
// block, so a binding costs one allocation beyond its record.
#ifndef LOCUS_STORE_BINDING_H_
#define LOCUS_STORE_BINDING_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

namespace locus::store {

enum class Transport : uint8_t { kUdp, kTcp, kTls, kSctp, kWs, kWss };

std::string_view TransportName(Transport transport);  // "UDP", "TCP", ...

// Where a REGISTER came from: IPv4 (family 4, first four bytes) or IPv6.
struct SourceAddress {
  std::array<uint8_t, 16> ip{};
  uint16_t port = 0;
  uint8_t family = 0;  // 4 or 6; 0 when unknown
  bool operator==(const SourceAddress&) const = default;
};

// The strings of a binding, as views (input to Binding::Assign).
struct BindingText {
  std::string_view contact;     // the Contact URI as received
  std::string_view call_id;
  std::string_view user_agent;  // may be empty
  std::string_view instance;    // +sip.instance without quotes, may be empty
  std::string_view path;        // the Path header values joined by ", ", may be empty
};

class Binding {
 public:
  static constexpr size_t kMaxFieldSize = 0xFFFF;  // each string is at most 64 KiB - 1

  Binding() = default;
  Binding(Binding&&) noexcept = default;
  Binding& operator=(Binding&&) noexcept = default;

  // Replaces the strings. Reuses the current block when the contents are
  // unchanged (a refresh from the same phone allocates nothing). Strings longer
  // than kMaxFieldSize must be rejected by the caller.
  void AssignText(const BindingText& text);

  std::string_view contact() const { return Field(0); }
  std::string_view call_id() const { return Field(1); }
  std::string_view user_agent() const { return Field(2); }
  std::string_view instance() const { return Field(3); }
  std::string_view path() const { return Field(4); }
  BindingText text() const { return {contact(), call_id(), user_agent(), instance(), path()}; }
  // Starts loading the strings' block, for walks over many bindings.
  void Prefetch() const { __builtin_prefetch(block_.get()); }

  uint32_t cseq = 0;
  uint32_t expires_at = 0;     // absolute, seconds since the Unix epoch
  uint32_t registered_at = 0;  // when this binding was created
  uint32_t refreshed_at = 0;   // last time a REGISTER updated it
  uint32_t reg_id = 0;         // RFC 5626 reg-id, 0 when absent
  uint16_t q = 1000;           // thousandths; 1000 when the Contact had no q
  bool has_q = false;
  Transport transport = Transport::kUdp;
  SourceAddress source;

 private:
  static constexpr size_t kFields = 5;
  std::string_view Field(size_t i) const;

  // Block layout: kFields uint16 sizes, then the strings back to back.
  std::unique_ptr<char[]> block_;
};

// Bytes a Binding occupies inline (its block comes on top).
static_assert(sizeof(Binding) <= 56, "keep Binding compact: it is stored per contact");

}  // namespace locus::store

#endif  // LOCUS_STORE_BINDING_H_
