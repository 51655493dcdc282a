// One TLS connection's state: OpenSSL on a pair of memory BIOs. Ciphertext
// read from the socket goes in (Receive); plaintext comes out (ReadPlain);
// whatever OpenSSL wants sent -- handshake records, encrypted data, alerts --
// piles up for the caller to put on the wire (TakeOutput). The session has
// no socket: the shard's io_uring moves the bytes, so a handshake never
// blocks the shard.
//
// Bounds: the caller feeds at most one receive buffer at a time and drains
// the plaintext before feeding more, so OpenSSL's input BIO holds at most
// that much; output is taken after every call.
#ifndef LOCUS_ENGINE_TRANSPORT_TLS_SESSION_H_
#define LOCUS_ENGINE_TRANSPORT_TLS_SESSION_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/transport/tls_context.h"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace locus::engine {

class TlsSession {
 public:
  explicit TlsSession(const TlsContext& context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Feeds ciphertext and moves the handshake on. False when the connection
  // must close (a failed handshake, a protocol error, the peer's
  // close_notify); failure() says why.
  bool Receive(std::string_view wire);
  // Decrypts into out[0, room): the bytes written (0: none now), -1 when the
  // connection must close.
  long ReadPlain(char* out, size_t room);
  // Encrypts `plain`. False when the connection must close.
  bool Write(std::string_view plain);
  // Appends what is to be sent to *wire; false when there was nothing.
  bool TakeOutput(std::string* wire);

  bool handshake_done() const { return handshake_done_; }
  // The handshake just completed (true once, for counting).
  bool TakeHandshakeCompleted();
  const char* failure() const { return failure_; }
  // After the handshake, when the client presented a certificate that
  // verified: its subjectAltName URIs (e.g. "sip:alice@example.com"), in
  // order.
  const std::vector<std::string>& peer_uris() const { return peer_uris_; }

 private:
  bool Advance();
  void ReadPeerIdentity();

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (owned by ssl_)
  BIO* out_ = nullptr;  // ciphertext to the peer (owned by ssl_)
  bool handshake_done_ = false;
  bool handshake_reported_ = false;
  const char* failure_ = "";
  std::vector<std::string> peer_uris_;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_TLS_SESSION_H_
