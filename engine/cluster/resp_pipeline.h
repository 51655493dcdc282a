// One connection's RESP stream to a Redis node, without the I/O. Commands
// are formatted by hiredis into an output buffer that the connection's
// owner sends; the bytes it receives are fed to hiredis's reply reader, and
// the replies come out in command order, each with the tag its command was
// given. Redis answers every command of a connection in order, so the tags
// need no matching.
//
// Bounded: past `max_output_bytes` unsent, or `max_in_flight` commands
// without a reply, Append refuses; the reader refuses replies that are not
// RESP (then the connection must be closed and Reset).
#ifndef LOCUS_ENGINE_CLUSTER_RESP_PIPELINE_H_
#define LOCUS_ENGINE_CLUSTER_RESP_PIPELINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

struct redisReader;
struct redisReply;

namespace locus::engine::cluster {

struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
// A reply as hiredis's reader builds it (types in hiredis/read.h).
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RespPipeline {
 public:
  static constexpr size_t kMaxArgs = 16;

  RespPipeline(size_t max_output_bytes, size_t max_in_flight);
  ~RespPipeline();
  RespPipeline(const RespPipeline&) = delete;
  RespPipeline& operator=(const RespPipeline&) = delete;

  // Queues one command (at most kMaxArgs arguments, binary-safe). False, with
  // nothing queued, when a bound would be passed.
  bool Append(std::span<const std::string_view> args, uint64_t tag);

  // Bytes not yet sent, and how many of them the socket took.
  std::string_view unsent() const { return std::string_view(output_).substr(sent_); }
  void Sent(size_t bytes);

  // Bytes received from the node. An error means the stream is not RESP:
  // the connection must be closed.
  absl::Status Feed(std::string_view bytes);

  // The next complete reply and its command's tag; false when none is
  // complete yet. A reply with no command waiting for it is a protocol
  // error (returned as a status by Feed on the next call, and here as false
  // with broken() true). With pushes accepted, a published message comes
  // with the tag kPush.
  bool NextReply(uint64_t* tag, Reply* reply);

  // A subscribed connection (RESP2 SUBSCRIBE): published messages
  // (["message", channel, payload]) arrive without a command, between the
  // replies to the commands it may still send (PING).
  static constexpr uint64_t kPush = ~uint64_t{0};
  void AcceptPushes() { accept_pushes_ = true; }

  bool broken() const { return broken_; }
  // Commands sent or queued that have no reply yet, and the oldest one's tag
  // (in_flight() > 0).
  size_t in_flight() const { return tags_count_; }
  uint64_t oldest_tag() const { return tags_[tags_head_]; }

  // The connection is gone: every command without a reply is dropped (its
  // tag given to `lost`, oldest first) and the stream starts afresh.
  template <typename LostFn>
  void Reset(LostFn lost) {
    while (tags_count_ > 0) lost(PopTag());
    ResetStream();
  }

 private:
  uint64_t PopTag();
  void ResetStream();

  const size_t max_output_bytes_;
  std::string output_;
  size_t sent_ = 0;
  // Tags of commands without a reply: a ring of max_in_flight entries.
  std::vector<uint64_t> tags_;
  size_t tags_head_ = 0;
  size_t tags_count_ = 0;
  redisReader* reader_ = nullptr;
  bool broken_ = false;
  bool accept_pushes_ = false;
};

}  // namespace locus::engine::cluster

#endif  // LOCUS_ENGINE_CLUSTER_RESP_PIPELINE_H_
