// SIP text on a byte stream (RFC 3261 section 18.3): what TCP carries, and
// TLS once decrypted. Messages are framed by Content-Length
// (sip_stream_framer.h); a double-CRLF keep-alive gets a CRLF back (RFC 5626
// section 3.5.1); any framing error closes the connection, since nothing
// after it could be delimited.
#ifndef LOCUS_ENGINE_TRANSPORT_TCP_H_
#define LOCUS_ENGINE_TRANSPORT_TCP_H_

#include <cstddef>
#include <string_view>

#include "engine/transport/stream_connections.h"

namespace locus::engine {

// Frames every complete message of `data` (the connection's SIP text from
// where the last call stopped) into `sink`; returns the bytes consumed.
// Closes `c` (through `connections`) when framing is lost.
size_t ConsumeSipStream(StreamConnections& connections, StreamConnection& c,
                        std::string_view data, StreamConnections::MessageSink sink);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_TCP_H_
