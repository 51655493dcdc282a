// A copy of one SIP message for the trace subscribers, as a shard hands it
// to the admin thread over its trace ring (an SpscRing): a fixed header,
// then the local and peer addresses ("ip:port"), the message's canonical
// AOR (may be empty) and the message bytes.
#ifndef LOCUS_ENGINE_TRACE_TRACE_RECORD_H_
#define LOCUS_ENGINE_TRACE_TRACE_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "store/binding.h"

namespace locus::engine {

struct TraceRecord {
  enum Direction : uint8_t { kReceived, kSent };
  uint64_t time_us = 0;          // wall clock
  uint32_t dropped_before = 0;   // copies this shard dropped since its last record
  uint16_t shard = 0;
  Direction direction = kReceived;
  store::Transport transport = store::Transport::kUdp;
  std::string_view local;  // "ip:port"
  std::string_view peer;
  std::string_view aor;    // canonical; empty when the message has none
  std::string_view message;
};

// The record's fixed part, as pushed (header bytes) before `payload`
// (local, peer, aor and message back to back).
void EncodeTraceRecord(const TraceRecord& record, std::string* header, std::string* payload);
// Views into `bytes` (a record as popped); false when it is not one.
bool DecodeTraceRecord(std::string_view bytes, TraceRecord* record);

// One JSON object (no newline): {"time":"...Z","shard":0,"direction":"in",
// "transport":"UDP","local":..,"peer":..,"aor":..,"message":..}.
std::string TraceRecordJson(const TraceRecord& record);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRACE_TRACE_RECORD_H_
