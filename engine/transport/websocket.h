// SIP over WebSocket (RFC 7118) on a stream connection (plain or TLS): the
// HTTP Upgrade first (RFC 6455 section 4), then one SIP message per
// WebSocket message, text or binary. Frames are wslay's (masking,
// fragmentation, ping/pong and close are handled there); the Upgrade request
// is read with http-parser.
//
// The Upgrade must be a GET with "Upgrade: websocket", "Connection:
// Upgrade", "Sec-WebSocket-Version: 13", a key, and "sip" among the
// Sec-WebSocket-Protocol values; anything else gets an HTTP 4xx naming the
// problem and the connection closes. Bounds: the Upgrade request's header
// block at most 8 KiB; a message at most `max_message` bytes (larger: the
// connection closes with status 1009, as wslay does).
#ifndef LOCUS_ENGINE_TRANSPORT_WEBSOCKET_H_
#define LOCUS_ENGINE_TRANSPORT_WEBSOCKET_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

struct wslay_event_context;

namespace locus::engine {

class WebSocketSession {
 public:
  static constexpr size_t kMaxUpgradeBytes = 8192;

  explicit WebSocketSession(size_t max_message);
  ~WebSocketSession();
  WebSocketSession(const WebSocketSession&) = delete;
  WebSocketSession& operator=(const WebSocketSession&) = delete;

  enum class Outcome : uint8_t {
    kOpen,      // go on
    kUpgraded,  // the Upgrade was accepted during this call (counted once)
    kRefused,   // the Upgrade was refused: send `out`, then close
    kClosed,    // the WebSocket is closed (close frames exchanged, or a
                // protocol error): send `out`, then close
  };
  // Consumes bytes of the connection: the Upgrade request, then frames.
  // Each complete message goes to on_message (valid during the call); what
  // must be sent (the 101 or the HTTP error, pongs, close frames) is
  // appended to *out. *consumed: the bytes of `data` used (the rest waits for
  // more).
  Outcome Consume(std::string_view data, size_t* consumed, std::string* out,
                  absl::FunctionRef<void(std::string_view message)> on_message);
  // Frames a SIP message as one text message into *out. False before the
  // Upgrade or after the close.
  bool Send(std::string_view message, std::string* out);

  bool upgraded() const { return context_ != nullptr; }
  // Why it was refused or closed, for logs.
  const std::string& problem() const { return problem_; }

 private:
  Outcome Upgrade(std::string_view head, std::string* out);
  Outcome Refuse(int status, std::string_view reason, std::string_view extra_header,
                 std::string* out);
  Outcome Pump(std::string* out);

  const size_t max_message_;
  wslay_event_context* context_ = nullptr;
  // During a call: the bytes wslay may read, and where it writes.
  std::string_view input_;
  std::string* output_ = nullptr;
  absl::FunctionRef<void(std::string_view)>* on_message_ = nullptr;
  std::string problem_;

  friend struct WebSocketCallbacks;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_WEBSOCKET_H_
