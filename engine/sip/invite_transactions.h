// INVITE server transactions of the redirect server (RFC 3261 section
// 17.2.1), from the final response on: the redirect server answers an INVITE
// at once (302, or 480/404), so a transaction starts in the Completed state.
//
//  - Completed: a retransmitted INVITE gets the same response again, byte
//    for byte. Over UDP the response is also sent again by Timer G (T1, then
//    doubling, capped at T2) until the ACK arrives; Timer H (64*T1) ends the
//    wait for it. Reliable transports have no Timer G.
//  - The ACK (same branch, section 17.2.3) ends the transaction. Section
//    17.2.1 keeps a Confirmed state for T4 (Timer I) only to absorb ACK
//    retransmissions; an ACK that matches nothing is absorbed all the same
//    (an ACK is never answered), so the state would cost T4 x rate entries
//    for no difference on the wire, and is not kept.
//  - A CANCEL matching a transaction gets 200 (section 9.2); the final
//    response was already sent and stands.
//
// Memory is bounded by entry count and bytes (keys and responses): at either
// bound a new transaction is not kept (counted in refused()): its INVITE is
// answered all the same, but without Timer G, and a retransmission of it is
// answered afresh. Nothing allocates once the pool has grown.
#ifndef LOCUS_ENGINE_SIP_INVITE_TRANSACTIONS_H_
#define LOCUS_ENGINE_SIP_INVITE_TRANSACTIONS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "engine/endpoint.h"
#include "store/timer_wheel.h"

namespace locus::engine {

inline constexpr uint64_t kT1Ms = 500;   // section 17.1.1.1, table 4
inline constexpr uint64_t kT2Ms = 4000;
inline constexpr uint64_t kTimerHMs = 64 * kT1Ms;

class InviteTransactions {
 public:
  // Where a response goes again (UDP only: streams never retransmit).
  struct Where {
    Endpoint destination;
    uint16_t udp_socket = 0;
  };

  InviteTransactions(size_t max_entries, size_t max_bytes, uint64_t now_ms);
  ~InviteTransactions();
  InviteTransactions(const InviteTransactions&) = delete;
  InviteTransactions& operator=(const InviteTransactions&) = delete;

  // The final response sent for a new INVITE: a Completed transaction.
  // `reliable`: it came over a stream (no Timer G, Timer I of 0). False when
  // the bounds refuse it.
  bool Insert(std::string_view key, std::string_view response, bool reliable, const Where& where,
              uint64_t now_ms);

  // True when transaction `key` exists; *response is the response to send
  // again (valid until the next Insert, Acknowledge or Advance).
  bool Find(std::string_view key, std::string_view* response) const;

  // An ACK for `key` ends its transaction (true); false when none matched.
  bool Acknowledge(std::string_view key);

  // Fires the timers due at `now_ms`: each Timer G calls resend(where,
  // response); Timer H ends its transaction.
  void Advance(uint64_t now_ms,
               absl::FunctionRef<void(const Where& where, std::string_view response)> resend);
  // An upper bound on when Advance has something to do (none: empty).
  std::optional<uint64_t> NextDue() const { return wheel_.NextExpiryBound(); }

  size_t size() const { return index_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t refused() const { return refused_; }

 private:
  struct Entry;
  void Remove(Entry* entry);

  const size_t max_entries_;
  const size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t refused_ = 0;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<Entry*> free_;
  absl::flat_hash_map<std::string_view, Entry*> index_;  // key (in its entry) -> entry
  store::TimerWheel wheel_;  // milliseconds
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_SIP_INVITE_TRANSACTIONS_H_
