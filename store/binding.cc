#include "store/binding.h"

#include <cstring>

namespace locus::store {

std::string_view TransportName(Transport transport) {
  switch (transport) {
    case Transport::kUdp: return "UDP";
    case Transport::kTcp: return "TCP";
    case Transport::kTls: return "TLS";
    case Transport::kSctp: return "SCTP";
    case Transport::kWs: return "WS";
    case Transport::kWss: return "WSS";
  }
  return "UDP";
}

std::string_view Binding::Field(size_t i) const {
  if (!block_) return {};
  uint16_t sizes[kFields];
  std::memcpy(sizes, block_.get(), sizeof(sizes));
  size_t offset = sizeof(sizes);
  for (size_t k = 0; k < i; ++k) offset += sizes[k];
  return {block_.get() + offset, sizes[i]};
}

void Binding::AssignText(const BindingText& text) {
  const std::string_view fields[kFields] = {text.contact, text.call_id, text.user_agent,
                                            text.instance, text.path};
  bool unchanged = block_ != nullptr;
  size_t total = sizeof(uint16_t) * kFields;
  for (size_t i = 0; i < kFields; ++i) {
    total += fields[i].size();
    if (unchanged && Field(i) != fields[i]) unchanged = false;
  }
  if (unchanged) return;
  std::unique_ptr<char[]> block(new char[total]);
  size_t offset = sizeof(uint16_t) * kFields;
  for (size_t i = 0; i < kFields; ++i) {
    const uint16_t size = static_cast<uint16_t>(fields[i].size());
    std::memcpy(block.get() + i * sizeof(uint16_t), &size, sizeof(size));
    if (size != 0) std::memcpy(block.get() + offset, fields[i].data(), size);
    offset += size;
  }
  block_ = std::move(block);
}

}  // namespace locus::store
