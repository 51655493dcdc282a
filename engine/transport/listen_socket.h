// The sockets a shard listens on. Every shard binds the same addresses with
// SO_REUSEPORT, so the kernel spreads datagrams and connections over them
// (ARCHITECTURE section 3); a probe without SO_REUSEPORT first makes sure no
// other process holds an address, since SO_REUSEPORT would otherwise let two
// daemons split the traffic silently.
#ifndef LOCUS_ENGINE_TRANSPORT_LISTEN_SOCKET_H_
#define LOCUS_ENGINE_TRANSPORT_LISTEN_SOCKET_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/endpoint.h"

namespace locus::engine {

// A non-blocking socket of `type` (SOCK_DGRAM or SOCK_STREAM) bound to `at`
// with SO_REUSEPORT, listening when it is a stream socket. UDP sockets get a
// receive buffer of `udp_receive_buffer` bytes (SO_RCVBUFFORCE when allowed,
// else SO_RCVBUF up to net.core.rmem_max), stream sockets TCP_NODELAY.
absl::StatusOr<int> OpenListenSocket(const Endpoint& at, int type, int udp_receive_buffer = 0);

// UnavailableError when another process holds `at` for `type`.
absl::Status CheckAddressFree(const Endpoint& at, int type);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_LISTEN_SOCKET_H_
