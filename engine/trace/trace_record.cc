#include "engine/trace/trace_record.h"

#include <time.h>

#include <cstdio>
#include <cstring>

#include "engine/text.h"

namespace locus::engine {
namespace {

struct Fixed {
  uint64_t time_us;
  uint32_t dropped_before;
  uint16_t shard;
  uint8_t direction;
  uint8_t transport;
  uint16_t local_size;
  uint16_t peer_size;
  uint16_t aor_size;
  uint16_t reserved;
  uint32_t message_size;
};

std::string Quoted(std::string_view text) { return Cat("\"", JsonEscape(text), "\""); }

}  // namespace

void EncodeTraceRecord(const TraceRecord& r, std::string* header, std::string* payload) {
  Fixed fixed{r.time_us, r.dropped_before, r.shard, r.direction, static_cast<uint8_t>(r.transport),
              static_cast<uint16_t>(r.local.size()), static_cast<uint16_t>(r.peer.size()),
              static_cast<uint16_t>(r.aor.size()), 0, static_cast<uint32_t>(r.message.size())};
  header->assign(reinterpret_cast<const char*>(&fixed), sizeof(fixed));
  payload->clear();
  payload->append(r.local);
  payload->append(r.peer);
  payload->append(r.aor);
  payload->append(r.message);
}

bool DecodeTraceRecord(std::string_view bytes, TraceRecord* r) {
  Fixed fixed;
  if (bytes.size() < sizeof(fixed)) return false;
  std::memcpy(&fixed, bytes.data(), sizeof(fixed));
  bytes.remove_prefix(sizeof(fixed));
  const size_t total = size_t{fixed.local_size} + fixed.peer_size + fixed.aor_size + fixed.message_size;
  if (bytes.size() != total || fixed.direction > TraceRecord::kSent) return false;
  r->time_us = fixed.time_us;
  r->dropped_before = fixed.dropped_before;
  r->shard = fixed.shard;
  r->direction = static_cast<TraceRecord::Direction>(fixed.direction);
  r->transport = static_cast<store::Transport>(fixed.transport);
  r->local = bytes.substr(0, fixed.local_size);
  r->peer = bytes.substr(fixed.local_size, fixed.peer_size);
  r->aor = bytes.substr(size_t{fixed.local_size} + fixed.peer_size, fixed.aor_size);
  r->message = bytes.substr(size_t{fixed.local_size} + fixed.peer_size + fixed.aor_size);
  return true;
}

std::string TraceRecordJson(const TraceRecord& r) {
  const time_t seconds = static_cast<time_t>(r.time_us / 1000000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char when[96];  // room for any int the format could print
  std::snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<unsigned>(r.time_us % 1000000));
  return Cat("{\"time\":\"", std::string_view(when), "\",\"shard\":", r.shard, ",\"direction\":\"",
             r.direction == TraceRecord::kReceived ? "in" : "out", "\",\"transport\":",
             Quoted(store::TransportName(r.transport)), ",\"local\":", Quoted(r.local),
             ",\"peer\":", Quoted(r.peer), ",\"aor\":", Quoted(r.aor),
             ",\"message\":", Quoted(r.message), "}");
}

}  // namespace locus::engine
