// SIP messages out of a byte stream (RFC 3261 section 18.3): on a stream
// the Content-Length header delimits each message, and bare CRLFs between
// messages are keep-alives (RFC 5626 section 3.5.1: a double CRLF "ping" is
// answered with a single CRLF "pong"). Pure: no I/O, no allocation; shared
// by every stream transport that carries SIP text (TCP, and TLS once
// decrypted).
#ifndef LOCUS_ENGINE_TRANSPORT_SIP_STREAM_FRAMER_H_
#define LOCUS_ENGINE_TRANSPORT_SIP_STREAM_FRAMER_H_

#include <cstddef>
#include <string_view>

#include "parser/message.h"

namespace locus::engine {

struct StreamFrame {
  enum class Kind : uint8_t {
    kMessage,   // one whole message, `size` bytes, parsed into *message
    kPing,      // `size` bytes of CRLFs, at least two pairs: answer "\r\n"
    kBlank,     // `size` bytes of a single CRLF: skip them
    kNeedMore,  // the next message is not complete yet
    kBroken,    // framing is lost (`error`): nothing after this can be delimited
  };
  Kind kind = Kind::kNeedMore;
  size_t size = 0;
  sip::ParseError error;
};

// The first frame of `data`, which starts where the previous frame ended.
// `max_message_size` bounds a message (start line to end of body).
StreamFrame NextStreamFrame(std::string_view data, size_t max_message_size, sip::Message* message);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_SIP_STREAM_FRAMER_H_
