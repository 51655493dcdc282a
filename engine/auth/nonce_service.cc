#include "engine/auth/nonce_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine/auth/digest.h"
#include "engine/file_util.h"
#include "engine/log.h"
#include "engine/text.h"
#include "parser/scan.h"

namespace locus::engine {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void PutHex32(uint32_t v, char* out) {
  for (int i = 7; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xF];
}

// The MAC part of a nonce: HMAC-SHA-256 of its first 16 characters, 16 bytes in hex.
void NonceMac(std::string_view secret, std::string_view head, char* out) {
  unsigned char mac[32];
  HmacSha256(secret, head, mac);
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kHex[mac[i] >> 4];
    out[2 * i + 1] = kHex[mac[i] & 0xF];
  }
}

}  // namespace

std::string_view NonceService::Make(uint32_t now, uint32_t salt, char (&out)[kNonceSize]) const {
  PutHex32(now, out);
  PutHex32(salt, out + 8);
  NonceMac(secret_, {out, 16}, out + 16);
  return {out, kNonceSize};
}

NonceService::Verdict NonceService::Check(std::string_view nonce, uint32_t now, uint32_t* issued) const {
  if (nonce.size() != kNonceSize || !ParseHex32(nonce.substr(0, 8), issued)) return Verdict::kInvalid;
  uint32_t salt;
  if (!ParseHex32(nonce.substr(8, 8), &salt)) return Verdict::kInvalid;
  char mac[32];
  NonceMac(secret_, nonce.substr(0, 16), mac);
  // Constant-time compare: the MAC must not leak byte by byte.
  unsigned char diff = 0;
  for (int i = 0; i < 32; ++i) diff |= static_cast<unsigned char>(mac[i] ^ nonce[16 + i]);
  if (diff != 0) return Verdict::kInvalid;
  if (*issued > now + 5 || now - *issued > lifetime_) return Verdict::kStale;
  return Verdict::kValid;
}

absl::StatusOr<std::string> LoadOrCreateServerSecret(const Config& config) {
  std::string hex = config.auth_secret;
  if (hex.empty()) {
    const std::string path = config.data_dir + "/auth.secret";
    if (absl::Status s = MakeDirectories(config.data_dir + "/"); !s.ok()) return s;
    std::ifstream in(path);
    if (in) {
      in >> hex;
      if (hex.size() != 64) return absl::InvalidArgumentError(Cat(path, ": not 64 hex digits"));
    } else {
      unsigned char raw[32];
      if (!RandomBytes(raw, sizeof(raw))) return absl::InternalError("no random bytes for the server secret");
      for (unsigned char b : raw) {
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 0xF]);
      }
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return absl::InternalError(Cat("cannot create ", path, ": ", std::strerror(errno)));
      const std::string line = hex + "\n";
      const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      close(fd);
      if (!written) return absl::InternalError(Cat("cannot write ", path));
      Log(LogLevel::kInfo, "made a new server secret in %s", path);
    }
  }
  std::string secret;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int high = sip::HexValue(hex[i]);
    const int low = sip::HexValue(hex[i + 1]);
    if (high < 0 || low < 0) return absl::InvalidArgumentError("the server secret is not hex");
    secret.push_back(static_cast<char>(high * 16 + low));
  }
  return secret;
}

}  // namespace locus::engine
