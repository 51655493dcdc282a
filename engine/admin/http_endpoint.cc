#include "engine/admin/http_endpoint.h"

#include <microhttpd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "engine/log.h"
#include "engine/text.h"

namespace locus::engine {

struct HttpEndpoint::Request {
  MHD_Connection* connection = nullptr;
  uint64_t token = 0;     // names a suspended lookup; 0: none
  bool suspended = false;
  std::optional<Reply> reply;  // a resumed lookup's answer, to queue
};

struct HttpEndpoint::Callbacks {
  static MHD_Result Access(void* self, MHD_Connection* connection, const char* url, const char* method,
                           const char* /*version*/, const char* /*upload_data*/,
                           size_t* upload_data_size, void** request) {
    return static_cast<HttpEndpoint*>(self)->Serve(connection, url, method, *upload_data_size,
                                                   reinterpret_cast<Request**>(request))
               ? MHD_YES
               : MHD_NO;
  }
  static void Completed(void* self, MHD_Connection* /*connection*/, void** request,
                        MHD_RequestTerminationCode /*reason*/) {
    static_cast<HttpEndpoint*>(self)->Forget(static_cast<Request*>(*request));
    *request = nullptr;
  }
  static void Logger(void* /*self*/, const char* format, va_list args) {
    char line[512];
    std::vsnprintf(line, sizeof(line), format, args);
    std::string_view text = line;
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    Log(LogLevel::kDebug, "http: %s", std::string(text));
  }
};

namespace {

bool QueueReply(MHD_Connection* connection, const HttpEndpoint::Reply& reply, bool allow_header) {
  MHD_Response* response = MHD_create_response_from_buffer(
      reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return false;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (allow_header) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  const MHD_Result queued = MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
  MHD_destroy_response(response);
  return queued == MHD_YES;
}

HttpEndpoint::Reply Error(int status, std::string_view message) {
  return {status, "application/json", Cat("{\"ok\":false,\"error\":\"", JsonEscape(message), "\"}\n")};
}

}  // namespace

HttpEndpoint::~HttpEndpoint() {
  Close();
  if (listen_fd_ >= 0) close(listen_fd_);
}

absl::Status HttpEndpoint::Open(const Endpoint& at) {
  // Our own listening socket, so that a taken address fails with its errno.
  listen_fd_ = socket(at.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return absl::InternalError(Cat("http: socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, at.addr(), at.len()) != 0) {
    return absl::UnavailableError(Cat("http: bind ", at.ToString(), ": ", std::strerror(errno)));
  }
  if (listen(listen_fd_, 128) != 0) {
    return absl::InternalError(Cat("http: listen ", at.ToString(), ": ", std::strerror(errno)));
  }
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (at.is_v6()) flags |= MHD_USE_IPv6;
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Callbacks::Access, this,
      MHD_OPTION_LISTEN_SOCKET, listen_fd_,
      MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, kMaxRequestBytes,
      MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutS,
      MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::Completed, this,
      MHD_OPTION_EXTERNAL_LOGGER, &Callbacks::Logger, this,
      MHD_OPTION_END);
  listen_fd_ = -1;  // the library owns (and closes) it now
  if (daemon_ == nullptr) return absl::InternalError(Cat("http: cannot serve on ", at.ToString()));
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  poll_fd_ = info != nullptr ? info->epoll_fd : -1;
  if (poll_fd_ < 0) return absl::InternalError("http: no epoll descriptor");
  return absl::OkStatus();
}

void HttpEndpoint::Run() {
  if (daemon_ != nullptr) MHD_run(daemon_);
}

int HttpEndpoint::PollTimeoutMs(int longest) const {
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (daemon_ == nullptr || MHD_get_timeout(daemon_, &ms) != MHD_YES) return longest;
  return ms < static_cast<MHD_UNSIGNED_LONG_LONG>(longest) ? static_cast<int>(ms) : longest;
}

unsigned HttpEndpoint::connections() const {
  if (daemon_ == nullptr) return 0;
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
  return info != nullptr ? info->num_connections : 0;
}

bool HttpEndpoint::Serve(MHD_Connection* connection, std::string_view url, std::string_view method,
                         size_t upload_size, Request** slot) {
  Request* request = *slot;
  if (request == nullptr) {
    // The headers are in. A method other than GET or HEAD, or a body, is
    // refused at once: the body is never read (the library closes the
    // connection after the reply).
    request = new Request;
    request->connection = connection;
    *slot = request;
    if (method != "GET" && method != "HEAD") {
      return QueueReply(connection, Error(405, "only GET and HEAD"), true);
    }
    const char* length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char* chunked =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (chunked != nullptr || (length != nullptr && std::string_view(length) != "0")) {
      return QueueReply(connection, Error(413, "a request has no body here"), false);
    }
    return true;  // answered on the next call: the request is complete then
  }
  if (upload_size != 0) return false;  // not reached: a body was refused above
  if (request->reply.has_value()) {  // a resumed lookup
    const bool queued = QueueReply(connection, *request->reply, false);
    request->reply.reset();
    return queued;
  }
  if (request->suspended) return true;
  if (url == "/metrics") return QueueReply(connection, backend_.Metrics(), false);
  if (url == "/health") return QueueReply(connection, backend_.Health(), false);
  if (url == "/ready") return QueueReply(connection, backend_.Ready(), false);
  constexpr std::string_view kAors = "/v1/aors/";
  if (url.starts_with(kAors) && url.size() > kAors.size()) {
    request->token = next_token_++;
    std::optional<Reply> now = backend_.StartLookup(url.substr(kAors.size()), request->token);
    if (now.has_value()) {
      request->token = 0;
      return QueueReply(connection, *now, false);
    }
    request->suspended = true;
    suspended_[request->token] = request;
    MHD_suspend_connection(connection);
    return true;
  }
  return QueueReply(connection, Error(404, "no such path: /metrics, /health, /ready, /v1/aors/{aor}"),
                    false);
}

void HttpEndpoint::Finish(uint64_t token, Reply reply) {
  auto it = suspended_.find(token);
  if (it == suspended_.end()) return;
  Request* request = it->second;
  suspended_.erase(it);
  request->reply = std::move(reply);
  request->suspended = false;
  MHD_resume_connection(request->connection);
}

void HttpEndpoint::Forget(Request* request) {
  if (request == nullptr) return;
  if (request->token != 0) suspended_.erase(request->token);
  delete request;
}

void HttpEndpoint::Close() {
  if (daemon_ == nullptr) return;
  // The library must not be stopped with suspended connections.
  while (!suspended_.empty()) Finish(suspended_.begin()->first, Error(503, "locusd is stopping"));
  MHD_run(daemon_);
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  poll_fd_ = -1;
}

}  // namespace locus::engine
