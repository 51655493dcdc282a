#include "engine/shard.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/text.h"
#include "engine/sip/client_certificate.h"
#include "engine/uring.h"

namespace locus::engine {
namespace {

constexpr unsigned kRingEntries = 4096;
constexpr unsigned kCqEntries = 32768;
constexpr uint32_t kOverloadRetryAfter = 1;  // seconds, in 503s
constexpr uint64_t kStopDrainMs = 2000;      // longest wait for sends at stop

}  // namespace

Shard::Shard(int index, int count, const Config& config, uint64_t tag_seed)
    : index_(index),
      count_(count),
      config_(config),
      table_(WallSeconds()),
      handler_(config, index, count, tag_seed, table_, counters_),
      udp_(counters_),
      streams_({config.max_message_size, config.tcp_idle_timeout, config.tcp_request_timeout,
                config.max_tcp_connections,
                config.tls_handshake_timeout, config.max_tls_handshakes},
               counters_, index, MonotonicMs() / 1000),
      handoff_(index),
      admin_(table_, counters_),
      tap_(config, index, counters_) {
  admin_.SetStreams(&streams_);
  response_.reserve(8192);
  table_.Reserve(config.expected_aors / static_cast<uint64_t>(count > 0 ? count : 1));
}

Shard::~Shard() {
  if (ring_open_) io_uring_queue_exit(&ring_);
}

void Shard::EnableAuth(const NonceService* nonces, FailureTable* failures,
                       std::shared_ptr<const UserDb> users) {
  AuthPolicy policy;
  policy.realm = config_.AuthRealm();
  for (const std::string& name : config_.auth_algorithms) {
    DigestAlgorithm a;
    if (ParseDigestAlgorithm(name, &a)) policy.algorithms.push_back(a);
  }
  policy.max_failures = config_.auth_max_failures;
  policy.failure_window = config_.auth_failure_window;
  auth_ = std::make_unique<Authenticator>(std::move(policy), nonces, failures, counters_, index_);
  auth_->SetUsers(std::move(users));
  handler_.SetAuthenticator(auth_.get());
  admin_.SetAuthenticator(auth_.get());
}

absl::Status Shard::Open() {
  if (cluster_ == nullptr) {
    absl::StatusOr<std::unique_ptr<Journal>> journal =
        StartShardJournal(durable_start_, index_, config_, table_, counters_);
    if (!journal.ok()) return journal.status();
    journal_ = std::move(*journal);
    handler_.SetJournal(journal_.get());
    admin_.SetJournal(journal_.get());
  } else {
    handler_.SetCluster(&cluster_->flights());
  }

  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  params.cq_entries = kCqEntries;
  int r = io_uring_queue_init_params(kRingEntries, &ring_, &params);
  if (r == -EINVAL) {  // kernels before 6.1
    params = {};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kCqEntries;
    r = io_uring_queue_init_params(kRingEntries, &ring_, &params);
  }
  if (r < 0) return absl::InternalError(Cat("io_uring_queue_init: ", std::strerror(-r)));
  ring_open_ = true;
  if (cluster_ != nullptr) cluster_->Open(&ring_);

  if (absl::Status s = handoff_.Open(&ring_, config_.eventfd_wakeup); !s.ok()) return s;
  if (absl::Status s = udp_.Open(&ring_, config_.udp, static_cast<int>(config_.udp_receive_buffer),
                                       config_.plain_udp_receive, index_); !s.ok()) {
    return s;
  }
  for (const auto& [addresses, kind] :
       {std::pair{&config_.tcp, StreamKind::kTcp}, std::pair{&config_.tls, StreamKind::kTls},
        std::pair{&config_.ws, StreamKind::kWs}, std::pair{&config_.wss, StreamKind::kWss}}) {
    if (absl::Status s = streams_.Listen(&ring_, *addresses, kind); !s.ok()) return s;
  }
  UpdateClocks();
  // Alive from here: health and the watchdog need not wait for the first
  // loop turn.
  counters_.heartbeat_ms.Set(now_ms_);
  return absl::OkStatus();
}

void Shard::RequestStop() {
  stop_.store(true, std::memory_order_release);
  // Other threads cannot submit to this ring (SINGLE_ISSUER), and the signal
  // thread has no ring to send a MSG_RING from; the loop never sleeps longer
  // than 100 ms, so it sees stop_ soon. With the eventfd wake-up, use it.
  handoff_.WakeFromAnyThread();
}

void Shard::ArmAdminWakeRead() {
  io_uring_sqe* sqe = GetSqe(&ring_);
  io_uring_prep_read(sqe, admin_.wake_fd(), &admin_wake_value_, sizeof(admin_wake_value_), 0);
  io_uring_sqe_set_data64(sqe, IoTag(IoOp::kAdminWake, 0));
}

void Shard::Run() {
  udp_.StartReceiving();
  streams_.StartAccepting();
  handoff_.StartWaking();
  if (admin_.wake_fd() >= 0) ArmAdminWakeRead();

  uint64_t stop_deadline_ms = 0;
  for (;;) {
    UpdateClocks();
    if (now_s_ != last_expire_s_ || handler_.NextTimerMs().value_or(UINT64_MAX) <= now_ms_) {
      RunTimers();
      last_expire_s_ = now_s_;
    }
    const bool backlog = handoff_.Drain(
        [this](const HandOffHeader& header, std::string_view bytes) { OnHandOff(header, bytes); });
    handoff_.FlushWakes();
    admin_.Drain(now_s_);
    const bool stopping = stop_.load(std::memory_order_acquire);
    if (cluster_ != nullptr) {
      admin_.TakeClusterRequests([this](const AdminHeader& header, std::string_view payload) {
        cluster_->AdminRequest(header, payload, now_ms_);
      });
      ClusterWork(/*turn=*/true);
      handoff_.FlushWakes();
    }
    if (journal_ != nullptr) {
      // Group commit: this turn's changes in one write (and sync).
      journal_->Poll(&ring_, MonotonicNs(), now_ms_, now_s_, stopping, IoTag(IoOp::kJournal, 0));
      DeliverDecided();
      handoff_.FlushWakes();
    }
    // Every response of this turn is queued by now: one TLS write per
    // connection for all of them.
    streams_.FlushTlsWrites();
    // And one sendmmsg per UDP socket for its datagrams.
    udp_.FlushSends();
    PublishGauges();
    tap_.EndTurn();
    if (stopping) {
      if (stop_deadline_ms == 0) {
        stop_deadline_ms = now_ms_ + kStopDrainMs;
        // Stop receiving: shutting the sockets down ends every receive and
        // accept; responses already queued still go out.
        udp_.ShutdownReceive();
        streams_.ShutdownListeners();
      }
      const bool journal_idle = journal_ == nullptr || journal_->Idle();
      bool cluster_idle = true;
      if (cluster_ != nullptr) {
        // Commits in flight are answered first; then the links close.
        if (cluster_->Idle() || now_ms_ >= stop_deadline_ms) cluster_->CloseAll(now_ms_);
        cluster_idle = cluster_->Idle() && cluster_->Closed();
      }
      if ((udp_.sends_in_flight() == 0 && journal_idle && cluster_idle) ||
          now_ms_ >= stop_deadline_ms + (cluster_ != nullptr ? 500 : 0)) {
        break;
      }
    }
    // Sleep until the next timer (at most 100 ms, so a stop is seen soon).
    // With a hand-off backlog left, only submit and look for completions.
    // In cluster mode, a request waiting for another node's turn at its AOR
    // is due too.
    std::optional<uint64_t> next = handler_.NextTimerMs();
    if (cluster_ != nullptr) {
      if (const std::optional<uint64_t> due = cluster_->NextDueMs(); due && (!next || *due < *next)) next = due;
    }
    uint64_t sleep_ms = 100;
    if (next) sleep_ms = std::clamp<uint64_t>(*next > now_ms_ ? *next - now_ms_ : 1, 1, 100);
    uint64_t sleep_ns = sleep_ms * 1000 * 1000;
    if (journal_ != nullptr) {
      // A sync group waiting out its commit window.
      if (const std::optional<uint64_t> due = journal_->GroupDueInNs(MonotonicNs())) {
        sleep_ns = std::clamp<uint64_t>(*due, 1000, sleep_ns);
      }
    }
    __kernel_timespec timeout{static_cast<long long>(sleep_ns / 1000000000),
                              static_cast<long long>(sleep_ns % 1000000000)};
    io_uring_cqe* cqe = nullptr;
    if (backlog) {
      io_uring_submit(&ring_);
    } else {
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
    }
    unsigned head;
    unsigned seen = 0;
    UpdateClocks();
    io_uring_for_each_cqe(&ring_, head, cqe) {
      HandleCompletion(cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    if (journal_ != nullptr) DeliverDecided();
    if (cluster_ != nullptr) ClusterWork(/*turn=*/false);
    udp_.ReturnBuffers();
    AnnounceClosedWebSockets();
  }
  udp_.FlushSends();
  io_uring_submit(&ring_);
}

void Shard::HandleCompletion(io_uring_cqe* cqe) {
  const uint64_t tag = io_uring_cqe_get_data64(cqe);
  const bool stopping = stop_.load(std::memory_order_relaxed);
  const size_t index = IoIndexOf(tag);
  switch (IoOpOf(tag)) {
    case IoOp::kUdpMultishot:
    case IoOp::kUdpPlain: {
      auto on_datagram = [this](size_t socket, std::string_view bytes, const Endpoint& source,
                                uint64_t arrival_ns) { OnDatagram(socket, bytes, source, arrival_ns); };
      if (IoOpOf(tag) == IoOp::kUdpMultishot) {
        udp_.OnMultishot(index, cqe, stopping, on_datagram);
      } else {
        udp_.OnPlain(index, cqe, stopping, on_datagram);
      }
      break;
    }
    case IoOp::kUdpSend:
      udp_.OnSent(index, cqe->res);
      break;
    case IoOp::kAccept:
      streams_.OnAccept(index, cqe, stopping, now_ms_ / 1000);
      break;
    case IoOp::kStreamReceive:
      streams_.OnReceive(index, IoGenerationOf(tag), cqe->res, now_ms_ / 1000,
                         [this](const sip::Message& message, std::string_view bytes,
                                const StreamConnection& connection) {
                           OnStreamMessage(message, bytes, connection);
                         });
      break;
    case IoOp::kStreamSend:
      streams_.OnSent(index, IoGenerationOf(tag), cqe->res);
      break;
    case IoOp::kJournal:
      journal_->OnCompletion(static_cast<Journal::Op>(IoGenerationOf(tag)), cqe->res, now_ms_,
                             now_s_);
      break;
    case IoOp::kAdminWake:
      if (!stopping) ArmAdminWakeRead();
      break;  // the admin requests are answered on every turn
    case IoOp::kWake:
      handoff_.OnWake(stopping);
      break;  // the inboxes are drained on every turn
    case IoOp::kRedisConnect:
    case IoOp::kRedisReceive:
    case IoOp::kRedisSend:
      if (cluster_ != nullptr) {
        cluster_->OnCompletion(IoOpOf(tag), index, IoGenerationOf(tag), cqe->res, now_ms_);
      }
      break;
    case IoOp::kIgnore:
      break;
  }
}

void Shard::OnDatagram(size_t socket, std::string_view bytes, const Endpoint& source,
                       uint64_t arrival_ns) {
  if (StunResponder::LooksLikeStun(bytes)) {
    AnswerStun(socket, bytes, source);
    return;
  }
  Inbound inbound;
  inbound.source = source;
  inbound.transport = store::Transport::kUdp;
  inbound.received_ns = arrival_ns;  // the kernel's: the queue's wait counts
  inbound.udp_socket = static_cast<uint16_t>(socket);
  Origin origin;
  origin.udp_socket = socket;
  origin.from_shard = index_;
  Process(bytes, inbound, origin);
}

void Shard::AnswerStun(size_t socket, std::string_view bytes, const Endpoint& source) {
  uint8_t answer[StunResponder::kMaxResponse];
  const size_t size = stun_.Answer(bytes, source, answer);
  if (size == 0) {
    counters_.stun_invalid.Add();
    return;
  }
  counters_.stun_requests.Add();
  udp_.Send(socket, source, {reinterpret_cast<const char*>(answer), size});
}

void Shard::OnStreamMessage(const sip::Message& message, std::string_view bytes,
                            const StreamConnection& connection) {
  Inbound inbound;
  inbound.source = connection.peer;
  inbound.transport = connection.transport();
  inbound.received_ns = MonotonicNs();
  inbound.connection_shard = index_;
  inbound.connection_id = connection.id();
  if (connection.tls != nullptr) {
    inbound.certified = CertificateNamesAor(message, connection.tls->peer_uris());
  }
  Origin origin;
  origin.conn_id = connection.id();
  origin.from_shard = index_;
  ProcessMessage(message, bytes, inbound, origin);
}

void Shard::OnHandOff(const HandOffHeader& header, std::string_view bytes) {
  if (header.kind == HandOffHeader::kStreamResponse) {
    streams_.Send(header.conn_id, bytes);
    return;
  }
  if (header.kind == HandOffHeader::kFlowClosed) {
    handler_.FlowClosed(static_cast<int>(header.from_shard), header.conn_id);
    return;
  }
  Inbound inbound;
  inbound.source = header.source;
  inbound.transport = header.transport;
  inbound.received_ns = header.received_ns;
  inbound.too_large = header.too_large;
  inbound.certified = header.certified;
  inbound.udp_socket = header.udp_socket;
  if (header.transport != store::Transport::kUdp) {
    inbound.connection_shard = static_cast<int>(header.from_shard);
    inbound.connection_id = header.conn_id;
  }
  Origin origin;
  origin.udp_socket = header.udp_socket;
  origin.conn_id = header.conn_id;
  origin.from_shard = static_cast<int>(header.from_shard);
  origin.handed_off = true;
  if (header.parse_size != 0 && header.parse_size <= bytes.size()) {
    // The receiving shard's parse, so that the message is not parsed twice.
    const std::string_view message_bytes = bytes.substr(0, bytes.size() - header.parse_size);
    sip::Message message;
    if (sip::DecodeMessageOffsets(bytes.substr(message_bytes.size()), message_bytes, &message)) {
      ProcessMessage(message, message_bytes, inbound, origin);
      return;
    }
    bytes = message_bytes;
  }
  Process(bytes, inbound, origin);
}

void Shard::Process(std::string_view bytes, const Inbound& given, const Origin& origin) {
  sip::ParseOptions options;
  options.max_message_size = config_.max_message_size;
  sip::Message message;
  Inbound inbound = given;
  sip::ParseError error = sip::ParseMessage(bytes, options, &message);
  if (error.code == sip::ErrorCode::kTooLarge && inbound.transport == store::Transport::kUdp) {
    // Over the limit but perhaps answerable: read it with the UDP maximum
    // only to find where a 513 goes.
    options.max_message_size = 65535;
    error = sip::ParseMessage(bytes, options, &message);
    inbound.too_large = true;
  }
  if (!error.ok()) {
    if (error.code == sip::ErrorCode::kEmpty) return;
    counters_.parse_errors.Add();
    if (!origin.handed_off && tap_.on()) {
      tap_.OnReceived(inbound.transport, origin.udp_socket, inbound.source, bytes);
    }
    // ARCHITECTURE section 5: answered with 400 when its Via, From, To,
    // Call-ID and CSeq can be read; otherwise dropped.
    sip::HeaderId broken;
    if (origin.handed_off || !sip::SalvageRequest(bytes, &message, &broken).ok()) return;
    const Disposition d = handler_.HandleMalformed(message, broken, error, inbound, &response_);
    if (d.kind == Disposition::Kind::kRespond) Deliver(RouteOf(d, inbound, origin), response_);
    return;
  }
  ProcessMessage(message, bytes, inbound, origin);
}

void Shard::ProcessMessage(const sip::Message& message, std::string_view bytes,
                           const Inbound& inbound, const Origin& origin) {
  if (!origin.handed_off && tap_.on()) {
    tap_.OnReceived(inbound.transport, origin.udp_socket, inbound.source, bytes);
  }
  if (message.is_request() && !origin.handed_off) counters_.requests_received.Add();
  if (origin.handed_off) counters_.handoffs_received.Add();
  Route(handler_.Handle(message, inbound, origin.handed_off, &response_), message, bytes, inbound,
        origin);
}

void Shard::Route(Disposition d, const sip::Message& message, std::string_view bytes,
                  const Inbound& inbound, const Origin& origin) {
  if (d.kind == Disposition::Kind::kHandOff) {
    HandOffHeader header;
    header.kind = HandOffHeader::kRequest;
    header.transport = inbound.transport;
    header.too_large = inbound.too_large;
    header.certified = inbound.certified;
    header.udp_socket = static_cast<uint16_t>(origin.udp_socket);
    header.from_shard = static_cast<uint32_t>(index_);
    header.conn_id = origin.conn_id;
    header.received_ns = inbound.received_ns;
    header.source = inbound.source;
    const size_t parse_size = sip::EncodeMessageOffsets(message, bytes, handoff_parse_);
    header.parse_size = static_cast<uint16_t>(parse_size);
    if (handoff_.Push(d.owner, header, bytes, {handoff_parse_.data(), parse_size})) {
      counters_.handed_off.Add();
      return;
    }
    counters_.overflows.Add();
    d = handler_.Reject(message, inbound, 503, "Service Unavailable", kOverloadRetryAfter,
                        &response_);
  }
  if (d.kind == Disposition::Kind::kPark) {
    // Cluster mode: it waits for its AOR's read or commit.
    if (cluster_->Park(bytes, inbound, origin, handler_.parked_aor(), now_ms_)) return;
    d = handler_.Reject(message, inbound, 503, "Service Unavailable", kOverloadRetryAfter,
                        &response_);
  }
  if (d.kind != Disposition::Kind::kRespond) return;
  const ResponseRoute route = RouteOf(d, inbound, origin);
  if (d.commit) {
    // Leaves once Redis took the AOR's new state.
    cluster_->Commit(bytes, inbound, origin, route, d.status, handler_.transaction_key(), response_,
                     handler_.cluster_commit(), now_ms_);
    return;
  }
  if (d.hold) {
    // Leaves once the journal group holding its changes is durable.
    journal_->Hold(route, d.status, handler_.transaction_key(), response_, {});
    return;
  }
  Deliver(route, response_);
}

void Shard::Rerun(std::string_view bytes, const Inbound& inbound, const Origin& origin) {
  sip::ParseOptions options;
  options.max_message_size = inbound.too_large ? 65535 : config_.max_message_size;
  sip::Message message;
  if (!sip::ParseMessage(bytes, options, &message).ok()) return;  // parsed once already
  // Handled as a hand-off: counted when it first arrived.
  Route(handler_.Handle(message, inbound, /*handed_off=*/true, &response_), message, bytes, inbound,
        origin);
}

ResponseRoute Shard::RouteOf(const Disposition& d, const Inbound& inbound, const Origin& origin) {
  ResponseRoute route;
  route.transport = inbound.transport;
  route.udp_socket = static_cast<uint16_t>(origin.udp_socket);
  route.destination = d.destination;
  route.conn_id = origin.conn_id;
  route.from_shard = origin.from_shard;
  route.received_ns = inbound.received_ns;
  return route;
}

void Shard::Deliver(const ResponseRoute& route, std::string_view bytes) {
  if (tap_.on()) tap_.OnSent(route.transport, route.udp_socket, route.destination, bytes);
  counters_.answered.Add();
  if (route.received_ns != 0) counters_.latency.Record(MonotonicNs() - route.received_ns);
  if (route.transport == store::Transport::kUdp) {
    udp_.Send(route.udp_socket, route.destination, bytes);
  } else if (route.from_shard == index_) {
    streams_.Send(route.conn_id, bytes);
  } else {
    // The connection belongs to the shard that received the request.
    HandOffHeader header;
    header.kind = HandOffHeader::kStreamResponse;
    header.conn_id = route.conn_id;
    if (!handoff_.Push(route.from_shard, header, bytes)) {
      counters_.overflows.Add();  // the client retransmits or times out
    }
  }
}

void Shard::ClusterWork(bool turn) {
  auto deliver = [this](const ResponseRoute& route, int status, std::string_view key,
                        std::string_view bytes) { DeliverHeld(route, status, key, bytes); };
  auto rerun = [this](std::string_view bytes, const Inbound& inbound, const Origin& origin) {
    Rerun(bytes, inbound, origin);
  };
  if (turn) {
    cluster_->Turn(now_ms_, deliver, rerun);
  } else {
    cluster_->ProcessReady(now_ms_, deliver, rerun);
  }
  admin_.Notify();
}

void Shard::DeliverHeld(const ResponseRoute& route, int status, std::string_view key,
                        std::string_view bytes) {
  if (!key.empty()) handler_.CacheResponse(key, bytes);
  counters_.CountStatus(status);
  Deliver(route, bytes);
}

void Shard::DeliverDecided() {
  journal_->TakeDecided([this](const HeldResponse& held, std::string_view key,
                               std::string_view ok, std::string_view fail, bool committed) {
    if (held.route.admin) {
      admin_.ReplyRemove(held.route.admin_id, committed, held.route.admin_count, ok, fail);
      return;
    }
    if (committed) {
      DeliverHeld(held.route, held.status, key, ok);
    } else {
      RequestHandler::FailureFor(ok, &failure_);  // nothing of it was applied
      DeliverHeld(held.route, 500, key, failure_);
    }
  });
  admin_.Notify();
}

void Shard::AnnounceClosedWebSockets() {
  for (const uint64_t id : streams_.TakeClosedWebSockets()) {
    // Every shard may own AORs registered over it.
    handler_.FlowClosed(index_, id);
    HandOffHeader header;
    header.kind = HandOffHeader::kFlowClosed;
    header.from_shard = static_cast<uint32_t>(index_);
    header.conn_id = id;
    for (int to = 0; to < count_; ++to) {
      if (to != index_ && !handoff_.Push(to, header, {})) counters_.overflows.Add();
    }
  }
}

void Shard::PublishGauges() {
  counters_.aors.Set(table_.aor_count());
  counters_.bindings.Set(table_.binding_count());
  counters_.tcp_open.Set(streams_.open_count(StreamKind::kTcp));
  counters_.tls_open.Set(streams_.open_count(StreamKind::kTls));
  counters_.ws_open.Set(streams_.open_count(StreamKind::kWs));
  counters_.wss_open.Set(streams_.open_count(StreamKind::kWss));
  counters_.heartbeat_ms.Set(now_ms_);
  if (now_s_ != cpu_published_s_) {
    timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    counters_.cpu.Set(static_cast<uint64_t>(cpu.tv_sec) * 1000000000 +
                      static_cast<uint64_t>(cpu.tv_nsec));
    cpu_published_s_ = now_s_;
    if (cluster_ != nullptr) cluster_->PublishGauges();
  }
}

void Shard::UpdateClocks() {
  now_s_ = WallSeconds();
  now_ms_ = MonotonicMs();
  handler_.SetTime(now_s_, now_ms_);
}

void Shard::RunTimers() {
  handler_.Expire();
  handler_.RunInviteTimers([this](const InviteTransactions::Where& where, std::string_view bytes) {
    counters_.invite_retransmissions.Add();  // Timer G
    if (tap_.on()) tap_.OnSent(store::Transport::kUdp, where.udp_socket, where.destination, bytes);
    udp_.Send(where.udp_socket, where.destination, bytes);
  });
  streams_.ExpireIdle(now_ms_ / 1000);
}

}  // namespace locus::engine
