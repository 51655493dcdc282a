// Sends HEPv3 packets (hep.h) of one shard to a capture server over UDP: the
// shard adds a packet per message and flushes once per loop turn, one
// sendmmsg for the batch. Its own non-blocking socket, connected to the
// server; a batch is at most kMaxBatch packets (then it is flushed early).
// Packets the socket refuses (a full buffer, no route, the server's port
// closed) are counted and dropped: export never slows the shard down.
// Memory is allocated once, at Open.
#ifndef LOCUS_ENGINE_TRACE_HEP_EXPORTER_H_
#define LOCUS_ENGINE_TRACE_HEP_EXPORTER_H_

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "engine/trace/hep.h"

namespace locus::engine {

class HepExporter {
 public:
  static constexpr size_t kMaxBatch = 64;

  explicit HepExporter(ShardCounters& counters) : counters_(counters) {}
  ~HepExporter();
  HepExporter(const HepExporter&) = delete;
  HepExporter& operator=(const HepExporter&) = delete;

  // `server`: "address:port" or "hostname:port" (resolved now, once).
  absl::Status Open(std::string_view server);
  bool open() const { return fd_ >= 0; }

  void Add(const HepMessage& message);
  void Flush();

  // The address it sends to (tests).
  const Endpoint& server() const { return server_; }

 private:
  ShardCounters& counters_;
  int fd_ = -1;
  Endpoint server_;
  std::string arena_;  // the batch's packets, back to back
  std::array<size_t, kMaxBatch + 1> offsets_{};  // packet i: [offsets_[i], offsets_[i + 1])
  size_t count_ = 0;
  std::array<iovec, kMaxBatch> iov_{};
  std::array<mmsghdr, kMaxBatch> headers_{};
};

// Resolves "address:port" or "hostname:port" to one UDP endpoint.
absl::Status ResolveHostPort(std::string_view text, Endpoint* out);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRACE_HEP_EXPORTER_H_
