// Where a message came from on a shard, and so where its answer goes back:
// the UDP socket it came in by, or the stream connection (on the shard that
// received it), and whether another shard handed it off.
#ifndef LOCUS_ENGINE_MESSAGE_ORIGIN_H_
#define LOCUS_ENGINE_MESSAGE_ORIGIN_H_

#include <cstddef>
#include <cstdint>

namespace locus::engine {

struct MessageOrigin {
  size_t udp_socket = 0;  // UDP: the socket it came in by
  uint64_t conn_id = 0;   // streams: the connection, on from_shard
  int from_shard = 0;     // the shard that received it
  bool handed_off = false;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_MESSAGE_ORIGIN_H_
