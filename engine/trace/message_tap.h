// What one shard copies out of its SIP traffic (docs/operations.md): every
// message to the HEP capture server when --hep is set (hep_exporter.h), and
// the messages a trace subscriber's filter matches to the admin thread, at
// most kTraceRatePerSecond a second (trace_record.h; the rest are counted as
// trace_dropped and announced to the subscribers).
//
// The shard calls OnReceived where it processes a message it received and
// OnSent where it delivers an answer, each behind on(): with nobody tracing
// and HEP off that is one relaxed atomic load per message. EndTurn, once per
// loop turn, sends the turn's HEP packets and wakes the admin thread for
// new trace records. Everything here runs on the shard's thread, except
// Connect and Open (before the shard runs); no io_uring.
#ifndef LOCUS_ENGINE_TRACE_MESSAGE_TAP_H_
#define LOCUS_ENGINE_TRACE_MESSAGE_TAP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/config.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "engine/spsc_ring.h"
#include "engine/trace/hep_exporter.h"
#include "engine/trace/trace_filter.h"
#include "engine/trace/trace_record.h"
#include "engine/trace/trace_switch.h"
#include "parser/aor.h"
#include "parser/message.h"

namespace locus::engine {

class MessageTap {
 public:
  static constexpr uint32_t kTraceRatePerSecond = 200;  // per shard, in bursts of as many

  MessageTap(const Config& config, int shard, ShardCounters& counters);

  // The process's switch, the ring to the admin thread and the admin
  // thread's eventfd; before the shard runs.
  void Connect(const TraceSwitch* trace_switch, SpscRing* records, int notify_fd);
  // Opens the HEP socket when config.hep is set.
  absl::Status Open();

  bool on() const { return switch_ != nullptr && switch_->on(); }
  // `udp_socket`: the index of the UDP socket (config.udp) the message came
  // in or leaves by; `peer`: the other end.
  void OnReceived(store::Transport transport, size_t udp_socket, const Endpoint& peer,
                  std::string_view bytes) {
    Copy(TraceRecord::kReceived, transport, udp_socket, peer, bytes);
  }
  void OnSent(store::Transport transport, size_t udp_socket, const Endpoint& peer, std::string_view bytes) {
    Copy(TraceRecord::kSent, transport, udp_socket, peer, bytes);
  }
  // Every subscriber's filter (SerializeFilters), from the admin thread.
  void SetFilters(std::string_view text);
  void EndTurn();

 private:
  void Copy(TraceRecord::Direction direction, store::Transport transport, size_t udp_socket,
            const Endpoint& peer, std::string_view bytes);
  void Trace(TraceRecord::Direction direction, store::Transport transport, const Endpoint& local,
             const Endpoint& peer, std::string_view bytes, uint64_t now_us);
  // The local address a message used: the UDP socket's, or the first listen
  // address of its stream transport in the peer's family.
  Endpoint Local(store::Transport transport, size_t udp_socket, const Endpoint& peer) const;
  bool TakeToken(uint64_t now_us);

  const Config& config_;
  const int shard_;
  ShardCounters& counters_;
  const TraceSwitch* switch_ = nullptr;
  SpscRing* records_ = nullptr;
  int notify_fd_ = -1;
  HepExporter hep_;
  std::vector<TraceFilter> filters_;
  // Rate bound: tokens in millionths, kTraceRatePerSecond a second.
  uint64_t tokens_ = uint64_t{kTraceRatePerSecond} * 1000000;
  uint64_t tokens_at_us_ = 0;
  uint32_t dropped_ = 0;  // since the last record pushed
  bool pushed_ = false;   // records pushed this turn
  // Scratch, kept between messages.
  sip::Message message_;
  sip::CanonicalAor aor_;
  std::string header_, payload_, local_text_, peer_text_;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRACE_MESSAGE_TAP_H_
