// The server's TLS configuration (RFC 3261 section 26.3.1: a registrar must
// implement TLS): its certificate chain and key, the CA that client
// certificates must chain to, and whether clients must present one. Builds
// one OpenSSL SSL_CTX, TLS 1.2 and 1.3 only. A context is immutable; a
// reload (admin `reload_tls`) builds a new one, which new connections use
// while open ones keep theirs (each SSL holds a reference to its SSL_CTX).
#ifndef LOCUS_ENGINE_TRANSPORT_TLS_CONTEXT_H_
#define LOCUS_ENGINE_TRANSPORT_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/config.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace locus::engine {

enum class TlsClientVerify : uint8_t {
  kNone,      // no client certificate asked for
  kOptional,  // asked for; when given it must verify, else the handshake fails
  kRequired,  // a verified client certificate or no handshake
};

struct TlsSettings {
  std::string cert;  // PEM: the server certificate, then its chain
  std::string key;   // PEM: its private key
  std::string ca;    // PEM: CAs client certificates must chain to (empty: none)
  TlsClientVerify verify = TlsClientVerify::kNone;
};

// The settings of `config` (tls_cert, tls_key, tls_ca, tls_verify_client).
TlsSettings TlsSettingsOf(const Config& config);

class TlsContext {
 public:
  // Loads the files and checks that the key matches the certificate.
  static absl::StatusOr<std::shared_ptr<const TlsContext>> Load(const TlsSettings& settings);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  // The certificate's subject, for logs.
  const std::string& subject() const { return subject_; }

  // Whether this kernel could carry TLS records itself (the "tls" upper
  // layer protocol is loaded). locusd's data path is OpenSSL over io_uring
  // either way: kernel TLS needs a socket BIO, and the shards drive OpenSSL
  // through memory BIOs.
  static bool KernelTlsAvailable();

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
  std::string subject_;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_TLS_CONTEXT_H_
