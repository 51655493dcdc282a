#include "engine/sip/gruu.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "engine/auth/digest.h"
#include "engine/sip/uri_escape.h"
#include "parser/scan.h"

namespace locus::engine {
namespace {

constexpr unsigned char kTokenVersion = 1;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kMaxPlain = 512;
constexpr std::string_view kTempUserPrefix = "tgruu.";

// base64url without padding (RFC 4648 section 5): SIP user-safe characters.
void AppendBase64Url(const unsigned char* data, size_t size, std::string* out) {
  unsigned char encoded[4 * ((kMaxPlain + 64 + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, data, static_cast<int>(size));
  for (int i = 0; i < n; ++i) {
    const char c = static_cast<char>(encoded[i]);
    if (c == '=') break;
    out->push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
}

// The 6-bit value of a base64 character (standard alphabet), -1 if none.
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes base64url without padding into `out` (capacity `capacity`);
// returns the size, or -1 when it is not base64url or too long.
int DecodeBase64Url(std::string_view text, unsigned char* out, size_t capacity) {
  if (text.empty() || text.size() % 4 == 1 || text.size() / 4 * 3 + 3 > capacity) return -1;
  char padded[2 * kMaxPlain];
  if (text.size() + 3 > sizeof(padded)) return -1;
  size_t n = 0;
  for (char c : text) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!sip::IsAlnum(c)) {
      return -1;
    }
    padded[n++] = c;
  }
  size_t pads = 0;
  while (n % 4 != 0) {
    padded[n++] = '=';
    ++pads;
  }
  // Canonical form only (RFC 4648 section 3.5): the bits of the last
  // character that fall beyond the data are zero, so a token has one
  // spelling and no altered character decodes to the same bytes.
  const int last = Base64Value(padded[text.size() - 1]);
  const int unused_mask = pads == 2 ? 0x0F : pads == 1 ? 0x03 : 0;
  if ((last & unused_mask) != 0) return -1;
  const int size = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(padded),
                                   static_cast<int>(n));
  if (size < 0) return -1;
  return size - static_cast<int>(pads);
}

// The scheme ("sip" or "sips") and host part (host[:port]) of a canonical
// AOR: scheme:[user@]host[:port].
bool SplitAor(std::string_view aor, std::string_view* scheme, std::string_view* host) {
  const size_t colon = aor.find(':');
  if (colon == std::string_view::npos) return false;
  *scheme = aor.substr(0, colon);
  if (*scheme != "sip" && *scheme != "sips") return false;
  std::string_view rest = aor.substr(colon + 1);
  const size_t at = rest.rfind('@');
  *host = at == std::string_view::npos ? rest : rest.substr(at + 1);
  return !host->empty();
}

}  // namespace

GruuCodec::GruuCodec(std::string_view secret) {
  unsigned char mac[32];
  HmacSha256(secret, "locus temp-gruu key", mac);
  std::memcpy(key_, mac, sizeof(key_));
  context_ = EVP_CIPHER_CTX_new();
}

GruuCodec::~GruuCodec() { EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(context_)); }

bool GruuCodec::AppendTempGruu(std::string_view canonical_aor, std::string_view instance,
                               uint32_t now, std::string* out) {
  std::string_view scheme, host;
  if (!SplitAor(canonical_aor, &scheme, &host)) return false;
  const size_t plain_size = 4 + 2 + instance.size() + canonical_aor.size();
  if (plain_size > kMaxPlain || context_ == nullptr) return false;
  unsigned char plain[kMaxPlain];
  plain[0] = static_cast<unsigned char>(now >> 24);
  plain[1] = static_cast<unsigned char>(now >> 16);
  plain[2] = static_cast<unsigned char>(now >> 8);
  plain[3] = static_cast<unsigned char>(now);
  plain[4] = static_cast<unsigned char>(instance.size() >> 8);
  plain[5] = static_cast<unsigned char>(instance.size());
  std::memcpy(plain + 6, instance.data(), instance.size());
  std::memcpy(plain + 6 + instance.size(), canonical_aor.data(), canonical_aor.size());

  unsigned char token[1 + kNonceSize + kMaxPlain + kTagSize];
  token[0] = kTokenVersion;
  if (RAND_bytes(token + 1, kNonceSize) != 1) return false;
  EVP_CIPHER_CTX* ctx = static_cast<EVP_CIPHER_CTX*>(context_);
  int written = 0;
  int final_size = 0;
  const bool sealed =
      EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key_, token + 1) == 1 &&
      EVP_EncryptUpdate(ctx, nullptr, &written, token, 1) == 1 &&  // the version, authenticated
      EVP_EncryptUpdate(ctx, token + 1 + kNonceSize, &written, plain,
                        static_cast<int>(plain_size)) == 1 &&
      EVP_EncryptFinal_ex(ctx, token + 1 + kNonceSize + written, &final_size) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize,
                          token + 1 + kNonceSize + plain_size) == 1;
  if (!sealed) return false;
  out->append(scheme);
  out->push_back(':');
  out->append(kTempUserPrefix);
  AppendBase64Url(token, 1 + kNonceSize + plain_size + kTagSize, out);
  out->push_back('@');
  out->append(host);
  out->append(";gr");
  return true;
}

void GruuCodec::AppendPubGruu(std::string_view canonical_aor, std::string_view instance,
                              std::string* out) {
  out->append(canonical_aor);
  out->append(";gr=");
  if (instance.size() >= 2 && instance.front() == '<' && instance.back() == '>') {
    instance = instance.substr(1, instance.size() - 2);
  }
  AppendPercentEscaped(instance, kParamMarks, out);
}

bool GruuCodec::Decode(std::string_view token_text, GruuTarget* out) {
  unsigned char token[1 + kNonceSize + kMaxPlain + kTagSize + 3];
  const int size = DecodeBase64Url(token_text, token, sizeof(token));
  if (size < static_cast<int>(1 + kNonceSize + 6 + kTagSize) || token[0] != kTokenVersion ||
      context_ == nullptr) {
    return false;
  }
  const size_t cipher_size = static_cast<size_t>(size) - 1 - kNonceSize - kTagSize;
  unsigned char plain[kMaxPlain + 16];
  EVP_CIPHER_CTX* ctx = static_cast<EVP_CIPHER_CTX*>(context_);
  int written = 0;
  int final_size = 0;
  const bool opened =
      EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key_, token + 1) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &written, token, 1) == 1 &&
      EVP_DecryptUpdate(ctx, plain, &written, token + 1 + kNonceSize,
                        static_cast<int>(cipher_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize,
                          token + 1 + kNonceSize + cipher_size) == 1 &&
      EVP_DecryptFinal_ex(ctx, plain + written, &final_size) == 1;
  if (!opened) return false;  // not ours, or altered
  const size_t instance_size = (static_cast<size_t>(plain[4]) << 8) | plain[5];
  if (6 + instance_size >= cipher_size) return false;
  out->issued = (static_cast<uint32_t>(plain[0]) << 24) | (static_cast<uint32_t>(plain[1]) << 16) |
                (static_cast<uint32_t>(plain[2]) << 8) | plain[3];
  out->instance.assign(reinterpret_cast<const char*>(plain + 6), instance_size);
  out->aor.assign(reinterpret_cast<const char*>(plain + 6 + instance_size),
                  cipher_size - 6 - instance_size);
  std::string_view scheme, host;
  return SplitAor(out->aor, &scheme, &host);
}

GruuTarget GruuCodec::Resolve(const sip::Uri& uri) {
  GruuTarget target;
  std::string_view gr;
  if (!sip::FindUriParam(uri.params, "gr", &gr)) return target;
  if (!gr.empty()) {
    std::string instance;
    if (!PercentUnescape(gr, &instance) || instance.empty()) {
      target.kind = GruuTarget::Kind::kInvalid;
      return target;
    }
    target.kind = GruuTarget::Kind::kPublic;
    target.instance = "<" + instance + ">";
    return target;
  }
  target.kind = GruuTarget::Kind::kInvalid;
  if (uri.has_user && uri.user.starts_with(kTempUserPrefix) &&
      Decode(uri.user.substr(kTempUserPrefix.size()), &target)) {
    target.kind = GruuTarget::Kind::kTemporary;
  }
  return target;
}

}  // namespace locus::engine
