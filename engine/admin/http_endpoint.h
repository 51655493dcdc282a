// The HTTP endpoint (docs/operations.md): GET /metrics (Prometheus), /health
// and /ready (load balancers, orchestrators) and /v1/aors/{aor} (routing
// engines that do not speak SIP). Served with libmicrohttpd on the admin
// thread, never on a shard: the admin thread polls the library's epoll
// descriptor (poll_fd) with its own sockets and calls Run() after each poll.
//
// What it answers comes from its Backend, the admin server: the same code as
// the admin socket's `metrics`, `health` and `lookup`. A lookup is asked of
// the AOR's owning shard through the admin rings; its connection is
// suspended meanwhile and resumed by Finish().
//
// Every input is bounded: at most kMaxConnections open connections (more are
// closed at once), kMaxRequestBytes for the request line and headers (more:
// 431 or 414 from the library, then a close), kIdleTimeoutS seconds idle
// before a close; only GET and HEAD (405 otherwise, a body is never read);
// unknown paths 404.
#ifndef LOCUS_ENGINE_ADMIN_HTTP_ENDPOINT_H_
#define LOCUS_ENGINE_ADMIN_HTTP_ENDPOINT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/endpoint.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace locus::engine {

class HttpEndpoint {
 public:
  static constexpr unsigned kMaxConnections = 256;
  static constexpr size_t kMaxRequestBytes = 16384;
  static constexpr unsigned kIdleTimeoutS = 5;

  struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
  };

  class Backend {
   public:
    virtual ~Backend() = default;
    virtual Reply Metrics() = 0;
    virtual Reply Health() = 0;
    virtual Reply Ready() = 0;
    // Starts the lookup of `aor` (the path after /v1/aors/, percent-decoded).
    // Returns the reply when it is known at once (a bad AOR, not ready);
    // otherwise nothing, and calls Finish(token, ...) later.
    virtual std::optional<Reply> StartLookup(std::string_view aor, uint64_t token) = 0;
  };

  explicit HttpEndpoint(Backend& backend) : backend_(backend) {}
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Listens on `at`. Fails when the address is taken or not local.
  absl::Status Open(const Endpoint& at);
  // A descriptor that is readable when Run() has work; -1 before Open().
  int poll_fd() const { return poll_fd_; }
  // How long the admin thread may poll before calling Run() again, at most
  // `longest` ms (0 when the library has work without any socket event).
  int PollTimeoutMs(int longest) const;
  // Processes whatever is ready: accepts, reads, answers, idle timeouts.
  void Run();
  // Answers the suspended lookup `token` (nothing when it is gone).
  void Finish(uint64_t token, Reply reply);
  // Answers every suspended lookup 503 and closes every connection.
  void Close();
  // Open connections now.
  unsigned connections() const;

 private:
  struct Request;
  struct Callbacks;  // libmicrohttpd's callbacks (http_endpoint.cc)
  friend struct Callbacks;
  // One call of the access handler: routes a new request, or queues the
  // reply of a resumed lookup. False: close the connection.
  bool Serve(MHD_Connection* connection, std::string_view url, std::string_view method,
             size_t upload_size, Request** request);
  void Forget(Request* request);  // the request is over

  Backend& backend_;
  MHD_Daemon* daemon_ = nullptr;
  int listen_fd_ = -1;
  int poll_fd_ = -1;
  uint64_t next_token_ = 1;
  absl::flat_hash_map<uint64_t, Request*> suspended_;  // lookups waiting for a shard
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_HTTP_ENDPOINT_H_
