#include "engine/trace/message_tap.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "engine/trace/message_aor.h"

namespace locus::engine {
namespace {

uint64_t WallMicros() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

}  // namespace

MessageTap::MessageTap(const Config& config, int shard, ShardCounters& counters)
    : config_(config), shard_(shard), counters_(counters), hep_(counters) {}

void MessageTap::Connect(const TraceSwitch* trace_switch, SpscRing* records, int notify_fd) {
  switch_ = trace_switch;
  records_ = records;
  notify_fd_ = notify_fd;
}

absl::Status MessageTap::Open() {
  if (config_.hep.empty()) return absl::OkStatus();
  return hep_.Open(config_.hep);
}

void MessageTap::SetFilters(std::string_view text) {
  if (!ParseFilters(text, &filters_)) filters_.clear();
}

Endpoint MessageTap::Local(store::Transport transport, size_t udp_socket, const Endpoint& peer) const {
  if (transport == store::Transport::kUdp) {
    return udp_socket < config_.udp.size() ? config_.udp[udp_socket] : Endpoint();
  }
  const std::vector<Endpoint>& listeners = transport == store::Transport::kTls ? config_.tls
                                           : transport == store::Transport::kWs  ? config_.ws
                                           : transport == store::Transport::kWss ? config_.wss
                                                                                 : config_.tcp;
  for (const Endpoint& e : listeners) {
    if (e.family() == peer.family()) return e;
  }
  return Endpoint();
}

void MessageTap::Copy(TraceRecord::Direction direction, store::Transport transport, size_t udp_socket,
                      const Endpoint& peer, std::string_view bytes) {
  const uint64_t now_us = WallMicros();
  const Endpoint local = Local(transport, udp_socket, peer);
  if (hep_.open()) {
    HepMessage m;
    m.source = direction == TraceRecord::kReceived ? peer : local;
    m.destination = direction == TraceRecord::kReceived ? local : peer;
    m.transport = transport;
    m.time_us = now_us;
    m.capture_id = config_.hep_capture_id;
    m.payload = bytes;
    hep_.Add(m);
  }
  if (records_ != nullptr && !filters_.empty() && switch_->tracing()) {
    Trace(direction, transport, local, peer, bytes, now_us);
  }
}

void MessageTap::Trace(TraceRecord::Direction direction, store::Transport transport, const Endpoint& local,
                       const Endpoint& peer, std::string_view bytes, uint64_t now_us) {
  std::string_view aor;
  if (MessageAor(bytes, &message_, &aor_)) aor = aor_.view();
  char ip[64];
  const std::string_view peer_ip = peer.IpText(ip);
  bool wanted = false;
  for (const TraceFilter& f : filters_) wanted |= f.Matches(aor, peer_ip);
  if (!wanted) return;
  if (!TakeToken(now_us)) {
    ++dropped_;
    counters_.trace_dropped.Add();
    return;
  }
  local_text_ = local.valid() ? local.ToString() : "";
  peer_text_ = peer.ToString();
  TraceRecord record;
  record.time_us = now_us;
  record.dropped_before = dropped_;
  record.shard = static_cast<uint16_t>(shard_);
  record.direction = direction;
  record.transport = transport;
  record.local = local_text_;
  record.peer = peer_text_;
  record.aor = aor;
  record.message = bytes;
  EncodeTraceRecord(record, &header_, &payload_);
  if (!records_->TryPush(header_, payload_)) {  // the admin thread is behind
    ++dropped_;
    counters_.trace_dropped.Add();
    return;
  }
  dropped_ = 0;
  pushed_ = true;
}

bool MessageTap::TakeToken(uint64_t now_us) {
  constexpr uint64_t kCost = 1000000;
  constexpr uint64_t kBurst = uint64_t{kTraceRatePerSecond} * kCost;
  if (now_us > tokens_at_us_) {
    const uint64_t elapsed = now_us - tokens_at_us_;
    tokens_ = elapsed >= 1000000 ? kBurst : std::min(kBurst, tokens_ + elapsed * kTraceRatePerSecond);
    tokens_at_us_ = now_us;
  }
  if (tokens_ < kCost) return false;
  tokens_ -= kCost;
  return true;
}

void MessageTap::EndTurn() {
  if (hep_.open()) hep_.Flush();
  if (pushed_) {
    pushed_ = false;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(notify_fd_, &one, sizeof(one));
  }
}

}  // namespace locus::engine
