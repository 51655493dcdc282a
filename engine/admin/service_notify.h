// What locusd tells its service manager (systemd, Type=notify) through
// libsystemd's sd_notify: READY=1 once its bindings are restored and its
// sockets listen, STOPPING=1 when it starts draining, WATCHDOG=1 while every
// shard's loop turns, and a STATUS= line. NOTIFY_SOCKET and WATCHDOG_USEC
// (with WATCHDOG_PID) come from the environment systemd gives; without them
// every call does nothing.
#ifndef LOCUS_ENGINE_ADMIN_SERVICE_NOTIFY_H_
#define LOCUS_ENGINE_ADMIN_SERVICE_NOTIFY_H_

#include <cstdint>
#include <string_view>

namespace locus::engine {

class ServiceNotifier {
 public:
  ServiceNotifier();  // reads WATCHDOG_USEC

  void Ready(std::string_view status);
  void Stopping();
  void Watchdog();

  // How often to send WATCHDOG=1: half the interval systemd asked for; 0
  // when it asked for none.
  uint64_t watchdog_period_ms() const { return watchdog_period_ms_; }

 private:
  uint64_t watchdog_period_ms_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_ADMIN_SERVICE_NOTIFY_H_
