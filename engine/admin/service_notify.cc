#include "engine/admin/service_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

#include "engine/log.h"

namespace locus::engine {

ServiceNotifier::ServiceNotifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_period_ms_ = usec / 2000 > 0 ? usec / 2000 : 1;
  }
}

void ServiceNotifier::Ready(std::string_view status) {
  std::string message = "READY=1\nSTATUS=";
  message.append(status);
  if (sd_notify(0, message.c_str()) > 0) {
    Log(LogLevel::kDebug, "told the service manager READY=1 (watchdog every %d ms)",
        watchdog_period_ms_);
  }
}

void ServiceNotifier::Stopping() { sd_notify(0, "STOPPING=1\nSTATUS=draining"); }

void ServiceNotifier::Watchdog() { sd_notify(0, "WATCHDOG=1"); }

}  // namespace locus::engine
