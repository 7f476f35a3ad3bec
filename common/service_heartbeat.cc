// sd_watchdog_enabled(3) decides the interval; the timer is persistent while it runs.
#include "service_heartbeat.h"

#include "must_succeed.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace minisync {
namespace {

constexpr std::uint64_t StatusIntervalUsec = 5'000'000;

} // namespace

ServiceHeartbeat::ServiceHeartbeat(event_base* base, std::function<std::string()> status)
    : status_{std::move(status)}
{
    if (std::getenv("NOTIFY_SOCKET") == nullptr) {
        return;
    }
    std::uint64_t watchdog_usec = 0;
    watchdog_ = sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
    const std::uint64_t interval = watchdog_ ? std::min(watchdog_usec / 2, StatusIntervalUsec) : StatusIntervalUsec;
    timer_.reset(event_new(base, -1, EV_PERSIST, &ServiceHeartbeat::on_tick, this));
    must_succeed(timer_ != nullptr, "event_new");
    const timeval tv{static_cast<time_t>(interval / 1'000'000), static_cast<suseconds_t>(interval % 1'000'000)};
    must_succeed(event_add(timer_.get(), &tv) == 0, "event_add");
}

void ServiceHeartbeat::start()
{
    if (timer_) {
        beat();
    }
}

void ServiceHeartbeat::stop()
{
    if (timer_) {
        must_succeed(event_del(timer_.get()) == 0, "event_del");
    }
}

void ServiceHeartbeat::beat()
{
    std::string message = watchdog_ ? "WATCHDOG=1" : "";
    // The same status is not sent again: the manager keeps the last one.
    if (std::string status = status_(); status != last_status_) {
        message += (message.empty() ? "" : "\n") + ("STATUS=" + status);
        last_status_ = std::move(status);
    }
    if (!message.empty()) {
        sd_notify(0, message.c_str());
    }
}

} // namespace minisync
