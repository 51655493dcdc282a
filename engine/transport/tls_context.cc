#include "engine/transport/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "engine/text.h"

namespace locus::engine {
namespace {

std::string OpenSslError() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!text.empty()) text.append("; ");
    text.append(buf);
  }
  return text.empty() ? "unknown error" : text;
}

}  // namespace

TlsSettings TlsSettingsOf(const Config& config) {
  TlsSettings s;
  s.cert = config.tls_cert;
  s.key = config.tls_key;
  s.ca = config.tls_ca;
  s.verify = config.tls_verify_client == "required"   ? TlsClientVerify::kRequired
             : config.tls_verify_client == "optional" ? TlsClientVerify::kOptional
                                                      : TlsClientVerify::kNone;
  return s;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::Load(const TlsSettings& s) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + OpenSslError());
  std::shared_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // No session tickets or cache to keep per client: a phone's connection
  // lasts for its registration.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // idle connections keep no record buffers
  if (SSL_CTX_use_certificate_chain_file(ctx, s.cert.c_str()) != 1) {
    return absl::InvalidArgumentError(Cat("tls_cert ", s.cert, ": ", OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, s.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(Cat("tls_key ", s.key, ": ", OpenSslError()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(Cat("tls_key ", s.key, " does not match tls_cert ", s.cert));
  }
  if (!s.ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, s.ca.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(Cat("tls_ca ", s.ca, ": ", OpenSslError()));
    }
    // The CAs' names go in the CertificateRequest, so a client picks the
    // certificate that will verify.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  switch (s.verify) {
    case TlsClientVerify::kNone:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case TlsClientVerify::kOptional:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case TlsClientVerify::kRequired:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  if (s.verify != TlsClientVerify::kNone && s.ca.empty()) {
    return absl::InvalidArgumentError("tls_verify_client needs tls_ca: client certificates must chain to it");
  }
  if (X509* cert = SSL_CTX_get0_certificate(ctx)) {
    char subject[512];
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    context->subject_ = subject;
  }
  return std::shared_ptr<const TlsContext>(std::move(context));
}

bool TlsContext::KernelTlsAvailable() {
  std::ifstream ulp("/proc/sys/net/ipv4/tcp_available_ulp");
  std::string word;
  while (ulp >> word) {
    if (word == "tls") return true;
  }
  return false;
}

}  // namespace locus::engine
