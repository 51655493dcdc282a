// An IPv4 or IPv6 socket address: parsed from configuration ("127.0.0.1:5060",
// "[::1]:5060"), taken from received packets, and printed for logs and for the
// Via `received` parameter.
#ifndef LOCUS_ENGINE_ENDPOINT_H_
#define LOCUS_ENGINE_ENDPOINT_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/binding.h"

namespace locus::engine {

class Endpoint {
 public:
  Endpoint() = default;
  // Copies a sockaddr_in or sockaddr_in6; any other family gives an empty
  // endpoint (valid() false).
  static Endpoint FromSockaddr(const sockaddr* addr, socklen_t len);
  // "a.b.c.d:port" or "[v6]:port"; port 1-65535. False on anything else.
  static bool Parse(std::string_view text, Endpoint* out);

  bool valid() const { return len_ != 0; }
  bool is_v6() const { return storage_.ss_family == AF_INET6; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* mutable_addr() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t len() const { return len_; }
  void set_port(uint16_t port);

  // The address without port, as it appears in a Via `received` parameter
  // (IPv6 without brackets, RFC 5118 section 4.5). Writes at most 46 bytes
  // into `buf` and returns the view.
  std::string_view IpText(char (&buf)[64]) const;
  // "ip:port" or "[ip]:port".
  std::string ToString() const;
  store::SourceAddress ToSource() const;

  bool operator==(const Endpoint& other) const;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ENDPOINT_H_
