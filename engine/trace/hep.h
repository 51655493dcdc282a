// HEPv3 (the Homer Encapsulation Protocol, version 3, as Homer, heplify and
// Kamailio's siptrace speak it): one SIP message with where it went and when,
// as one UDP payload for a capture server. The packet is "HEP3", its total
// length (u16), then chunks of vendor 0 (u16 vendor, u16 type, u16 length
// including these 6 bytes, value), every number in network byte order:
// IP family, IP protocol (17 UDP, 6 TCP), source and destination address
// (IPv4 or IPv6) and port, time (seconds and microseconds), protocol type
// (1: SIP), capture agent id, the message itself. Encoding only: no I/O.
#ifndef LOCUS_ENGINE_TRACE_HEP_H_
#define LOCUS_ENGINE_TRACE_HEP_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/endpoint.h"
#include "store/binding.h"

namespace locus::engine {

enum class HepChunk : uint16_t {
  kIpFamily = 0x0001,
  kIpProtocol = 0x0002,
  kIpv4Source = 0x0003,
  kIpv4Destination = 0x0004,
  kIpv6Source = 0x0005,
  kIpv6Destination = 0x0006,
  kSourcePort = 0x0007,
  kDestinationPort = 0x0008,
  kTimeSeconds = 0x0009,
  kTimeMicroseconds = 0x000a,
  kProtocolType = 0x000b,
  kCaptureId = 0x000c,
  kPayload = 0x000f,
};

inline constexpr uint8_t kHepProtocolSip = 1;
inline constexpr size_t kHepMaxPacket = 65535;

struct HepMessage {
  Endpoint source;       // same family as destination
  Endpoint destination;
  store::Transport transport = store::Transport::kUdp;
  uint64_t time_us = 0;  // wall clock, microseconds since the Unix epoch
  uint32_t capture_id = 0;
  std::string_view payload;
};

// Appends the packet to *out. False (nothing appended) when the addresses
// are missing or of different families, or the packet would pass 65,535
// bytes.
bool AppendHep3(const HepMessage& message, std::string* out);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRACE_HEP_H_
