// The sockets of a shard's Redis Cluster client (cluster/cluster_client.h)
// on the shard's io_uring: the connects, receives and sends the client asks
// for, and the closes its timeouts call for. The client decides; this file
// only moves bytes.
//
// Contract:
//  - Each life of a client connection (a connect, until its close) has a
//    link slot of its own; completions carry the slot's generation. A
//    slot's descriptor is closed, and the slot reused, only once every
//    operation of that life is back, so a reused descriptor never gets a
//    stale completion.
//  - Node addresses are IP literals (as Redis Cluster announces them, and as
//    the seeds are resolved at start): the shard never waits on DNS. Another
//    name fails its connect.
//  - One receive of up to 64 KiB and one send in flight per link; what the
//    client queues while a send is in flight goes in the next one.
#ifndef LOCUS_ENGINE_TRANSPORT_REDIS_LINKS_H_
#define LOCUS_ENGINE_TRANSPORT_REDIS_LINKS_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/cluster/cluster_client.h"

namespace locus::engine {

class RedisLinks {
 public:
  using Done = cluster::ClusterClient::Done;

  RedisLinks(io_uring* ring, cluster::ClusterClient& client) : ring_(ring), client_(client) {}
  ~RedisLinks();
  RedisLinks(const RedisLinks&) = delete;
  RedisLinks& operator=(const RedisLinks&) = delete;

  // Once per loop turn: the connects the client asks for, its timeouts, and
  // the sends of what it queued.
  void Turn(uint64_t now_ms, Done done);

  // Completions (IoOp::kRedisConnect, kRedisReceive, kRedisSend).
  void OnConnect(size_t slot, uint32_t generation, int res, uint64_t now_ms, Done done);
  void OnReceive(size_t slot, uint32_t generation, int res, uint64_t now_ms, Done done);
  void OnSent(size_t slot, uint32_t generation, int res, uint64_t now_ms, Done done);

  // Stopping: every link is shut down; in_flight() tells when all is back.
  void CloseAll(uint64_t now_ms, Done done);
  size_t in_flight() const { return in_flight_; }

 private:
  static constexpr size_t kReceiveBytes = 64 * 1024;

  struct Link {
    uint32_t slot = 0;
    uint32_t generation = 0;
    int conn = -1;  // the client's connection; -1: free
    int fd = -1;
    bool connecting = false;
    bool receiving = false;
    bool sending = false;
    bool closing = false;
    sockaddr_storage address{};
    socklen_t address_size = 0;
    std::vector<char> in;
    std::string out;  // the send in flight, from out_sent on
    size_t out_sent = 0;
  };

  // A completion of `operation` (connecting, receiving or sending) is back:
  // its link to carry on with, or null when the link is closing (then freed
  // once nothing else is in flight).
  Link* Returned(size_t slot, uint32_t generation, bool Link::*operation);
  bool StartConnect(int conn, const cluster::NodeAddress& node);
  void ArmReceive(Link& link);
  void ArmSend(Link& link);
  // Ends a life: the client hears of it now; the descriptor closes when
  // every operation is back.
  void Close(Link& link, uint64_t now_ms, Done done);
  void MaybeFree(Link& link);

  io_uring* ring_;
  cluster::ClusterClient& client_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<uint32_t> free_slots_;
  std::vector<int> link_of_conn_;  // the live link's slot of each client connection, or -1
  size_t in_flight_ = 0;           // operations submitted and not yet back
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_TRANSPORT_REDIS_LINKS_H_
