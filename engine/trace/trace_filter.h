// What one trace subscriber (`locusctl trace --aor AOR --source IP`) wants:
// the messages of one address-of-record (canonical form, as REGISTER's To
// is canonicalized) and/or the messages from and to one IP address. An empty
// field matches everything. A shard holds the set of every subscriber's
// filter and copies a message out when any one matches; the admin thread
// matches again per subscriber.
#ifndef LOCUS_ENGINE_TRACE_TRACE_FILTER_H_
#define LOCUS_ENGINE_TRACE_TRACE_FILTER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace locus::engine {

struct TraceFilter {
  std::string aor;  // canonical AOR; empty: any
  std::string ip;   // as inet_ntop writes it (IPv6 without brackets); empty: any

  // From an operator's text: any sip/sips URI for the AOR, an IPv4 or IPv6
  // address (brackets allowed). InvalidArgument names what is wrong.
  static absl::StatusOr<TraceFilter> Make(std::string_view aor, std::string_view ip);

  bool needs_aor() const { return !aor.empty(); }
  // `message_aor`: the canonical AOR of the message's To (empty when it has
  // none); `peer_ip`: the other end's address, as inet_ntop writes it.
  bool Matches(std::string_view message_aor, std::string_view peer_ip) const {
    return (aor.empty() || aor == message_aor) && (ip.empty() || ip == peer_ip);
  }
};

// The set as the admin thread sends it to the shards: one "aor\tip\n" line
// per filter. Parse fails on anything else.
std::string SerializeFilters(const std::vector<TraceFilter>& filters);
bool ParseFilters(std::string_view text, std::vector<TraceFilter>* filters);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRACE_TRACE_FILTER_H_
