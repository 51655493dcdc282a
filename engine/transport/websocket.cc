#include "engine/transport/websocket.h"

#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include <cstring>

#include "engine/text.h"
#include "parser/scan.h"

namespace locus::engine {
namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 1.3

// What the Upgrade request says, as http-parser reads it.
struct UpgradeRequest {
  std::string field;  // the header being read
  std::string upgrade, connection, version, key, protocol;
  bool in_value = false;
  std::string* value = nullptr;
};

bool ListHas(std::string_view list, std::string_view token) {
  for (std::string_view item : SplitList(list)) {
    if (sip::EqualsIgnoreCase(item, token)) return true;
  }
  return false;
}

int OnHeaderField(http_parser* p, const char* at, size_t length) {
  auto* r = static_cast<UpgradeRequest*>(p->data);
  if (r->in_value) {
    r->field.clear();
    r->in_value = false;
  }
  r->field.append(at, length);
  return 0;
}

int OnHeaderValue(http_parser* p, const char* at, size_t length) {
  auto* r = static_cast<UpgradeRequest*>(p->data);
  if (!r->in_value) {
    r->in_value = true;
    const std::string name = ToLowerAscii(r->field);
    r->value = name == "upgrade"                  ? &r->upgrade
               : name == "connection"             ? &r->connection
               : name == "sec-websocket-version"  ? &r->version
               : name == "sec-websocket-key"      ? &r->key
               : name == "sec-websocket-protocol" ? &r->protocol
                                                  : nullptr;
    // Repeated list headers are one list (RFC 7230 section 3.2.2).
    if (r->value != nullptr && !r->value->empty()) r->value->append(",");
  }
  if (r->value != nullptr && r->value->size() + length <= WebSocketSession::kMaxUpgradeBytes) {
    r->value->append(at, length);
  }
  return 0;
}

}  // namespace

// wslay's callbacks, reading from and writing to the session's buffers.
struct WebSocketCallbacks {
  static ssize_t Recv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user) {
    auto* s = static_cast<WebSocketSession*>(user);
    if (s->input_.empty()) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    const size_t n = std::min(len, s->input_.size());
    std::memcpy(buf, s->input_.data(), n);
    s->input_.remove_prefix(n);
    return static_cast<ssize_t>(n);
  }
  static ssize_t Send(wslay_event_context_ptr, const uint8_t* data, size_t len, int, void* user) {
    auto* s = static_cast<WebSocketSession*>(user);
    s->output_->append(reinterpret_cast<const char*>(data), len);
    return static_cast<ssize_t>(len);
  }
  static void OnMessage(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg* arg,
                        void* user) {
    auto* s = static_cast<WebSocketSession*>(user);
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) return;
    if (s->on_message_ != nullptr) {
      (*s->on_message_)({reinterpret_cast<const char*>(arg->msg), arg->msg_length});
    }
  }
};

WebSocketSession::WebSocketSession(size_t max_message) : max_message_(max_message) {}

WebSocketSession::~WebSocketSession() {
  if (context_ != nullptr) wslay_event_context_free(context_);
}

WebSocketSession::Outcome WebSocketSession::Refuse(int status, std::string_view reason,
                                                   std::string_view extra_header,
                                                   std::string* out) {
  problem_ = std::string(reason);
  const std::string body = Cat(reason, "\r\n");
  out->append(Cat("HTTP/1.1 ", status, " ", status == 426 ? "Upgrade Required" : "Bad Request",
                  "\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(), "\r\n", extra_header,
                  "Connection: close\r\n\r\n", body));
  return Outcome::kRefused;
}

WebSocketSession::Outcome WebSocketSession::Upgrade(std::string_view head, std::string* out) {
  UpgradeRequest request;
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &request;
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_header_field = OnHeaderField;
  settings.on_header_value = OnHeaderValue;
  http_parser_execute(&parser, &settings, head.data(), head.size());
  if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
    return Refuse(400, Cat("malformed HTTP request: ", http_errno_description(HTTP_PARSER_ERRNO(&parser))),
                  "", out);
  }
  if (parser.method != HTTP_GET) return Refuse(400, "the WebSocket Upgrade must be a GET", "", out);
  if (parser.http_major != 1 || parser.http_minor < 1) {
    return Refuse(400, "the WebSocket Upgrade needs HTTP/1.1", "", out);
  }
  if (!ListHas(request.upgrade, "websocket") || !ListHas(request.connection, "upgrade")) {
    return Refuse(400, "not a WebSocket Upgrade (Upgrade: websocket, Connection: Upgrade)", "", out);
  }
  if (request.version != "13") {
    return Refuse(426, "Sec-WebSocket-Version must be 13", "Sec-WebSocket-Version: 13\r\n", out);
  }
  if (request.key.size() != 24) return Refuse(400, "Sec-WebSocket-Key missing or malformed", "", out);
  if (!ListHas(request.protocol, "sip")) {
    return Refuse(400, "Sec-WebSocket-Protocol must offer sip (RFC 7118)", "", out);
  }
  // RFC 6455 section 4.2.2: the accept value proves the key was read.
  const std::string joined = request.key + std::string(kAcceptGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  unsigned char accept[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);

  wslay_event_callbacks callbacks = {WebSocketCallbacks::Recv, WebSocketCallbacks::Send, nullptr,
                                     nullptr, nullptr, nullptr, WebSocketCallbacks::OnMessage};
  if (wslay_event_context_server_init(&context_, &callbacks, this) != 0) {
    context_ = nullptr;
    return Refuse(400, "out of memory", "", out);
  }
  wslay_event_config_set_max_recv_msg_length(context_, max_message_);
  out->append(Cat("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: ",
                  std::string_view(reinterpret_cast<const char*>(accept)),
                  "\r\nSec-WebSocket-Protocol: sip\r\n\r\n"));
  return Outcome::kUpgraded;
}

WebSocketSession::Outcome WebSocketSession::Pump(std::string* out) {
  output_ = out;
  const int received = wslay_event_recv(context_);
  const int sent = wslay_event_send(context_);
  output_ = nullptr;
  if (received != 0 || sent != 0) {
    problem_ = "WebSocket protocol error";
    return Outcome::kClosed;
  }
  if (!wslay_event_want_read(context_) && !wslay_event_want_write(context_)) {
    problem_ = "WebSocket closed";
    return Outcome::kClosed;
  }
  return Outcome::kOpen;
}

WebSocketSession::Outcome WebSocketSession::Consume(
    std::string_view data, size_t* consumed, std::string* out,
    absl::FunctionRef<void(std::string_view message)> on_message) {
  *consumed = 0;
  Outcome outcome = Outcome::kOpen;
  if (context_ == nullptr) {
    const size_t end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (data.size() > kMaxUpgradeBytes) return Refuse(400, "Upgrade request too large", "", out);
      return Outcome::kOpen;  // wait for the rest of it
    }
    if (end + 4 > kMaxUpgradeBytes) return Refuse(400, "Upgrade request too large", "", out);
    outcome = Upgrade(data.substr(0, end + 4), out);
    if (outcome != Outcome::kUpgraded) return outcome;
    *consumed = end + 4;
    data.remove_prefix(end + 4);
  }
  input_ = data;
  on_message_ = &on_message;
  const Outcome pumped = Pump(out);
  on_message_ = nullptr;
  *consumed += data.size() - input_.size();
  input_ = {};
  return pumped == Outcome::kOpen ? outcome : pumped;
}

bool WebSocketSession::Send(std::string_view message, std::string* out) {
  if (context_ == nullptr || wslay_event_get_close_sent(context_)) return false;
  wslay_event_msg msg = {WSLAY_TEXT_FRAME, reinterpret_cast<const uint8_t*>(message.data()),
                         message.size()};
  if (wslay_event_queue_msg(context_, &msg) != 0) return false;
  output_ = out;
  const int sent = wslay_event_send(context_);
  output_ = nullptr;
  return sent == 0;
}

}  // namespace locus::engine
