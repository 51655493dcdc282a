// Sending UDP responses (engine/transport/udp.h): responses wait for
// FlushSends() and then leave together, in order, through the socket their
// request came in by; more than the slot pool holds in one turn all go; a
// datagram the kernel refuses costs only itself.
#include "engine/transport/udp.h"

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "engine/counters.h"
#include "engine/endpoint.h"
#include "gtest/gtest.h"

namespace locus::engine {
namespace {

// A client socket on loopback that can hold `datagrams` small ones.
class Client {
 public:
  explicit Client(int datagrams) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    const int size = datagrams * 2048;
    if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    int granted = 0;
    socklen_t len = sizeof(granted);
    getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &granted, &len);
    roomy_ = granted >= size;
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof(at));
    len = sizeof(at);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &len);
    address_ = Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&at), len);
  }
  ~Client() { close(fd_); }

  const Endpoint& address() const { return address_; }
  bool roomy() const { return roomy_; }

  // Every datagram waiting now, in arrival order.
  std::vector<std::string> ReceiveAll() {
    std::vector<std::string> out;
    char buffer[2048];
    for (;;) {
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n < 0) break;
      out.emplace_back(buffer, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool roomy_ = false;
  Endpoint address_;
};

class UdpSendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(io_uring_queue_init(64, &ring_, 0), 0);
    // Two sockets on ephemeral ports: responses leave by the one named.
    Endpoint first, second;
    ASSERT_TRUE(Endpoint::Parse("127.0.0.1:1", &first));
    first.set_port(0);
    second = first;
    ASSERT_TRUE(udp_.Open(&ring_, {first, second}, 1 << 20, /*plain_receive=*/true, 0).ok());
  }
  void TearDown() override { io_uring_queue_exit(&ring_); }

  ShardCounters counters_;
  io_uring ring_{};
  UdpTransport udp_{counters_};
};

TEST_F(UdpSendTest, ResponsesLeaveAtTheFlushInOrder) {
  Client client(100);
  for (int i = 0; i < 100; ++i) udp_.Send(i % 2, client.address(), "response " + std::to_string(i));
  EXPECT_EQ(udp_.sends_in_flight(), 100u);
  EXPECT_TRUE(client.ReceiveAll().empty());  // nothing before the flush

  udp_.FlushSends();
  EXPECT_EQ(udp_.sends_in_flight(), 0u);
  const std::vector<std::string> got = client.ReceiveAll();
  ASSERT_EQ(got.size(), 100u);
  // Runs on one socket keep their order; across the two sockets, each
  // socket's own responses do.
  std::vector<std::string> by_socket[2];
  for (const std::string& g : got) {
    const int i = std::stoi(g.substr(g.find(' ') + 1));
    by_socket[i % 2].push_back(g);
  }
  for (int s = 0; s < 2; ++s) {
    ASSERT_EQ(by_socket[s].size(), 50u);
    for (int k = 0; k < 50; ++k) EXPECT_EQ(by_socket[s][k], "response " + std::to_string(2 * k + s));
  }
  EXPECT_EQ(counters_.udp_packets_out.Get(), 100u);
  EXPECT_EQ(counters_.send_errors.Get(), 0u);
}

TEST_F(UdpSendTest, MoreResponsesInOneTurnThanSlotsAllLeave) {
  Client client(5000);
  if (!client.roomy()) GTEST_SKIP() << "the client socket cannot hold 5,000 datagrams";
  for (int i = 0; i < 5000; ++i) udp_.Send(0, client.address(), "response " + std::to_string(i));
  udp_.FlushSends();
  const std::vector<std::string> got = client.ReceiveAll();
  ASSERT_EQ(got.size(), 5000u);
  for (int i = 0; i < 5000; ++i) EXPECT_EQ(got[i], "response " + std::to_string(i));
  EXPECT_EQ(counters_.udp_packets_out.Get(), 5000u);
  EXPECT_EQ(udp_.sends_in_flight(), 0u);
}

TEST_F(UdpSendTest, ARefusedDatagramCostsOnlyItself) {
  Client client(10);
  // An IPv6 destination on an IPv4 socket: the kernel refuses that one.
  Endpoint v6;
  ASSERT_TRUE(Endpoint::Parse("[::1]:5060", &v6));
  udp_.Send(0, client.address(), "before");
  udp_.Send(0, v6, "refused");
  udp_.Send(0, client.address(), "after");
  udp_.FlushSends();
  const std::vector<std::string> got = client.ReceiveAll();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "before");
  EXPECT_EQ(got[1], "after");
  EXPECT_EQ(counters_.send_errors.Get(), 1u);
  EXPECT_EQ(counters_.udp_packets_out.Get(), 2u);
  EXPECT_EQ(udp_.sends_in_flight(), 0u);
}

}  // namespace
}  // namespace locus::engine
