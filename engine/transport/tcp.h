// SIP over TCP (RFC 3261 section 18.3): the stream protocol whose bytes are
// SIP text as they arrive. Messages are framed by Content-Length
// (sip_stream_framer.h); a double-CRLF keep-alive gets a CRLF back (RFC 5626
// section 3.5.1); any framing error closes the connection, since nothing
// after it could be delimited. Responses go on the wire as they are.
#ifndef LOCUS_ENGINE_TRANSPORT_TCP_H_
#define LOCUS_ENGINE_TRANSPORT_TCP_H_

#include <cstddef>

#include "engine/transport/stream_connections.h"

namespace locus::engine {

// Frames every complete message of c.in[0, c.in_size) into `sink`; returns
// the bytes consumed. Closes `c` (through `connections`) when framing is lost.
size_t TcpConsume(StreamConnections& connections, StreamConnection& c,
                  StreamConnections::MessageSink sink);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_TCP_H_
