#include "engine/trace/hep.h"

#include <netinet/in.h>

#include <cstring>

namespace locus::engine {
namespace {

void Put16(uint16_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xFF));
}

void Put32(uint32_t v, std::string* out) {
  Put16(static_cast<uint16_t>(v >> 16), out);
  Put16(static_cast<uint16_t>(v & 0xFFFF), out);
}

void ChunkHeader(HepChunk type, size_t value_size, std::string* out) {
  Put16(0, out);  // vendor: the generic chunks
  Put16(static_cast<uint16_t>(type), out);
  Put16(static_cast<uint16_t>(6 + value_size), out);
}

void Chunk8(HepChunk type, uint8_t v, std::string* out) {
  ChunkHeader(type, 1, out);
  out->push_back(static_cast<char>(v));
}

void Chunk16(HepChunk type, uint16_t v, std::string* out) {
  ChunkHeader(type, 2, out);
  Put16(v, out);
}

void Chunk32(HepChunk type, uint32_t v, std::string* out) {
  ChunkHeader(type, 4, out);
  Put32(v, out);
}

void ChunkBytes(HepChunk type, const void* data, size_t size, std::string* out) {
  ChunkHeader(type, size, out);
  out->append(static_cast<const char*>(data), size);
}

}  // namespace

bool AppendHep3(const HepMessage& m, std::string* out) {
  if (!m.source.valid() || !m.destination.valid() || m.source.family() != m.destination.family()) {
    return false;
  }
  const bool v6 = m.source.is_v6();
  const size_t address = v6 ? 16 : 4;
  // The header; family, protocol, two ports, two times, protocol type and
  // capture id (6-byte chunk header and value each); two addresses; payload.
  constexpr size_t kFixed = 6 + 7 + 7 + 8 + 8 + 10 + 10 + 7 + 10;
  const size_t size = kFixed + 2 * (6 + address) + 6 + m.payload.size();
  if (size > kHepMaxPacket) return false;
  const size_t start = out->size();
  out->append("HEP3");
  Put16(static_cast<uint16_t>(size), out);
  Chunk8(HepChunk::kIpFamily, v6 ? AF_INET6 : AF_INET, out);
  Chunk8(HepChunk::kIpProtocol, m.transport == store::Transport::kUdp ? IPPROTO_UDP : IPPROTO_TCP, out);
  if (v6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(m.source.addr());
    const auto* d = reinterpret_cast<const sockaddr_in6*>(m.destination.addr());
    ChunkBytes(HepChunk::kIpv6Source, &s->sin6_addr, 16, out);
    ChunkBytes(HepChunk::kIpv6Destination, &d->sin6_addr, 16, out);
  } else {
    const auto* s = reinterpret_cast<const sockaddr_in*>(m.source.addr());
    const auto* d = reinterpret_cast<const sockaddr_in*>(m.destination.addr());
    ChunkBytes(HepChunk::kIpv4Source, &s->sin_addr, 4, out);
    ChunkBytes(HepChunk::kIpv4Destination, &d->sin_addr, 4, out);
  }
  Chunk16(HepChunk::kSourcePort, m.source.port(), out);
  Chunk16(HepChunk::kDestinationPort, m.destination.port(), out);
  Chunk32(HepChunk::kTimeSeconds, static_cast<uint32_t>(m.time_us / 1000000), out);
  Chunk32(HepChunk::kTimeMicroseconds, static_cast<uint32_t>(m.time_us % 1000000), out);
  Chunk8(HepChunk::kProtocolType, kHepProtocolSip, out);
  Chunk32(HepChunk::kCaptureId, m.capture_id, out);
  ChunkBytes(HepChunk::kPayload, m.payload.data(), m.payload.size(), out);
  if (out->size() - start != size) {  // the sum above is the layout
    out->resize(start);
    return false;
  }
  return true;
}

}  // namespace locus::engine
