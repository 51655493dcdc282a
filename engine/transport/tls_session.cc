#include "engine/transport/tls_session.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace locus::engine {

TlsSession::TlsSession(const TlsContext& context) {
  ssl_ = SSL_new(context.ctx());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    failure_ = "out of memory";
    return;
  }
  // A memory BIO that runs dry asks for more instead of reporting EOF.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);  // ssl_ owns both now
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
  } else {
    BIO_free(in_);
    BIO_free(out_);
  }
}

bool TlsSession::Advance() {
  if (handshake_done_) return true;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshake_done_ = true;
    ReadPeerIdentity();
    return true;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return true;
    default:
      failure_ = SSL_get_verify_result(ssl_) != X509_V_OK ? "client certificate did not verify"
                                                          : "handshake failed";
      ERR_clear_error();
      return false;
  }
}

bool TlsSession::Receive(std::string_view wire) {
  if (ssl_ == nullptr) return false;
  while (!wire.empty()) {
    const int n = BIO_write(in_, wire.data(), static_cast<int>(wire.size()));
    if (n <= 0) {
      failure_ = "out of memory";
      return false;
    }
    wire.remove_prefix(static_cast<size_t>(n));
  }
  return Advance();
}

long TlsSession::ReadPlain(char* out, size_t room) {
  if (ssl_ == nullptr) return -1;
  if (!handshake_done_ && !Advance()) return -1;
  if (!handshake_done_ || room == 0) return 0;
  ERR_clear_error();
  const int n = SSL_read(ssl_, out, static_cast<int>(room > (1u << 30) ? (1u << 30) : room));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      failure_ = "closed by the peer";
      return -1;
    default:
      failure_ = "record error";
      ERR_clear_error();
      return -1;
  }
}

bool TlsSession::Write(std::string_view plain) {
  if (ssl_ == nullptr || !handshake_done_) return false;
  ERR_clear_error();
  while (!plain.empty()) {
    const int n = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    if (n <= 0) {
      failure_ = "write failed";
      ERR_clear_error();
      return false;
    }
    plain.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool TlsSession::TakeOutput(std::string* wire) {
  if (out_ == nullptr) return false;
  const size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return false;
  const size_t at = wire->size();
  wire->resize(at + pending);
  const int n = BIO_read(out_, wire->data() + at, static_cast<int>(pending));
  wire->resize(at + (n > 0 ? static_cast<size_t>(n) : 0));
  return n > 0;
}

bool TlsSession::TakeHandshakeCompleted() {
  if (!handshake_done_ || handshake_reported_) return false;
  handshake_reported_ = true;
  return true;
}

void TlsSession::ReadPeerIdentity() {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return;
  if (SSL_get_verify_result(ssl_) == X509_V_OK) {
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI || peer_uris_.size() >= 16) continue;
      const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
      peer_uris_.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                              static_cast<size_t>(ASN1_STRING_length(uri)));
    }
    GENERAL_NAMES_free(names);
  }
  X509_free(cert);
}

}  // namespace locus::engine
