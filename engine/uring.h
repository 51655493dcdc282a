// The tags a shard puts on its io_uring operations, and getting a submission
// entry. One ring per shard serves every room that does I/O (transports,
// the journal, wake-ups): each operation's user_data says which one
// submitted it and about what, so the shard's completion dispatch is one
// switch (engine/shard.cc).
//
// user_data layout: [ op : 8 | index : 24 | generation : 32 ]. `index` names
// a socket, a slot or a connection; `generation` tells a reused slot's new
// life from its old one (stream connections), or carries a small code of the
// submitter's own (the journal's operation).
#ifndef LOCUS_ENGINE_URING_H_
#define LOCUS_ENGINE_URING_H_

#include <liburing.h>

#include <cstddef>
#include <cstdint>

namespace locus::engine {

enum class IoOp : uint8_t {
  kUdpMultishot = 1,  // index: UDP socket
  kUdpPlain,          // index: receive slot
  kUdpSend,           // index: send slot
  kAccept,            // index: listener
  kStreamReceive,     // index: connection slot; generation: the slot's
  kStreamSend,        // index: connection slot; generation: the slot's
  kWake,              // a peer shard's MSG_RING, or our eventfd read
  kAdminWake,         // the admin thread's eventfd
  kJournal,           // generation: a Journal::Op
  kRedisConnect,      // index: Redis link slot; generation: the slot's
  kRedisReceive,      // index: Redis link slot; generation: the slot's
  kRedisSend,         // index: Redis link slot; generation: the slot's
  kIgnore,            // completions nobody needs (MSG_RING sent, cancels)
};

constexpr uint64_t IoTag(IoOp op, uint64_t index, uint32_t generation = 0) {
  return (static_cast<uint64_t>(op) << 56) | ((index & 0xFFFFFF) << 32) | generation;
}
constexpr IoOp IoOpOf(uint64_t tag) { return static_cast<IoOp>(tag >> 56); }
constexpr size_t IoIndexOf(uint64_t tag) { return (tag >> 32) & 0xFFFFFF; }
constexpr uint32_t IoGenerationOf(uint64_t tag) { return static_cast<uint32_t>(tag); }

// A free submission entry, submitting what is queued when the ring is full.
inline io_uring_sqe* GetSqe(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  while (sqe == nullptr) {
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  return sqe;
}

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_URING_H_
