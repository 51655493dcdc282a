#include "engine/cluster/slot_map.h"

#include <hiredis/hiredis.h>

#include <charconv>

#include "engine/text.h"

namespace locus::engine::cluster {
namespace {

std::string_view StringOf(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_STRING && reply.type != REDIS_REPLY_STATUS) return {};
  return std::string_view(reply.str, reply.len);
}

bool ParsePort(std::string_view text, uint16_t* port) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return false;
  }
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

std::string NodeAddress::ToString() const {
  if (host.find(':') != std::string::npos) return Cat("[", host, "]:", port);
  return Cat(host, ":", port);
}

std::optional<NodeAddress> ParseNodeAddress(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  NodeAddress node;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || !ParsePort(text.substr(colon + 1), &node.port)) return std::nullopt;
  node.host = std::string(host);
  return node;
}

SlotMap SlotMap::Single(const NodeAddress& node) {
  SlotMap map;
  map.nodes_.push_back(node);
  map.slot_to_node_.fill(0);
  return map;
}

absl::StatusOr<SlotMap> SlotMap::FromClusterSlots(const redisReply& reply, const NodeAddress& asked) {
  if (reply.type != REDIS_REPLY_ARRAY) return absl::InvalidArgumentError("CLUSTER SLOTS: not an array");
  SlotMap map;
  for (size_t i = 0; i < reply.elements; ++i) {
    const redisReply& range = *reply.element[i];
    if (range.type != REDIS_REPLY_ARRAY || range.elements < 3 ||
        range.element[0]->type != REDIS_REPLY_INTEGER || range.element[1]->type != REDIS_REPLY_INTEGER) {
      return absl::InvalidArgumentError("CLUSTER SLOTS: malformed slot range");
    }
    const long long first = range.element[0]->integer;
    const long long last = range.element[1]->integer;
    if (first < 0 || last < first || last >= kHashSlots) {
      return absl::InvalidArgumentError("CLUSTER SLOTS: slot range out of bounds");
    }
    const redisReply& master = *range.element[2];
    if (master.type != REDIS_REPLY_ARRAY || master.elements < 2 ||
        master.element[1]->type != REDIS_REPLY_INTEGER) {
      return absl::InvalidArgumentError("CLUSTER SLOTS: malformed master");
    }
    NodeAddress node;
    const std::string_view host = StringOf(*master.element[0]);
    node.host = (host.empty() || host == "?") ? asked.host : std::string(host);
    const long long port = master.element[1]->integer;
    if (port <= 0 || port > 65535) return absl::InvalidArgumentError("CLUSTER SLOTS: bad port");
    node.port = static_cast<uint16_t>(port);
    const int index = map.IndexOf(node);
    for (long long slot = first; slot <= last; ++slot) map.slot_to_node_[slot] = static_cast<int16_t>(index);
  }
  return map;
}

size_t SlotMap::covered() const {
  size_t count = 0;
  for (int16_t node : slot_to_node_) count += node != kNoNode;
  return count;
}

int SlotMap::Assign(uint16_t slot, const NodeAddress& node) {
  const int index = IndexOf(node);
  slot_to_node_[slot % kHashSlots] = static_cast<int16_t>(index);
  return index;
}

int SlotMap::IndexOf(const NodeAddress& node) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i] == node) return static_cast<int>(i);
  }
  // Every node serves a slot when it is named, so there are never more.
  if (nodes_.size() >= kHashSlots) return kNoNode;
  nodes_.push_back(node);
  return static_cast<int>(nodes_.size() - 1);
}

std::optional<Redirection> ParseRedirection(std::string_view error) {
  Redirection redirection;
  if (error.starts_with("MOVED ")) {
    redirection.kind = Redirection::Kind::kMoved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    redirection.kind = Redirection::Kind::kAsk;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const size_t space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  unsigned slot = 0;
  const std::string_view slot_text = error.substr(0, space);
  const auto [end, parse_error] = std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot);
  if (parse_error != std::errc() || end != slot_text.data() + slot_text.size() || slot >= kHashSlots) {
    return std::nullopt;
  }
  redirection.slot = static_cast<uint16_t>(slot);
  std::optional<NodeAddress> node = ParseNodeAddress(error.substr(space + 1));
  if (!node) return std::nullopt;
  redirection.node = std::move(*node);
  return redirection;
}

}  // namespace locus::engine::cluster
