#include "engine/transport/redis_links.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cstring>

#include "engine/uring.h"

namespace locus::engine {
namespace {

// An IP literal and port as a socket address; false for anything else.
bool ToSocketAddress(const cluster::NodeAddress& node, sockaddr_storage* out, socklen_t* size) {
  std::memset(out, 0, sizeof *out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, node.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(node.port);
    *size = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, node.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(node.port);
    *size = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

}  // namespace

RedisLinks::~RedisLinks() {
  for (const auto& link : links_) {
    if (link->fd >= 0) close(link->fd);
  }
}

void RedisLinks::Turn(uint64_t now_ms, Done done) {
  std::vector<int> failed;
  client_.TakeConnects(now_ms, [&](int conn, const cluster::NodeAddress& node) {
    if (!StartConnect(conn, node)) failed.push_back(conn);
  });
  for (int conn : failed) client_.Closed(conn, now_ms, done);
  std::vector<int> stale;
  client_.Tick(now_ms, [&](int conn) { stale.push_back(conn); });
  for (int conn : stale) {
    const int slot = link_of_conn_[static_cast<size_t>(conn)];
    if (slot >= 0) Close(*links_[static_cast<size_t>(slot)], now_ms, done);
  }
  client_.QueueWaits(now_ms);
  for (const auto& link : links_) {
    if (link->conn >= 0) ArmSend(*link);
  }
}

bool RedisLinks::StartConnect(int conn, const cluster::NodeAddress& node) {
  sockaddr_storage address;
  socklen_t address_size = 0;
  if (!ToSocketAddress(node, &address, &address_size)) return false;
  const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(links_.size());
    links_.push_back(std::make_unique<Link>());
    links_.back()->slot = slot;
    links_.back()->in.resize(kReceiveBytes);
  }
  Link& link = *links_[slot];
  link.conn = conn;
  link.fd = fd;
  link.address = address;
  link.address_size = address_size;
  link.out.clear();
  link.out_sent = 0;
  if (link_of_conn_.size() <= static_cast<size_t>(conn)) link_of_conn_.resize(static_cast<size_t>(conn) + 1, -1);
  link_of_conn_[static_cast<size_t>(conn)] = static_cast<int>(slot);
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&link.address), link.address_size);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kRedisConnect, slot, link.generation));
  link.connecting = true;
  ++in_flight_;
  return true;
}

RedisLinks::Link* RedisLinks::Returned(size_t slot, uint32_t generation, bool Link::*operation) {
  --in_flight_;
  if (slot >= links_.size()) return nullptr;
  Link& link = *links_[slot];
  // A slot is reused only once its operations are back: cannot differ.
  if (link.generation != generation) return nullptr;
  link.*operation = false;
  if (!link.closing) return &link;
  MaybeFree(link);
  return nullptr;
}

void RedisLinks::OnConnect(size_t slot, uint32_t generation, int res, uint64_t now_ms, Done done) {
  Link* link = Returned(slot, generation, &Link::connecting);
  if (link == nullptr) return;
  if (res < 0) {
    Close(*link, now_ms, done);
    return;
  }
  client_.Connected(link->conn, now_ms);
  ArmReceive(*link);
  ArmSend(*link);
}

void RedisLinks::OnReceive(size_t slot, uint32_t generation, int res, uint64_t now_ms, Done done) {
  Link* link = Returned(slot, generation, &Link::receiving);
  if (link == nullptr) return;
  if (res <= 0 ||
      !client_.Received(link->conn, std::string_view(link->in.data(), static_cast<size_t>(res)), now_ms, done)) {
    Close(*link, now_ms, done);
    return;
  }
  ArmReceive(*link);
  ArmSend(*link);  // replies may have queued commands (redirections)
}

void RedisLinks::OnSent(size_t slot, uint32_t generation, int res, uint64_t now_ms, Done done) {
  Link* link = Returned(slot, generation, &Link::sending);
  if (link == nullptr) return;
  if (res < 0) {
    Close(*link, now_ms, done);
    return;
  }
  link->out_sent += static_cast<size_t>(res);
  ArmSend(*link);
}

void RedisLinks::ArmReceive(Link& link) {
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_recv(sqe, link.fd, link.in.data(), link.in.size(), 0);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kRedisReceive, link.slot, link.generation));
  link.receiving = true;
  ++in_flight_;
}

void RedisLinks::ArmSend(Link& link) {
  if (link.sending || link.closing || link.connecting) return;
  if (link.out_sent >= link.out.size()) {
    const std::string_view unsent = client_.Unsent(link.conn);
    if (unsent.empty()) return;
    link.out.assign(unsent);
    link.out_sent = 0;
    client_.Sent(link.conn, unsent.size());
  }
  io_uring_sqe* sqe = GetSqe(ring_);
  io_uring_prep_send(sqe, link.fd, link.out.data() + link.out_sent, link.out.size() - link.out_sent,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kRedisSend, link.slot, link.generation));
  link.sending = true;
  ++in_flight_;
}

void RedisLinks::Close(Link& link, uint64_t now_ms, Done done) {
  if (link.closing || link.conn < 0) return;
  link.closing = true;
  // Ends the receive and send in flight; a connect in flight is cancelled.
  shutdown(link.fd, SHUT_RDWR);
  if (link.connecting) {
    io_uring_sqe* sqe = GetSqe(ring_);
    io_uring_prep_cancel64(sqe, IoTag(IoOp::kRedisConnect, link.slot, link.generation), 0);
    io_uring_sqe_set_data64(sqe, IoTag(IoOp::kIgnore, 0));
  }
  const int conn = link.conn;
  link_of_conn_[static_cast<size_t>(conn)] = -1;
  MaybeFree(link);
  client_.Closed(conn, now_ms, done);
}

void RedisLinks::MaybeFree(Link& link) {
  if (!link.closing || link.connecting || link.receiving || link.sending) return;
  close(link.fd);
  link.fd = -1;
  link.conn = -1;
  link.closing = false;
  ++link.generation;
  link.out.clear();
  link.out_sent = 0;
  free_slots_.push_back(link.slot);
}

void RedisLinks::CloseAll(uint64_t now_ms, Done done) {
  for (const auto& link : links_) {
    if (link->conn >= 0) Close(*link, now_ms, done);
  }
}

}  // namespace locus::engine
