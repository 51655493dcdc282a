// Which Redis master serves each of the 16384 hash slots: read from a
// CLUSTER SLOTS reply, or every slot on one stand-alone Redis; corrected
// one slot at a time by the -MOVED redirections a master answers with when
// a slot has left it (Redis Cluster specification, "Redirection and
// resharding"). An -ASK redirection is for one command only and changes
// nothing here.
#ifndef LOCUS_ENGINE_CLUSTER_SLOT_MAP_H_
#define LOCUS_ENGINE_CLUSTER_SLOT_MAP_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cluster/hash_slot.h"

struct redisReply;

namespace locus::engine::cluster {

struct NodeAddress {
  std::string host;  // as Redis names it: an IPv4 or IPv6 address, or a host name
  uint16_t port = 0;

  bool operator==(const NodeAddress&) const = default;
  std::string ToString() const;  // host:port, [v6]:port
};

// "host:port" (the last ':' separates the port; "[v6]:port" too).
std::optional<NodeAddress> ParseNodeAddress(std::string_view text);

class SlotMap {
 public:
  static constexpr int kNoNode = -1;

  // No slot served.
  SlotMap() { slot_to_node_.fill(kNoNode); }

  // Every slot served by one node (a stand-alone Redis).
  static SlotMap Single(const NodeAddress& node);
  // From a CLUSTER SLOTS reply: [[start, end, [host, port, id, ...],
  // replicas...], ...]. A master named without a host (empty or "?") is
  // reached at `asked`, the node that answered. Fails on a malformed reply.
  static absl::StatusOr<SlotMap> FromClusterSlots(const redisReply& reply, const NodeAddress& asked);

  // Index into nodes() of the master serving `slot`, or kNoNode.
  int MasterOf(uint16_t slot) const { return slot_to_node_[slot % kHashSlots]; }
  const std::vector<NodeAddress>& nodes() const { return nodes_; }
  // Slots with a master.
  size_t covered() const;

  // `slot` is now served by `node` (a -MOVED); returns the node's index.
  int Assign(uint16_t slot, const NodeAddress& node);

 private:
  int IndexOf(const NodeAddress& node);

  std::vector<NodeAddress> nodes_;
  std::array<int16_t, kHashSlots> slot_to_node_;
};

// A -MOVED or -ASK error reply's text, e.g. "MOVED 3999 127.0.0.1:6381".
struct Redirection {
  enum class Kind { kMoved, kAsk };
  Kind kind;
  uint16_t slot;
  NodeAddress node;
};
std::optional<Redirection> ParseRedirection(std::string_view error);

}  // namespace locus::engine::cluster

#endif  // LOCUS_ENGINE_CLUSTER_SLOT_MAP_H_
