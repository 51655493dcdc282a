// The floor of the end-to-end benchmark: a UDP responder that does nothing a
// registrar must do. It answers every request with a 200 OK made of the
// request's Via, From, To, Call-ID and CSeq lines (enough for regload and
// SIPp to match it), with batched recvmmsg/sendmmsg and no parsing beyond
// finding line starts. Whatever a registrar spends above this is its own work.
//
//   null_responder --listen=127.0.0.1:5060 [--seconds=N]
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>

#include "engine/endpoint.h"

namespace {

std::atomic<bool> g_stop{false};

bool HeaderWanted(std::string_view line) {
  // Full and compact names (RFC 3261 section 7.3.3), any case.
  static constexpr std::string_view kNames[] = {"via:", "v:", "from:", "f:", "to:", "t:",
                                                "call-id:", "i:", "cseq:"};
  for (std::string_view name : kNames) {
    if (line.size() < name.size()) continue;
    bool equal = true;
    for (size_t i = 0; i < name.size() && equal; ++i) {
      char c = line[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      equal = c == name[i];
    }
    if (equal) return true;
  }
  return false;
}

// Writes the 200 OK for `request` into `out`; returns its length (0: none).
size_t Answer(std::string_view request, char* out, size_t capacity) {
  if (request.starts_with("SIP/") || request.starts_with("ACK ")) return 0;
  static constexpr std::string_view kStatus = "SIP/2.0 200 OK\r\n";
  static constexpr std::string_view kTail = "Content-Length: 0\r\n\r\n";
  size_t n = 0;
  auto put = [&](std::string_view s) {
    if (n + s.size() > capacity) return false;
    std::memcpy(out + n, s.data(), s.size());
    n += s.size();
    return true;
  };
  put(kStatus);
  size_t at = request.find("\r\n");
  while (at != std::string_view::npos && at + 2 < request.size()) {
    const size_t start = at + 2;
    const size_t end = request.find("\r\n", start);
    if (end == std::string_view::npos || end == start) break;  // end of headers
    const std::string_view line = request.substr(start, end - start + 2);
    if (HeaderWanted(line) && !put(line)) return 0;
    at = end;
  }
  return put(kTail) ? n : 0;
}

}  // namespace

int main(int argc, char** argv) {
  locus::engine::Endpoint listen;
  double seconds = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--listen=")) {
      if (!locus::engine::Endpoint::Parse(a.substr(9), &listen)) return 2;
    } else if (a.starts_with("--seconds=")) {
      seconds = std::atof(argv[i] + 10);
    } else {
      std::fprintf(stderr, "usage: null_responder --listen=IP:PORT [--seconds=N]\n");
      return 2;
    }
  }
  if (!listen.valid()) {
    std::fprintf(stderr, "null_responder: --listen=IP:PORT is required\n");
    return 2;
  }
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });
  const int fd = socket(listen.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  if (bind(fd, listen.addr(), listen.len()) != 0) {
    std::perror("null_responder: bind");
    return 1;
  }
  std::fprintf(stderr, "null_responder: listening on %s\n", listen.ToString().c_str());
  constexpr int kBatch = 64;
  static char in[kBatch][2048];
  static char out[kBatch][2048];
  sockaddr_storage from[kBatch];
  const time_t deadline = seconds > 0 ? time(nullptr) + static_cast<time_t>(seconds) : 0;
  while (!g_stop && (deadline == 0 || time(nullptr) < deadline)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {in[i], sizeof(in[i])};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
    const int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    mmsghdr replies[kBatch];
    iovec reply_iov[kBatch];
    int count = 0;
    for (int i = 0; i < n; ++i) {
      const size_t len = Answer({in[i], msgs[i].msg_len}, out[count], sizeof(out[count]));
      if (len == 0) continue;
      reply_iov[count] = {out[count], len};
      replies[count] = {};
      replies[count].msg_hdr.msg_iov = &reply_iov[count];
      replies[count].msg_hdr.msg_iovlen = 1;
      replies[count].msg_hdr.msg_name = &from[i];
      replies[count].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
      ++count;
    }
    if (count > 0) sendmmsg(fd, replies, static_cast<unsigned>(count), 0);
  }
  close(fd);
  return 0;
}
