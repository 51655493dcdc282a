#include "engine/endpoint.h"

#include <arpa/inet.h>

#include <cstring>

#include "engine/text.h"

namespace locus::engine {

Endpoint Endpoint::FromSockaddr(const sockaddr* addr, socklen_t len) {
  Endpoint e;
  if (addr == nullptr) return e;
  if (addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&e.storage_, addr, sizeof(sockaddr_in));
    e.len_ = sizeof(sockaddr_in);
  } else if (addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&e.storage_, addr, sizeof(sockaddr_in6));
    e.len_ = sizeof(sockaddr_in6);
  }
  return e;
}

bool Endpoint::Parse(std::string_view text, Endpoint* out) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return false;  // IPv6 needs brackets
  }
  uint64_t port = 0;
  if (!ParseUint(port_text, &port) || port == 0 || port > 65535) return false;
  const std::string host_z(host);
  Endpoint e;
  if (text.front() == '[') {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&e.storage_);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host_z.c_str(), &sin6->sin6_addr) != 1) return false;
    e.len_ = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&e.storage_);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host_z.c_str(), &sin->sin_addr) != 1) return false;
    e.len_ = sizeof(sockaddr_in);
  }
  *out = e;
  return true;
}

uint16_t Endpoint::port() const {
  if (storage_.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (storage_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void Endpoint::set_port(uint16_t port) {
  if (storage_.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (storage_.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

std::string_view Endpoint::IpText(char (&buf)[64]) const {
  const void* ip = nullptr;
  if (storage_.ss_family == AF_INET) {
    ip = &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr;
  } else if (storage_.ss_family == AF_INET6) {
    ip = &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
  } else {
    return {};
  }
  if (inet_ntop(storage_.ss_family, ip, buf, sizeof(buf)) == nullptr) return {};
  return buf;
}

std::string Endpoint::ToString() const {
  char buf[64];
  const std::string_view ip = IpText(buf);
  std::string out;
  if (is_v6()) {
    out.append("[").append(ip).append("]");
  } else {
    out.append(ip);
  }
  out.append(":").append(std::to_string(port()));
  return out;
}

store::SourceAddress Endpoint::ToSource() const {
  store::SourceAddress source;
  if (storage_.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage_);
    std::memcpy(source.ip.data(), &sin->sin_addr, 4);
    source.family = 4;
  } else if (storage_.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    std::memcpy(source.ip.data(), &sin6->sin6_addr, 16);
    source.family = 6;
  }
  source.port = port();
  return source;
}

bool Endpoint::operator==(const Endpoint& other) const {
  return len_ == other.len_ && std::memcmp(&storage_, &other.storage_, len_) == 0;
}

}  // namespace locus::engine
