#include "engine/transport/listen_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/text.h"

namespace locus::engine {
namespace {

absl::Status Errno(std::string_view what) {
  return absl::InternalError(Cat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<int> OpenListenSocket(const Endpoint& at, int type, int udp_receive_buffer) {
  const int fd = socket(at.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    close(fd);
    return Errno("SO_REUSEPORT");
  }
  if (at.is_v6()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (type == SOCK_DGRAM) {
    // Bursts of REGISTERs must not overflow the receive queue: overflows
    // turn into retransmission storms.
    const int size = udp_receive_buffer;
    if (size > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
  } else {
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (bind(fd, at.addr(), at.len()) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return Errno(Cat("bind ", at.ToString()));
  }
  if (type == SOCK_STREAM && listen(fd, 1024) != 0) {
    close(fd);
    return Errno("listen");
  }
  return fd;
}

absl::Status CheckAddressFree(const Endpoint& at, int type) {
  const int fd = socket(at.family(), type | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(Cat("socket: ", std::strerror(errno)));
  const int one = 1;
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (at.is_v6()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  const int result = bind(fd, at.addr(), at.len());
  const int error = errno;
  close(fd);
  if (result != 0) {
    return absl::UnavailableError(Cat(type == SOCK_DGRAM ? "udp " : "tcp ", at.ToString(), ": ",
                                      std::strerror(error)));
  }
  return absl::OkStatus();
}

}  // namespace locus::engine
