#include "engine/trace/hep_exporter.h"

#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/text.h"

namespace locus::engine {

absl::Status ResolveHostPort(std::string_view text, Endpoint* out) {
  if (Endpoint::Parse(text, out)) return absl::OkStatus();
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return absl::InvalidArgumentError(Cat("not a host:port: ", text));
  const std::string host(text.substr(0, colon));
  const std::string port(text.substr(colon + 1));
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (error != 0 || found == nullptr) {
    return absl::UnavailableError(Cat("cannot resolve ", text, ": ", gai_strerror(error)));
  }
  *out = Endpoint::FromSockaddr(found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (!out->valid()) return absl::UnavailableError(Cat("cannot resolve ", text, ": no IP address"));
  return absl::OkStatus();
}

HepExporter::~HepExporter() {
  if (fd_ >= 0) close(fd_);
}

absl::Status HepExporter::Open(std::string_view server) {
  if (absl::Status s = ResolveHostPort(server, &server_); !s.ok()) return s;
  fd_ = socket(server_.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return absl::InternalError(Cat("hep: socket: ", std::strerror(errno)));
  if (connect(fd_, server_.addr(), server_.len()) != 0) {
    return absl::UnavailableError(Cat("hep: connect ", server_.ToString(), ": ", std::strerror(errno)));
  }
  arena_.reserve(kMaxBatch * 2048);
  return absl::OkStatus();
}

void HepExporter::Add(const HepMessage& message) {
  if (fd_ < 0) return;
  if (count_ == kMaxBatch || arena_.size() + kHepMaxPacket > arena_.capacity()) Flush();
  offsets_[count_] = arena_.size();
  if (!AppendHep3(message, &arena_)) {
    counters_.hep_errors.Add();
    return;
  }
  ++count_;
  offsets_[count_] = arena_.size();
}

void HepExporter::Flush() {
  if (count_ == 0) return;
  for (size_t i = 0; i < count_; ++i) {
    iov_[i] = {arena_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]};
    headers_[i] = {};
    headers_[i].msg_hdr.msg_iov = &iov_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
  }
  size_t next = 0;
  uint64_t delivered = 0;
  while (next < count_) {
    const int n = sendmmsg(fd_, headers_.data() + next, static_cast<unsigned>(count_ - next), MSG_DONTWAIT);
    if (n > 0) {
      next += static_cast<size_t>(n);
      delivered += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Refused (a full buffer, no route, an ICMP unreachable reported on the
    // connected socket): this one is dropped, the rest go on.
    counters_.hep_errors.Add();
    ++next;
  }
  counters_.hep_packets.Add(delivered);
  count_ = 0;
  arena_.clear();
}

}  // namespace locus::engine
